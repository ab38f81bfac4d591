"""Breakdowns of DAVIS unsupervised, and of the multi-part metrics Ref-DAVIS (one DAVIS
evaluation per annotator) and ODinW (one COCO evaluation per dataset), on cases whose numbers
are derived by hand.

Official rules encoded: ``davis2017-evaluation`` ``evaluation_method.py`` (unsupervised task,
``davis2017/evaluation.py::DAVISEvaluation._evaluate_unsupervised``): proposals are
Hungarian-matched to GT objects and the global J/F are means over *objects*; Ref-DAVIS (UniRef
``README``: that evaluation once per annotator split, averaged); GLIP ODinW13: the mean of the
datasets' COCO APs, each COCO AP the mean of its categories' APs (pycocotools
``COCOeval.summarize``).
"""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.breakdown import aggregate, load_breakdown, write_breakdown
from evalkit.metrics import compute
from evalkit.metrics._breakdown import collecting
import evalkit.metrics.catalog  # noqa: F401  (registers the metrics)


def _collect(metric, gt, results, tmp_path, **opts):
    with collecting() as found:
        m = compute(metric, gt, results, **opts)
    assert len(found) == 1, f"{metric} must emit exactly one breakdown, got {len(found)}"
    write_breakdown(tmp_path / "breakdown.json", found[0], benchmark="b", model="m", metric=metric, metrics=m)
    return m, load_breakdown(tmp_path)


def _videos():
    """Sequence "a": two objects over 4 frames; sequence "b": one object."""
    a = np.zeros((4, 12, 12), np.uint8)
    a[:, 1:5, 1:5] = 1
    a[:, 7:11, 7:11] = 2
    b = np.zeros((4, 12, 12), np.uint8)
    b[:, 3:9, 3:9] = 1
    return {"a": a, "b": b}


def _mixed():
    """Object 1 of "a" perfect, object 2 of "a" never predicted; "b" perfect but under label 2
    (proposal 1 empty): the Hungarian matching pairs it with GT object 1."""
    gt = _videos()
    a = np.where(gt["a"] == 1, 1, 0).astype(np.uint8)
    b = np.where(gt["b"] == 1, 2, 0).astype(np.uint8)
    return {"a": a, "b": b}


def test_davis_unsup_per_sequence_is_object_weighted(tmp_path):
    m, bd = _collect("davis-unsup", _videos(), _mixed(), tmp_path)
    a, b = bd["samples"]["a"], bd["samples"]["b"]
    # a: object 1 J = F = 1 on every frame, object 2 J = F = 0 -> sequence means 0.5, 2 objects
    assert (a["J"], a["F"], a["J&F"], a["n_objects"]) == (0.5, 0.5, 0.5, 2)
    assert a["objects"] == {"1": {"J": 1.0, "F": 1.0}, "2": {"J": 0.0, "F": 0.0}}
    # b: matched to proposal 2, perfect
    assert (b["J"], b["F"], b["n_objects"]) == (1.0, 1.0, 1)
    # the official global mean is over the 3 objects: (1 + 0 + 1) / 3, not (0.5 + 1) / 2
    assert m["J-Mean"] == pytest.approx(2 / 3, abs=1e-12) and m["J&F-Mean"] == pytest.approx(2 / 3, abs=1e-12)
    assert set(bd["aggregates"]) == set(m)
    for key, value in m.items():
        assert aggregate(bd, key) == pytest.approx(value, abs=1e-12), key


