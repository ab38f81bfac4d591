"""GLEE video instance segmentation and open-world tracking (official ``MinVIS_inference``).

1. The video is decoded in windows of 10 frames (``VIDEO_WINDOW_SIZE``), every frame
   independently with the category names (early fusion + classifier).
2. MinVIS association: frame ``t``'s queries are permuted by a Hungarian matching on cosine
   distance between their track embeddings and the mean embedding of the last three matched
   frames (the shared matcher of :mod:`evalkit.adapters.trackers`).
3. Video logits = mean over frames of the matched queries' class logits.
4. YouTube-VIS / OVIS / BURST: the top 30 (query, category) pairs of the sigmoid video scores;
   per frame, the pair's mask (logit > 0 at the original resolution) and box; ``track_ids`` are
   ranks 1..30 and every frame carries the video score.
   TAO (``ow-track`` unless ``dataset="burst"``): the top 50 queries by their best class, labelled
   with that class; per frame, instances whose mask has more than 5 pixels on the mask-feature
   grid are kept, then box NMS at IoU 0.5 (boxes only, as the TETA evaluation reads).

Deviations, on purpose: boxes are mapped to the original frame through the padded canvas (the
official video path scales the normalised boxes by the original size, ignoring the padding,
which shifts them whenever the canvas is padded). Kept quirk: the official TAO NMS reads the
``x, y, w, h`` boxes as ``cx, cy, w, h``; the same (shifted) boxes are used for suppression here,
so the kept set is the official one, while the output boxes are the true ``xyxy``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import UnsupportedTaskError
from ..types import Categories, Frames, Instances
from ..zoo.ops import box_convert, masks_to_rles, nms
from .glee_image import boxes_to_original, prepare

__all__ = ["track", "decode_video", "associate", "tao_frame_keep"]

VIS_TOPK = 30
TAO_TOPK = 50
TAO_MIN_AREA = 5
TAO_NMS_IOU = 0.5


def _matcher():
    try:
        from .trackers import match_from_embeds  # type: ignore[attr-defined]
    except ImportError as exc:  # the shared MinVIS matcher is not in this version yet
        raise UnsupportedTaskError(
            "GLEE video instance segmentation / open-world tracking needs the shared MinVIS matcher "
            "(evalkit.adapters.trackers.match_from_embeds), which this version does not have") from exc
    return match_from_embeds


def decode_video(adapter, frames: Frames, categories: Categories, task: str):
    """Per-frame outputs of the whole video: lists of ``logits Q×N``, ``masks Q×Hm×Wm`` (CPU,
    float16), ``boxes Q×4``, ``embeds Q×C``, and the frames' :class:`ImageTransform`."""
    window = int(adapter.options.get("window") or 10)
    logits, masks, boxes, embeds, tfs = [], [], [], [], []
    for c in range(0, len(frames), window):
        clip = frames[c:c + window]
        batch = prepare(adapter, clip, task)
        out = adapter.model(batch.images, adapter.class_prompt(categories, len(clip)))
        logits += list(out.logits.float().cpu())
        masks += list(out.masks.half().cpu())
        boxes += list(out.boxes.float().cpu())
        embeds += list(out.embeds.float().cpu())
        tfs += batch.transforms
    return logits, masks, boxes, embeds, tfs


def associate(logits, masks, boxes, embeds, match) -> tuple[list, list, list, torch.Tensor]:
    """MinVIS: permute every frame's queries onto the running tracks; returns the permuted
    per-frame ``masks``, ``boxes``, ``logits`` and the video logits ``Q×N`` (frame mean)."""
    out_l, out_m, out_b, out_e = [logits[0]], [masks[0]], [boxes[0]], [embeds[0]]
    for t in range(1, len(logits)):
        target = torch.stack(out_e[-3:]).mean(0)
        perm = torch.as_tensor(np.asarray(match(target, embeds[t])), dtype=torch.long)
        out_l.append(logits[t][perm])
        out_m.append(masks[t][perm])
        out_b.append(boxes[t][perm])
        out_e.append(embeds[t][perm])
    return out_m, out_b, out_l, torch.stack(out_l).mean(0)


def track(adapter, frames: Frames, categories: Categories, task: str, match=None) -> list[Instances]:
    """VIS / open-world tracking of one video → one :class:`Instances` per frame."""
    match = match or _matcher()
    logits, masks, boxes, embeds, tfs = decode_video(adapter, frames, categories, task)
    masks, boxes, logits, video_logits = associate(logits, masks, boxes, embeds, match)
    ids = np.asarray(categories.ids, np.int64)
    if task == "ow-track" and adapter.options.get("dataset") != "burst":
        return _tao_output(video_logits, masks, boxes, tfs, ids)
    probs = video_logits.sigmoid()
    n = probs.shape[1]
    scores, idx = probs.flatten().topk(min(VIS_TOPK, probs.numel()))
    q = idx // n
    labels = ids[(idx % n).numpy()]
    results = []
    for t, tf in enumerate(tfs):
        fg = tf.masks_to_original(masks[t][q].float()) > 0
        results.append(Instances(tf.original_size, boxes=boxes_to_original(boxes[t][q], tf).numpy(),
                                 masks=masks_to_rles(fg), scores=scores.numpy(), labels=labels,
                                 track_ids=np.arange(1, len(q) + 1)))
    return results


def tao_frame_keep(xyxy: torch.Tensor, scores: torch.Tensor, valid: np.ndarray) -> np.ndarray:
    """Indices kept on one TAO frame: ``valid`` instances (mask area test), then NMS at IoU 0.5 on
    the official suppression boxes — ``x, y, w, h`` read as ``cx, cy, w, h`` — in score order."""
    idx = np.nonzero(valid)[0]
    if not len(idx):
        return idx
    quirky = box_convert(box_convert(xyxy[idx], "xyxy", "xywh"), "cxcywh", "xyxy")
    return idx[nms(quirky, scores[idx], TAO_NMS_IOU).numpy()]


def _tao_output(video_logits, masks, boxes, tfs, ids) -> list[Instances]:
    probs = video_logits.sigmoid()
    best, cls = probs.max(-1)
    scores, q = best.topk(min(TAO_TOPK, len(best)))
    labels = ids[cls[q].numpy()]
    track_ids = np.arange(1, len(q) + 1)
    results = []
    for t, tf in enumerate(tfs):
        valid = ((masks[t][q] > 0).flatten(1).sum(1) > TAO_MIN_AREA).numpy()
        xyxy = boxes_to_original(boxes[t][q], tf)
        kept = tao_frame_keep(xyxy, scores, valid)
        results.append(Instances(tf.original_size, boxes=xyxy[kept].numpy(), scores=scores[kept].numpy(),
                                 labels=labels[kept], track_ids=track_ids[kept]))
    return results
