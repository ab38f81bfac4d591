"""The VIS rules of UniVS's entity inference (official ``univs/inference/inference_video_entity.py``
and ``univs/inference/comm.py``): which prompt predictions enter an entity's memory, the class-score
slots, and the video-level results.

* :func:`memory_update_mask` — ``write_prompt_predictions_into_annotations_per_clip`` for VIS: every
  entity's prediction is checked against its memory; it is kept when consistent and when it owns,
  after a score-weighted arg-max over the entities at canvas resolution, more than
  ``OVERLAP_THRESHOLD_ENTITY`` of its own mask.
* :func:`video_results` — ``save_results_vis`` + ``vis_clip_instances_to_coco_json_video`` (with its
  default ``apply_cls_thresh`` 0.05, which the entity inference does not override): per entity and
  category, score = class score × summed mask quality / (int(max over entities) + 1); categories
  scoring < 0.005 dropped; the per-video top-k ``max(int(1.5·#(score > 0.05)), DETECTIONS_PER_IMAGE)``.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..types import Instances

__all__ = ["memory_update_mask", "video_results", "temporal_consistency_weights",
           "output_window", "is_output_clip", "APPLY_CLS_THRESH_RESULTS"]

#: ``vis_clip_instances_to_coco_json_video(..., apply_cls_thresh=0.05)``: the default, never overridden
APPLY_CLS_THRESH_RESULTS = 0.05


def output_window(num_frames_window: int, clip_len: int) -> int:
    """``num_frames_window_output = (ceil(max(NUM_FRAMES_WINDOW, SAMPLING_FRAME_NUM) / 5) + 1) · 5``."""
    return (math.ceil(max(num_frames_window, clip_len) / 5) + 1) * 5


def is_output_clip(first_frame: int, memory: int, window: int) -> bool:
    """Whether the clip starting at ``first_frame`` writes an output window (official
    ``inference_video``: ``is_out = i > NUM_PREV_FRAMES_MEMORY and i % num_frames_window_output ==
    NUM_PREV_FRAMES_MEMORY``; the last clip always writes the rest). Each such clip writes the
    ``window`` oldest frames not yet written (``mask_logits[:, :num_frames_window_output]``, then
    trimmed), so windows are ``[0, W), [W, 2W), ...`` and the last one runs to the video's end."""
    return first_frame > memory and first_frame % window == memory