def test_ref_davis_breakdown_pairs_the_annotators_per_sequence(tmp_path):
    gt = _videos()
    runs = {"anno_0": _mixed(), "anno_1": {k: v.copy() for k, v in gt.items()}}  # anno_1 perfect
    m, bd = _collect("ref-davis", gt, runs, tmp_path)
    assert bd["unit"] == "sequence" and set(bd["samples"]) == {"a", "b"}
    a = bd["samples"]["a"]
    assert (a["anno_0/J&F"], a["anno_1/J&F"], a["anno_0/n_objects"]) == (0.5, 1.0, 2)
    assert a["J&F"] == 0.75 and bd["samples"]["b"]["J&F"] == 1.0  # the sorting value
    # headline: (2/3 + 1) / 2, every key of metrics.json rebuilt from the sequences
    assert m["J&F"] == pytest.approx(5 / 6, abs=1e-12)
    assert set(bd["aggregates"]) == set(m)
    for key, value in m.items():
        assert aggregate(bd, key) == pytest.approx(value, abs=1e-12), key
    # a resample redraws a sequence with all its annotators: "a" twice = (0.5 + 1) / 2
    assert aggregate(bd, "J&F", ["a", "a"]) == pytest.approx(0.75, abs=1e-12)
    assert aggregate(bd, "anno_0/J", ["b"]) == pytest.approx(1.0, abs=1e-12)


def _coco(cats, boxes):
    return {"images": [{"id": 1, "height": 100, "width": 100}, {"id": 2, "height": 100, "width": 100}],
            "categories": [{"id": c, "name": f"c{c}"} for c in cats],
            "annotations": [{"id": i + 1, "image_id": img, "category_id": c, "bbox": bb, "area": bb[2] * bb[3],
                             "iscrowd": 0} for i, (img, c, bb) in enumerate(boxes)]}


def test_odinw_breakdown_one_section_per_dataset(tmp_path):
    # Aquarium: category 1 found (AP 1), category 2 missed (AP 0) -> AP 0.5;
    # pothole: its one category found -> AP 1. ODinW = (0.5 + 1) / 2.
    gts = {"Aquarium": _coco([1, 2], [(1, 1, [0, 0, 10, 10]), (2, 2, [20, 20, 20, 20])]),
           "pothole": _coco([1], [(2, 1, [5, 5, 30, 30])])}
    res = {"Aquarium": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}],
           "pothole": [{"image_id": 2, "category_id": 1, "bbox": [5, 5, 30, 30], "score": 0.8}]}
    m, bd = _collect("odinw", gts, res, tmp_path, require_all=False)
    assert m["AP"] == pytest.approx(0.75, abs=1e-12)
    # the benchmark's sample ids are <dataset>/<image id>; categories likewise, with their part
    assert set(bd["samples"]) == {"Aquarium/1", "Aquarium/2", "pothole/1", "pothole/2"}
    cats = bd["categories"]
    assert [cats[c]["AP"] for c in ("Aquarium/1", "Aquarium/2", "pothole/1")] == pytest.approx([1, 0, 1], abs=1e-12)
    assert cats["pothole/1"]["part"] == "pothole"
    assert bd["samples"]["Aquarium/2"]["recall@0.5"] == 0.0 and bd["samples"]["pothole/2"]["recall@0.5"] == 1.0
    # per dataset: the mean over its own categories only (the pooled mean would be 2/3)
    assert aggregate(bd, "AP/Aquarium") == pytest.approx(0.5, abs=1e-12) == pytest.approx(m["AP/Aquarium"])
    assert aggregate(bd, "AP/pothole") == pytest.approx(m["AP/pothole"], abs=1e-12)
    # the mean over datasets is not rebuilt from pooled categories (see metrics.odinw.per_dataset)
    assert set(bd["aggregates"]) == {"AP/Aquarium", "AP/pothole"}
    assert bd["ap_state"] is None


def test_multipart_builds_nothing_outside_a_collector(monkeypatch):
    import evalkit.metrics.davis as D

    monkeypatch.setattr(D, "_per_annotator", lambda parts: pytest.fail("built without a collector"))
    gt = _videos()
    compute("ref-davis", gt, {"x": _mixed()})


def _write(tmp_path, name, metric, gt, res, **opts):
    d = tmp_path / name
    d.mkdir()
    with collecting() as found:
        m = compute(metric, gt, res, **opts)
    write_breakdown(d / "breakdown.json", found[0], benchmark=f"{metric}-val", model=name, metric=metric, metrics=m)
    return d


