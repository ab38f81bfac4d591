"""BDD100K box/segmentation tracking breakdown: per video counts whose sums rebuild the OVERALL
MOTA / IDF1 / MOTP and, class by class, mMOTA / mIDF1 / mMOTP, on a case derived by hand.

Official rules encoded (scalabel ``eval/mot.py``: ``evaluate_single_class`` merges the
accumulators of all videos with motmetrics' ``merge_event_dataframes`` and computes the class
rates from the summed counts; ``compute_average`` takes the plain mean over classes with NaN
and inf turned into 0; OVERALL pools every class's counts)."""
import pytest

from evalkit.breakdown import aggregate, load_breakdown, write_breakdown
from evalkit.metrics import compute
from evalkit.metrics._breakdown import collecting
import evalkit.metrics.catalog  # noqa: F401

from test_track_bdd_cases import _box, _frame


def _case():
    gt = [_frame("a", 0, [_box(1, 0, 0), _box(2, 50, 50, cat="pedestrian")]),
          _frame("a", 1, [_box(1, 0, 0), _box(2, 50, 50, cat="pedestrian")]),
          _frame("b", 0, [_box(1, 0, 0), _box(3, 30, 30, cat="pedestrian")]),
          _frame("b", 1, [_box(1, 0, 0)])]
    # a: the car tracked on both frames, the pedestrian never found;
    # b: the car found on frame 0, on frame 1 the prediction is elsewhere (FN + FP); the
    # pedestrian found on its one frame
    res = [_frame("a", 0, [_box(7, 0, 0)]), _frame("a", 1, [_box(7, 0, 0)]),
           _frame("b", 0, [_box(8, 0, 0), _box(9, 30, 30, cat="pedestrian")]),
           _frame("b", 1, [_box(8, 70, 70)])]
    return gt, res


def _collect(metric, gt, res, tmp_path, **opts):
    with collecting() as found:
        m = compute(metric, gt, res, **opts)
    [bd] = found
    write_breakdown(tmp_path / "breakdown.json", bd, benchmark="b", model="m", metric=metric, metrics=m)
    return m, load_breakdown(tmp_path)


def test_bdd_box_track_breakdown_by_hand(tmp_path):
    gt, res = _case()
    m, bd = _collect("bdd100k-box-track", gt, res, tmp_path, categories=["car", "pedestrian"])
    # car: 4 objects, errors 0 (a) + FN 1 + FP 1 (b) -> MOTA 50; pedestrian: 3 objects, 2 FN -> 33.3
    assert m["car/MOTA"] == pytest.approx(50.0) and m["pedestrian/MOTA"] == pytest.approx(100 / 3)
    assert m["mMOTA"] == pytest.approx((50 + 100 / 3) / 2)
    # OVERALL pools the counts: 1 - 4/7; the mean of the videos' own MOTA (50, 33.3) would differ
    assert m["MOTA"] == pytest.approx(300 / 7)
    a, b = bd["samples"]["a"], bd["samples"]["b"]
    assert (a["MOTA"], a["n_objects"], a["FN"], a["FP"]) == (50.0, 4, 2, 0)
    assert b["MOTA"] == pytest.approx(100 / 3) and (b["FN"], b["FP"]) == (1, 1)
    # IDF1: car IDTP 2 (a) + 1 (b) over 4 + 4 boxes = 75; pedestrian 2 x 1 / (3 + 1) = 50
    assert (a["car/idf1_num"], b["car/idf1_num"], b["car/idf1_den"]) == (4, 2, 4)
    assert m["mIDF1"] == pytest.approx(62.5) and m["IDF1"] == pytest.approx(100 * 8 / 12)
    for key in ("MOTA", "IDF1", "MOTP", "mMOTA", "mIDF1", "mMOTP", "car/MOTA", "pedestrian/IDF1"):
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-9), key
    for key in bd["aggregates"]:
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-9), key
    assert bd["categories"]["car"]["MOTA"] == pytest.approx(50.0)
    # a resample of video b alone: car 1 - 2/2 = 0, pedestrian 100 -> mMOTA 50
    assert aggregate(bd, "mMOTA", ["b"]) == pytest.approx(50.0)


def test_bdd_class_mean_has_no_aggregate_when_a_class_has_no_ground_truth(tmp_path):
    gt, res = _case()
    m, bd = _collect("bdd100k-box-track", gt, res, tmp_path, categories=["car", "pedestrian", "bicycle"])
    # the toolkit counts bicycle (no GT, no prediction: NaN) as 0 in mMOTA: not a ratio of sums
    assert m["mMOTA"] == pytest.approx((50 + 100 / 3) / 3)
    assert "mMOTA" not in bd["aggregates"] and "bicycle/MOTA" not in bd["aggregates"]
    assert aggregate(bd, "MOTA") == pytest.approx(m["MOTA"], abs=1e-9)


def test_bdd_seg_track_breakdown_paper_names(tmp_path):
    from test_track_bdd_cases import _m, _seg

    gt = [_frame("v", 0, [_seg(1, _m(0, 5, 0, 5)), _seg(2, _m(10, 15, 10, 15))])]
    res = [_frame("v", 0, [_seg(4, _m(0, 5, 0, 5)), _seg(5, _m(10, 15, 10, 14))])]
    m, bd = _collect("bdd100k-seg-track", gt, res, tmp_path, categories=["car"])
    # MOTSP: distances 0 and 1 - 20/25 over 2 matches
    assert m["MOTSP"] == pytest.approx(100 * (1 + 20 / 25) / 2)
    for key in ("MOTSA", "MOTSP", "mMOTSA", "mMOTSP"):
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-9), key


def test_bdd_fixture_breakdowns_rebuild_the_toolkit_numbers(tmp_path):
    from test_track_bdd_fixtures import FIX

    if not FIX.is_dir():
        pytest.skip("../shared/fixtures is absent")
    box = FIX / "bdd100k-box-track-sample"
    seg = FIX / "bdd100k-seg-track-sample"
    for i, (metric, gt, res) in enumerate([
            ("bdd100k-box-track", box / "track_sample_anns.json", box / "track_predictions.json"),
            ("bdd100k-seg-track", seg / "seg_track_sample.json", seg / "seg_track_preds.json"),
            ("bdd100k-seg-track", FIX / "bdd100k-mots-bitmask" / "gt", FIX / "bdd100k-mots-bitmask" / "result")]):
        (tmp_path / str(i)).mkdir()
        m, bd = _collect(metric, gt, res, tmp_path / str(i))
        # train and bicycle have no data in the box sample: no class mean aggregate there
        assert {"MOTA", "IDF1", "MOTP"} <= set(bd["aggregates"]), metric
        for key in bd["aggregates"]:
            assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-9), (metric, key)
        assert bd["samples"] and all(r["MOTA"] is not None for r in bd["samples"].values())
