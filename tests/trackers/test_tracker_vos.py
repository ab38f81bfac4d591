"""VOS soft aggregation and label-map merging."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.adapters.trackers import (
    TrackerInputError,
    merge_binary_masks,
    merge_probabilities,
    soft_aggregate,
    split_label_map,
)


def probs(k, h=9, w=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(k, h, w, generator=g)


def test_soft_aggregate_formula():
    p = probs(3).double()
    p[0, 0, 0] = 1.0  # exercises the clamp
    p[1, 0, 1] = 0.0
    bg = np.prod(1 - p.numpy(), axis=0, keepdims=True)
    x = np.clip(np.concatenate([bg, p.numpy()], 0), 1e-7, 1 - 1e-7)
    logit = np.log(x / (1 - x))
    ref = np.exp(logit) / np.exp(logit).sum(0, keepdims=True)
    got = soft_aggregate(p.float(), keep_bg=True).double().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(soft_aggregate(p.float()).numpy(), got[1:], rtol=0, atol=0)
    np.testing.assert_allclose(got.sum(0), 1.0, rtol=1e-5)


def official_merge(mask_dict, h, w):
    """UNINEXT / UniRef merge: channels indexed by object id, background = prod(1 - p)."""
    ids = sorted(mask_dict)
    mm = np.zeros((h, w, max(ids) + 1))
    for i in ids:
        mm[:, :, i] = mask_dict[i]
    mm[:, :, 0] = np.prod(1 - np.stack([mask_dict[i] for i in ids], -1), -1)
    return np.argmax(mm, -1).astype(np.uint8)


@pytest.mark.parametrize("ids", [[1, 2, 3], [5, 2, 9], [7]])
def test_merge_equals_official_layout(ids):
    p = probs(len(ids), seed=len(ids))
    got = merge_probabilities(p, ids)
    ref = official_merge({i: p[k].numpy() for k, i in enumerate(ids)}, *p.shape[1:])
    assert got.dtype == np.uint8 and np.array_equal(got, ref)
    # where the clamp creates no ties, the argmax of the soft-aggregated probabilities agrees
    order = np.argsort(ids)
    agg = soft_aggregate(p[torch.from_numpy(order)], keep_bg=True).argmax(0).numpy()
    lut = np.array([0] + [ids[i] for i in order], np.uint8)
    assert np.array_equal(lut[agg], got)


def test_merge_ties_and_edge_cases():
    p = torch.zeros(2, 1, 3)
    p[:, 0, 0] = 1.0  # both certain: the smaller id wins
    p[1, 0, 1] = 0.5  # bg 0.5 vs 0.5: background wins the tie
    got = merge_probabilities(p, [4, 2])
    assert got.tolist() == [[2, 0, 0]]
    assert merge_probabilities(torch.zeros(0, 2, 3)).tolist() == [[0, 0, 0]] * 2
    masks = np.zeros((2, 2, 2), bool)
    masks[0, 0] = True
    masks[1, :, 0] = True
    assert merge_binary_masks(masks, [3, 1]).tolist() == [[1, 3], [1, 0]]
    with pytest.raises(TrackerInputError, match="distinct"):
        merge_probabilities(p, [1, 1])
    with pytest.raises(TrackerInputError, match="1..255"):
        merge_probabilities(p, [0, 300])


def test_ref_davis_merge_uses_expression_order():
    p = torch.zeros(3, 2, 2)
    p[0, 0, 0], p[1, 0, 1], p[2, 1, 1] = 0.9, 0.8, 0.7
    assert merge_probabilities(p).tolist() == [[1, 2], [0, 3]]
    expected = np.array([[[False, True], [False, False]], [[False, False], [False, True]]])
    assert np.array_equal(split_label_map(np.array([[1, 2], [0, 3]]), [2, 3]), expected)
