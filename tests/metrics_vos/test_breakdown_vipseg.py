"""VIPSeg breakdown: deeplab2's per-sequence STQ / AQ / SQ, the video's own VPQ (not official),
and AQ rebuilt as the pooled ratio of the videos' association sums, on a case derived by hand.

Official rules encoded: deeplab2 ``evaluation/numpy/segmentation_and_tracking_quality.py``
``STQuality.result``: ``AQ = sum(aq_per_seq) / sum(num_tubes_per_seq)`` (pooled over tubes, not a
mean of the videos' AQ), ``AQ_per_seq = aq / num_tubes``, ``IoU_per_seq`` from the video's own
confusion matrix, ``STQ_per_seq = sqrt(AQ_per_seq * IoU_per_seq)``."""
from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.breakdown import aggregate, load_breakdown, write_breakdown
from evalkit.metrics._breakdown import collecting
from evalkit.metrics.vipseg import vipseg

CATS = [{"id": 0, "isthing": 0}, {"id": 1, "isthing": 1}]


def _info(ids, cats, gt):
    out = []
    for i, c in cats.items():  # listing order matters: the first-listed GT segment is instance 0
        el = {"id": i, "category_id": c}
        if gt:
            el.update(iscrowd=0, area=int((ids == i).sum()))
        out.append(el)
    return {"segments_info": out}


def test_vipseg_breakdown_by_hand(tmp_path):
    a = np.zeros((4, 4), np.uint32)
    a[:, :2], a[:, 2], a[:, 3] = 1, 2, 3  # stuff, thing, thing
    b = np.zeros((4, 4), np.uint32)
    b[:, :2], b[:, 2:] = 1, 2  # stuff, one thing of 8 pixels ...
    b_pred = b.copy()
    b_pred[2:, 2:] = 3  # ... predicted as two things of 4 pixels
    files = {"a": "00000.png", "b": "00000.png"}
    gt = {"json": {"videos": [{"video_id": v, "images": [{"file_name": f}]} for v, f in files.items()],
                   "annotations": [{"video_id": "a", "annotations": [_info(a, {1: 0, 2: 1, 3: 1}, True)]},
                                   {"video_id": "b", "annotations": [_info(b, {1: 0, 2: 1}, True)]}],
                   "categories": CATS},
          "masks": {"a": {"00000.png": a}, "b": {"00000.png": b}}}
    pr = {"json": {"annotations": [{"video_id": "a", "annotations": [_info(a, {1: 0, 2: 1, 3: 1}, False)]},
                                   {"video_id": "b", "annotations": [_info(b_pred, {1: 0, 2: 1, 3: 1}, False)]}]},
          "masks": {"a": {"00000.png": a}, "b": {"00000.png": b_pred}}}
    with collecting() as found:
        m = vipseg(gt, pr)
    [bd] = found
    write_breakdown(tmp_path / "breakdown.json", bd, benchmark="vipseg-val", model="m", metric="vipseg", metrics=m)
    bd = load_breakdown(tmp_path)
    va, vb = bd["samples"]["a"], bd["samples"]["b"]
    # a: two perfect thing tubes, association term 1 each; b: a tube of 8 pixels split in two
    # predictions of 4: 2 x 4 * (4 / 8) / 8 = 0.5
    assert (va["aq_sum"], va["n_tubes"], vb["aq_sum"], vb["n_tubes"]) == (2.0, 2, 0.5, 1)
    assert (va["AQ"], vb["AQ"]) == (100.0, 50.0)
    # semantics are right everywhere: SQ 100, so STQ_b = sqrt(0.5)
    assert vb["SQ"] == 100.0 and vb["STQ"] == pytest.approx(100 * math.sqrt(0.5))
    # pooled over the 3 tubes: 2.5 / 3 (the mean of the videos' AQ would be 75)
    assert m["AQ"] == pytest.approx(250 / 3) and aggregate(bd, "AQ") == pytest.approx(m["AQ"], abs=1e-9)
    assert set(bd["aggregates"]) == {"AQ"}
    # the video's own VPQ (one frame: window length 1 only): b's thing tubes have IoU 0.5, not
    # > 0.5 -> class PQ 0, stuff PQ 1 -> 50
    assert va["VPQ"] == 100.0 and vb["VPQ"] == 50.0
    assert bd["score_key"] == "STQ"


@pytest.mark.parametrize("seed", range(3))
def test_vipseg_breakdown_aq_on_random_videos(seed):
    from test_vipseg import _dataset

    gt, pr = _dataset(seed)
    with collecting() as found:
        m = vipseg(gt, pr)
    [bd] = found
    assert set(bd.samples) == {v["video_id"] for v in gt["json"]["videos"]}
    assert aggregate({"aggregates": bd.aggregates, "samples": bd.samples}, "AQ") == pytest.approx(m["AQ"], abs=1e-9)
    if len(bd.samples) == 1:  # one video: deeplab2's per-sequence values are the headline
        [row] = bd.samples.values()
        for key in ("STQ", "AQ", "SQ"):
            assert row[key] == pytest.approx(m[key], abs=1e-9, nan_ok=True), key
