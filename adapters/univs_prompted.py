"""Prompt-specified video segmentation with UniVS (VOS, PVOS, R-VOS): the streaming inference of
paper §4.2.

A window of ``clip_len`` frames slides by ``min(clip_stride, clip_len)``, from frame 0 whatever the
given frames (official ``inference_video_vos``); the frames it leaves are final, and those the
official ``save_vos_results`` writes are emitted (:func:`written_frames`; the others empty). Each
target keeps a memory pool of visual prompt tokens with one slot per frame
(:class:`~.univs_memory.PromptPool`, the official prompt memory): on the first clip every slot
holds the tokens sampled on its first frame; before each later clip blank slots are opened for the
new frames and every frame the clip shares with the previous one is resampled from the masks
accumulated on it so far, its tokens overwriting its slot and all later ones
(:func:`~.univs_pools.refresh_pools`). ProCA reads the first-appearance slot plus the last
``max(memory, clip_len)`` slots, blank (zero) slots included; frame ``t``'s prompt query is the
mean of slot ``t``. Every target is a prompt query of every clip, blank until it appears. The
logits of the overlapping clips are summed per frame (:class:`~.univs_memory.MaskAccumulator`); a
frame the window has left is final. R-VOS prompts every clip with the expression (CLIP sentence +
word tokens); with the ``text_feedback`` setting the position codes of each frame's slot join the
expression's tokens (off in the released configs).

Each clip's prompt predictions are written as the official
``write_predictions_into_annotations_per_clip`` (task 'sot') does, at canvas resolution: targets
first appearing in the clip are made exclusive among themselves with weights mask quality × IoU²
with their given mask, and their owned prediction replaces the logits after the given frame when
the IoU of the given mask and the owned pixels on the given frame exceeds ``0.15 · min(area /
96², 1)`` (PVOS stuff targets: always); the given frame holds the given mask. Targets seen
before are checked against their per-frame embedding memory
(:class:`~.univs_memory.FrameEmbeddingMemory`), made exclusive with weights quality × similarity²
(zero for an inconsistent one) and summed. PVOS stuff targets are forced onto their
category's pixels of the learnable queries' semantic map (:mod:`.univs_semseg`, official
``use_semseg_pvos``; each object's VIPOSeg category comes with the
:class:`~evalkit.types.Reference` prompt, ``category_ids`` and ``thing``). A final frame's
masks are each target's summed logits ``> 0``; a pixel claimed by several targets goes to the
smallest object id (official ``save_vos_results``; on its own frame a
given mask may so lose pixels to a smaller id, as officially).

The official ``VIDEO_UNIFIED_INFERENCE_QUERIES`` is 'prompt' in every released VOS, PVOS and R-VOS
config, so its matching of learnable queries to targets is not used there and not implemented
here (the R-VOS learnable-for-prompt mask averaging inside the decoder is, see
:mod:`evalkit.zoo.univs.mask_decoder`). Remaining differences from
``univs/inference/inference_video_vos.py``, stated:

* R-VOS: the official code decodes all expressions of a video together, which the 'sep-blocked'
  self-attention makes equivalent to one expression at a time.

With clip length 1 no frame is shared by consecutive clips: each clip samples the frame just
left on its own frame's features (:func:`~.univs_pools.sample_left_frames`, official
``process_per_video_inference_prev_frame`` with ``num_frames == 1``). The expression's text
features are computed once per video (official ``PrepareTargets.process_inference``) and
enriched per clip by the language-to-image attention on that clip's features.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..types import ContractError, Expression, Frames, Instances, Reference
from .base import ProcedureResult
from .univs_context import StreamStats, UniVSContext
from .univs_memory import FrameEmbeddingMemory, MaskAccumulator, PromptPool, stability_scores
from .univs_pools import blank_token, pool_prompts, refresh_pools, sample_left_frames, start_pools
from .univs_semseg import FORCED_LOGIT, VOCABULARY, forced_pixels, semantic_map, stuff_targets
from .univs_settings import UniVSSettings
from .univs_video import VideoStream

__all__ = ["predict_reference", "predict_expression", "reference_masks", "exclusive_owners", "exclusive_masks",
           "written_frames"]


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
    memory: FrameEmbeddingMemory | None = None
    started: bool = False
    given_mask: np.ndarray | None = None  # reference mask in the original frame
    given_area: float = 0.0  # its area on the input canvas (pixels)
    given_canvas: torch.Tensor | None = None  # reference mask on the padded canvas


def exclusive_owners(masks: torch.Tensor, weights: torch.Tensor,
                     forced: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Official per-clip VOS pixel ownership (``write_predictions_into_annotations_per_clip``,
    task 'sot'): each pixel of the clip belongs to the target of largest ``sigmoid(logit) ·
    weight`` (the first on ties, as ``argmax``), to none where every logit is ``≤ 0``.
    ``masks`` ``K×T×h×w`` logits, ``weights`` ``K``; ``forced`` (``K×T×h×w`` bool, PVOS stuff
    targets, :mod:`.univs_semseg`) sets those logits to 10 and their sigmoid to 1 first.
    Returns ``(own, masks)``: the ``K×T×h×w`` ownership and the (forced) logits."""
    sig = masks.sigmoid()
    if forced is not None:
        masks = masks.masked_fill(forced, FORCED_LOGIT)
        sig = sig.masked_fill(forced, 1.0)
    bg = (masks <= 0).all(0)
    owner = (sig * weights.to(masks)[:, None, None, None]).argmax(0)
    own = (owner[None] == torch.arange(len(masks), device=masks.device)[:, None, None, None]) & ~bg
    return own, masks


