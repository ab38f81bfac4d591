"""The prompt memory shared by UniVS's streaming procedures (paper §4.2; official
``prompt_encoder.py`` ``VisualPromptSampler.process_per_video_inference`` and the decoder's
``extract_prompt_features_from_memoey_pool``): how the targets' pools of visual prompt tokens are
started, refreshed from the accumulated masks and read as prompt queries, and the memory check
of a new prediction. Used by the prompt-specified (:mod:`.univs_prompted`) and the
category-specified (:mod:`.univs_entity`) inference.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .univs_memory import EmbeddingMemory, MaskAccumulator, PromptPool
from .univs_settings import UniVSSettings, prompt_sampling

__all__ = ["BIG_LOGIT", "blank_token", "pool_prompts", "temporally_consistent", "canvas_logits", "start_pools",
           "refresh_pools", "sample_left_frames"]

BIG_LOGIT = 1e4  # logit magnitude of "certainly in / certainly out"


def blank_token(s: UniVSSettings, feats) -> torch.Tensor:
    """``R×C`` zeros shaped like one frame's prompt tokens (``R`` of the settings ``s``)."""
    return feats.src[-1].new_zeros(s.visual_prompt_pixels_per_image, feats.src[-1].shape[-1])


def pool_prompts(model, pools: list[PromptPool], idx: list[int], like: torch.Tensor):
    """Prompt queries of the targets owning ``pools`` for the clip of absolute frames ``idx``
    (:meth:`PromptPool.tokens` and :meth:`PromptPool.queries`)."""
    toks = [p.tokens(like) for p in pools]
    qs = [p.queries(idx, like) for p in pools]
    return model.prompt_encoder.visual_memory(torch.stack([t[0] for t in toks]), torch.stack([t[1] for t in toks]),
                                              torch.stack([q[0] for q in qs]), torch.stack([q[1] for q in qs]))


def temporally_consistent(tg, embds: torch.Tensor, threshold: float, slots: int) -> bool:
    """Memory check of paper §4.2: a new prediction (``T×C`` embeddings) updates the target
    only when it is similar enough to the target's embedding memory
    (:meth:`EmbeddingMemory.consistency`); the first prediction starts the memory."""
    if tg.memory is None:
        tg.memory = EmbeddingMemory(slots, embds.mean(0))
        return True
    tg.memory.open_slot()
    consistent = tg.memory.consistency(embds) > threshold
    if consistent:
        tg.memory.write(embds.mean(0))
    return consistent


def canvas_logits(logits: torch.Tensor, canvas: tuple[int, int]) -> torch.Tensor:
    """``K×h×w`` stride-4 summed logits → ``K×Hp×Wp`` on the padded canvas (bilinear, as the
    official ``F.interpolate(pred_masks, (h_gt, w_gt), mode='bilinear')`` before summing; the
    sum commutes with this linear resize). No prediction (``-inf``/NaN) reads as ``-BIG_LOGIT``."""
    x = torch.nan_to_num(logits, nan=-BIG_LOGIT, neginf=-BIG_LOGIT, posinf=BIG_LOGIT)
    return F.interpolate(x[None], size=canvas, mode="bilinear", align_corners=False)[0]


def start_pools(model, s: UniVSSettings, feats, idx: list[int], masks: torch.Tensor, pools: list[PromptPool],
                clip_len: int) -> None:
    """Pools on the video's first clip (official ``process_per_video_inference``,
    ``is_first_clip``): ``clip_len`` slots, all holding the tokens sampled on the clip's first
    frame inside ``masks`` (``K×Hp×Wp``; a target without mask there is blank)."""
    tok = model.sample_visual_prompt(feats, 0, masks, **prompt_sampling(s))
    for k, pool in enumerate(pools):
        pool.open(idx[0] + clip_len - 1)
        if bool(tok.valid[k]):
            pool.write(idx[0], tok.feats[k], tok.pos[k])


def refresh_pools(model, s: UniVSSettings, feats, idx: list[int], acc: MaskAccumulator, pools: list[PromptPool],
                  num_new: int) -> None:
    """The official prompt-memory rule for a clip after the first (``zero_pad_prompt`` then
    ``process_per_video_inference``, ``update_frames = num_frames - clip_stride``).

    Blank slots are opened for the clip's ``num_new`` new frames; then, in frame order, every
    frame the clip shares with the previous one is sampled inside each target's mask accumulated
    on it so far (summed logits resized to the canvas, ``> 0``) and its tokens overwrite the
    slots from that frame to the clip's last, so the new frames start as copies of the last
    shared frame. A target whose mask is empty on a frame keeps its slots. ``pools`` is indexed
    like the accumulator's targets; ``idx`` are the clip's absolute frame indices.
    """
    for pool in pools:
        pool.open(idx[-1])
    canvas = tuple(4 * x for x in feats.mask_features.shape[-2:])
    for f in idx[:len(idx) - num_new]:
        if f not in acc.pending():
            continue
        masks = (canvas_logits(acc.peek(f, len(pools)), canvas) > 0).float()
        tok = model.sample_visual_prompt(feats, idx.index(f), masks, **prompt_sampling(s))
        for k, pool in enumerate(pools):
            if bool(tok.valid[k]):
                pool.write(f, tok.feats[k], tok.pos[k])


def sample_left_frames(model, s: UniVSSettings, feats, idx: list[int], left: dict, pools: list[PromptPool],
                       appeared: list[bool]) -> None:
    """Official ``process_per_video_inference_prev_frame``: the frames the window just left
    (``left``: frame → summed logits of the targets, any stride) are sampled inside each target's
    mask (resized to the canvas, ``> 0``) on the features of the clip's first frames (left frame
    ``key`` on clip frame ``key``, ``masks[:, -(num_frames + clip_stride) + key_fid]`` on
    ``img_emb_per_video[key_fid]``), each into its own slot, for the targets that ``appeared``
    before the clip. The slot is written even when the mask is empty (its tokens are then zero),
    as officially (no ``valid`` test on this path). Run when the pools are first built, and on
    every clip when ``SAMPLING_FRAME_NUM`` is 1 (``update_prev_frame``)."""
    canvas = tuple(4 * x for x in feats.mask_features.shape[-2:])
    for pool in pools:
        pool.open(idx[-1])
    for key, f in enumerate(sorted(left)[:len(idx)]):
        m = (canvas_logits(left[f][:len(pools)], canvas) > 0).float()
        if len(m) < len(pools):
            m = torch.cat([m, m.new_zeros(len(pools) - len(m), *m.shape[1:])])
        tok = model.sample_visual_prompt(feats, key, m, **prompt_sampling(s))
        for k, pool in enumerate(pools):
            if appeared[k]:
                pool.put(f, tok.feats[k], tok.pos[k])
