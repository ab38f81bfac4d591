"""The torch COCO RLE encoder must equal pycocotools byte for byte."""
import importlib

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from evalkit.types import rle_to_mask
from evalkit.zoo.ops import OpInputError, mask_to_rle, masks_to_rles


def _coco(m: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode("ascii")}


def _edge_masks():
    out = [np.zeros((5, 7), bool), np.ones((5, 7), bool), np.zeros((1, 1), bool),
           np.ones((1, 1), bool)]
    single = np.zeros((4, 3), bool)
    single[3, 2] = True  # last pixel only
    out.append(single)
    first = np.zeros((4, 3), bool)
    first[0, 0] = True
    out.append(first)
    stripes = np.zeros((9, 11), bool)
    stripes[:, ::2] = True  # every column a full run: column boundaries inside runs
    out.append(stripes)
    checker = (np.indices((7, 5)).sum(0) % 2).astype(bool)  # all runs of length 1
    out.append(checker)
    big = np.zeros((300, 401), bool)
    big[3:290, 1:400] = True  # long runs: multi-character codes and negative deltas
    big[100:120, 50:60] = False
    out.append(big)
    return out


@pytest.mark.parametrize("backend", ["torch", "pycocotools", "auto"])
def test_edge_cases_equal_pycocotools(backend):
    for m in _edge_masks():
        assert mask_to_rle(torch.from_numpy(m), backend) == _coco(m), m.shape


@pytest.mark.parametrize("shape", [(1, 13), (17, 1), (31, 29), (64, 97)])
def test_random_batches_equal_pycocotools(shape):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    masks = np.stack([rng.random(shape) < p for p in (0.0, 0.02, 0.3, 0.5, 0.9, 1.0)])
    ours = masks_to_rles(torch.from_numpy(masks), backend="torch")
    assert ours == [_coco(m) for m in masks]
    for r, m in zip(ours, masks):
        np.testing.assert_array_equal(rle_to_mask(r), m)


def test_integer_masks_chunking_and_zero_size():
    rng = np.random.default_rng(0)
    masks = (rng.random((7, 20, 30)) < 0.4).astype(np.uint8) * 3  # nonzero = foreground
    expected = [_coco(m != 0) for m in masks]
    # Chunks of two masks: runs must not leak across chunk boundaries.
    assert masks_to_rles(torch.from_numpy(masks), "torch", chunk_pixels=1200) == expected
    assert masks_to_rles(torch.zeros(0, 4, 4, dtype=torch.bool), "torch") == []
    for shape in ((0, 5), (5, 0)):
        m = np.zeros(shape, bool)
        assert mask_to_rle(torch.from_numpy(m), "torch") == _coco(m)


def test_auto_uses_pycocotools_only_for_column_major_cpu_masks(monkeypatch):
    rle_module = importlib.import_module("evalkit.zoo.ops.rle")
    calls = []
    real = rle_module._encode_pycocotools
    monkeypatch.setattr(rle_module, "_encode_pycocotools", lambda m: calls.append(1) or real(m))
    rng = np.random.default_rng(2)
    masks = rng.random((3, 6, 5)) < 0.5
    expected = [_coco(m) for m in masks]
    assert masks_to_rles(torch.from_numpy(masks)) == expected and not calls
    column_major = torch.from_numpy(masks).transpose(1, 2).contiguous().transpose(1, 2)
    assert masks_to_rles(column_major) == expected and calls == [1]


def test_bad_input():
    with pytest.raises(OpInputError, match="N x H x W"):
        masks_to_rles(torch.zeros(4, 4, dtype=torch.bool))
    with pytest.raises(OpInputError, match="backend"):
        masks_to_rles(torch.zeros(1, 4, 4, dtype=torch.bool), backend="cuda")
