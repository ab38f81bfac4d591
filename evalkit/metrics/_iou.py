"""Row-wise box IoUs shared by the image metrics (boxes ``N x 4`` ``[x, y, w, h]`` float64,
original-image pixels, continuous coordinates without +1)."""
from __future__ import annotations

import numpy as np

__all__ = ["box_iou_coco", "box_giou"]


def box_iou_coco(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """Row-wise pycocotools ``bbIou``: ``N x 4`` xywh boxes -> ``N`` IoUs (float64).

    Same float64 operations in the same order as the C code, so values are bit-identical.
    """
    w = np.minimum(d[:, 0] + d[:, 2], g[:, 0] + g[:, 2]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 1] + d[:, 3], g[:, 1] + g[:, 3]) - np.maximum(d[:, 1], g[:, 1])
    ok = (w > 0) & (h > 0)
    i = w * h
    da, ga = d[:, 2] * d[:, 3], g[:, 2] * g[:, 3]
    u = np.where(crowd, da, da + ga - i)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, i / np.where(ok, u, 1), 0.0)


def box_giou(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Row-wise generalised IoU of ``N x 4`` xywh boxes (computed on xyxy, no +1; MDETR)."""
    d1, g1 = d[:, :2], g[:, :2]
    d2, g2 = d1 + d[:, 2:], g1 + g[:, 2:]
    wh = np.clip(np.minimum(d2, g2) - np.maximum(d1, g1), 0, None)
    inter = wh[:, 0] * wh[:, 1]
    union = d[:, 2] * d[:, 3] + g[:, 2] * g[:, 3] - inter
    hull = np.clip(np.maximum(d2, g2) - np.minimum(d1, g1), 0, None)
    hull_area = hull[:, 0] * hull[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        return iou - np.where(hull_area > 0, (hull_area - union) / np.where(hull_area > 0, hull_area, 1), 0.0)
