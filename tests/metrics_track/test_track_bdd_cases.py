"""Hand-checkable BDD100K tracking cases: motmetrics event rules, ignore regions, edge cases, errors."""
import json

import numpy as np
import pytest
from PIL import Image

from evalkit.errors import ResultsError
from evalkit.metrics import compute
from evalkit.metrics.clear_mot import Accumulator

NAN = np.nan


def _frame(video, t, labels):
    return {"name": f"{video}-{t}.jpg", "videoName": video, "frameIndex": t, "labels": labels}


def _box(tid, x, y, w=10, h=10, cat="car", **attrs):
    lab = {"id": str(tid), "category": cat, "box2d": {"x1": x, "y1": y, "x2": x + w - 1, "y2": y + h - 1}}
    if attrs:
        lab["attributes"] = attrs
    return lab


# -- accumulator rules --------------------------------------------------------------------------
def test_continuation_beats_cheaper_assignment():
    acc = Accumulator()
    acc.update(np.array([1]), np.array([7]), np.array([[0.3]]))
    # hyp 8 is closer, but object 1 keeps hyp 7 (still pairable): no switch
    acc.update(np.array([1]), np.array([7, 8]), np.array([[0.4, 0.1]]))
    c = acc.finalize()
    assert (c.num_matches, c.num_switches, c.num_false_positives) == (2, 0, 1)
    assert c.sum_distance == pytest.approx(0.7)


def test_switch_fragment_and_track_ratios():
    acc = Accumulator()
    d = np.array([[0.2]])
    acc.update(np.array([1]), np.array([7]), d)  # match
    acc.update(np.array([1]), np.array([]), np.zeros((1, 0)))  # miss
    acc.update(np.array([1]), np.array([8]), d)  # switch (last matched 7) and a fragment
    acc.update(np.array([1]), np.array([8]), d)
    acc.update(np.array([1]), np.array([8]), np.array([[NAN]]))  # miss + FP
    c = acc.finalize()
    assert (c.num_matches, c.num_switches, c.num_misses, c.num_false_positives) == (2, 1, 2, 1)
    assert c.num_fragmentations == 1  # the trailing miss is after the last tracked frame
    assert (c.mostly_tracked, c.partially_tracked, c.mostly_lost) == (0, 1, 0)  # 3/5 tracked
    assert c.idtp == 2  # pairable frames: (1, 7) once, (1, 8) twice; one pairing per id
    assert c.idf1() == pytest.approx(2 * 2 / (5 + 4))


def test_mostly_tracked_uses_greater_equal_point_eight():
    acc = Accumulator()
    for t in range(5):
        dist = np.array([[0.1]]) if t < 4 else np.array([[NAN]])
        acc.update(np.array([1]), np.array([3]), dist)
    assert acc.finalize().mostly_tracked == 1  # 4/5 = 0.8 is MT here (TrackEval: PT)


# -- metric level ---------------------------------------------------------------------------------
def test_crowd_region_removes_unmatched_prediction_only():
    gt = [_frame("v", 0, [_box(1, 0, 0), _box(2, 100, 100, 40, 40, crowd=True)])]
    pred = [_frame("v", 0, [_box(5, 0, 0), _box(6, 105, 105), _box(7, 300, 300)])]
    r = compute("bdd100k-box-track", gt, pred)
    # pred 6 lies inside the crowd box (IoF 1) and is unmatched: dropped; pred 7 stays an FP
    assert (r["FP"], r["FN"]) == (1, 0)
    assert r["MOTA"] == pytest.approx(0.0) and r["car/MOTA"] == pytest.approx(0.0)
    # the region is shared by all classes: a pedestrian prediction there is dropped too
    pred2 = [_frame("v", 0, [_box(5, 0, 0), _box(6, 105, 105, cat="pedestrian")])]
    assert compute("bdd100k-box-track", gt, pred2)["FP"] == 0


def test_bdd100k_ignored_mapping_and_names():
    gt = [_frame("v", 0, [_box(1, 0, 0, cat="person"), _box(2, 100, 100, 40, 40, cat="other person")])]
    pred = [_frame("v", 0, [_box(5, 0, 0, cat="pedestrian"), _box(6, 105, 105, cat="pedestrian")])]
    r = compute("bdd100k-box-track", gt, pred)
    assert (r["FP"], r["FN"], r["pedestrian/MOTA"]) == (0, 0, 100.0)
    with pytest.raises(ResultsError, match="unknown category 'person'"):
        compute("bdd100k-box-track", gt, pred, bdd100k_mapping=False)
    r = compute("bdd100k-box-track", gt, pred, bdd100k_mapping=False, ignore_unknown_cats=True)
    assert (r["FP"], r["FN"]) == (2, 0)


def test_empty_ground_truth_and_absent_frames():
    gt = [_frame("v", t, []) for t in range(3)]
    pred = [_frame("v", 0, [_box(1, 0, 0)])]  # frames 1, 2 absent from the predictions
    r = compute("bdd100k-box-track", gt, pred)
    assert r["FP"] == 1 and r["MOTA"] == -np.inf and r["mMOTA"] == 0.0  # -inf counts as 0 in the mean
    assert np.isnan(r["MOTP"]) and r["mMOTP"] == 0.0
    gt = [_frame("v", t, [_box(1, 0, 0)]) for t in range(4)]
    pred = [_frame("v", t, [_box(9, 0, 0)]) for t in (0, 3)]
    r = compute("bdd100k-box-track", gt, pred)
    assert (r["FN"], r["FM"], r["IDSw"], r["PT"]) == (2, 1, 0, 1)
    assert r["MOTP"] == 100.0 and r["mMOTP"] == 100.0 / 8


