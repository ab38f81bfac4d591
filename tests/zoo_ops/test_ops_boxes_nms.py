"""Box ops and NMS against straightforward reimplementations of the official semantics."""
import importlib

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from evalkit.types import box_convert as np_box_convert
from evalkit.zoo.ops import (
    OpInputError, batched_nms, box_area, box_convert, box_iou, generalized_box_iou, mask_iou,
    mask_nms, masks_to_boxes, nms,
)

nms_module = importlib.import_module("evalkit.zoo.ops.nms")  # the package exports the function


def _np_nms(boxes, scores, thr):
    """torchvision's CPU kernel, transcribed to NumPy float32 (stable descending order)."""
    boxes = boxes.astype(np.float32)
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(boxes), bool)
    keep = []
    for k, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        js = order[k + 1:]
        w = np.maximum(np.float32(0), np.minimum(x2[i], x2[js]) - np.maximum(x1[i], x1[js]))
        h = np.maximum(np.float32(0), np.minimum(y2[i], y2[js]) - np.maximum(y1[i], y1[js]))
        inter = w * h
        ovr = inter / (areas[i] + areas[js] - inter)
        suppressed[js[ovr.astype(np.float64) > thr]] = True
    return np.array(keep, dtype=np.int64)


def _np_batched_nms(boxes, scores, idxs, thr):
    keep = np.concatenate([np.flatnonzero(idxs == c)[_np_nms(boxes[idxs == c], scores[idxs == c],
                                                               thr)] for c in np.unique(idxs)])
    return keep[np.lexsort((keep, -scores[keep]))]  # by score, ties by index


def _random_boxes(rng, n, grid=False):
    xy = rng.integers(0, 60, (n, 2)) if grid else rng.random((n, 2)) * 60
    wh = rng.integers(1, 30, (n, 2)) if grid else rng.random((n, 2)) * 30 + 0.5
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


@pytest.mark.parametrize("grid", [False, True])
@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_matches_torchvision_semantics(grid, thr):
    rng = np.random.default_rng(int(thr * 10) + grid)
    n = 1300  # several tiles
    boxes = _random_boxes(rng, n, grid)
    scores = np.round(rng.random(n), 1).astype(np.float32)  # many exact ties
    ours = nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr)
    assert ours.dtype == torch.int64
    np.testing.assert_array_equal(ours.numpy(), _np_nms(boxes, scores, thr))


def test_batched_nms_is_per_class():
    rng = np.random.default_rng(3)
    n = 900
    boxes = _random_boxes(rng, n, grid=True)
    scores = np.round(rng.random(n), 2).astype(np.float32)
    idxs = rng.integers(0, 5, n)
    ours = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(idxs), 0.5)
    np.testing.assert_array_equal(ours.numpy(), _np_batched_nms(boxes, scores, idxs, 0.5))


def test_nms_threshold_is_strict_and_ties_keep_input_order():
    boxes = torch.tensor([[0, 0, 10, 5], [0, 0, 10, 10], [20, 20, 30, 30]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.9, 0.1])
    # IoU of the first two is exactly 0.5: kept at 0.5, suppressed below.
    assert nms(boxes, scores, 0.5).tolist() == [0, 1, 2]
    assert nms(boxes, scores, 0.49).tolist() == [0, 2]
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.3).tolist() == [0, 1, 2]
    assert nms(boxes[:0], scores[:0], 0.5).shape == (0,)


def test_tiles_see_earlier_suppression(monkeypatch):
    monkeypatch.setattr(nms_module, "TILE", 3)
    rng = np.random.default_rng(5)
    boxes = _random_boxes(rng, 40, grid=True)
    scores = rng.random(40).astype(np.float32)
    ours = nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.2)
    np.testing.assert_array_equal(ours.numpy(), _np_nms(boxes, scores, 0.2))


def test_mask_nms_matches_brute_force():
    rng = np.random.default_rng(7)
    n, h, w = 60, 20, 24
    boxes = _random_boxes(rng, n, grid=True) / 3
    masks = np.zeros((n, h, w), bool)
    for k, (x0, y0, x1, y1) in enumerate(boxes.astype(int)):
        masks[k, y0:y1 + 1, x0:x1 + 1] = True
    masks[0] = False  # an empty mask never suppresses nor gets suppressed
    scores = np.round(rng.random(n), 1)
    labels = rng.integers(0, 3, n)
    flat = masks.reshape(n, -1).astype(np.int64)
    inter = flat @ flat.T
    union = flat.sum(1)[:, None] + flat.sum(1)[None] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0)
    for use_labels in (False, True):
        order = np.argsort(-scores, kind="stable")
        alive = np.ones(n, bool)
        keep = []
        for i in order:
            if alive[i]:
                keep.append(i)
                sup = iou[i] > 0.4
                if use_labels:
                    sup &= labels == labels[i]
                alive &= ~sup
        ours = mask_nms(torch.from_numpy(masks), torch.from_numpy(scores), 0.4,
                        torch.from_numpy(labels) if use_labels else None)
        assert ours.tolist() == keep
    np.testing.assert_allclose(mask_iou(torch.from_numpy(masks), torch.from_numpy(masks)).numpy(), iou)


def test_box_convert_matches_contract_helper_and_round_trips():
    rng = np.random.default_rng(0)
    boxes = _random_boxes(rng, 10)
    t = torch.from_numpy(boxes)
    for fmt in ("xywh", "cxcywh"):
        np.testing.assert_allclose(box_convert(t, "xyxy", fmt).numpy(),
                                   np_box_convert(boxes, "xyxy", fmt), rtol=1e-6)
        np.testing.assert_allclose(box_convert(box_convert(t, "xyxy", fmt), fmt, "xyxy").numpy(),
                                   boxes, rtol=1e-5)
    assert box_convert(t[None], "xyxy", "cxcywh").shape == (1, 10, 4)  # batched
    with pytest.raises(OpInputError, match="formats must be"):
        box_convert(t, "xyxy", "yxyx")


def test_box_iou_and_giou():
    a = torch.tensor([[0.0, 0, 10, 10], [0, 0, 2, 2]])
    b = torch.tensor([[5.0, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    iou = box_iou(a, b)
    torch.testing.assert_close(iou, torch.tensor([[50 / 150, 0, 1], [0, 0, 0.04]]))
    giou = generalized_box_iou(a, b)
    # GIoU = IoU - (C - U) / C; a[0] vs b[1]: C = 30 x 30, U = 200.
    assert giou[0, 1].item() == pytest.approx(-(900 - 200) / 900)
    assert giou[0, 2].item() == pytest.approx(1.0)
    torch.testing.assert_close(box_area(a), torch.tensor([100.0, 4.0]))
    with pytest.raises(OpInputError, match="x1 < x0"):
        generalized_box_iou(torch.tensor([[5.0, 0, 1, 1]]), a)
    # Gradients flow through GIoU (used by training losses).
    x = a.clone().requires_grad_()
    generalized_box_iou(x, b).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_masks_to_boxes_matches_pycocotools_bbox():
    rng = np.random.default_rng(1)
    masks = rng.random((6, 13, 17)) < 0.05
    masks[2] = False
    ours = masks_to_boxes(torch.from_numpy(masks))
    for m, box in zip(masks, ours):
        ref = mask_utils.toBbox(mask_utils.encode(np.asfortranarray(m.astype(np.uint8))))
        np.testing.assert_allclose(box_convert(box, "xyxy", "xywh").numpy(), ref)
