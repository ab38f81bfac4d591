"""YouTube-VIS AP: parity with ytvoseval semantics (pycocotools COCOeval + spatio-temporal IoU,
see mi_ytvis_oracle) on seeded random videos, and a cross-check of AP..APl against TrackEval's
TrackMAP configured as the ytvis evaluator."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from evalkit.errors import ResultsError
from evalkit.metrics import compute
from evalkit.metrics.ytvis import YTVIS_STATS, ytvis
from mi_synth import rect_mask, rle, ytvis_case
from mi_ytvis_oracle import ytvis_oracle


def as_array(stats):
    assert list(stats) == list(YTVIS_STATS)
    return np.array([stats[k] for k in YTVIS_STATS])


@pytest.mark.parametrize("seed", range(12))
def test_random_parity(seed):
    gt, res = ytvis_case(seed, n_videos=8)
    g0, r0 = copy.deepcopy(gt), copy.deepcopy(res)
    got = as_array(ytvis(gt, res))
    np.testing.assert_allclose(got, ytvis_oracle(gt, res), rtol=0, atol=1e-12)
    assert gt == g0 and res == r0  # inputs untouched


def test_random_cases_cover_the_edge_cases():
    gt, res = ytvis_case(5, n_videos=8)
    assert any(v["length"] == 1 for v in gt["videos"])  # single-frame videos
    assert any(s is None for a in gt["annotations"] for s in a["segmentations"])  # absent frames
    assert any(a["iscrowd"] for c in range(12) for a in ytvis_case(c)[0]["annotations"])
    stats = ytvis(gt, res)
    assert 0 < stats["AP"] < 1


def _one_video(gt_masks, dt_tracks):
    h, w = gt_masks[0].shape
    gt = {"videos": [{"id": 1, "height": h, "width": w, "length": len(gt_masks)}],
          "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0,
                           "segmentations": [rle(m) if m.any() else None for m in gt_masks],
                           "areas": [float(m.sum()) if m.any() else None for m in gt_masks]}]}
    res = [{"video_id": 1, "category_id": 1, "score": s,
            "segmentations": [rle(m) if m is not None else None for m in masks]} for s, masks in dt_tracks]
    return gt, res


def test_iou_exactly_at_threshold_and_absent_frames():
    # GT 20x10 in two frames; prediction covers half of frame 0 and is absent in frame 1:
    # I = 100, U = 200 + 200 = 400 -> IoU 0.25; second prediction: full frame 0, half frame 1
    # -> I = 300, U = 400 -> IoU 0.75 exactly.
    g = rect_mask(64, 64, 0, 0, 20, 10)
    half = rect_mask(64, 64, 0, 0, 10, 10)
    gt, res = _one_video([g, g], [(0.9, [half, None]), (0.8, [g, half])])
    got = ytvis(gt, res)
    np.testing.assert_allclose(as_array(got), ytvis_oracle(gt, res), atol=1e-12)
    # the 0.8 track matches at IoU thresholds 0.50..0.75 (6 of 10) after one FP at higher score
    assert got["AP75"] == pytest.approx(0.5) and got["AP50"] == pytest.approx(0.5)


def test_single_frame_video_perfect_and_empty_results():
    g = rect_mask(40, 50, 5, 5, 25, 30)
    gt, res = _one_video([g], [(1.0, [g])])
    assert ytvis(gt, res)["AP"] == pytest.approx(1.0)
    empty = ytvis(gt, [])
    assert empty["AP"] == 0.0 and empty["AR100"] == 0.0
    no_gt = {**gt, "annotations": []}
    assert set(ytvis(no_gt, res).values()) == {-1.0}


def test_results_errors_name_the_entry():
    g = rect_mask(40, 50, 5, 5, 25, 30)
    gt, res = _one_video([g, g], [(1.0, [g, g])])
    bad = copy.deepcopy(res)
    bad[0]["segmentations"] = bad[0]["segmentations"][:1]
    with pytest.raises(ResultsError, match=r"entry 0.*2 frames, got 1"):
        ytvis(gt, bad)
    bad = copy.deepcopy(res)
    bad[0]["video_id"] = 7
    with pytest.raises(ResultsError, match="entry 0: video_id 7"):
        ytvis(gt, bad)
    bad = copy.deepcopy(res)
    bad[0]["segmentations"][1] = rle(np.zeros((41, 50), bool))
    with pytest.raises(ResultsError, match=r"entry 0\.segmentations\[1\].*\[41, 50\]"):
        ytvis(gt, bad)
    bad = copy.deepcopy(res)
    bad[0]["segmentations"][0]["counts"] = bad[0]["segmentations"][0]["counts"][:-2]
    with pytest.raises(ResultsError, match=r"segmentations\[0\]: malformed RLE"):
        ytvis(gt, bad)
    with pytest.raises(ResultsError, match="category_id 9"):
        ytvis(gt, [{**res[0], "category_id": 9}])


def _mean_nonzero(areas):
    vals = [a for a in areas if a]
    return float(np.mean(vals)) if vals else 0.0


def trackmap_stats(gt, res):
    """AP, AP50, AP75, APs, APm, APl from TrackEval TrackMAP set up as in run_youtube_vis.py
    plus the ytvis area ranges and a 100-track cap."""
    from trackeval.metrics import TrackMAP

    metric = TrackMAP({"USE_TIME_RANGES": False, "MAX_DETECTIONS": 100, "PRINT_CONFIG": False,
                       "AREA_RANGES": [[0, 128**2], [128**2, 256**2], [256**2, 1e5**2]]})
    sizes = {v["id"]: (v["height"], v["width"]) for v in gt["videos"]}

    def to_track(segs, h, w):
        out = {}
        for f, s in enumerate(segs):
            if s is None:
                continue
            out[f] = mask_utils.frPyObjects(s, h, w) if isinstance(s["counts"], list) else {"size": s["size"], "counts": s["counts"].encode()}
        return out

    per_class = {}
    for c in sorted(x["id"] for x in gt["categories"]):
        seqs = {}
        for v in sorted(sizes):
            h, w = sizes[v]
            gts = [a for a in gt["annotations"] if a["video_id"] == v and a["category_id"] == c]
            dts = [(i, r) for i, r in enumerate(res) if r["video_id"] == v and r["category_id"] == c]
            dts.sort(key=lambda x: -x[1]["score"])
            dtr = [to_track(r["segmentations"], h, w) for _, r in dts]
            seqs[v] = metric.eval_sequence({
                "gt_track_ids": [a["id"] for a in gts], "dt_track_ids": [i + 1 for i, _ in dts],
                "gt_tracks": [to_track(a["segmentations"], h, w) for a in gts], "dt_tracks": dtr,
                "gt_track_areas": [_mean_nonzero(a["areas"]) for a in gts],
                "dt_track_areas": [_mean_nonzero([mask_utils.area(m) for m in t.values()]) for t in dtr],
                "gt_track_iscrowd": [a["iscrowd"] for a in gts],
                "dt_track_scores": [r["score"] for _, r in dts], "iou_type": "mask"})
        per_class[c] = metric.combine_sequences(seqs)
    final = metric.combine_classes_class_averaged(per_class)
    ap = final["AP_all"]
    return np.array([ap.mean(), ap[0], ap[5], final["AP_area_s"].mean(), final["AP_area_m"].mean(), final["AP_area_l"].mean()])


@pytest.mark.parametrize("seed", range(4))
def test_trackmap_cross_check(seed):
    # TrackMAP equals ytvoseval on AP..APl without crowd GTs (reference/metrics.md §3)
    gt, res = ytvis_case(50 + seed, n_videos=8, crowd_p=0.0)
    got = as_array(ytvis(gt, res))[:6]
    want = trackmap_stats(gt, res)
    # categories without GT are -1 in both; compare where TrackMAP defines a value
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_registry_entry():
    gt, res = ytvis_case(1)
    np.testing.assert_allclose(as_array(compute("ytvis", gt, res)), ytvis_oracle(gt, res), atol=1e-12)
