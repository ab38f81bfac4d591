"""Prompt-specified video segmentation with UniVS (VOS, PVOS, R-VOS): the streaming inference of
paper §4.2.

A window of ``clip_len`` frames slides by ``clip_stride``. Each target keeps a memory pool of
visual prompt tokens (:class:`~.univs_memory.PromptPool`); its prompt query is the mean of the
pool. Every clip the decoder predicts the targets' masks on all its frames; the logits of the
overlapping clips are summed per frame (:class:`~.univs_memory.MaskAccumulator`). Before each clip,
the frames it shares with the previous clip are resampled into the pools from the masks accumulated
on them so far (:func:`refresh_pools`, the official memory rule); a pool holds the target's first
frame and the last ``max(memory, clip_len)`` frames, so the masks of frame ``t`` prompt the clips
that follow. A frame the window has left is final and emitted. R-VOS prompts every clip with the
expression (CLIP sentence + word tokens); with the ``text_feedback`` setting the pooled visual
tokens join the expression's tokens (off in the released configs).

Deviations from the official loop (``univs/inference/inference_video_vos.py``), stated:

* the official VOS path additionally matches the learnable queries' masks to the targets
  (semantic-map and IoU heuristics) to refine them; here the targets' masks come from their
  prompt queries only — the paper's §4.2 procedure;
* the official VOS path also makes each clip's prompt predictions exclusive before summing them
  (pixel to the target of largest ``sigmoid · similarity² · quality``, targets keeping < 25 % of
  their area dropped); here every consistent prediction is summed as is, and overlaps are
  resolved once per final frame as the official output does (first target in object-id order).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..types import ContractError, Expression, Instances, Reference
from .univs_memory import EmbeddingMemory, MaskAccumulator, PromptPool

__all__ = ["predict_reference", "predict_expression", "reference_masks"]

_BIG = 1e4  # logit magnitude of "certainly in / certainly out"


def reference_masks(ref: Reference, k: int, size: tuple[int, int]) -> np.ndarray:
    """Target ``k``'s prompt as a boolean ``H×W`` mask of its reference frame: the mask itself,
    the box interior, a disk of radius ``max(H, W)/64`` around each positive point, or the
    scribble's vertices dilated the same way."""
    h, w = size
    if ref.masks is not None:
        m = np.asarray(ref.masks[k], dtype=bool)
        if m.shape != (h, w):
            raise ContractError(f"Reference: mask {k} is {m.shape[0]}x{m.shape[1]}, its frame is {h}x{w}")
        return m
    out = np.zeros((h, w), dtype=bool)
    if ref.boxes is not None:
        x0, y0, x1, y1 = ref.boxes[k]
        r0, r1 = max(int(np.floor(y0)), 0), max(int(np.ceil(y1)), 0)
        c0, c1 = max(int(np.floor(x0)), 0), max(int(np.ceil(x1)), 0)
        out[r0:r1, c0:c1] = True
        return out
    pts = ref.points[k] if ref.points is not None else ref.scribbles[k]
    labels = ref.point_labels[k] if (ref.points is not None and ref.point_labels is not None) else None
    r = max(h, w) / 64
    yy, xx = np.mgrid[0:h, 0:w]
    for j, (x, y) in enumerate(np.asarray(pts, dtype=np.float32).reshape(-1, 2)):
        if labels is None or labels[j] > 0:
            out |= (xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= r * r
    return out


@dataclass
class _Target:
    """One prompted target: id, reference frame, memory pool, memory embedding."""

    obj_id: int
    frame: int
    pool: PromptPool
    memory: EmbeddingMemory | None = None
    started: bool = False
    given: torch.Tensor | None = None  # reference mask at stride 4 of the canvas
    given_mask: np.ndarray | None = None  # reference mask in the original frame


def _pool_prompts(model, targets: list[_Target], t: int):
    length = max(len(tg.pool) for tg in targets)
    parts = [tg.pool.tokens(length) for tg in targets]
    feats = torch.stack([p[0] for p in parts])
    pos = torch.stack([p[1] for p in parts])
    valid = torch.stack([p[2] for p in parts])
    return model.prompt_encoder.visual(feats, pos, valid, t)


def _consistent(tg, embds: torch.Tensor, threshold: float, slots: int) -> bool:
    """Memory check of paper §4.2: a new prediction (``T×C`` embeddings) updates the target
    only when it is similar enough to the target's embedding memory
    (:meth:`EmbeddingMemory.consistency`); the first prediction starts the memory."""
    if tg.memory is None:
        tg.memory = EmbeddingMemory(slots, embds.mean(0))
        return True
    tg.memory.open_slot()
    ok = tg.memory.consistency(embds) > threshold
    if ok:
        tg.memory.write(embds.mean(0))
    return ok


def refresh_pools(model, feats, idx: list[int], acc: MaskAccumulator, pools: list[PromptPool],
                  num_new: int) -> None:
    """The official prompt-memory rule, applied before a clip is decoded.

    Every frame the clip shares with the previous clip (all but its last ``num_new`` frames) is
    resampled: tokens drawn inside each target's mask accumulated on it so far (summed logits
    ``> 0``, i.e. by all earlier clips that covered it) overwrite that frame's slot in the
    target's pool; an empty mask leaves the slot as it was. Pools then forget the frames older
    than their window, which ends at the clip's last frame. ``pools`` is indexed like the
    accumulator's targets; ``idx`` are the clip's absolute frame indices.
    """
    for f in idx[:len(idx) - num_new]:
        if f not in acc.pending():
            continue
        masks = (acc.peek(f, len(pools)) > 0).float()
        tok = model.sample_visual_prompt(feats, idx.index(f), masks)
        for k, pool in enumerate(pools):
            if bool(tok.valid[k]):
                pool.put(f, tok.feats[k], tok.pos[k])
    for pool in pools:
        pool.slide(idx[-1])


def _run(adapter, stream, targets, start, decode_clip, emit):
    """The sliding-window loop shared by VOS and R-VOS; returns per-frame outputs."""
    s = adapter.active_settings
    n = len(stream)
    acc = MaskAccumulator()
    out: list[Instances | None] = [None] * n
    for f in range(min(start, n)):
        out[f] = Instances.empty(tuple(stream.frames.sizes[f]))
    s0 = start
    peak = {"cached_frames": 0, "pending_frames": 0, "pool_len": 0}
    while s0 < n:
        idx = list(range(s0, min(s0 + s.clip_len, n)))
        feats = stream.clip(idx)
        if s0 > start:
            refresh_pools(adapter.model, feats, idx, acc, [tg.pool for tg in targets], s.clip_stride)
        for f, logits in decode_clip(feats, idx).items():
            acc.add(f, logits)
        last = idx[-1] == n - 1
        for f in (idx if last else idx[:s.clip_stride]):
            out[f] = emit(f, acc.pop(f, len(targets)))
        peak["cached_frames"] = max(peak["cached_frames"], len(stream.cache))
        peak["pending_frames"] = max(peak["pending_frames"], len(acc))
        peak["pool_len"] = max([peak["pool_len"]] + [len(tg.pool) for tg in targets])
        if last:
            break
        s0 += s.clip_stride
    adapter.last_stats = peak
    return out


def predict_reference(adapter, stream, ref: Reference, task: str) -> list[Instances]:
    """VOS / PVOS: targets given by masks, boxes, points or scribbles on their first frame."""
    model = adapter.model
    s = adapter.settings(task)
    adapter.active_settings = s
    model.visual_sampler.num_points = s.num_points
    model.mask_decoder.self_attn_mask = s.self_attn_mask
    ql = model.num_queries
    frames_of = ref.frames_of_objects or (ref.frame,) * len(ref.object_ids)
    window = max(s.memory, s.clip_len)  # officially never shorter than a clip
    targets = [_Target(int(o), int(f), PromptPool(window)) for o, f in zip(ref.object_ids, frames_of)]
    for tg in targets:
        if not 0 <= tg.frame < len(stream):
            raise ContractError(f"Reference: object {tg.obj_id} is given on frame {tg.frame}, the video has "
                             f"{len(stream)} frames")

    def decode_clip(feats, idx):
        h4, w4 = feats.mask_features.shape[-2:]
        logits = {f: torch.full((len(targets), h4, w4), float("nan"), device=feats.mask_features.device)
                  for f in idx}
        for k, tg in enumerate(targets):
            if not tg.started and tg.frame in idx:
                tg.given_mask = reference_masks(ref, k, tuple(stream.frames.sizes[tg.frame]))
                m = stream.canvas_masks(tg.frame, tg.given_mask[None])
                tok = model.sample_visual_prompt(feats, idx.index(tg.frame), m)
                tg.pool.start(tok.feats[0], tok.pos[0])
                tg.started = True
                tg.given = F.interpolate(m[None], size=(h4, w4), mode="bilinear", align_corners=False)[0, 0]
        active = [k for k, tg in enumerate(targets) if tg.started]
        if not active:
            return logits
        res = model.decode(feats, _pool_prompts(model, [targets[k] for k in active], len(idx)))
        masks, embds = res["pred_masks"][ql:], res["pred_embds"][ql:]
        thr = s.temporal_consistency * (0.5 if idx[0] < s.clip_len else 1.0)
        for j, k in enumerate(active):
            tg = targets[k]
            if not _consistent(tg, embds[j], thr, s.memory // s.clip_stride):
                continue
            for ti, f in enumerate(idx):
                if f < tg.frame:
                    logits[f][k] = -_BIG
                elif f == tg.frame:  # the given mask is the answer on its own frame
                    logits[f][k] = torch.where(tg.given > 0.5, _BIG, -_BIG)
                else:
                    logits[f][k] = masks[j, ti]
        return logits

    def emit(f, logits):
        probs = stream.to_original(f, logits)
        ids = [k for k, tg in enumerate(targets) if tg.started and tg.frame <= f]
        size = tuple(stream.frames.sizes[f])
        if not ids:
            return Instances.empty(size)
        p = probs[ids]
        # official resolution (save_vos_results): each target's summed logits > 0, and a pixel
        # claimed by several targets goes to the first in ascending object-id order
        pos = p > 0.5
        order = sorted(range(len(ids)), key=lambda j: targets[ids[j]].obj_id)
        claimed = torch.zeros_like(pos[0])
        masks = torch.zeros_like(pos)
        for j in order:
            masks[j] = pos[j] & ~claimed
            claimed |= pos[j]
        for j, k in enumerate(ids):  # the given mask is returned unchanged on its own frame
            if targets[k].frame == f:
                given = torch.as_tensor(targets[k].given_mask, device=masks.device)
                masks[:, given] = False
                masks[j] = given
        area = masks.flatten(1).sum(1).clamp(min=1)
        scores = (p * masks).flatten(1).sum(1) / area
        return Instances(size, boxes=stream.boxes(masks), masks=masks.cpu().numpy(),
                         scores=scores.cpu().numpy(), track_ids=np.array([targets[k].obj_id for k in ids]))

    return _run(adapter, stream, targets, min(tg.frame for tg in targets), decode_clip, emit)


def predict_expression(adapter, stream, prompt: Expression) -> list[Instances]:
    """R-VOS: one target named by an expression; output one mask per frame (track id 1)."""
    model = adapter.model
    s = adapter.settings("rvos")
    adapter.active_settings = s
    model.visual_sampler.num_points = s.num_points
    model.mask_decoder.self_attn_mask = s.self_attn_mask
    ql = model.num_queries
    words, sentence = adapter.encode_expression(prompt.text)
    target = _Target(1, -1, PromptPool(max(s.memory, s.clip_len)), started=True)
    scores: dict[int, list[float]] = {}

    def decode_clip(feats, idx):
        prompts = model.prompt_encoder.expressions(words, sentence, feats.src)
        if s.text_feedback and len(target.pool):
            # the expression's tokens plus the visual tokens of the masks predicted so far
            vis = _pool_prompts(model, [target], len(idx))
            prompts.tokens = torch.cat([vis.tokens, prompts.tokens], 1)
        res = model.decode(feats, prompts, sentence_embeddings=sentence)
        score = float(res["pred_logits"][ql, 0].sigmoid())
        for f in idx:
            scores.setdefault(f, []).append(score)
        return {f: res["pred_masks"][ql:ql + 1, ti] for ti, f in enumerate(idx)}

    def emit(f, logits):
        size = tuple(stream.frames.sizes[f])
        mask = stream.to_original(f, logits) > 0.5
        sc = np.array([np.mean(scores.pop(f, [0.0]))], np.float32)
        return Instances(size, boxes=stream.boxes(mask), masks=mask.cpu().numpy(), scores=sc,
                         track_ids=np.array([1]))

    return _run(adapter, stream, [target], 0, decode_clip, emit)
