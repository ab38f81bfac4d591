"""UNINEXT video tasks with text prompts (``uninext_vid.py``): referring VOS (an expression,
top-1 per frame), MOT / MOTS (categories; quasi-dense bi-softmax tracker on the ReID
embeddings) and VIS (categories; IDOL tracker and its video-level post-processing).

The trackers are the shared ones (:mod:`evalkit.adapters.trackers`).
"""
from __future__ import annotations

from typing import Generator

import numpy as np
import torch

from evalkit.types import Categories, Expression, Frames, Instances
from evalkit.zoo.ops import batched_nms, box_convert

from .base import InferenceContext, streamed
from .trackers import IDOLTracker, IDOLVideoAccumulator, QuasiDenseEmbedTracker
from .uninext_image import ground_frame, to_rles
from .uninext_postprocess import binary_masks, category_scores

__all__ = ["predict_rvos", "predict_mot", "predict_vis", "select_for_tracking", "tracker_stats"]

#: ``MODEL.IDOL.INFERENCE_SELECT_THRES``: queries kept for the trackers
SELECT_THRESHOLD = 0.1


@streamed
def predict_rvos(model, ctx: InferenceContext, frames: Frames,
                 prompt: Expression) -> Generator[Instances, None, dict[str, int]]:
    """R-VOS: on every frame the best query for the expression, mask probability > 0.5 (bilinear
    ×4, sigmoid, crop, nearest resize; official ``inference_rvos``). ``track_ids`` = 1.

    Stats: ``frames`` run, ``empty_masks`` (frames with no pixel above 0.5)."""
    empty = 0
    for image in frames:
        inst, probs = ground_frame(model, ctx, image, prompt, with_masks=True, final="nearest")
        binary = probs > 0.5
        empty += int(not bool(binary.any()))
        yield Instances(inst.image_size, inst.boxes, to_rles(binary), inst.scores, None,
                        np.ones(1, np.int64))
    return {"frames": len(frames), "empty_masks": empty}


def tracker_stats(tracker, frames: int) -> dict[str, int]:
    """``frames``, ``tracks_started`` (track ids the tracker gave out) and ``tracks_ended``
    (tracks it dropped from its memory, unmatched for ``memo_tracklet_frames`` frames, before
    the video's end) of a quasi-dense or IDOL tracker after a video."""
    return {"frames": frames, "tracks_started": tracker.num_tracklets,
            "tracks_ended": tracker.num_tracklets - len(tracker.tracklets)}


def select_for_tracking(prob: torch.Tensor, boxes: torch.Tensor, nms_iou: float,
                        threshold: float = SELECT_THRESHOLD) -> torch.Tensor:
    """Queries handed to a tracker: best-class score ``> threshold`` then class-aware box NMS
    (by decreasing score); when none passes, the single best query.

    Args:
        prob: ``Q×C`` scores; boxes: ``Q×4`` normalised ``cxcywh``.

    Returns:
        ``K`` query indices, by decreasing score (the order the trackers expect).
    """
    best, cls = prob.max(1)
    idx = torch.nonzero(best > threshold).flatten()
    if idx.numel() == 0:
        return best.argmax()[None]
    keep = batched_nms(box_convert(boxes[idx], "cxcywh", "xyxy"), best[idx], cls[idx], nms_iou)
    return idx[keep]


def _frame_detections(model, ctx: InferenceContext, image, prompt: Categories):
    batch = model.preprocess([image], ctx)
    tokens, mask, groups = model.encode_categories(tuple(prompt.names))
    out = model.run(batch, tokens, mask, pooled=False, task=ctx.task)
    iou = None if out["iou"] is None else out["iou"][0]
    prob = category_scores(out["logits"][0], groups, iou)
    idx = select_for_tracking(prob, out["boxes"][0], ctx.settings.nms_thresh,
                              ctx.settings.inference_select_thres)
    return batch.transforms[0], out, prob, idx


