"""TIDE (evalkit/metrics/tide.py, through the authors' tidecv package): one hand-built case per
error type with the expected AP50 and dAP derived by hand, the category-averaging rule that
evalkit aligns with pycocotools, and the real COCO fixture against COCOeval.

The definitions encoded are those of Bolya et al., ECCV 2020, as tidecv implements them
(tidecv/quantify.py ``TIDERun._eval_image`` for the error tests in the order Loc, Cls, Dupe,
Bkg, Both; ``TIDERun.fix_errors`` for the fixes; tidecv/ap.py ``APDataObject.get_ap`` for the
101-point AP, the COCOeval one).

Hand arithmetic: AP is the mean over the recall points 0, 0.01, ..., 1 of the interpolated
precision (the best precision at that recall or beyond). One image 100 x 100, boxes ``xywh``.
With two ground truths and a true positive ranked first followed by a false positive, recall
reaches 0.5 only: 51 of the 101 points have precision 1, AP = 51/101 = 50.495 %.
"""
from __future__ import annotations

import contextlib
import io
import json

import pytest

pytest.importorskip("tidecv", reason="tidecv missing: bash scripts/install.sh test (the viz extra)")

from evalkit.errors import ResultsError  # noqa: E402
from evalkit.metrics.tide import MAIN_ERRORS, tide  # noqa: E402

A = [0, 0, 10, 10]       # ground truth A
B = [50, 50, 10, 10]     # ground truth B
NEAR_B = [52, 52, 10, 10]  # IoU with B = 8*8 / (100 + 100 - 64) = 0.4706: in [t_b, t_f]
NEAR_A = [1, 1, 10, 10]    # IoU with A = 9*9 / (200 - 81) = 0.6807: above t_f
NOWHERE = [80, 0, 10, 10]  # IoU 0 with both
P51 = 100 * 51 / 101


def _gt(cls_b: int = 1, with_b: bool = True) -> dict:
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": A, "area": 100, "iscrowd": 0}]
    if with_b:
        anns.append({"id": 2, "image_id": 1, "category_id": cls_b, "bbox": B, "area": 100, "iscrowd": 0})
    return {"images": [{"id": 1, "width": 100, "height": 100, "file_name": "1.jpg"}],
            "annotations": anns,
            "categories": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}, {"id": 3, "name": "three"}]}


def _det(box, cls, score) -> dict:
    return {"image_id": 1, "category_id": cls, "bbox": box, "score": score}


def _only(result, kind: str, value: float) -> None:
    """``kind`` has dAP ``value`` and one error; every other main type has none and dAP 0."""
    for k in MAIN_ERRORS:
        want = value if k == kind else 0.0
        assert result.dap[k] == pytest.approx(want, abs=1e-9), (k, result.dap)
        assert result.counts[k] == (1 if k == kind else 0), (k, result.counts)


def test_loc_error():
    # TP on A (0.9), a class-1 box on B with IoU 0.47 (0.8): recall 0.5 -> AP 50.495; fixed
    # (box set to B's), both are true positives -> AP 100, dAP = 49.505
    r = tide(_gt(), [_det(A, 1, 0.9), _det(NEAR_B, 1, 0.8)])
    assert r.ap == pytest.approx(P51)
    _only(r, "Loc", 100 - P51)


def test_cls_error():
    # B is class 2; a class-1 box exactly on B scores 0.95, above the TP on A (0.9).
    # class 1: [FP, TP], 1 GT: precision 0.5 at every recall point -> 50; class 2: GT, no
    # detection -> 0; mean 25. Fixed (class set to 2): both classes 100 -> dAP = 75
    r = tide(_gt(cls_b=2), [_det(A, 1, 0.9), _det(B, 1, 0.95)])
    assert r.ap == pytest.approx(25.0)
    _only(r, "Cls", 75.0)


