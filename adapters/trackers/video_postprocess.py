"""Video-level post-processing of online VIS trackers (UNINEXT/IDOL) and mask resizing.

:class:`IDOLVideoAccumulator` reproduces UNINEXT's ``inference_vis`` bookkeeping and
``post_process_vis`` (``uninext/uninext_vid.py``):

* each frame, every tracked id appends its mask, box and **class-score vector**; ids not seen
  get ``None`` for that frame; an id born at frame ``t`` is padded with ``t`` leading ``None``;
* from frame index 9 on (``frame_index > 8``) an id whose last two entries are both ``None``
  and that has fewer than 3 valid frames is deleted (short noisy tracklets);
* at the end, the video score vector of an id is the mean (``temporal_score_type='mean'``) or
  the max over its valid frames; with ``multi_cls`` every ``(id, class)`` with video score
  ``> apply_cls_thres`` (0.05) becomes one output, in row-major order of the ``ids x classes``
  matrix; otherwise one output per id with its best class.

:func:`upsample_crop_resize` is the mask path shared by UNINEXT and UniRef: bilinear upsampling of
the stride-``s`` mask logits by ``s`` (``align_corners=False``), sigmoid, crop of the padded input
to the valid input size, resize to the original frame (nearest for UNINEXT VIS/MOTS/Ref-DAVIS,
bilinear for UniRef VOS) and an optional threshold (``> 0.5``). :func:`resize_mask_logits` is
the Mask2Former/MaskDINO path used by GLEE and UniVS: bilinear resize of the logits to the padded
input, crop, bilinear resize to the original frame, ``logit > 0``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.types import Instances

from .common import TrackerInputError, as_tensor


def upsample_crop_resize(
    mask_logits,
    input_size: tuple[int, int],
    output_size: tuple[int, int],
    stride: int = 4,
    resize_mode: str = "nearest",
    threshold: float | None = 0.5,
) -> torch.Tensor:
    """Mask logits at stride ``stride`` of a padded input -> masks of the original frame.

    Args:
        mask_logits: ``N x h x w`` float logits predicted on the padded input (``h * stride``
            rows cover the padded input).
        input_size: ``(H_in, W_in)`` of the resized input before padding (crop region).
        output_size: ``(H, W)`` of the original frame.
        stride: upsampling factor of the logits (4 for UNINEXT/UniRef masks).
        resize_mode: ``"nearest"`` or ``"bilinear"`` for the final resize.
        threshold: binarise ``prob > threshold``; ``None`` returns probabilities.

    Returns:
        ``N x H x W`` bool masks, or float32 probabilities when ``threshold`` is ``None``.
    """
    x = as_tensor(mask_logits, "upsample_crop_resize: mask_logits", torch.float32)
    if x.dim() != 3:
        raise TrackerInputError(
            f"upsample_crop_resize: mask_logits must be N x h x w, got {tuple(x.shape)}")
    if resize_mode not in ("nearest", "bilinear"):
        raise TrackerInputError(
            f"upsample_crop_resize: resize_mode must be nearest or bilinear, got {resize_mode!r}")
    h, w = x.shape[-2:]
    if input_size[0] > h * stride or input_size[1] > w * stride:
        raise TrackerInputError(
            f"upsample_crop_resize: input_size {tuple(input_size)} exceeds the padded size "
            f"{(h * stride, w * stride)} covered by the logits")
    if x.shape[0] == 0:
        out = x.new_zeros((0, *output_size))
        return out.bool() if threshold is not None else out
    prob = F.interpolate(x[:, None], size=(h * stride, w * stride), mode="bilinear",
                         align_corners=False).sigmoid()
    prob = prob[:, :, : input_size[0], : input_size[1]]
    kw = {"align_corners": False} if resize_mode == "bilinear" else {}
    prob = F.interpolate(prob, size=tuple(output_size), mode=resize_mode, **kw)[:, 0]
    return prob if threshold is None else prob > threshold


def resize_mask_logits(
    mask_logits,
    padded_size: tuple[int, int],
    input_size: tuple[int, int],
    output_size: tuple[int, int],
    threshold: float | None = 0.0,
) -> torch.Tensor:
    """Mask logits ``... x h x w`` -> ``... x H x W`` masks of the original frame (GLEE/UniVS).

    Args:
        mask_logits: ``... x h x w`` float logits (e.g. ``Q x T x h x w`` for a video).
        padded_size: ``(H_pad, W_pad)`` of the padded network input (first resize target).
        input_size: ``(H_in, W_in)`` valid region of the input (crop; GLEE's LSJ inputs pass
            the scaled original size).
        output_size: ``(H, W)`` of the original frame.
        threshold: binarise ``logit > threshold``; ``None`` returns the resized logits.
    """
    x = as_tensor(mask_logits, "resize_mask_logits: mask_logits", torch.float32)
    if x.dim() < 2:
        raise TrackerInputError(
            f"resize_mask_logits: mask_logits must be ... x h x w, got {tuple(x.shape)}")
    if input_size[0] > padded_size[0] or input_size[1] > padded_size[1]:
        raise TrackerInputError(
            f"resize_mask_logits: input_size {tuple(input_size)} exceeds padded_size "
            f"{tuple(padded_size)}")
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    if flat.shape[0] == 0:
        out = x.new_zeros((*lead, *output_size))
        return out.bool() if threshold is not None else out
    flat = F.interpolate(flat, size=tuple(padded_size), mode="bilinear", align_corners=False)
    flat = flat[:, :, : input_size[0], : input_size[1]]
    flat = F.interpolate(flat, size=tuple(output_size), mode="bilinear", align_corners=False)
    out = flat.reshape(*lead, *output_size)
    return out if threshold is None else out > threshold


@dataclass
class VideoInstance:
    """One instance of a video result.

    Attributes:
        track_id: tracker id. score: video score. label: class index (column of the score
            vectors; the adapter maps it to a dataset category id).
        masks: per-frame entries as given to the accumulator (``None`` where absent).
        boxes: per-frame boxes (``None`` where absent).
    """

    track_id: int
    score: float
    label: int
    masks: list
    boxes: list


class IDOLVideoAccumulator:
    """Collects per-frame tracker outputs of one video and turns them into video instances."""

    def __init__(self, drop_after_frame: int = 8, min_valid: int = 3):
        self.drop_after_frame = drop_after_frame
        self.min_valid = min_valid
        self.num_frames = 0
        self.tracks: dict[int, dict[str, Any]] = {}  # insertion order = output order

    def add_frame(self, track_ids, class_scores, masks: list, boxes: list | None = None) -> None:
        """Record one frame (frames must be added in order, one call each).

        Args:
            track_ids: ``K`` int ids (``>= 0``) tracked in this frame.
            class_scores: ``K x C`` per-class scores of those detections.
            masks: ``K`` per-frame masks (any object: bool arrays, RLE dicts...).
            boxes: optional ``K`` boxes.
        """
        ids = as_tensor(track_ids, "IDOLVideoAccumulator: track_ids", torch.int64).cpu()
        ids = ids.reshape(-1).tolist()
        scores = as_tensor(class_scores, "IDOLVideoAccumulator: class_scores", torch.float32).cpu()
        if scores.dim() != 2 or scores.shape[0] != len(ids) or len(masks) != len(ids):
            raise TrackerInputError(
                f"IDOLVideoAccumulator.add_frame: expected {len(ids)} x C class_scores and "
                f"{len(ids)} masks, got {tuple(scores.shape)} and {len(masks)}")
        if len(set(ids)) != len(ids) or any(i < 0 for i in ids):
            raise TrackerInputError(
                f"IDOLVideoAccumulator.add_frame: track ids must be distinct and >= 0, got {ids}")
        boxes = [None] * len(ids) if boxes is None else list(boxes)
        t = self.num_frames
        for k, tid in enumerate(ids):
            rec = self.tracks.get(tid)
            if rec is None:
                rec = self.tracks[tid] = {"masks": [None] * t, "boxes": [None] * t,
                                          "scores": [None] * t, "valid": 0}
            rec["masks"].append(masks[k])
            rec["boxes"].append(boxes[k])
            rec["scores"].append(scores[k])
            rec["valid"] += 1
        for rec in self.tracks.values():
            if len(rec["masks"]) < t + 1:
                rec["masks"].append(None)
                rec["boxes"].append(None)
                rec["scores"].append(None)
        if t > self.drop_after_frame:
            for tid in [tid for tid, r in self.tracks.items()
                        if r["masks"][-1] is None and r["masks"][-2] is None
                        and r["valid"] < self.min_valid]:
                del self.tracks[tid]
        self.num_frames += 1

    def finalize(self, apply_cls_thres: float = 0.05, multi_cls: bool = True,
                 temporal_score_type: str = "mean") -> list[VideoInstance]:
        """Video instances: per-id score vectors pooled over valid frames, then class selection."""
        if temporal_score_type not in ("mean", "max"):
            raise TrackerInputError(
                f"temporal_score_type must be mean or max, got {temporal_score_type!r}")
        if not self.tracks:
            return []
        tids = list(self.tracks)
        pooled = []
        for tid in tids:
            s = torch.stack([v for v in self.tracks[tid]["scores"] if v is not None])
            pooled.append(s.mean(0) if temporal_score_type == "mean" else s.max(0)[0])
        pred = torch.stack(pooled)  # ids x C
        if multi_cls:
            rows, cols = torch.where(pred > apply_cls_thres)
        else:
            cols = pred.argmax(-1)
            rows = torch.arange(len(tids))
        return [
            VideoInstance(tids[r], float(pred[r, c]), int(c), list(self.tracks[tids[r]]["masks"]),
                          list(self.tracks[tids[r]]["boxes"]))
            for r, c in zip(rows.tolist(), cols.tolist())
        ]


def video_instances_to_frames(
    instances: Sequence[VideoInstance],
    num_frames: int,
    image_size: tuple[int, int],
    category_ids: Sequence[int] | None = None,
) -> list[Instances]:
    """Per-frame :class:`~evalkit.types.Instances` of a video result (the adapter contract).

    Video instance ``j`` becomes track id ``j`` (one id per ``(track, class)`` output, since a
    multi-class track is several results), present in the frames where its mask is not
    ``None``, with its video score and label in every frame; a writer regrouping by track id
    recovers the video result.

    Args:
        instances: from :meth:`IDOLVideoAccumulator.finalize`; masks must be ``H x W`` bool
            arrays or COCO RLE dicts of the original frame, boxes (if any) xyxy pixels.
        num_frames: frames of the video. image_size: ``(H, W)`` of the original frames.
        category_ids: dataset category id of each class index (default: the index itself).
    """
    frames = []
    for t in range(num_frames):
        sel = [j for j, v in enumerate(instances) if t < len(v.masks) and v.masks[t] is not None]
        masks = [instances[j].masks[t] for j in sel]
        if masks and not isinstance(masks[0], dict):
            masks = np.stack([np.asarray(m, dtype=bool) for m in masks])
        elif not masks:
            masks = np.zeros((0, *image_size), bool)
        boxes = None
        if sel and all(instances[j].boxes[t] is not None for j in sel):
            boxes = np.stack([np.asarray(instances[j].boxes[t], np.float32).reshape(4)
                              for j in sel])
        labels = [instances[j].label for j in sel]
        if category_ids is not None:
            try:
                labels = [int(category_ids[c]) for c in labels]
            except IndexError as e:
                raise TrackerInputError(
                    f"video_instances_to_frames: class index out of range of {len(category_ids)} "
                    f"category ids") from e
        frames.append(Instances(image_size, boxes=boxes, masks=masks,
                                scores=np.array([instances[j].score for j in sel], np.float32),
                                labels=np.array(labels, np.int64),
                                track_ids=np.array(sel, np.int64)))
    return frames


def tracked_frame_instances(
    out,
    image_size: tuple[int, int],
    boxes,
    scores,
    labels,
    masks=None,
    category_ids: Sequence[int] | None = None,
) -> Instances:
    """One frame's :class:`~evalkit.types.Instances` from a tracker decision (MOT / MOTS).

    Args:
        out: the :class:`~.common.TrackOutput` of the frame; only detections with an id
            ``>= 0`` are kept, in the tracker's order.
        image_size: ``(H, W)`` of the original frame.
        boxes: ``N x 4`` xyxy pixels of the original frame (the tracker's input).
        scores: ``N``. labels: ``N`` class indices (or dataset ids when ``category_ids`` is
            ``None``).
        masks: optional ``N x H x W`` bool masks of the original frame.
        category_ids: dataset category id of each class index.
    """
    idx, ids = out.tracked()
    idx_np = idx.numpy()
    def cpu(x, name, dtype=None):
        return as_tensor(x, f"tracked_frame_instances: {name}", dtype).detach().cpu().numpy()

    lab = cpu(labels, "labels", torch.int64)[idx_np]
    if category_ids is not None:
        lut = np.asarray(category_ids, np.int64)
        if len(lab) and (lab.min() < 0 or lab.max() >= len(lut)):
            raise TrackerInputError(
                f"tracked_frame_instances: class index out of range of {len(lut)} category ids")
        lab = lut[lab]
    sel_masks = None
    if masks is not None:
        sel_masks = cpu(masks, "masks", torch.bool)[idx_np]
    return Instances(
        image_size,
        boxes=cpu(boxes, "boxes", torch.float32)[idx_np],
        masks=sel_masks,
        scores=cpu(scores, "scores", torch.float32)[idx_np],
        labels=lab,
        track_ids=ids.numpy(),
    )