def memory_update_mask(masks: torch.Tensor, class_scores: torch.Tensor, similarity: torch.Tensor,
                       consistent: torch.Tensor, canvas: tuple[int, int], resized: tuple[int, int],
                       overlap: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Which entities' prompt predictions update their memory, and their mask quality.

    Args:
        masks: ``E×T×h×w`` stride-4 logits of the entities' prompt queries.
        class_scores: ``E`` (the max over categories of the mean class-score slots).
        similarity: ``E`` memory similarities (``check_consistency_with_prev_frames``).
        consistent: ``E`` bool, similarity above the consistency threshold.
        canvas, resized: padded canvas and resized-frame sizes (the masks are resized bilinearly
            to the canvas and cropped to the frame, as officially).
        overlap: ``OVERLAP_THRESHOLD_ENTITY``.

    Returns:
        ``(keep E bool, quality E)``. Official rule: ``cur_scores = class × similarity ×
        quality``; each pixel (over all frames) goes to the entity of largest ``cur_scores ·
        sigmoid``, to none where every sigmoid is < 0.5; an entity is kept when its owned area
        (not intersected with its own mask) exceeds ``overlap`` of its own (> 0.5) area and it
        owns at least one pixel of its own mask. Computed frame by frame.
    """
    e, t = masks.shape[:2]
    if e == 0:
        return torch.zeros(0, dtype=torch.bool, device=masks.device), masks.new_zeros(0)
    rh, rw = resized

    def frame(ti):
        up = F.interpolate(masks[:, ti][None], size=canvas, mode="bilinear", align_corners=False)[0]
        return up[:, :rh, :rw].flatten(1)

    hi = masks.new_zeros(e)
    lo = masks.new_zeros(e)
    for ti in range(t):
        m = frame(ti)
        hi += (m > 1).sum(1)
        lo += (m > -1).sum(1)
    quality = hi / lo.clamp(min=1)  # calculate_mask_quality_scores on the cropped canvas masks
    w = class_scores.to(masks) * similarity.to(masks) * quality
    own_area = masks.new_zeros(e)
    owned = masks.new_zeros(e)
    over = masks.new_zeros(e)
    ar = torch.arange(e, device=masks.device)[:, None]
    for ti in range(t):
        p = frame(ti).sigmoid()
        own = p > 0.5
        ids = (w[:, None] * p).argmax(0)
        ids[(p < 0.5).all(0)] = -1
        hit = ids[None] == ar
        own_area += own.sum(1)
        owned += hit.sum(1)
        over += (hit & own).sum(1)
    keep = consistent.to(masks.device) & (owned / own_area.clamp(min=1) > overlap) & (over > 0)
    return keep, quality


def temporal_consistency_weights(scores: torch.Tensor) -> torch.Tensor:
    """Official ``calculate_mask_temporal_consistency_scores`` on ``W×K`` window scores: window
    ``t`` is weighted by ``nonblank[t] · mean(nonblank[t-1 : t+1])`` (``dt`` 1, the slice end
    exclusive), ``nonblank`` = scores summing to more than 0."""
    nonblank = scores.sum(-1) > 0
    out = scores.clone()
    for t in range(len(nonblank)):
        s, e = max(0, t - 1), min(len(nonblank), t + 1)
        out[t] *= float(nonblank[t]) * float(nonblank[s:e].sum()) / max(e - s, 1)
    return out


def video_results(out: list[Instances], window_scores: dict[int, list[torch.Tensor]],
                  quality: dict[int, float], category_ids, topk: int,
                  apply_cls_thresh: float = APPLY_CLS_THRESH_RESULTS) -> list[Instances]:
    """The official video-level VIS results, written back onto the per-frame outputs.

    Args:
        out: per frame, one row per entity with a mask (``track_ids`` = entity id; labels and
            scores are placeholders).
        window_scores: entity id → its class scores ``K`` at each output window
            (``save_results_vis``: ``logits.mean(1)``).
        quality: entity id → summed mask quality of its accepted predictions.
        category_ids: the ``K`` dataset category ids.
        topk: ``DETECTIONS_PER_IMAGE`` (``test_topk_per_video``).

    Each (entity, category) with a window-mean score ``≥ 0.1 · apply_cls_thresh`` is one result
    scored ``score × quality / (int(max quality) + 1)`` (the entity's mask on every frame, as the
    results share it); ``n`` results with score ``> apply_cls_thresh`` give ``k = max(int(1.5·n),
    topk)`` and the results scoring at least the ``k``-th best (0-based; all when ``k`` reaches the
    last) are kept.
    """
    ids = np.asarray(category_ids)
    if not window_scores:
        return out
    qmax = int(max(quality.values())) + 1 if quality else 1
    results: dict[int, list[tuple[int, float]]] = {}
    all_scores, confident = [], 0
    for eid, ws in window_scores.items():
        sc = temporal_consistency_weights(torch.stack(ws))
        sc = sc.sum(0) / (sc.sum(-1) > 0).sum().clamp(min=1)
        mq = quality.get(eid, 0.0) / qmax
        rows = []
        for c in range(len(sc)):
            if float(sc[c]) < 0.1 * apply_cls_thresh:
                continue
            rows.append((c, float(sc[c]) * mq))
            all_scores.append(rows[-1][1])
            confident += float(sc[c]) > apply_cls_thresh
        results[eid] = rows
    if all_scores:
        ranked = sorted(all_scores, reverse=True)
        cut = ranked[min(max(int(confident * 1.5), topk), len(ranked) - 1)]
        results = {eid: [r for r in rows if r[1] >= cut] for eid, rows in results.items()}
    # an entity without a positive pixel anywhere is still a result: officially every entity's
    # results cover all frames, blank RLE masks where it has none
    # (vis_clip_instances_to_coco_json_video: ``"segmentations": [blank_rle_mask] * video_len``);
    # one blank row on the first frame makes the writer emit that all-blank track
    seen = {int(t) for inst in out if len(inst) for t in inst.track_ids.tolist()}
    blank = sorted(eid for eid, rows in results.items() if rows and eid not in seen)
    final = []
    for t, inst in enumerate(out):
        extra = blank if t == 0 else []
        if len(inst) == 0 and not extra:
            final.append(inst)
            continue
        take, labels, scores = [], [], []
        for r, eid in enumerate(inst.track_ids.tolist() if len(inst) else []):
            for c, score in results.get(int(eid), []):
                take.append(r)
                labels.append(ids[c])
                scores.append(score)
        sel = inst.select(np.array(take, dtype=np.int64)) if take else Instances.empty(inst.image_size)
        if take:
            sel.labels = np.array(labels)
            sel.scores = np.array(scores, np.float32)
        if extra:
            sel = _with_blank_rows(sel, [(eid, ids[c], score) for eid in extra for c, score in results[eid]])
        final.append(sel)
    return final


def _with_blank_rows(inst: Instances, rows: list[tuple[int, int, float]]) -> Instances:
    """``inst`` plus one row per ``(track id, label, score)`` with an all-False mask."""
    h, w = inst.image_size
    n = len(rows)
    masks = np.zeros((n, h, w), bool)
    boxes = np.zeros((n, 4), np.float32)
    track_ids = np.array([r[0] for r in rows])
    labels = np.array([r[1] for r in rows])
    scores = np.array([r[2] for r in rows], np.float32)
    if len(inst):
        masks = np.concatenate([inst.dense_masks(), masks])
        boxes = np.concatenate([inst.boxes, boxes])
        track_ids = np.concatenate([inst.track_ids, track_ids])
        labels = np.concatenate([inst.labels, labels])
        scores = np.concatenate([inst.scores, scores])
    return Instances(inst.image_size, boxes=boxes, masks=masks, scores=scores, labels=labels, track_ids=track_ids)
