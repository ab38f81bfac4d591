"""Box operations on torch tensors (any device, differentiable where meaningful).

Formats (all ``... x 4``, same units as the input, usually pixels of some image frame):

* ``xyxy``   - ``(x0, y0, x1, y1)``: top-left and bottom-right corners;
* ``xywh``   - ``(x0, y0, w, h)``: COCO's format;
* ``cxcywh`` - ``(cx, cy, w, h)``: centre and size, DETR's normalised boxes.

Areas use the continuous convention ``(x1 - x0) * (y1 - y0)`` (no ``+1``), as torchvision and
detectron2 do.
"""
from __future__ import annotations

import torch

from .errors import OpInputError

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def _check_boxes(boxes: torch.Tensor, name: str = "boxes") -> None:
    if boxes.shape[-1:] != (4,):
        raise OpInputError(f"{name}: expected a ... x 4 tensor, got shape {tuple(boxes.shape)}")


def box_convert(boxes: torch.Tensor, src: str, dst: str) -> torch.Tensor:
    """Convert ``... x 4`` boxes between ``xyxy``, ``xywh`` and ``cxcywh`` (dtype kept)."""
    if src not in BOX_FORMATS or dst not in BOX_FORMATS:
        raise OpInputError(f"box_convert: formats must be in {BOX_FORMATS}, got {src!r} -> {dst!r}")
    _check_boxes(boxes)
    if src == dst:
        return boxes.clone()
    a, b = boxes[..., :2], boxes[..., 2:]
    if src == "xywh":
        xyxy = torch.cat([a, a + b], -1)
    elif src == "cxcywh":
        xyxy = torch.cat([a - 0.5 * b, a + 0.5 * b], -1)
    else:
        xyxy = boxes
    p0, p1 = xyxy[..., :2], xyxy[..., 2:]
    if dst == "xyxy":
        return xyxy
    if dst == "xywh":
        return torch.cat([p0, p1 - p0], -1)
    return torch.cat([(p0 + p1) / 2, p1 - p0], -1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of ``... x 4`` xyxy boxes, shape ``...``."""
    _check_boxes(boxes)
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _inter_union(boxes1: torch.Tensor, boxes2: torch.Tensor):
    area1 = box_area(boxes1)
    area2 = box_area(boxes2)
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter, area1[:, None] + area2[None, :] - inter


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of ``N x 4`` and ``M x 4`` xyxy boxes: ``N x M``.

    ``inter / (area1 + area2 - inter)``; two empty boxes give NaN (0 / 0), as torchvision.
    """
    _check_boxes(boxes1, "boxes1")
    _check_boxes(boxes2, "boxes2")
    inter, union = _inter_union(boxes1, boxes2)
    return inter / union


def generalized_box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise generalized IoU (Rezatofighi et al., CVPR 2019) of xyxy boxes: ``N x M``.

    ``IoU - (C - union) / C`` with ``C`` the area of the smallest enclosing box; in
    ``[-1, 1]``. Degenerate boxes (``x1 < x0`` or ``y1 < y0``) are rejected, since the
    formula is meaningless for them.
    """
    _check_boxes(boxes1, "boxes1")
    _check_boxes(boxes2, "boxes2")
    for name, b in (("boxes1", boxes1), ("boxes2", boxes2)):
        if b.numel() and not bool((b[:, 2:] >= b[:, :2]).all()):
            raise OpInputError(f"generalized_box_iou: {name} has boxes with x1 < x0 or y1 < y0")
    inter, union = _inter_union(boxes1, boxes2)
    iou = inter / union
    lt = torch.min(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.max(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    enclosing = wh[..., 0] * wh[..., 1]
    return iou - (enclosing - union) / enclosing


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight xyxy boxes of ``N x H x W`` boolean masks, in continuous pixel coordinates.

    A mask covering pixels ``j0..j1`` (columns) and ``i0..i1`` (rows) gives
    ``(j0, i0, j1 + 1, i1 + 1)`` (pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``, the frame of
    :mod:`evalkit.types`; this equals pycocotools' ``toBbox`` in xyxy). Empty masks give zeros.
    """
    if masks.dim() != 3:
        raise OpInputError(f"masks_to_boxes: expected N x H x W masks, got {tuple(masks.shape)}")
    n, h, w = masks.shape
    m = masks.bool()
    cols = m.any(1)  # N x W
    rows = m.any(2)  # N x H
    xs = torch.arange(w, device=masks.device)
    ys = torch.arange(h, device=masks.device)
    big = max(h, w) + 1
    x0 = torch.where(cols, xs, big).amin(1) if w else torch.zeros(n, device=masks.device)
    x1 = torch.where(cols, xs + 1, 0).amax(1) if w else torch.zeros(n, device=masks.device)
    y0 = torch.where(rows, ys, big).amin(1) if h else torch.zeros(n, device=masks.device)
    y1 = torch.where(rows, ys + 1, 0).amax(1) if h else torch.zeros(n, device=masks.device)
    boxes = torch.stack([x0, y0, x1, y1], 1).float()
    empty = ~cols.any(1) if w else torch.ones(n, dtype=torch.bool, device=masks.device)
    return boxes.masked_fill(empty[:, None], 0.0)