def test_compare_and_gallery_read_the_multipart_breakdowns(tmp_path):
    from evalkit.reports.compare import compare_runs
    from evalkit.show.breakdown import sample_scores, worst_first

    gt = _videos()
    perfect = {k: v.copy() for k, v in gt.items()}
    a = _write(tmp_path, "a", "ref-davis", gt, {"anno_0": _mixed(), "anno_1": _mixed()})
    b = _write(tmp_path, "b", "ref-davis", gt, {"anno_0": perfect, "anno_1": _mixed()})
    c = compare_runs(a, b, resamples=200)
    got = {r["key"]: r for r in c["metrics"]}
    assert {"J&F", "J", "F", "anno_0/J&F", "anno_1/J&F"} <= set(got)
    # B fixes sequence "a" under annotator 0 only: J&F 2/3 -> (1 + 2/3) / 2, paired by sequence
    assert got["J&F"]["a"] == pytest.approx(2 / 3) and got["J&F"]["b"] == pytest.approx(5 / 6)
    assert got["J&F"]["unit"] == "sequence" and got["anno_1/J&F"]["delta"] == pytest.approx(0.0)
    # the gallery orders Ref-DAVIS expressions (<video>/<expression>) by their sequence's value
    ids = ["a/0", "a/1", "b/0", "b/1"]
    assert worst_first(["b/0", "a/1", "b/1", "a/0"], sample_scores(a))[:2] == ["a/1", "a/0"]
    assert sorted(worst_first(ids, sample_scores(a))) == ids

    def coco(cats, boxes):
        return _coco(cats, boxes)

    gts = {"Aquarium": coco([1, 2], [(1, 1, [0, 0, 10, 10]), (2, 2, [20, 20, 20, 20])]),
           "pothole": coco([1], [(2, 1, [5, 5, 30, 30])])}
    hit = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}
    p = {"image_id": 2, "category_id": 1, "bbox": [5, 5, 30, 30], "score": 0.8}
    oa = _write(tmp_path, "oa", "odinw", gts, {"Aquarium": [hit], "pothole": [p]}, require_all=False)
    ob = _write(tmp_path, "ob", "odinw", gts, {"Aquarium": [hit, {**hit, "image_id": 2, "category_id": 2,
                                                                  "bbox": [20, 20, 20, 20]}], "pothole": [p]},
                require_all=False)
    got = {r["key"]: r for r in compare_runs(oa, ob, resamples=200)["metrics"]}
    assert set(got) == {"AP/Aquarium", "AP/pothole"}  # no interval for the mean over datasets
    assert got["AP/Aquarium"]["unit"] == "category" and got["AP/Aquarium"]["n_units"] == 2
    assert got["AP/Aquarium"]["delta"] == pytest.approx(0.5) and got["AP/pothole"]["delta"] == 0


def test_combine_parts_disjoint_average_by_hand(tmp_path):
    from evalkit.metrics._breakdown import Breakdown, combine_parts, mean

    # part x: units 1, 2 with s = 0.2, 0.4 (mean 0.3); part y: unit 1 with s = 1.0
    x = Breakdown("image", "s", True, {"1": {"s": 0.2}, "2": {"s": 0.4}}, {}, {"s": "a score"}, {"S": mean("s")})
    y = Breakdown("image", "s", True, {"1": {"s": 1.0}}, {}, {"s": "a score"}, {"S": mean("s")})
    bd = combine_parts({"x": x, "y": y}, shared_units=False, rename={"S/{part}": "S"}, combined={"S": "S"})
    assert set(bd.samples) == {"x/1", "x/2", "y/1"} and bd.samples["y/1"] == {"s": 1.0, "part": "y"}
    write_breakdown(tmp_path / "breakdown.json", bd, benchmark="b", model="m", metric="m")
    got = load_breakdown(tmp_path)
    assert aggregate(got, "S/x") == pytest.approx(0.3) and aggregate(got, "S/y") == pytest.approx(1.0)
    # the mean over parts, not over the pooled units ((0.2 + 0.4 + 1) / 3)
    assert aggregate(got, "S") == pytest.approx(0.65)
    assert aggregate(got, "S", ["x/2", "y/1", "y/1"]) == pytest.approx((0.4 + 1.0) / 2)
