"""VOS soft aggregation, label-map merging, palettes and reference refresh."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from evalkit.adapters.trackers import (
    TrackerInputError,
    davis_palette,
    merge_binary_masks,
    merge_probabilities,
    palette_from_png,
    reference_refresh,
    save_label_map,
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


def test_davis_palette_and_png_roundtrip(tmp_path):
    pal = davis_palette()
    assert len(pal) == 768
    assert pal[:15] == [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128]
    assert pal[3 * 255:] == [224, 224, 192]
    lm = np.array([[0, 1, 2], [3, 4, 255]], np.uint8)
    path = tmp_path / "vid" / "00000.png"
    save_label_map(lm, path)
    with Image.open(path) as im:
        assert im.mode == "P"
        assert np.array_equal(np.array(im), lm)
    assert palette_from_png(path)[:768] == pal
    other = list(range(256)) * 3
    save_label_map(lm, tmp_path / "b.png", palette=other)
    assert palette_from_png(tmp_path / "b.png")[:768] == other
    Image.fromarray(lm).save(tmp_path / "gray.png")
    with pytest.raises(TrackerInputError, match="palette"):
        palette_from_png(tmp_path / "gray.png")
    with pytest.raises(TrackerInputError, match="uint8"):
        save_label_map(lm.astype(np.int32), tmp_path / "c.png")


def test_reference_refresh_rules():
    lm = np.array([[1, 1, 0], [2, 0, 0]], np.uint8)
    got = reference_refresh(lm, [1, 2, 3], new_ids=[2])
    assert list(got) == [1]  # 2 was given this frame, 3 has no pixels
    assert got[1].tolist() == [[True, True, False], [False, False, False]]
    got = reference_refresh(lm, [1, 2], scores={1: 0.5, 2: 0.9}, score_thr=0.7)
    assert list(got) == [2]