def test_both_error():
    # wrong class and IoU 0.47 with B (class 2, found by its own TP at 0.7): class 1 [FP 0.95,
    # TP 0.9] -> 50, class 2 -> 100; mean 75. Removing the error: class 1 -> 100, dAP = 25
    r = tide(_gt(cls_b=2), [_det(A, 1, 0.9), _det(NEAR_B, 1, 0.95), _det(B, 2, 0.7)])
    assert r.ap == pytest.approx(75.0)
    _only(r, "Both", 25.0)


def test_duplicate_error():
    # TP A 0.9, duplicate of A (IoU 0.68) 0.85, TP B 0.8: precision 1, 1/2, 2/3 at recall
    # 0.5, 0.5, 1 -> interpolated 1 on 51 points, 2/3 on 50 -> AP = (51 + 100/3) / 101
    r = tide(_gt(), [_det(A, 1, 0.9), _det(NEAR_A, 1, 0.85), _det(B, 1, 0.8)])
    assert r.ap == pytest.approx(100 * (51 + 100 / 3) / 101)
    _only(r, "Dupe", 100 - 100 * (51 + 100 / 3) / 101)


def test_background_error():
    # a box on nothing at 0.95 above two TPs: precision 0, 1/2, 2/3 -> interpolated 2/3
    # everywhere -> AP 66.667; removing it -> 100
    r = tide(_gt(), [_det(NOWHERE, 1, 0.95), _det(A, 1, 0.9), _det(B, 1, 0.8)])
    assert r.ap == pytest.approx(200 / 3)
    _only(r, "Bkg", 100 - 200 / 3)


def test_missed_error():
    # B has no detection at all: AP 50.495; fixing the miss removes B from the ground truth
    # (recall 1 with one TP) -> 100
    r = tide(_gt(), [_det(A, 1, 0.9)])
    assert r.ap == pytest.approx(P51)
    _only(r, "Miss", 100 - P51)
    assert r.dap["FalseNeg"] == pytest.approx(100 - P51)
    assert r.dap["FalsePos"] == pytest.approx(0.0)


def test_category_without_ground_truth_is_dropped_as_cocoeval_ignores_it():
    # a detection of category 3, which has no ground truth: COCOeval leaves category 3 out of
    # the mean (precision -1); tidecv alone would average it in as AP 0 (50 instead of 100)
    r = tide(_gt(with_b=False), [_det(A, 1, 0.9), _det(NOWHERE, 3, 0.99)])
    assert r.ap == pytest.approx(100.0)
    assert r.dropped == 1
    assert all(r.dap[k] == 0 for k in MAIN_ERRORS)


def test_bad_input_names_the_field():
    with pytest.raises(ResultsError, match=r"results\[0\].*'bbox'"):
        tide(_gt(), [{"image_id": 1, "category_id": 1, "score": 0.5}])
    with pytest.raises(ResultsError, match="images, annotations, categories"):
        tide({"images": []}, [])


@pytest.mark.parametrize("iou_type,results", [("bbox", "instances_val2014_fakebbox100_results.json"),
                                              ("segm", "instances_val2014_fakesegm100_results.json")])
def test_real_coco_fixture_ap50_matches_cocoeval(shared_dir, iou_type, results):
    """cocoapi's 100-image val2014 demo: TIDE's AP50 equals pycocotools COCOeval's AP50 to the
    0.011 points the module docstring explains (tidecv's crowd rule and per-image cap)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    folder = shared_dir / "fixtures" / "coco-val2014-100"
    gt_file, res_file = folder / "instances_val2014_100.json", folder / results
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_file))
        E = COCOeval(coco, coco.loadRes(str(res_file)), iou_type)
        E.evaluate(), E.accumulate(), E.summarize()
    official = 100 * E.stats[1]
    r = tide(gt_file, res_file, iou_type=iou_type)
    assert abs(r.ap - official) < 0.02, (r.ap, official)
    # the fixture's fake results have predictions in 6 categories absent from these 100 images
    cats = {a["category_id"] for a in json.loads(gt_file.read_text())["annotations"]}
    assert r.dropped == sum(d["category_id"] not in cats for d in json.loads(res_file.read_text()))
    # every false positive and missed object gets a type: the fixes never lower AP
    assert all(v >= -1e-9 for v in r.dap.values())