def exclusive_masks(masks: torch.Tensor, weights: torch.Tensor, min_kept: float = 0.25,
                    forced: torch.Tensor | None = None) -> torch.Tensor:
    """Official exclusivity of the targets seen before (:func:`exclusive_owners`): a target
    keeping at most ``min_kept`` of its own ``> 0`` area (counted before any forcing, at least
    1, officially ``original_area.clamp(min=1)``) or owning nothing is dropped. Returns the
    (forced) logits kept on the owned pixels and 0 elsewhere (0 adds nothing to the sums)."""
    if len(masks) == 0:
        return masks
    original = (masks > 0).flatten(1).sum(1).clamp(min=1)
    own, masks = exclusive_owners(masks, weights, forced)
    area = own.flatten(1).sum(1)
    keep = (area > 0) & (area / original > min_kept)
    return masks * (own & keep[:, None, None, None])


def written_frames(idx: list[int], last: bool, stride: int) -> tuple[list[int], list[int]]:
    """``(final, written)`` frames of the clip ``idx``: the frames the window leaves (the first
    ``stride``, all on the last clip) and those of them the official ``save_vos_results`` /
    ``save_rvos_results`` write, ``mask_logits[:, -T:min(-T + stride, -1)]`` on a clip that is
    not the last: the first ``min(stride, T - 1)``. So with ``clip_stride = T`` the last frame
    of every clip but the last, and with ``T = 1`` every frame but the video's last, gets no
    file; those are emitted empty here."""
    if last:
        return idx, idx
    return idx[:stride], idx[:min(stride, len(idx) - 1)]


def _run(s: UniVSSettings, stream, targets, start, decode_clip, emit) -> ProcedureResult:
    """The sliding-window loop shared by VOS and R-VOS with the task's settings ``s``: per-frame
    outputs and the peak sizes of the streaming state. ``decode_clip(feats, idx, acc, left)``
    gets the summed logits of the frames the previous clip left (``left``, frame → logits)."""
    n = len(stream)
    acc = MaskAccumulator()
    out: list[Instances | None] = [None] * n
    for f in range(min(start, n)):
        out[f] = Instances.empty(tuple(stream.frames.sizes[f]))
    s0 = start
    peak = StreamStats()
    left: dict[int, torch.Tensor] = {}
    while s0 < n:
        idx = list(range(s0, min(s0 + s.sampling_frame_num, n)))
        feats = stream.clip(idx)
        for f, logits in decode_clip(feats, idx, acc, left).items():
            acc.add(f, logits)
        last = idx[-1] == n - 1
        final, written = written_frames(idx, last, s.stride)
        left = {f: acc.pop(f, len(targets)) for f in final}
        for f in final:
            out[f] = emit(f, left[f]) if f in written else Instances.empty(tuple(stream.frames.sizes[f]))
        peak = peak.widen(len(stream.cache), len(acc), max((len(tg.pool) for tg in targets), default=0))
        if last:
            break
        s0 += s.stride
    return ProcedureResult(out, peak.as_dict())


