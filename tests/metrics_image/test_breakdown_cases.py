"""Breakdowns on the edges of each rule, with expected numbers derived by hand, and the
breakdown's aggregate equal to the headline number.

Official rules encoded:
* COCO per-category AP: pycocotools ``COCOeval.summarize._summarize`` reads
  ``eval['precision'][:, :, k, area 'all', maxDets 100]`` and averages the entries > -1; a
  category without GT stays -1 (``accumulate``), so it is undefined (null), not 0.
* COCO per-image counts: ``COCOeval.evaluateImg``'s ``dtMatches`` / ``dtIgnore`` /
  ``gtIgnore`` at IoU 0.5, area ``all`` (compared with pycocotools' own ``evalImgs``).
* RefCOCO ``P@X`` counts IoU > X strictly (``refcocoeval.py``): IoU exactly 0.5 is no hit;
  oIoU = sum(I) / sum(U) (UniRef/LAVT ``cum_I / cum_U``), not a mean.
* DAVIS J-Mean is a mean over objects of all sequences (``davis2017/evaluation.py``), so a
  sequence with two objects weighs twice.
* GOT-10k AO pools the IoUs of all frames (``ExperimentGOT10k._evaluate``): a sequence with
  more frames weighs more; the first frame is not scored.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from evalkit.breakdown import aggregate, write_breakdown, load_breakdown
from evalkit.metrics import compute
from evalkit.metrics._breakdown import collecting
import evalkit.metrics.catalog  # noqa: F401  (registers the metrics)


def _collect(metric, gt, results, tmp_path, **opts):
    with collecting() as found:
        m = compute(metric, gt, results, **opts)
    assert len(found) == 1
    write_breakdown(tmp_path / "breakdown.json", found[0], benchmark="b", model="m", metric=metric, metrics=m)
    return m, load_breakdown(tmp_path)


def _coco_gt():
    return {
        "images": [{"id": 1, "height": 100, "width": 100}, {"id": 2, "height": 100, "width": 100}],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "no-gt"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 2, "bbox": [20, 20, 20, 20], "area": 400, "iscrowd": 0},
        ],
    }


_COCO_DETS = [
    {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},    # TP on GT 1
    {"image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "score": 0.8},    # FP of a category without GT
    {"image_id": 2, "category_id": 2, "bbox": [20, 20, 20, 20], "score": 0.7},  # TP on GT 3
    {"image_id": 2, "category_id": 2, "bbox": [80, 80, 5, 5], "score": 0.6},    # FP
]


@pytest.mark.parametrize("backend", ["fast", "official"])
def test_coco_per_category_ap_by_hand(tmp_path, backend):
    m, bd = _collect("coco-bbox", _coco_gt(), _COCO_DETS, tmp_path, backend=backend)
    cats = bd["categories"]
    # category 1: one of two GTs found, first in the ranking: precision 1 up to recall 0.5,
    # then 0 -> 51 of the 101 recall thresholds (0.00 .. 0.50) at every IoU threshold
    assert cats["1"]["AP"] == pytest.approx(51 / 101)
    # category 2: its only GT found by the top detection: AP 1
    assert cats["2"]["AP"] == pytest.approx(1.0)
    assert cats["3"]["AP"] is None and cats["3"]["name"] == "no-gt"  # -1 in COCOeval: undefined
    assert m["AP"] == pytest.approx((51 / 101 + 1.0) / 2)
    assert aggregate(bd, "AP") == pytest.approx(m["AP"], abs=1e-12)


def test_coco_per_image_counts_by_hand_and_as_pycocotools_evalimgs(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    _, bd = _collect("coco-bbox", _coco_gt(), _COCO_DETS, tmp_path)
    s = bd["samples"]
    assert s["1"] == {"n_gt": 2, "tp@0.5": 1, "fp@0.5": 1, "recall@0.5": 0.5}
    assert s["2"] == {"n_gt": 1, "tp@0.5": 1, "fp@0.5": 1, "recall@0.5": 1.0}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = _coco_gt()
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes([dict(d) for d in _COCO_DETS]), "bbox")
        ev.evaluate()
    counts = {}
    for e in ev.evalImgs:  # area 'all' only, IoU index 0 (0.5)
        if e is None or e["aRng"] != ev.params.areaRng[0]:
            continue
        c = counts.setdefault(str(e["image_id"]), [0, 0, 0])
        ig = np.asarray(e["dtIgnore"])[0].astype(bool)
        tp = (np.asarray(e["dtMatches"])[0] > 0) & ~ig
        c[0] += int(tp.sum())
        c[1] += int((~tp & ~ig).sum())
        c[2] += int((~np.asarray(e["gtIgnore"]).astype(bool)).sum())
    assert {k: [v["tp@0.5"], v["fp@0.5"], v["n_gt"]] for k, v in s.items()} == counts


def _ref_gt():
    ims = [{"id": i, "height": 20, "width": 20} for i in (1, 2, 3)]
    anns = [{"id": i, "image_id": i, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0,
             "segmentation": [[0, 0, 10, 0, 10, 10, 0, 10]]} for i in (1, 2, 3)]
    return {"images": ims, "annotations": anns, "categories": [{"id": 1, "name": "object"}]}


def test_refcoco_hit_is_strict_and_per_expression(tmp_path):
    res = [{"image_id": 1, "category_id": 1, "score": 1.0, "bbox": [0, 0, 10, 5]},   # IoU 50/100 = 0.5 exactly
           {"image_id": 2, "category_id": 1, "score": 1.0, "bbox": [0, 0, 10, 10]},  # IoU 1
           {"image_id": 2, "category_id": 1, "score": 0.5, "bbox": [10, 10, 5, 5]},  # not the top one
           {"image_id": 3, "category_id": 1, "score": 1.0, "bbox": [0, 0, 10, 6]}]   # IoU 0.6
    m, bd = _collect("refcoco-rec", _ref_gt(), res, tmp_path)
    s = bd["samples"]
    assert [s[k]["IoU"] for k in "123"] == pytest.approx([0.5, 1.0, 0.6])
    assert [s[k]["hit@0.5"] for k in "123"] == [0, 1, 1]  # 0.5 is not > 0.5
    assert [s[k]["hit@0.6"] for k in "123"] == [0, 1, 0]  # nor 0.6 > 0.6 (float: 60/100)
    assert m["P@0.5"] == pytest.approx(200 / 3) and aggregate(bd, "P@0.5") == pytest.approx(m["P@0.5"])
    assert bd["score_key"] == "IoU" and bd["unit"] == "expression"


def _rle(box, size=20):
    from pycocotools import mask as mask_utils

    m = np.zeros((size, size), np.uint8, order="F")
    x, y, w, h = box
    m[y:y + h, x:x + w] = 1
    r = mask_utils.encode(np.asfortranarray(m))
    r["counts"] = r["counts"].decode()
    return r


def test_refcoco_res_oiou_is_a_ratio_not_a_mean(tmp_path):
    rle = _rle
    res = [{"image_id": 1, "category_id": 1, "score": 1.0, "segmentation": rle((0, 0, 10, 10))},  # I 100, U 100
           {"image_id": 2, "category_id": 1, "score": 1.0, "segmentation": rle((0, 0, 20, 20))},  # I 100, U 400
           {"image_id": 3, "category_id": 1, "score": 1.0, "segmentation": rle((0, 0, 10, 5))}]   # I 50, U 100
    m, bd = _collect("refcoco-res", _ref_gt(), res, tmp_path)
    assert [bd["samples"][k]["I"] for k in "123"] == [100, 100, 50]
    assert [bd["samples"][k]["U"] for k in "123"] == [100, 400, 100]
    assert m["oIoU"] == pytest.approx(250 / 600 * 100) and aggregate(bd, "oIoU") == pytest.approx(m["oIoU"])
    assert m["mIoU"] == pytest.approx((1 + 0.25 + 0.5) / 3 * 100) and aggregate(bd, "mIoU") == pytest.approx(m["mIoU"])


def test_davis_per_sequence_is_object_weighted(tmp_path):
    gt2 = np.zeros((3, 8, 8), np.uint8)
    gt2[:, :4, :4], gt2[:, 4:, 4:] = 1, 2
    res2 = gt2.copy()
    res2[1][res2[1] == 2] = 0  # object 2 missed on the only scored (middle) frame: J = 0
    gt1 = np.zeros((3, 8, 8), np.uint8)
    gt1[:, 2:6, 2:6] = 1
    m, bd = _collect("davis-semi", {"two": gt2, "one": gt1}, {"two": res2, "one": gt1.copy()}, tmp_path, workers=1)
    s = bd["samples"]
    assert s["two"]["J"] == pytest.approx(0.5) and s["two"]["n_objects"] == 2
    assert s["two"]["objects"]["1"]["J"] == pytest.approx(1.0) and s["two"]["objects"]["2"]["J"] == pytest.approx(0.0)
    assert s["one"]["J"] == pytest.approx(1.0) and s["one"]["n_objects"] == 1
    assert m["J-Mean"] == pytest.approx(2 / 3)  # objects: (1 + 0 + 1) / 3, not sequences (0.5 + 1) / 2
    for key in ("J-Mean", "F-Mean", "J&F-Mean", "J-Recall", "F-Decay"):
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-12), key


def test_got10k_ao_is_frame_weighted(tmp_path):
    box = [[10, 10, 20, 20]]
    gt = {"short": {"boxes": np.array(box * 3, float), "cover": np.full(3, 8)},
          "long": {"boxes": np.array(box * 5, float), "cover": np.full(5, 8)}}
    res = {"short": [np.array(box * 3, float)],                         # 2 scored frames, IoU 1
           "long": [np.array(box + [[60, 60, 5, 5]] * 4, float)]}       # 4 scored frames, IoU 0
    m, bd = _collect("sot", gt, res, tmp_path, protocol="got10k")
    assert bd["samples"]["short"]["AO"] == pytest.approx(100.0) and bd["samples"]["short"]["n_frames"] == 2
    assert bd["samples"]["long"]["AO"] == pytest.approx(0.0) and bd["samples"]["long"]["n_frames"] == 4
    assert m["AO"] == pytest.approx(100 * 2 / 6)  # pooled frames, not (100 + 0) / 2
    for key in ("AO", "SR0.5", "SR0.75"):
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-9), key


def test_fss_per_episode_and_per_class_by_hand(tmp_path):
    # (query, class, GT box, predicted box) on 10 x 10 masks
    cases = [("a/1", 0, (0, 0, 5, 5), (0, 0, 5, 5)),    # I 25, U 25: IoU 1
             ("a/2", 0, (0, 0, 5, 5), (0, 0, 10, 10)),  # I 25, U 100: IoU 0.25
             ("b/1", 1, (0, 0, 10, 5), (0, 0, 5, 5))]   # I 25, U 50: IoU 0.5
    gt = {"queries": [{"query_id": q, "class_id": c, "segmentation": _rle(g, 10)} for q, c, g, _ in cases]}
    res = [{"query_id": q, "segmentation": _rle(p, 10)} for q, _, _, p in cases]
    m, bd = _collect("fss", gt, res, tmp_path)
    assert [bd["samples"][q]["IoU"] for q in ("a/1", "a/2", "b/1")] == pytest.approx([1, 0.25, 0.5])
    assert bd["categories"]["0"]["IoU"] == pytest.approx(50 / 125) and bd["categories"]["1"]["IoU"] == 0.5
    assert m["mIoU"] == pytest.approx(175 / 3) and m["oIoU"] == pytest.approx(75 / 175 * 100)
    assert m["HSNet-mIoU"] == pytest.approx(45.0)  # per class (0.4 + 0.5) / 2, not per episode
    for key in ("mIoU", "oIoU", "HSNet-mIoU"):
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-9), key


def test_no_breakdown_is_built_outside_a_collector(monkeypatch):
    import evalkit.metrics.refcoco as rc

    monkeypatch.setattr(rc, "per_expression", lambda *a, **k: pytest.fail("built without a collector"))
    res = [{"image_id": i, "category_id": 1, "score": 1.0, "bbox": [0, 0, 10, 10]} for i in (1, 2, 3)]
    assert compute("refcoco-rec", _ref_gt(), res)["P@0.5"] == 100.0


# -- on the real fixtures (skipped without ../shared/fixtures) ---------------------------------
from pathlib import Path  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"


@pytest.mark.parametrize("iou_type,fname", [("bbox", "instances_val2014_fakebbox100_results.json"),
                                            ("segm", "instances_val2014_fakesegm100_results.json")])
def test_coco_val2014_fixture_breakdown_rebuilds_ap(tmp_path, iou_type, fname):
    fix = FIXTURES / "coco-val2014-100"
    if not fix.is_dir():
        pytest.skip("shared fixtures not available")
    import json

    gt = fix / "instances_val2014_100.json"
    m, bd = _collect(f"coco-{iou_type}", str(gt), str(fix / fname), tmp_path)
    n_images = len(json.loads(gt.read_text())["images"])
    assert len(bd["samples"]) == n_images
    with_gt = [c for c in bd["categories"].values() if c["AP"] is not None]
    assert 0 < len(with_gt) < len(bd["categories"])  # the 100-image subset lacks some of the 80 categories
    for key in ("AP", "AP50", "AP75"):
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-12), key
    # the official backend reads the same per-category numbers off pycocotools' eval['precision']
    _, official = _collect(f"coco-{iou_type}", str(gt), str(fix / fname), tmp_path / "official", backend="official")
    for cid, row in bd["categories"].items():
        for key in ("AP", "AP50", "AP75"):
            assert official["categories"][cid][key] == pytest.approx(row[key], abs=1e-12), (cid, key)


def test_lvis_fixture_breakdown_rebuilds_ap(tmp_path):
    fix = FIXTURES / "lvis-v0.5-val-100" / "lvis_val_100.json"
    if not fix.is_file():
        pytest.skip("shared fixtures not available")
    import json

    gt = json.loads(fix.read_text())
    rng = np.random.default_rng(0)
    res = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": float(rng.random()),
            "bbox": [v + float(rng.normal(0, 2)) if i < 2 else max(v, 1.0) for i, v in enumerate(a["bbox"])]}
           for a in gt["annotations"] if rng.random() < 0.8]
    m, bd = _collect("lvis-bbox", gt, res, tmp_path)
    for key in ("AP", "AP50", "AP75"):
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-12), key


def test_mot15_tud_fixture_breakdown(tmp_path):
    tud = FIXTURES / "mot15-tud"
    if not tud.is_dir():
        pytest.skip("shared fixtures not available")
    seqs = {s: tud / s / "gt.txt" for s in ("TUD-Campus", "TUD-Stadtmitte")}
    m, bd = _collect("mot-challenge", seqs, {s: tud / s / "test.txt" for s in seqs}, tmp_path, benchmark="MOT15")
    assert set(bd["samples"]) == set(seqs) and bd["unit"] == "sequence"
    assert set(bd["aggregates"]) == {"MOTA", "IDF1"}  # HOTA is not a ratio of per-sequence sums
    for key in ("MOTA", "IDF1"):
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-12), key
    # the combined MOTA lies between the two sequences' own values (a weighted mean of them)
    lo, hi = sorted(bd["samples"][s]["MOTA"] for s in seqs)
    assert lo <= m["MOTA"] <= hi


# -- AP over resampled images (evalkit.metrics.ap_resample) -------------------------------------
def _state(gt, res, iou_type="bbox"):
    with collecting() as found:
        m = compute(f"coco-{iou_type}", gt, res)
    return m, found[0].arrays


def _official_ap(gt, res, iou_type="bbox"):
    from test_mi_coco import oracle  # pycocotools as its README runs it

    return oracle(gt, res, iou_type)[:3]


@pytest.mark.parametrize("seed", range(3))
def test_weighted_ap_equals_pycocotools_on_the_resampled_dataset(seed):
    """Weights w_i: the official AP of a dataset where image i appears w_i times (copies get new
    image and annotation ids; weight 0 drops the image) equals the re-accumulation."""
    import copy

    from evalkit.metrics.ap_resample import weighted_ap
    from mi_synth import coco_case

    gt, res = coco_case(seed)
    res = [{**{k: v for k, v in r.items() if k != "segmentation"}, "score": r["score"] + 1e-9 * i}
           for i, r in enumerate(res)]  # unique scores: copies tie only with their originals
    _, state = _state(gt, res)
    units = [int(u) for u in state["units"]]
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 3, len(units))
    w[0] = max(w[0], 1)
    images, anns, dets = [], [], []
    next_img, next_ann = 10**6, 10**6
    for img_id, k in zip(units, w):
        im = next(x for x in gt["images"] if x["id"] == img_id)
        for c in range(k):
            new = img_id if c == 0 else next_img + c
            images.append({**im, "id": new})
            for a in gt["annotations"]:
                if a["image_id"] == img_id:
                    next_ann += 1
                    anns.append({**copy.deepcopy(a), "image_id": new, "id": a["id"] if c == 0 else next_ann})
            dets += [{**d, "image_id": new} for d in res if d["image_id"] == img_id]
        next_img += 10
    want = _official_ap({**gt, "images": images, "annotations": anns}, dets)
    got = weighted_ap(state, w)
    assert [got["AP"], got["AP50"], got["AP75"]] == pytest.approx(list(want), abs=1e-12)


def test_weighted_ap_with_unit_weights_is_the_headline_on_the_fixture():
    fix = FIXTURES / "coco-val2014-100"
    if not fix.is_dir():
        pytest.skip("shared fixtures not available")
    from evalkit.metrics.ap_resample import weighted_ap

    for iou_type, fname in (("bbox", "instances_val2014_fakebbox100_results.json"),
                            ("segm", "instances_val2014_fakesegm100_results.json")):
        m, state = _state(str(fix / "instances_val2014_100.json"), str(fix / fname), iou_type)
        got = weighted_ap(state, np.ones(len(state["units"]), np.int64))
        for key in ("AP", "AP50", "AP75"):
            assert got[key] == pytest.approx(m[key], abs=1e-12), (iou_type, key)


# -- evalkit compare on AP breakdowns -----------------------------------------------------------

def _coco_run(tmp_path, name, gt, res):
    with collecting() as found:
        m = compute("coco-bbox", gt, res)
    write_breakdown(tmp_path / name / "breakdown.json", found[0], benchmark="coco-val", model=name,
                    metric="coco-bbox", metrics=m)
    return tmp_path / name, m


def test_compare_resamples_images_for_ap(tmp_path):
    """evalkit compare on COCO breakdowns: AP intervals resample images (the stored matching
    state), the point estimate is the headline difference, seeded, and the category unit on demand."""
    from evalkit.reports.compare import compare_runs
    from mi_synth import coco_case

    gt, res = coco_case(1, n_images=20)
    res = [{k: v for k, v in r.items() if k != "segmentation"} for r in res]
    worse = [{**r, "score": r["score"] * (0.3 if i % 3 == 0 else 1.0)} for i, r in enumerate(res)]
    a, ma = _coco_run(tmp_path, "a", gt, res)
    b, mb = _coco_run(tmp_path, "b", gt, worse)
    assert (a / "breakdown_ap.npz").is_file()
    m = {x["key"]: x for x in compare_runs(a, b, resamples=300)["metrics"]}
    assert m["AP"]["unit"] == "image" and m["AP"]["n_units"] == 20
    assert m["AP"]["a"] == pytest.approx(ma["AP"]) and m["AP"]["b"] == pytest.approx(mb["AP"])
    assert m["AP"]["delta"] == pytest.approx(mb["AP"] - ma["AP"], abs=1e-12)
    assert m["AP"]["low"] <= m["AP"]["delta"] <= m["AP"]["high"]
    again = {x["key"]: x for x in compare_runs(a, b, resamples=300)["metrics"]}
    assert again == m  # seeded
    by_cat = {x["key"]: x for x in compare_runs(a, b, resamples=300, ap_unit="category")["metrics"]}
    assert by_cat["AP"]["unit"] == "category" and by_cat["AP"]["delta"] == pytest.approx(m["AP"]["delta"])
    import evalkit.reports.compare as cmp

    cmp_budget = cmp.AUTO_IMAGE_BUDGET
    try:  # auto: beyond the work budget the category is the unit; --ap-unit image forces images
        cmp.AUTO_IMAGE_BUDGET = 0
        assert {x["key"]: x for x in compare_runs(a, b, resamples=300)["metrics"]}["AP"]["unit"] == "category"
        assert {x["key"]: x for x in compare_runs(a, b, resamples=300, ap_unit="image")["metrics"]} == m
    finally:
        cmp.AUTO_IMAGE_BUDGET = cmp_budget
    same = {x["key"]: x for x in compare_runs(a, a, resamples=200)["metrics"]}["AP"]
    assert (same["delta"], same["low"], same["high"], same["verdict"]) == (0.0, 0.0, 0.0, "within noise")
