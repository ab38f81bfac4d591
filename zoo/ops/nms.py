"""Greedy non-maximum suppression for boxes and masks, without torchvision.

Semantics (those of ``torchvision.ops.nms`` / ``batched_nms``):

* candidates are visited in decreasing score order; equal scores keep their input order
  (a stable sort, as torchvision's CPU and CUDA kernels do);
* a candidate is kept unless a previously *kept* candidate overlaps it with
  ``IoU > iou_threshold`` (strictly greater; the comparison is made in float64, as the C++
  kernels compare a ``float`` IoU with a ``double`` threshold);
* the IoU of two boxes is computed in the boxes' dtype exactly as torchvision's CPU kernel
  does: ``inter / (area_i + area_j - inter)``, areas ``(x1 - x0) * (y1 - y0)``;
* the result is the kept indices into the input, in decreasing score order.

``batched_nms`` suppresses only within a class. torchvision implements that either with one
NMS per class or, for few boxes, by offsetting each class's boxes by ``class * (max + 1)``;
the offset can change float32 IoUs in the last bits, so near-threshold pairs can differ from
that path. Here IoUs are always computed on the original coordinates (torchvision's per-class
path).

The greedy pass works on tiles of ``TILE`` sorted candidates: the overlaps of a tile with
itself decide which of its candidates survive, and the survivors then suppress all later
candidates at once, so memory is ``O(TILE x N)`` and the device work is batched.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .boxes import _inter_union
from .errors import OpInputError

TILE = 512


def _greedy(order: torch.Tensor, overlaps: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    """Greedy NMS over candidates ``order`` (input indices, best first).

    ``overlaps(a, b)`` returns the ``len(a) x len(b)`` boolean matrix "suppresses" between
    input indices ``a`` and ``b``. Returns the kept input indices, best first.
    """
    n = order.numel()
    suppressed = torch.zeros(n, dtype=torch.bool, device=order.device)
    kept = []
    for t0 in range(0, n, TILE):
        t1 = min(n, t0 + TILE)
        pos = torch.arange(t0, t1, device=order.device)[~suppressed[t0:t1]]
        if pos.numel() == 0:
            continue
        cand = order[pos]
        within = overlaps(cand, cand).cpu().numpy()
        alive = np.ones(len(cand), dtype=bool)
        for a in range(len(cand)):
            if alive[a]:
                alive[a + 1:] &= ~within[a, a + 1:]
        tile_kept = cand[torch.from_numpy(alive).to(order.device)]
        kept.append(tile_kept)
        if t1 < n:
            suppressed[t1:] |= overlaps(tile_kept, order[t1:]).any(0)
    if not kept:
        return order.new_zeros(0)
    return torch.cat(kept)


def _sort_desc(scores: torch.Tensor) -> torch.Tensor:
    return torch.sort(scores, descending=True, stable=True).indices


def _check(boxes, scores, name="nms"):
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise OpInputError(f"{name}: boxes must be N x 4 xyxy, got {tuple(boxes.shape)}")
    if scores.shape != boxes.shape[:1]:
        raise OpInputError(
            f"{name}: scores must have shape ({boxes.shape[0]},), got {tuple(scores.shape)}"
        )


def _box_overlaps(boxes, labels, iou_threshold):
    def overlaps(a, b):
        inter, union = _inter_union(boxes[a], boxes[b])
        iou = inter / union
        over = iou.double() > iou_threshold
        if labels is not None:
            over &= labels[a][:, None] == labels[b][None, :]
        return over

    return overlaps


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy box NMS.

    Args:
        boxes: ``N x 4`` xyxy (float), any frame.
        scores: ``N``.
        iou_threshold: suppress when ``IoU > iou_threshold``.

    Returns:
        ``K`` int64 indices of the kept boxes, by decreasing score.
    """
    _check(boxes, scores)
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    return _greedy(_sort_desc(scores), _box_overlaps(boxes, None, float(iou_threshold)))


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Class-aware box NMS: boxes with different ``idxs`` never suppress each other.

    Args:
        boxes: ``N x 4`` xyxy; scores: ``N``; idxs: ``N`` integer class (or image) ids.

    Returns:
        ``K`` int64 indices of the kept boxes, by decreasing score (ties by input order).
    """
    _check(boxes, scores, "batched_nms")
    if idxs.shape != scores.shape:
        raise OpInputError(
            f"batched_nms: idxs must have shape ({boxes.shape[0]},), got {tuple(idxs.shape)}"
        )
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    return _greedy(_sort_desc(scores), _box_overlaps(boxes, idxs, float(iou_threshold)))


def mask_iou(masks1: torch.Tensor, masks2: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of ``N x H x W`` and ``M x H x W`` boolean masks: ``N x M`` float64.

    Intersections are counted exactly (float32 matmul below 2^24 pixels on CPU, float64 on
    other devices, where float32 matmuls may run in TF32). Two empty masks have IoU 0.
    """
    if masks1.dim() != 3 or masks2.dim() != 3 or masks1.shape[1:] != masks2.shape[1:]:
        raise OpInputError(
            f"mask_iou: expected N x H x W and M x H x W masks, got {tuple(masks1.shape)} and "
            f"{tuple(masks2.shape)}"
        )
    exact32 = masks1.device.type == "cpu" and masks1.shape[1] * masks1.shape[2] < 2**24
    dt = torch.float32 if exact32 else torch.float64
    a = masks1.flatten(1).to(dt)
    b = masks2.flatten(1).to(dt)
    inter = (a @ b.T).double()
    union = a.sum(1).double()[:, None] + b.sum(1).double()[None, :] - inter
    return torch.where(union > 0, inter / union.clamp_min(1), torch.zeros_like(inter))


def mask_nms(
    masks: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Greedy NMS on masks (mask IoU), optionally class-aware.

    Args:
        masks: ``N x H x W`` bool (or 0/1) masks in one frame.
        scores: ``N``.
        iou_threshold: suppress when mask ``IoU > iou_threshold``.
        labels: optional ``N`` class ids; masks of different classes never suppress each other.

    Returns:
        ``K`` int64 indices of the kept masks, by decreasing score (ties by input order).
    """
    if masks.dim() != 3 or scores.shape != masks.shape[:1]:
        raise OpInputError(
            f"mask_nms: expected N x H x W masks and N scores, got {tuple(masks.shape)} and "
            f"{tuple(scores.shape)}"
        )
    if labels is not None and labels.shape != scores.shape:
        raise OpInputError(f"mask_nms: labels must have shape {tuple(scores.shape)}")
    if masks.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=masks.device)
    flat = masks.bool()
    thr = float(iou_threshold)

    def overlaps(a, b):
        over = mask_iou(flat[a], flat[b]) > thr
        if labels is not None:
            over &= labels[a][:, None] == labels[b][None, :]
        return over

    return _greedy(_sort_desc(scores), overlaps)