@torch.no_grad()
def predict_reference(model, ctx: UniVSContext, frames: Frames, ref: Reference) -> ProcedureResult:
    """VOS / PVOS: targets given by masks, boxes, points or scribbles on their first frame.

    Stats: the peak sizes of the streaming state (:meth:`~.univs_context.StreamStats.as_dict`)."""
    s, task = ctx.settings, ctx.task
    stream = VideoStream.of(model, ctx, frames)
    ql = model.num_queries
    frames_of = ref.frames_of_objects or (ref.frame,) * len(ref.object_ids)
    window = s.memory_slots  # officially never shorter than a clip
    targets = [_Target(int(o), int(f), PromptPool(window)) for o, f in zip(ref.object_ids, frames_of)]
    for tg in targets:
        if not 0 <= tg.frame < len(stream):
            raise ContractError(f"Reference: object {tg.obj_id} is given on frame {tg.frame}, the video has "
                             f"{len(stream)} frames")
    # PVOS stuff rule (use_semseg_pvos, :mod:`.univs_semseg`): needs the VIPSeg class embeddings
    # only when a stuff target is prompted
    stuff = stuff_targets(ref) if s.use_semseg_pvos else [False] * len(targets)
    vipseg_rows = ctx.text.vocabulary_rows(VOCABULARY) if any(stuff) else None

    def decode_clip(feats, idx, acc, left):
        logits = {f: torch.full((len(targets), *stream.canvas), float("nan"), device=feats.mask_features.device)
                  for f in idx}
        # official write_targets_into_annotations_per_clip: a target's given mask is known from
        # the first clip containing its frame (its first appearance)
        for k, tg in enumerate(targets):
            if not tg.started and tg.frame in idx:
                tg.given_mask = reference_masks(ref, k, tuple(stream.frames.sizes[tg.frame]))
                m = stream.canvas_masks(tg.frame, tg.given_mask[None])
                tg.pool.first_frame = tg.frame
                tg.started = True
                tg.given_canvas = m[0]
                tg.given_area = float(m.sum())
        pools = [tg.pool for tg in targets]
        if idx[0] == 0:  # official is_first_clip: sampled on the clip's first frame only
            masks = torch.stack([tg.given_canvas if tg.started and tg.frame == 0 else
                                 torch.zeros(stream.canvas, device=feats.mask_features.device) for tg in targets])
            start_pools(model, s, feats, idx, masks, pools, s.sampling_frame_num)
        else:
            if s.sampling_frame_num == 1:
                # official process_per_video_inference_prev_frame (update_prev_frame: num_frames
                # == 1): the mask of the frame just left, on this frame's features, for the
                # targets that appeared before this clip
                sample_left_frames(model, s, feats, idx, left, pools,
                                   [tg.started and tg.frame < idx[0] for tg in targets])
            refresh_pools(model, s, feats, idx, acc, pools, s.clip_stride)
        active = [k for k, tg in enumerate(targets) if tg.started]
        if not active:
            return logits
        # officially every target is a prompt query of every clip, blank before it appears
        # (it still takes part in the prompt queries' self-attention); only the predictions of
        # the targets that appeared are used
        res = model.decode(feats, pool_prompts(model, pools, idx, blank_token(s, feats)),
                           class_embeddings=vipseg_rows, self_attn_mask=s.maskdec_self_attn_mask_type)
        forced = None
        if any(stuff[k] for k in active):
            # official use_semseg_pvos: the learnable queries' VIPSeg map, stuff pixels per target
            sem = semantic_map(res["pred_logits"][:ql].sigmoid(), res["pred_masks"][:ql], stream.canvas,
                               stream.resized)
            forced = forced_pixels(sem, [ref.category_ids[k] for k in active], [stuff[k] for k in active])
        res = {k: v[list(range(ql)) + [ql + j for j in active]] for k, v in res.items() if k != "pred_logits"}
        # official write_predictions_into_annotations_per_clip (task 'sot', prompt queries):
        # masks at canvas resolution, quality on the frame's crop
        rh, rw = stream.resized
        masks = F.interpolate(res["pred_masks"][ql:], size=stream.canvas, mode="bilinear", align_corners=False)
        embds = res["pred_embds"][ql:]
        quality = stability_scores(masks[..., :rh, :rw])
        for j, k in enumerate(active):
            tg = targets[k]
            if tg.memory is None:
                tg.memory = FrameEmbeddingMemory(s.memory_slots, s.stride)
            tg.memory.open(idx, embds[j, 0])
        # STEP 1, targets first appearing in this clip: no consistency check; pixels owned by
        # the largest sigmoid × IoU² × quality (IoU of the given mask and the prediction on the
        # given frame), no minimum kept area; the owned logits replace those after the given
        # frame when the IoU of the given mask and the owned pixels on the given frame exceeds
        # 0.15 · min(area / 96², 1), for a PVOS stuff target always, its category's pixels at 10
        first = [j for j, k in enumerate(active) if targets[k].frame >= idx[0]]
        if first:
            t0s = [idx.index(targets[active[j]].frame) for j in first]
            ious = torch.stack([_given_iou(targets[active[j]], masks[j, t0] > 0) for j, t0 in zip(first, t0s)])
            own, _ = exclusive_owners(masks[first], ious ** 2 * quality[first])
            for i, (j, t0) in enumerate(zip(first, t0s)):
                k = active[j]
                tg = targets[k]
                tg.memory.assign(idx, embds[j])
                # write_targets: the given mask (1 inside, 0 outside) on its frame
                acc.assign(tg.frame, k, tg.given_canvas)
                above = float(_given_iou(tg, own[i, t0])) > 0.15 * min(tg.given_area / 96 ** 2, 1.0)
                if above or stuff[k]:
                    m = masks[j] * own[i]
                    if forced is not None:
                        m = m.masked_fill(forced[j], FORCED_LOGIT)
                    for ti in range(t0 + 1, len(idx)):
                        acc.assign(idx[ti], k, m[ti])
        # STEP 2, targets seen before: memory similarity (officially a fixed 0.5, which the
        # released VOS configs' TEMPORAL_CONSISTENCY_THRESHOLD also is), weights sim² × quality;
        # an inconsistent target takes part zeroed (weight 0; a PVOS stuff target is still
        # forced onto its category's pixels, official use_semseg_pvos)
        seen = [j for j, k in enumerate(active) if targets[k].frame < idx[0]]
        if seen:
            sims = torch.tensor([targets[active[j]].memory.similarity(embds[j]) for j in seen])
            ok = sims > s.temporal_consistency_threshold
            for j, good in zip(seen, ok.tolist()):
                targets[active[j]].memory.update(idx, embds[j], good)
            okd = ok.to(quality.device)
            weights = torch.where(okd, sims.to(quality) ** 2 * quality[seen], torch.zeros_like(quality[seen]))
            zeroed = masks[seen] * okd[:, None, None, None]
            kept = exclusive_masks(zeroed, weights, forced=None if forced is None else forced[seen])
            for j, good, m in zip(seen, ok.tolist(), kept):
                if good or bool(m.any()):
                    for ti, f in enumerate(idx):
                        logits[f][active[j]] = m[ti]
        return logits

    def _given_iou(tg, pred: torch.Tensor) -> torch.Tensor:
        """IoU of the given mask and ``pred`` (a boolean canvas mask) on the canvas
        (official ``batched_pair_mask_iou``)."""
        a = tg.given_canvas > 0.5
        return (a & pred).sum() / (a | pred).sum().clamp(min=1)

    def emit(f, logits):
        probs = stream.to_original(f, logits)
        ids = [k for k, tg in enumerate(targets) if tg.started and tg.frame <= f]
        size = tuple(stream.frames.sizes[f])
        if not ids:
            return Instances.empty(size)
        p = torch.nan_to_num(probs[ids], nan=0.0)  # resizing -inf (no prediction) may give NaN
        # official resolution (save_vos_results): each target's summed logits > 0, and a pixel
        # claimed by several targets goes to the first in ascending object-id order
        pos = p > 0.5
        order = sorted(range(len(ids)), key=lambda j: targets[ids[j]].obj_id)
        claimed = torch.zeros_like(pos[0])
        masks = torch.zeros_like(pos)
        for j in order:
            masks[j] = pos[j] & ~claimed
            claimed |= pos[j]
        area = masks.flatten(1).sum(1).clamp(min=1)
        scores = (p * masks).flatten(1).sum(1) / area
        return Instances(size, boxes=stream.boxes(masks), masks=masks.cpu().numpy(),
                         scores=scores.cpu().numpy(), track_ids=np.array([targets[k].obj_id for k in ids]))

    # official inference_video_vos: the clips start at frame 0 whatever the given frames
    return _run(s, stream, targets, 0, decode_clip, emit)


