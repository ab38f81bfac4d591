"""COCO box/mask AP: parity with pycocotools COCOeval (the oracle, called directly here)."""
from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from evalkit.metrics import compute
from evalkit.metrics.coco import COCO_STATS, evaluate_coco
from mi_synth import coco_case

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
FIX = SHARED / "fixtures" / "coco-val2014-100"


def only(results, iou_type):
    drop = "segmentation" if iou_type == "bbox" else "bbox"
    return [{k: v for k, v in r.items() if k != drop} for r in results]


def oracle(gt, results, iou_type):
    """pycocotools, exactly as its README runs it."""
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()
        cd = cg.loadRes(copy.deepcopy(results))
        ev = COCOeval(cg, cd, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats, np.float64)


def as_array(stats):
    assert list(stats) == list(COCO_STATS)
    return np.array([stats[k] for k in COCO_STATS])


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("seed", range(8))
def test_random_parity(seed, iou_type):
    gt, res = coco_case(seed)
    res = only(res, iou_type)
    want = oracle(gt, res, iou_type)
    for backend in ("fast", "faster-coco-eval", "official"):
        got = as_array(evaluate_coco(gt, res, iou_type, backend=backend))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=backend)


def test_random_cases_are_not_degenerate():
    gt, res = coco_case(3)
    assert any(a["iscrowd"] for a in gt["annotations"])
    assert len({r["score"] for r in res}) < len(res)  # tied scores occur
    stats = oracle(gt, only(res, "bbox"), "bbox")
    assert 0 < stats[0] < 1


def test_iou_exactly_at_threshold():
    """A detection covering exactly half a GT box has IoU 0.5 (matched at .50, not at .55)."""
    gt = {"images": [{"id": 1, "height": 100, "width": 100}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 1600.0, "iscrowd": 0}]}
    res = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 40], "score": 0.9}]
    want = oracle(gt, res, "bbox")
    got = as_array(evaluate_coco(gt, res, "bbox"))
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert got[1] == pytest.approx(1.0) and got[2] == 0.0  # AP50 counts it, AP75 does not


def test_empty_predictions_score_zero():
    gt, _ = coco_case(1)
    for backend in ("fast", "faster-coco-eval", "official"):
        for iou_type in ("bbox", "segm"):
            s = evaluate_coco(gt, [], iou_type, backend=backend)
            assert s["AP"] == 0.0 and s["AR100"] == 0.0
            assert set(s.values()) <= {0.0, -1.0}


def test_empty_ground_truth_is_undefined():
    gt, res = coco_case(2)
    gt = {**gt, "annotations": []}
    want = oracle(gt, only(res, "bbox"), "bbox")
    got = as_array(evaluate_coco(gt, only(res, "bbox"), "bbox"))
    np.testing.assert_array_equal(got, want)
    assert (got == -1).all()


def test_inputs_are_not_modified():
    gt, res = coco_case(4)
    res = only(res, "segm")
    g0, r0 = copy.deepcopy(gt), copy.deepcopy(res)
    evaluate_coco(gt, res, "segm")
    assert gt == g0 and res == r0


def test_registry_and_files(tmp_path):
    gt, res = coco_case(5)
    res = only(res, "bbox")
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    got = compute("coco-bbox", str(tmp_path / "gt.json"), str(tmp_path / "res.json"), backend="official")
    np.testing.assert_allclose(as_array(got), oracle(gt, res, "bbox"), atol=1e-12)


@pytest.mark.parametrize("iou_type,fname,ap", [
    ("bbox", "instances_val2014_fakebbox100_results.json", 0.5045806987),
    ("segm", "instances_val2014_fakesegm100_results.json", 0.3195452759),
])
def test_coco_val2014_fixture(iou_type, fname, ap):
    if not FIX.is_dir():
        pytest.skip("shared fixtures not available")
    gt = json.loads((FIX / "instances_val2014_100.json").read_text())
    res = json.loads((FIX / fname).read_text())
    want = oracle(gt, res, iou_type)
    assert abs(want[0] - ap) < 1e-9
    for backend in ("fast", "faster-coco-eval", "official"):
        got = as_array(evaluate_coco(str(FIX / "instances_val2014_100.json"), str(FIX / fname), iou_type, backend=backend))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=backend)


def test_category_subset_matches_pycocotools_params():
    gt, res = coco_case(6)
    res = only(res, "bbox")
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()
        ev = COCOeval(cg, cg.loadRes(copy.deepcopy(res)), "bbox")
        ev.params.catIds = [3, 11]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    for backend in ("fast", "faster-coco-eval", "official"):
        got = as_array(evaluate_coco(gt, res, "bbox", backend=backend, cat_ids=[3, 11]))
        np.testing.assert_allclose(got, ev.stats, rtol=0, atol=1e-12, err_msg=backend)


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_official_quirks(iou_type):
    """A GT with id 0 (pycocotools then counts its match as a false positive), GT areas exactly
    on the 32²/96² range bounds (inclusive on both sides), and one image/category with more
    than maxDets=100 detections."""
    gt, res = coco_case(11, n_images=6)
    gt["annotations"][0]["id"] = 0
    gt["annotations"][1]["area"] = 32.0**2
    gt["annotations"][2]["area"] = 96.0**2
    a = gt["annotations"][3]
    rng = np.random.default_rng(0)
    for _ in range(150):
        x, y, w, h = a["bbox"]
        r = dict(res[0])
        r.update(image_id=a["image_id"], category_id=a["category_id"], score=round(float(rng.random()), 2),
                 bbox=[x + float(rng.normal(0, 2)), y + float(rng.normal(0, 2)), w, h], segmentation=a["segmentation"] if isinstance(a["segmentation"], dict) else res[0]["segmentation"])
        im = next(i for i in gt["images"] if i["id"] == a["image_id"])
        if r["segmentation"]["size"] != [im["height"], im["width"]]:
            r.pop("segmentation")
        res.append(r)
    res = [r for r in only(res, iou_type) if ("segmentation" in r) or iou_type == "bbox"]
    want = oracle(gt, res, iou_type)
    for backend in ("fast", "faster-coco-eval", "official"):
        got = as_array(evaluate_coco(gt, res, iou_type, backend=backend))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=backend)


@pytest.mark.parametrize("seed", [1, 5])
def test_two_process_mask_ious_match_the_official_numbers(seed, monkeypatch):
    # large problems compute mask IoUs in a forked second process; force it on a small one
    from evalkit.metrics import coco_vectorised

    monkeypatch.setattr(coco_vectorised, "_PARALLEL_CELLS", 0)
    gt, res = coco_case(seed, n_images=20)
    res = only(res, "segm")
    got = as_array(evaluate_coco(gt, res, "segm"))
    np.testing.assert_array_equal(got, oracle(gt, res, "segm"))
