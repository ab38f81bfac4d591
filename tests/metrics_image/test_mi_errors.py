"""Bad COCO/LVIS results give a ResultsError naming the entry, never a silently wrong number."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from evalkit.errors import ResultsError
from evalkit.metrics._rle import check_compressed
from evalkit.metrics.coco import evaluate_coco
from mi_synth import coco_case, rle


@pytest.fixture(scope="module")
def case():
    gt, res = coco_case(7)
    return gt, res


def _bbox(res):
    return [{k: v for k, v in r.items() if k != "segmentation"} for r in res]


def _segm(res):
    return [{k: v for k, v in r.items() if k != "bbox"} for r in res]


@pytest.mark.parametrize("mutate,pattern", [
    (lambda r: r.update(image_id=999999), r"entry 3: image_id 999999 is not an image"),
    (lambda r: r.update(category_id=2), r"entry 3: category_id 2 is not a category"),
    (lambda r: r.update(bbox=[1.0, float("nan"), 3.0, 4.0]), r"entry 3: bbox must be 4 finite"),
    (lambda r: r.update(bbox=[1.0, 2.0, -3.0, 4.0]), r"entry 3: bbox has a negative width"),
    (lambda r: r.update(bbox=[1.0, 2.0, 3.0]), r"entry 3: bbox must be 4 finite"),
    (lambda r: r.update(score=float("inf")), r"entry 3: score must be a finite"),
    (lambda r: r.pop("score"), r"entry 3: missing field 'score'"),
])
@pytest.mark.parametrize("backend", ["fast", "official"])
def test_bad_bbox_results(case, mutate, pattern, backend):
    gt, res = case
    res = _bbox(res)
    mutate(res[3])
    with pytest.raises(ResultsError, match=pattern):
        evaluate_coco(gt, res, "bbox", backend=backend)


def test_bad_masks(case):
    gt, res = case
    res = _segm(res)
    im = next(i for i in gt["images"] if i["id"] == res[3]["image_id"])
    h, w = im["height"], im["width"]
    wrong = copy.deepcopy(res)
    wrong[3]["segmentation"] = rle(np.zeros((h + 1, w), bool))
    with pytest.raises(ResultsError, match=rf"entry 3: mask of size \[{h + 1}, {w}\].*\[{h}, {w}\]"):
        evaluate_coco(gt, wrong, "segm")
    for broken in (res[3]["segmentation"]["counts"][:-1], res[3]["segmentation"]["counts"] + "3", "ab\x7f", "é" + res[3]["segmentation"]["counts"]):
        bad = copy.deepcopy(res)
        bad[3]["segmentation"]["counts"] = broken
        with pytest.raises(ResultsError, match=r"entry 3: malformed RLE"):
            evaluate_coco(gt, bad, "segm")
    bad = copy.deepcopy(res)
    bad[3]["segmentation"] = [[1, 2, 3]]
    with pytest.raises(ResultsError, match=r"entry 3: a polygon"):
        evaluate_coco(gt, bad, "segm")


def test_uncompressed_rle_results_are_accepted(case):
    gt, res = case
    res = _segm(res)
    comp = evaluate_coco(gt, res, "segm")
    unc = copy.deepcopy(res)
    for r in unc:
        m = mask_utils.decode({"size": r["segmentation"]["size"], "counts": r["segmentation"]["counts"].encode()})
        flat = m.flatten(order="F")
        edges = np.flatnonzero(np.diff(flat)) + 1
        runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
        r["segmentation"] = {"size": r["segmentation"]["size"], "counts": ([0] + runs) if flat[0] else runs}
    assert evaluate_coco(gt, unc, "segm") == comp


def test_file_errors(tmp_path, case):
    gt, _ = case
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "bad.json").write_text("[{")
    with pytest.raises(ResultsError, match="bad.json is not valid JSON"):
        evaluate_coco(str(tmp_path / "gt.json"), str(tmp_path / "bad.json"), "bbox")
    with pytest.raises(ResultsError, match="results file not found"):
        evaluate_coco(str(tmp_path / "gt.json"), str(tmp_path / "nope.json"), "bbox")
    with pytest.raises(ResultsError, match="unknown backend"):
        evaluate_coco(gt, [], "bbox", backend="turbo")


def test_check_compressed_accepts_what_pycocotools_writes():
    rng = np.random.default_rng(0)
    rles = []
    for _ in range(50):
        h, w = rng.integers(1, 120, 2)
        m = rng.random((h, w)) < rng.uniform(0, 1)
        rles.append(mask_utils.encode(np.asfortranarray(m.astype(np.uint8))))
    rles.append(mask_utils.encode(np.zeros((3, 4), np.uint8, order="F")))
    rles.append(mask_utils.encode(np.ones((5, 3), np.uint8, order="F")))  # starts with an empty run
    # the pixel counts it returns are pycocotools' areas
    np.testing.assert_array_equal(check_compressed(rles), [mask_utils.area(r) for r in rles])


def test_check_compressed_names_the_entry_across_blocks():
    rng = np.random.default_rng(3)
    rles = [mask_utils.encode(np.asfortranarray((rng.random((60, 60)) < 0.5).astype(np.uint8))) for _ in range(600)]
    assert sum(len(r["counts"]) for r in rles) > 2 * (1 << 17)  # several blocks
    np.testing.assert_array_equal(check_compressed(rles), [mask_utils.area(r) for r in rles])
    bad = [dict(r) for r in rles]
    bad[555]["counts"] = bad[555]["counts"][:-4]
    with pytest.raises(ResultsError, match=r"^entry 555: malformed RLE"):
        check_compressed(bad)


def test_areas_of_many_rles():
    from evalkit.metrics._rle import areas

    rng = np.random.default_rng(4)
    rles = [mask_utils.encode(np.asfortranarray((rng.random((9, 7)) < 0.4).astype(np.uint8))) for _ in range(700)]
    np.testing.assert_array_equal(areas(rles), [mask_utils.area(r) for r in rles])