@streamed
def predict_mot(model, ctx: InferenceContext, frames: Frames,
                prompt: Categories) -> Generator[Instances, None, dict[str, int]]:
    """MOT (``mot``: boxes) / MOTS (``mots``: boxes and masks): tracked detections per frame,
    ``track_ids`` from the quasi-dense tracker with the official BDD100K settings
    (:class:`~.uninext_settings.MOTSettings`: birth at score > 0.4), labels = dataset category
    ids. Boxes are in original pixels, not clipped (as the official results).

    Stats: :func:`tracker_stats`."""
    from dataclasses import asdict

    st = ctx.settings
    tracker = QuasiDenseEmbedTracker(**asdict(st.tracker))
    ids_map = np.asarray(prompt.ids, np.int64)
    for t, image in enumerate(frames):
        tf, out, prob, idx = _frame_detections(model, ctx, image, prompt)
        best, cls = prob[idx].max(1)
        boxes = tf.normalized_to_original(out["boxes"][0, idx], clip=False)
        res = tracker.match(boxes.cpu(), best.cpu(), cls.cpu(), out["embeddings"][0, idx].cpu(), t)
        k, track_ids = res.tracked()
        k = k.to(idx.device)
        masks = None
        if ctx.task == "mots":
            masks = to_rles(binary_masks(model.net.decode_masks(out, 0, idx[k]), tf))
        yield Instances(tf.original_size, boxes[k].cpu().numpy(), masks, best[k].cpu().numpy(),
                        ids_map[cls[k].cpu().numpy()], track_ids.cpu().numpy())
    return tracker_stats(tracker, len(frames))


@streamed
def predict_vis(model, ctx: InferenceContext, frames: Frames,
                prompt: Categories) -> Generator[Instances, None, dict[str, int]]:
    """VIS: the IDOL tracker frame by frame (masks kept as RLE), then the video-level
    post-processing (short tracklets dropped, class scores averaged over frames, one output per
    (track, class) above 0.05). All frames are yielded at the end, every instance of a track
    carrying the video score and its dataset category id.

    Stats: :func:`tracker_stats` and ``video_results`` (the (track, class) outputs kept by the
    video-level post-processing)."""
    from dataclasses import asdict

    st = ctx.settings  # VISSettings
    tracker = IDOLTracker(**asdict(st.tracker))
    acc = IDOLVideoAccumulator()
    sizes = []
    for t, image in enumerate(frames):
        tf, out, prob, idx = _frame_detections(model, ctx, image, prompt)
        best, cls = prob[idx].max(1)
        logits = model.net.decode_masks(out, 0, idx)
        res = tracker.match(out["boxes"][0, idx].cpu(), best.cpu(), cls.cpu(), logits.cpu(),
                            out["embeddings"][0, idx].cpu(), t)
        k, track_ids = res.tracked()
        k = k.to(idx.device)
        boxes = tf.normalized_to_original(out["boxes"][0, idx[k]], clip=True).cpu().numpy()
        acc.add_frame(track_ids, prob[idx[k]].cpu(), to_rles(binary_masks(logits[k], tf)), list(boxes))
        sizes.append(tf.original_size)
    videos = acc.finalize(apply_cls_thres=st.apply_cls_thres, multi_cls=st.multi_cls_on)
    ids_map = np.asarray(prompt.ids, np.int64)
    for t, size in enumerate(sizes):
        present = [v for v in videos if v.masks[t] is not None]
        yield Instances(size, np.asarray([v.boxes[t] for v in present], np.float32).reshape(-1, 4),
                        [v.masks[t] for v in present],
                        np.asarray([v.score for v in present], np.float32),
                        ids_map[np.asarray([v.label for v in present], np.int64)],
                        np.asarray([v.track_id for v in present], np.int64))
    return {**tracker_stats(tracker, len(frames)), "video_results": len(videos)}