def test_missing_video_counts_as_empty_and_unknown_video_fails():
    gt = [_frame("a", 0, [_box(1, 0, 0)]), _frame("b", 0, [_box(1, 0, 0)])]
    r = compute("bdd100k-box-track", gt, [_frame("a", 0, [_box(3, 0, 0)])])
    assert (r["FN"], r["MOTA"]) == (1, 50.0)
    with pytest.raises(ResultsError, match="videos not in the ground truth: \\['c'\\]"):
        compute("bdd100k-box-track", gt, [_frame("c", 0, [])])
    with pytest.raises(ResultsError, match="not a frame of ground-truth video 'a'"):
        compute("bdd100k-box-track", gt, [_frame("a", 7, [])])


def test_bad_inputs_name_file_frame_and_label(tmp_path):
    gt = [_frame("v", 0, [_box(1, 0, 0)])]
    bad = [_frame("v", 0, [{"id": "1", "category": "car", "box2d": {"x1": 0, "y1": "a", "x2": 3, "y2": 3}}])]
    p = tmp_path / "preds.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(ResultsError, match=r"preds.json: frame #0 \('v-0.jpg'\), label #0: box2d"):
        compute("bdd100k-box-track", gt, p)
    p.write_text("[{")
    with pytest.raises(ResultsError, match="not valid JSON"):
        compute("bdd100k-box-track", gt, p)
    with pytest.raises(ResultsError, match="track ids must be integers"):
        compute("bdd100k-box-track", gt, [_frame("v", 0, [_box("abc", 0, 0)])])
    with pytest.raises(ResultsError, match="missing 'videoName'"):
        compute("bdd100k-box-track", gt, [{"name": "x", "labels": []}])


# -- segmentation tracking ------------------------------------------------------------------------
def _rle(mask):
    from pycocotools import mask as mu

    r = mu.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"counts": r["counts"].decode(), "size": list(r["size"])}


def _seg(tid, mask, cat="car", **attrs):
    lab = {"id": str(tid), "category": cat, "rle": _rle(mask)}
    if attrs:
        lab["attributes"] = attrs
    return lab


def _m(y0, y1, x0, x1, shape=(20, 20)):
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def test_seg_track_rle_overlap_drops_frame_and_errors():
    gt = [_frame("v", 0, [_seg(1, _m(0, 5, 0, 5)), _seg(2, _m(10, 15, 10, 15))])]
    good = [_frame("v", 0, [_seg(4, _m(0, 5, 0, 5)), _seg(5, _m(10, 15, 10, 14))])]
    r = compute("bdd100k-seg-track", gt, good)
    assert r["MOTSA"] == 100.0 and r["MOTSP"] == pytest.approx(100 * (1 + 20 / 25) / 2)
    overlap = [_frame("v", 0, [_seg(4, _m(0, 5, 0, 5)), _seg(5, _m(4, 15, 4, 15))])]
    assert compute("bdd100k-seg-track", gt, overlap)["FN"] == 2  # the whole frame is dropped
    bad = [_frame("v", 0, [{"id": "4", "category": "car", "rle": {"counts": "0a", "size": [20, 20]}}])]
    with pytest.raises(ResultsError, match="label #0: malformed RLE"):
        compute("bdd100k-seg-track", gt, bad)
    small = [_frame("v", 0, [_seg(4, _m(0, 5, 0, 5, shape=(10, 10)))])]
    with pytest.raises(ResultsError, match="mask size \\[10, 10\\] differs"):
        compute("bdd100k-seg-track", gt, small)


def _bitmask(instances, shape=(8, 8)):
    """instances: list of (instance id, category id, attr byte, mask)."""
    a = np.zeros((*shape, 4), np.uint8)
    for iid, cat, attr, m in instances:
        a[m] = (cat, attr, iid >> 8, iid & 255)
    return a


def _write(root, video, name, arr):
    (root / video).mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, "RGBA").save(root / video / f"{name}.png")


def test_seg_track_bitmask_ignore_absent_frame_and_errors(tmp_path):
    gt, res = tmp_path / "gt", tmp_path / "res"
    full = np.ones((8, 8), bool)
    ped = _m(0, 4, 0, 4, (8, 8))
    crowd = _m(4, 8, 4, 8, (8, 8))
    _write(gt, "v", "f0", _bitmask([(1, 1, 0, ped), (300, 3, 2, crowd)]))  # pedestrian + crowd car
    _write(gt, "v", "f1", _bitmask([(1, 1, 0, ped)]))
    _write(res, "v", "f0", _bitmask([(7, 1, 0, ped), (9, 3, 0, _m(5, 8, 5, 8, (8, 8)))]))
    r = compute("bdd100k-seg-track", gt, res)  # f1 has no prediction file: its object is missed
    assert (r["FP"], r["FN"], r["pedestrian/MOTA"]) == (0, 1, 50.0)
    assert r["mMOTSA"] == pytest.approx(50.0 / 8)
    _write(res, "v", "f1", _bitmask([(1, 1, 0, _m(0, 2, 0, 2, (4, 4)))], shape=(4, 4)))
    with pytest.raises(ResultsError, match="f1.png: bitmask size"):
        compute("bdd100k-seg-track", gt, res)
    many = np.zeros((8, 16, 4), np.uint8)
    many[..., 0] = 1
    many[..., 3] = np.arange(1, 129).reshape(8, 16)
    _write(res, "v", "f1", many)
    with pytest.raises(ResultsError, match="128 instances"):
        compute("bdd100k-seg-track", gt, res)
    _write(res, "w", "f0", _bitmask([(1, 1, 0, full)]))
    with pytest.raises(ResultsError, match="videos not in the ground truth"):
        compute("bdd100k-seg-track", gt, res)
