"""Pieces shared by the trackers: input checks, the matching scores, box overlaps, outputs.

Conventions for every tracker in this package (one call per frame of one video):

* ``boxes``  - ``N x 4`` float xyxy, in one fixed coordinate frame for the whole video (the
  adapters pass pixels of the original frame; only overlaps are computed from them);
* ``scores`` - ``N`` float detection confidences in [0, 1];
* ``labels`` - ``N`` int64 class ids (dataset category ids or contiguous indices: only
  equality is used);
* ``embeds`` - ``N x D`` float association embeddings (not normalised: the bi-softmax metric
  uses raw dot products, as the official trackers do);
* ``masks``  - ``N x h x w`` mask *logits* at any resolution shared by the frame's masks.

Numpy arrays and tensors on any device are accepted. The trackers work on CPU copies (their
state is a few vectors per track and they loop over detections, as the official code does);
the mask resizing helpers stay on the input's device.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.errors import EvalkitError

MATCH_METRICS = ("bisoftmax", "softmax", "cosine")


class TrackerInputError(EvalkitError, ValueError):
    """A tracker was given detections of the wrong shape, dtype or order; the message says which."""


def as_tensor(x, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    elif not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError) as e:
            raise TrackerInputError(
                f"{name}: expected a tensor or array, got {type(x).__name__}") from e
    return x if dtype is None else x.to(dtype)


def check_detections(boxes, scores, labels, embeds, masks=None, *, where: str):
    """Validate and convert one frame's detections; returns torch tensors (CPU for numpy input).

    Raises:
        TrackerInputError: naming the argument and the expected shape.
    """
    def cpu(x, name, dtype=None):
        return as_tensor(x, f"{where}: {name}", dtype).detach().cpu()

    boxes = cpu(boxes, "boxes", torch.float32)
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise TrackerInputError(f"{where}: boxes must be N x 4 xyxy, got {tuple(boxes.shape)}")
    n = boxes.shape[0]
    scores = cpu(scores, "scores", torch.float32).reshape(-1)
    labels = cpu(labels, "labels", torch.int64).reshape(-1)
    embeds = cpu(embeds, "embeds")
    if not embeds.is_floating_point():
        embeds = embeds.float()
    for name, v in (("scores", scores), ("labels", labels)):
        if v.shape[0] != n:
            raise TrackerInputError(
                f"{where}: {name} must have {n} entries (one per box), got {v.shape[0]}")
    if embeds.dim() != 2 or embeds.shape[0] != n:
        raise TrackerInputError(f"{where}: embeds must be {n} x D, got {tuple(embeds.shape)}")
    if masks is not None:
        masks = cpu(masks, "masks", torch.float32)
        if masks.dim() != 3 or masks.shape[0] != n:
            raise TrackerInputError(
                f"{where}: masks must be {n} x h x w logits, got {tuple(masks.shape)}")
    return boxes, scores, labels, embeds, masks


def match_scores(embeds: torch.Tensor, memo_embeds: torch.Tensor, metric: str) -> torch.Tensor:
    """Association scores ``N x M`` between detections and memory entries.

    * ``bisoftmax`` (QDTrack, eq. 4 of Pang et al., CVPR 2021): with ``f = E_det @ E_memo^T``,
      ``(softmax(f, dim=1) + softmax(f, dim=0)) / 2`` - high only when the pair is the best
      match both ways;
    * ``softmax``: ``softmax(f, dim=1)``;
    * ``cosine``: cosine similarity of the L2-normalised embeddings.
    """
    if metric == "cosine":
        return F.normalize(embeds, p=2, dim=1) @ F.normalize(memo_embeds, p=2, dim=1).T
    feats = embeds @ memo_embeds.T
    if metric == "softmax":
        return feats.softmax(dim=1)
    if metric == "bisoftmax":
        return (feats.softmax(dim=1) + feats.softmax(dim=0)) / 2
    raise TrackerInputError(f"match_metric must be one of {MATCH_METRICS}, got {metric!r}")


def box_overlaps(boxes1: torch.Tensor, boxes2: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Pairwise IoU ``N x M`` of xyxy boxes as mmdet's ``bbox_overlaps`` computes it.

    ``inter / max(union, eps)`` with areas ``(x1 - x0) * (y1 - y0)`` (no ``+1``); the trackers
    compare these IoUs with their thresholds, so the formula is kept exactly.
    """
    if boxes1.shape[0] == 0 or boxes2.shape[0] == 0:
        return boxes1.new_zeros((boxes1.shape[0], boxes2.shape[0]))
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    overlap = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - overlap
    return overlap / union.clamp(min=eps)


@dataclass
class TrackOutput:
    """What a tracker decided for one frame.

    Attributes:
        indices: ``K`` int64 indices into the frame's input detections that survived the
            tracker's duplicate removal, in the order the tracker processed them.
        ids: ``K`` int64: a track id ``>= 0``, ``-1`` for an unmatched detection (kept as a
            backdrop by the quasi-dense tracker), ``-2`` for a detection suppressed as a
            duplicate of a track. Only ``ids >= 0`` are outputs.
    """

    indices: torch.Tensor
    ids: torch.Tensor

    def tracked(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(indices, ids)`` of the detections that carry a track id, in processing order."""
        keep = self.ids >= 0
        return self.indices[keep], self.ids[keep]
