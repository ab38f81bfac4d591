"""LVIS AP: parity with lvis-api LVISEval (called directly, with its numpy shim) on the LVIS
v0.5 val-100 fixture, results made by perturbing the ground truth."""
from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from evalkit.errors import ResultsError
from evalkit.metrics.lvis import LVIS_STATS, evaluate_lvis
from mi_synth import coco_case

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
FIX = SHARED / "fixtures" / "lvis-v0.5-val-100" / "lvis_val_100.json"


def oracle(gt_path, results, iou_type):
    from lvis import LVIS, LVISEval, LVISResults

    logging.getLogger("lvis").setLevel(logging.ERROR)
    added = "float" not in np.__dict__
    if added:
        np.float = float
    try:
        lg = LVIS(str(gt_path))
        ev = LVISEval(lg, LVISResults(lg, copy.deepcopy(results)), iou_type)
        ev.run()
    finally:
        if added:
            del np.float
    return ev.get_results()


def perturbed_results(gt, seed, iou_type):
    """GT boxes/masks jittered, some dropped, extra detections of negative and unlisted
    categories (the federated rules drop the latter), tied scores."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    imgs = {im["id"]: im for im in gt["images"]}
    cat_ids = [c["id"] for c in gt["categories"]]
    out = []
    for a in gt["annotations"]:
        if rng.random() < 0.15:
            continue
        im = imgs[a["image_id"]]
        r = {"image_id": a["image_id"], "category_id": a["category_id"], "score": round(float(rng.random()), 2)}
        if iou_type == "bbox":
            x, y, w, h = a["bbox"]
            r["bbox"] = [x + rng.normal(0, 2), y + rng.normal(0, 2), max(0.0, w * rng.uniform(0.8, 1.2)), max(0.0, h * rng.uniform(0.8, 1.2))]
        else:
            rles = mask_utils.frPyObjects(a["segmentation"], im["height"], im["width"])
            m = mask_utils.decode(mask_utils.merge(rles))
            m = np.roll(m, int(rng.integers(-3, 4)), axis=int(rng.integers(0, 2)))
            enc = mask_utils.encode(np.asfortranarray(m))
            r["segmentation"] = {"size": enc["size"], "counts": enc["counts"].decode()}
        out.append(r)
    for im in gt["images"][:40]:
        for c in (im["neg_category_ids"][:2] + [int(rng.choice(cat_ids))]):
            r = {"image_id": im["id"], "category_id": c, "score": round(float(rng.random()), 2)}
            x, y = rng.uniform(0, im["width"] - 20), rng.uniform(0, im["height"] - 20)
            if iou_type == "bbox":
                r["bbox"] = [x, y, 20.0, 20.0]
            else:
                m = np.zeros((im["height"], im["width"]), np.uint8)
                m[int(y):int(y) + 20, int(x):int(x) + 20] = 1
                enc = mask_utils.encode(np.asfortranarray(m))
                r["segmentation"] = {"size": enc["size"], "counts": enc["counts"].decode()}
            out.append(r)
    return out


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_lvis_fixture_parity(iou_type):
    if not FIX.is_file():
        pytest.skip("shared fixtures not available")
    gt = json.loads(FIX.read_text())
    res = perturbed_results(gt, 0, iou_type)
    want = oracle(FIX, res, iou_type)
    got = evaluate_lvis(str(FIX), res, iou_type)
    assert list(got) == list(LVIS_STATS)
    for k in LVIS_STATS:
        assert got[k] == pytest.approx(want[k], abs=1e-12), k
    assert 0.2 < got["AP"] < 0.95  # a real, non-trivial number
    assert "float" not in np.__dict__  # the numpy shim does not leak


def test_lvis_gt_as_results_is_perfect():
    if not FIX.is_file():
        pytest.skip("shared fixtures not available")
    gt = json.loads(FIX.read_text())
    res = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0} for a in gt["annotations"]]
    got = evaluate_lvis(gt, res, "bbox")
    assert got["AP"] == pytest.approx(1.0) and got["AR@300"] == pytest.approx(1.0)


def test_lvis_needs_lvis_ground_truth():
    gt, res = coco_case(0)
    with pytest.raises(ResultsError, match="neg_category_ids"):
        evaluate_lvis(gt, res, "bbox")


def lvis_case(seed):
    """coco_case turned into an LVIS ground truth: no crowd, per-image negative and
    not-exhaustive category lists, r/c/f frequencies; detections of categories neither
    annotated nor negative in an image occur (the federated rule drops them)."""
    cat_ids = (1, 2, 3, 5, 8, 13)
    gt, res = coco_case(seed, n_images=10, cat_ids=cat_ids, crowd_p=0.0)
    rng = np.random.default_rng(seed + 1000)
    for im in gt["images"]:
        present = sorted({a["category_id"] for a in gt["annotations"] if a["image_id"] == im["id"]})
        absent = [c for c in cat_ids if c not in present]
        im["neg_category_ids"] = [c for c in absent if rng.random() < 0.5]
        im["not_exhaustive_category_ids"] = [c for c in present if rng.random() < 0.3]
    for c, f in zip(gt["categories"], "rcfrcf"):
        c["frequency"] = f
    return gt, res


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("seed", range(3))
def test_lvis_random_parity(tmp_path, seed, iou_type):
    gt, res = lvis_case(seed)
    drop = "segmentation" if iou_type == "bbox" else "bbox"
    res = [{k: v for k, v in r.items() if k != drop} for r in res]
    path = tmp_path / "lvis_gt.json"
    path.write_text(json.dumps(gt))
    want = oracle(path, res, iou_type)
    got = evaluate_lvis(gt, res, iou_type)
    for k in LVIS_STATS:
        assert got[k] == pytest.approx(want[k], abs=1e-12), k
