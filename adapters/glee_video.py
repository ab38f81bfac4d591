"""GLEE video instance segmentation and open-world tracking (official ``MinVIS_inference``).

1. The video is decoded in windows of 10 frames (``VIDEO_WINDOW_SIZE``), every frame
   independently with the category names (early fusion + classifier).
2. MinVIS association: frame ``t``'s queries are permuted by a Hungarian matching on cosine
   distance between their track embeddings and the mean embedding of the last three matched
   frames.
3. Video logits = mean over frames of the matched queries' class logits.
4. YouTube-VIS / OVIS / BURST: the top 30 (query, category) pairs of the sigmoid video scores;
   per frame, the pair's mask (logit > 0 at the original resolution) and box; ``track_ids`` are
   ranks 1..30 and every frame carries the video score.
   TAO (``ow-track`` unless the dataset is BURST): the top 50 queries by their best class, labelled
   with that class; per frame, instances whose mask has more than 5 pixels on the mask-feature
   grid are kept, then box NMS at IoU 0.5 (boxes only, as the TETA evaluation reads).

The matching, the top-k selections and the TAO frame filter (with the official NMS quirk: the
``x, y, w, h`` boxes are read as ``cx, cy, w, h``) are the shared ones of
:mod:`evalkit.adapters.trackers.minvis`; output boxes are the true ``xyxy``.

Deviation, on purpose: boxes are mapped to the original frame through the padded canvas (the
official video path scales the normalised boxes by the original size, ignoring the padding,
which shifts them whenever the canvas is padded).
"""
from __future__ import annotations

import numpy as np
import torch

from ..types import Categories, Frames, Instances
from ..zoo.ops import masks_to_rles
from .base import InferenceContext, ProcedureResult
from .glee_image import boxes_to_original
from .trackers import MinVISMatcher, clip_windows, tao_frame_filter, tao_video_topk, video_topk

__all__ = ["track", "decode_video", "associate"]

VIS_TOPK = 30
TAO_TOPK = 50


def decode_video(model, ctx: InferenceContext, frames: Frames, categories: Categories):
    """Per-frame outputs of the whole video: lists of ``logits Q×N``, ``masks Q×Hm×Wm`` (CPU,
    float16), ``boxes Q×4``, ``embeds Q×C``, and the frames' :class:`ImageTransform`."""
    window = ctx.settings.video_window_size
    logits, masks, boxes, embeds, tfs = [], [], [], [], []
    for start, end in clip_windows(len(frames), window):
        clip = frames[start:end]
        batch = model.preprocess(clip, ctx)
        out = model.net(batch.images, model.class_prompt(categories, len(clip)))
        logits += list(out.logits.float().cpu())
        masks += list(out.masks.half().cpu())
        boxes += list(out.boxes.float().cpu())
        embeds += list(out.embeds.float().cpu())
        tfs += batch.transforms
    return logits, masks, boxes, embeds, tfs


def associate(logits, masks, boxes, embeds) -> tuple[list, list, torch.Tensor]:
    """MinVIS: permute every frame's queries onto the running tracks (shared
    :class:`~evalkit.adapters.trackers.MinVISMatcher`, history 3); returns the permuted
    per-frame ``masks`` and ``boxes`` and the video logits ``Q×N`` (mean of the permuted frames)."""
    matcher = MinVISMatcher(history=3)
    out_l, out_m, out_b = [], [], []
    for t in range(len(logits)):
        perm = torch.from_numpy(matcher.step(embeds[t]))
        out_l.append(logits[t][perm])
        out_m.append(masks[t][perm])
        out_b.append(boxes[t][perm])
    return out_m, out_b, torch.stack(out_l).mean(0)


@torch.no_grad()
def track(model, ctx: InferenceContext, frames: Frames, categories: Categories) -> ProcedureResult:
    """VIS / open-world tracking of one video → one :class:`Instances` per frame.

    Stats: ``frames`` run, ``windows`` (network calls, ``video_window_size`` frames each),
    ``tracks`` (the top-k (query, category) pairs, or TAO queries, output)."""
    logits, masks, boxes, embeds, tfs = decode_video(model, ctx, frames, categories)
    masks, boxes, video_logits = associate(logits, masks, boxes, embeds)
    ids = np.asarray(categories.ids, np.int64)
    counts = {"frames": len(frames), "windows": len(clip_windows(len(frames), ctx.settings.video_window_size))}
    if ctx.task == "ow-track" and not ctx.dataset_is("burst"):
        results, tracks = _tao_output(video_logits, masks, boxes, tfs, ids)
        return ProcedureResult(results, {**counts, "tracks": tracks})
    scores, cls, q = video_topk(video_logits, VIS_TOPK)
    labels = ids[cls.numpy()]
    results = []
    for t, tf in enumerate(tfs):
        fg = tf.masks_to_original(masks[t][q].float()) > 0
        results.append(Instances(tf.original_size, boxes=boxes_to_original(boxes[t][q], tf).numpy(),
                                 masks=masks_to_rles(fg), scores=scores.numpy(), labels=labels,
                                 track_ids=np.arange(1, len(q) + 1)))
    return ProcedureResult(results, {**counts, "tracks": len(q)})


def _tao_output(video_logits, masks, boxes, tfs, ids) -> tuple[list[Instances], int]:
    """TAO's per-frame instances and the number of tracks (top queries) they are drawn from."""
    scores, cls, q = tao_video_topk(video_logits, TAO_TOPK)
    labels = ids[cls.numpy()]
    track_ids = np.arange(1, len(q) + 1)
    results = []
    for t, tf in enumerate(tfs):
        xyxy = boxes_to_original(boxes[t][q], tf)
        # masks > 5 pixels on the mask-feature grid, then NMS on the official quirky boxes
        kept = tao_frame_filter(xyxy, masks[t][q] > 0, scores).numpy()
        results.append(Instances(tf.original_size, boxes=xyxy[kept].numpy(), scores=scores[kept].numpy(),
                                 labels=labels[kept], track_ids=track_ids[kept]))
    return results, len(q)