@torch.no_grad()
def predict_expression(model, ctx: UniVSContext, frames: Frames, prompt: Expression) -> ProcedureResult:
    """R-VOS: one target named by an expression; output one mask per frame (track id 1).

    Stats: the peak sizes of the streaming state (:meth:`~.univs_context.StreamStats.as_dict`)."""
    s = ctx.settings
    ql = model.num_queries
    words, sentence = ctx.text.encode_expression(prompt.text)
    stream = VideoStream.of(model, ctx, frames)
    target = _Target(1, -1, PromptPool(s.memory_slots), started=True)
    scores: dict[int, list[float]] = {}

    pooled = []  # one entry once the visual memory exists (official "prompt_feats" in targets)

    def decode_clip(feats, idx, acc, left):
        for f in [f for f in scores if f < idx[0]]:  # frames left without a file (written_frames)
            del scores[f]
        prompts = model.prompt_encoder.expressions(words, sentence, feats.src)
        if s.enabled_prev_visual_prompts_for_grounding and idx[0] > 0:
            # official forward_prompt_encoder with ENABLED_PREV_VISUAL_PROMPTS_FOR_GROUNDING: the
            # visual memory of the expression's masks (nothing on the first clip, whose
            # update_frames is 0 for grounding), built by process_per_video_inference_prev_frame
            # the first time (and every clip when T = 1), then refreshed on the shared frames
            if not pooled or s.sampling_frame_num == 1:
                sample_left_frames(model, s, feats, idx, left, [target.pool], [True])
                pooled.append(True)
            refresh_pools(model, s, feats, idx, acc, [target.pool], s.clip_stride)
            # the official code unpacks the sampler's (position codes, features) as (features,
            # position codes), so the tokens joining the expression's are the position codes of
            # each frame's slot
            vis = target.pool.frame_positions(idx, blank_token(s, feats))
            prompts.tokens = torch.cat([vis[None], prompts.tokens], 1)
        res = model.decode(feats, prompts, sentence_embeddings=sentence, self_attn_mask=s.maskdec_self_attn_mask_type)
        score = float(res["pred_logits"][ql, 0].sigmoid())
        for f in idx:
            scores.setdefault(f, []).append(score)
        # official write_predictions_into_annotations_per_clip (task 'grounding', prompt queries):
        # masks at canvas resolution; the first clip (every expression appears on frame 0) assigns
        # the clip's masks and embeddings; later clips add theirs when consistent with the
        # per-frame embedding memory (fixed 0.5, as for VOS), no exclusivity
        masks = F.interpolate(res["pred_masks"][ql:ql + 1], size=stream.canvas, mode="bilinear",
                              align_corners=False)[0]
        embds = res["pred_embds"][ql]
        none = {f: torch.full_like(masks[:1, 0], float("nan")) for f in idx}  # registers the frames
        if target.memory is None:
            target.memory = FrameEmbeddingMemory(s.memory_slots, s.stride)
            target.memory.assign(idx, embds)
            for ti, f in enumerate(idx):
                acc.assign(f, 0, masks[ti])
            return none
        target.memory.open(idx, embds[0])
        ok = target.memory.similarity(embds) > s.temporal_consistency_threshold
        target.memory.update(idx, embds, ok)
        return {f: masks[ti][None] for ti, f in enumerate(idx)} if ok else none

    def emit(f, logits):
        size = tuple(stream.frames.sizes[f])
        mask = stream.to_original(f, logits) > 0.5
        sc = np.array([np.mean(scores.pop(f, [0.0]))], np.float32)
        return Instances(size, boxes=stream.boxes(mask), masks=mask.cpu().numpy(), scores=sc,
                         track_ids=np.array([1]))

    return _run(s, stream, [target], 0, decode_clip, emit)
