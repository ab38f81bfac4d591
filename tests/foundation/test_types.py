"""The predict contract: validation, serialisation, box formats, RLE helpers."""
from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from evalkit.types import (Categories, ContractError, Expression, Frames, Instances, Reference,
                           box_convert, mask_to_rle, rle_area, rle_to_bbox, rle_to_mask)


def test_box_convert_roundtrip():
    rng = np.random.default_rng(0)
    xyxy = np.sort(rng.uniform(0, 100, (20, 4)).reshape(20, 2, 2), axis=1).transpose(0, 2, 1).reshape(20, 4)
    xyxy = xyxy[:, [0, 2, 1, 3]]
    for fmt in ("xywh", "cxcywh"):
        back = box_convert(box_convert(xyxy, "xyxy", fmt), fmt, "xyxy")
        np.testing.assert_allclose(back, xyxy, atol=1e-4)
    np.testing.assert_allclose(box_convert([[1, 2, 4, 6]], "xyxy", "xywh"), [[1, 2, 3, 4]])
    np.testing.assert_allclose(box_convert([[2, 4, 2, 4]], "cxcywh", "xyxy"), [[1, 2, 3, 6]])
    with pytest.raises(ContractError):
        box_convert(xyxy, "xyxy", "yxyx")


def test_rle_helpers_match_pycocotools():
    rng = np.random.default_rng(1)
    for h, w in ((1, 1), (7, 13), (40, 31)):
        m = rng.random((h, w)) > 0.6
        rle = mask_to_rle(m)
        assert isinstance(rle["counts"], str) and rle["size"] == [h, w]
        ref = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        assert rle["counts"].encode() == ref["counts"]
        np.testing.assert_array_equal(rle_to_mask(rle), m)
        assert rle_area(rle) == m.sum()
        np.testing.assert_allclose(rle_to_bbox(rle), mask_utils.toBbox(ref))
    # uncompressed RLE (as in crowd annotations) is accepted
    unc = {"size": [2, 3], "counts": [1, 2, 3]}
    assert rle_to_mask(unc).sum() == 2
    with pytest.raises(ContractError, match="size"):
        rle_to_mask({"counts": "abc"})


def test_instances_validation_and_json_roundtrip():
    masks = np.zeros((2, 5, 6), bool)
    masks[0, 1:3, 2:4] = True
    inst = Instances((5, 6), boxes=[[0, 0, 2, 2], [1, 1, 3, 4]], masks=masks, scores=[0.9, 0.1],
                     labels=[3, 7], track_ids=[1, 2])
    back = Instances.from_json(inst.to_json())
    np.testing.assert_array_equal(back.dense_masks(), masks)
    np.testing.assert_allclose(back.boxes, inst.boxes)
    assert back.labels.dtype == np.int64 and back.scores.dtype == np.float32
    assert len(back.select([1])) == 1 and back.select([1]).labels.tolist() == [7]
    with pytest.raises(ContractError, match="expected 2"):
        Instances((5, 6), boxes=np.zeros((2, 4)), scores=[1.0])
    with pytest.raises(ContractError, match="original frame"):
        Instances((5, 6), masks=np.zeros((1, 4, 6), bool))
    with pytest.raises(ContractError, match="NaN"):
        Instances((5, 6), boxes=[[0, 0, np.nan, 1]])
    assert len(Instances.empty((3, 3))) == 0


def test_frames_are_lazy_and_checked(tmp_path):
    from PIL import Image

    calls = []

    def src():
        calls.append(1)
        return np.zeros((4, 5, 3), np.uint8)

    Image.fromarray(np.full((3, 2, 3), 7, np.uint8)).save(tmp_path / "a.png")
    fr = Frames([src, tmp_path / "a.png"], ["x", "y"])
    assert calls == []
    assert fr.sizes[1] == (3, 2)
    assert fr[1].shape == (3, 2, 3) and fr[1][0, 0, 0] == 7
    assert len(fr[0:1]) == 1 and fr[0:1].ids == ["x"]
    with pytest.raises(ContractError, match="RGB uint8"):
        Frames([np.zeros((2, 2), np.uint8)])[0]


def test_prompts():
    assert Categories(["a", "b"], [1, 2]).ids == (1, 2)
    with pytest.raises(ContractError):
        Categories(["a"], [1, 2])
    with pytest.raises(ContractError):
        Expression("  ")
    ref = Reference(object_ids=(1, 2), masks=np.zeros((2, 4, 4), bool))
    assert ref.kind == "mask"
    with pytest.raises(ContractError, match="at least one"):
        Reference()
    with pytest.raises(ContractError, match="3 masks for 2"):
        Reference(object_ids=(1, 2), masks=np.zeros((3, 4, 4), bool))
