"""QuasiDenseEmbedTracker on hand-made detections (official QDTrack semantics)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from evalkit.adapters.trackers import (
    QuasiDenseEmbedTracker,
    TrackerInputError,
    box_overlaps,
    match_scores,
    tracked_frame_instances,
)


def e(k, scale=10.0, dim=8):
    v = torch.zeros(dim)
    v[k] = scale
    return v


def box(x, y, w=10.0, h=10.0):
    return [x, y, x + w, y + h]


def frame(dets):
    """dets: list of (box, score, label, embed) -> tensors."""
    boxes = torch.tensor([d[0] for d in dets], dtype=torch.float32).reshape(-1, 4)
    scores = torch.tensor([d[1] for d in dets], dtype=torch.float32)
    labels = torch.tensor([d[2] for d in dets], dtype=torch.int64)
    embeds = torch.stack([d[3] for d in dets]) if dets else torch.zeros(0, 8)
    return boxes, scores, labels, embeds


def ids_by_input(out, n):
    """Track id per input detection (None when removed by duplicate removal)."""
    res = [None] * n
    for i, t in zip(out.indices.tolist(), out.ids.tolist()):
        res[i] = t
    return res


def test_births_and_continuation():
    tr = QuasiDenseEmbedTracker(init_score_thr=0.7, obj_score_thr=0.3)
    dets = [(box(0, 0), 0.8, 1, e(0)), (box(50, 0), 0.9, 1, e(1)), (box(100, 0), 0.5, 1, e(2))]
    out = tr.match(*frame(dets), frame_id=0)
    # sorted by score: input 1 (0.9) is born first
    assert out.indices.tolist() == [1, 0, 2]
    assert ids_by_input(out, 3) == [1, 0, -1]  # 0.5 < init_score_thr: not born, a backdrop
    assert len(tr.backdrops[0][0]) == 1
    moved = [(box(2, 1), 0.85, 1, e(0)), (box(52, 1), 0.75, 1, e(1))]
    out = tr.match(*frame(moved), frame_id=1)
    assert ids_by_input(out, 2) == [1, 0]
    assert tr.num_tracklets == 2


def test_deaths_after_memo_frames_and_reid_within():
    for gap_end, expect_reid in ((10, True), (11, False)):
        tr = QuasiDenseEmbedTracker(init_score_thr=0.5, obj_score_thr=0.3, memo_tracklet_frames=10)
        tr.match(*frame([(box(0, 0), 0.9, 1, e(0)), (box(50, 0), 0.9, 1, e(1))]), frame_id=0)
        for f in range(1, gap_end):  # only track 1 is seen
            out = tr.match(*frame([(box(50, 0), 0.9, 1, e(1))]), frame_id=f)
            assert out.ids.tolist() == [1]
        assert (0 in tr.tracklets) == expect_reid
        dets = [(box(0, 0), 0.9, 1, e(0)), (box(50, 0), 0.8, 1, e(1))]
        out = tr.match(*frame(dets), frame_id=gap_end)
        assert ids_by_input(out, 2) == ([0, 1] if expect_reid else [2, 1])


def test_empty_frames_still_age_tracks():
    tr = QuasiDenseEmbedTracker(init_score_thr=0.5, memo_tracklet_frames=3)
    tr.match(*frame([(box(0, 0), 0.9, 1, e(0))]), frame_id=0)
    for f in (1, 2):
        tr.match(*frame([]), frame_id=f)
    assert 0 in tr.tracklets
    tr.match(*frame([]), frame_id=3)
    assert tr.empty


def test_duplicate_removal_thresholds():
    tr = QuasiDenseEmbedTracker(init_score_thr=0.5, obj_score_thr=0.4)
    # IoU of these two 10x10 boxes shifted by 4 px: 60 / 140 = 0.43
    a, b = box(0, 0), box(4, 0)
    iou = float(box_overlaps(torch.tensor([a]), torch.tensor([b]))[0, 0])
    assert math.isclose(iou, 60 / 140, rel_tol=1e-6)
    out = tr.match(*frame([(a, 0.9, 1, e(0)), (b, 0.3, 1, e(1))]), frame_id=0)
    assert out.indices.tolist() == [0]  # low score: backdrop threshold 0.3 < 0.43, removed
    tr = QuasiDenseEmbedTracker(init_score_thr=0.5, obj_score_thr=0.4)
    out = tr.match(*frame([(a, 0.9, 1, e(0)), (b, 0.6, 1, e(1))]), frame_id=0)
    assert out.indices.tolist() == [0, 1]  # high score: class threshold 0.7 > 0.43, kept
    assert out.ids.tolist() == [0, 1]


def test_backdrop_absorbs_ambiguous_match():
    track, back = e(0, 3.0), e(0, 3.0) + e(1, 0.5)
    probe = e(0, 3.0) + e(1, 0.6)
    results = {}
    for frames in (0, 1):
        tr = QuasiDenseEmbedTracker(init_score_thr=0.8, obj_score_thr=0.5,
                                    memo_backdrop_frames=frames)
        tr.match(*frame([(box(0, 0), 0.9, 1, track), (box(100, 0), 0.6, 1, back)]), frame_id=0)
        out = tr.match(*frame([(box(0, 0), 0.7, 1, probe)]), frame_id=1)
        results[frames] = out.ids.tolist()
    assert results[0] == [0]   # only the track in memory: bisoftmax 1.0, matched
    assert results[1] == [-1]  # the backdrop takes most of the softmax mass: no match


def test_backdrops_exclude_overlapping_and_low_score_duplicates():
    tr = QuasiDenseEmbedTracker(init_score_thr=0.8, obj_score_thr=0.5, nms_backdrop_iou_thr=0.3)
    tr.match(*frame([(box(0, 0), 0.9, 1, e(0))]), frame_id=0)
    # second frame: the track again with a low score (0.45 <= obj_score_thr) -> -2 (neither an
    # output nor a backdrop); two unmatched detections of another class overlapping each other
    # (IoU 0.43: kept by duplicate removal, class threshold 0.7) -> -1, and the lower-scored one
    # is left out of the backdrops (IoU > nms_backdrop_iou_thr with a higher-scored detection)
    out = tr.match(*frame([(box(0, 0), 0.45, 1, e(0)), (box(100, 0), 0.6, 2, e(3)),
                           (box(104, 0), 0.55, 2, e(4))]), frame_id=1)
    assert ids_by_input(out, 3) == [-2, -1, -1]
    b_boxes = tr.backdrops[0][0]
    assert b_boxes.tolist() == [box(100, 0)]


def test_class_aware_matching():
    for with_cats, expected in ((True, [1]), (False, [0])):
        tr = QuasiDenseEmbedTracker(init_score_thr=0.5, with_cats=with_cats)
        tr.match(*frame([(box(0, 0), 0.9, 1, e(0))]), frame_id=0)
        out = tr.match(*frame([(box(0, 0), 0.9, 2, e(0))]), frame_id=1)
        assert out.ids.tolist() == expected


def test_bisoftmax_vs_cosine():
    small = 0.1  # weak embeddings: cosine is scale-free, bi-softmax is not
    mem = [(box(0, 0), 0.9, 1, e(0, small)), (box(50, 0), 0.9, 1, e(1, small)),
           (box(100, 0), 0.9, 1, e(2, small))]
    probe = [(box(0, 0), 0.9, 1, e(0, small)), (box(50, 0), 0.8, 1, e(1, small))]
    got = {}
    for metric in ("bisoftmax", "cosine"):
        tr = QuasiDenseEmbedTracker(init_score_thr=0.95, match_metric=metric)
        tr.init_score_thr = 0.5
        tr.match(*frame(mem), frame_id=0)
        tr.init_score_thr = 0.95  # no births in frame 1
        got[metric] = ids_by_input(tr.match(*frame(probe), frame_id=1), 2)
    assert got["cosine"] == [0, 1]
    assert got["bisoftmax"] == [-1, -1]
    # the formulas themselves
    f = torch.tensor([[0.01, 0, 0], [0, 0.01, 0]])
    exp = np.exp(f.numpy().astype(np.float64))
    bi = (exp / exp.sum(1, keepdims=True) + exp / exp.sum(0, keepdims=True)) / 2
    a = torch.stack([e(0, small), e(1, small)])
    b = torch.stack([e(0, small), e(1, small), e(2, small)])
    np.testing.assert_allclose(match_scores(a, b, "bisoftmax").numpy(), bi, rtol=1e-6)
    np.testing.assert_allclose(match_scores(a, b, "cosine").numpy(), np.eye(2, 3), atol=1e-7)


def test_momentum_update():
    tr = QuasiDenseEmbedTracker(init_score_thr=0.5, memo_momentum=0.8, match_metric="cosine")
    tr.match(*frame([(box(0, 0), 0.9, 1, e(0, 1.0))]), frame_id=0)
    new = e(0, 1.0) + e(1, 0.5)
    tr.match(*frame([(box(0, 0), 0.9, 1, new)]), frame_id=1)
    torch.testing.assert_close(tr.tracklets[0].embed, 0.2 * e(0, 1.0) + 0.8 * new)


def test_bad_input():
    tr = QuasiDenseEmbedTracker()
    with pytest.raises(TrackerInputError, match="boxes"):
        tr.match(torch.zeros(2, 5), torch.zeros(2), torch.zeros(2), torch.zeros(2, 4), 0)
    with pytest.raises(TrackerInputError, match="embeds"):
        tr.match(torch.zeros(2, 4), torch.zeros(2), torch.zeros(2), torch.zeros(3, 4), 0)
    with pytest.raises(TrackerInputError, match="match_metric"):
        QuasiDenseEmbedTracker(match_metric="l2")


def test_numpy_input():
    tr = QuasiDenseEmbedTracker(init_score_thr=0.5)
    out = tr.match(np.array([box(0, 0)], np.float32), np.array([0.9]), np.array([3]),
                   np.eye(1, 8, dtype=np.float32), 0)
    assert out.tracked()[1].tolist() == [0]


def test_tracked_frame_instances_for_mots():
    tr = QuasiDenseEmbedTracker(init_score_thr=0.7, obj_score_thr=0.3)
    b, s, l, emb = frame([(box(0, 0), 0.8, 1, e(0)), (box(50, 0), 0.9, 0, e(1)),
                          (box(100, 0), 0.5, 1, e(2))])
    masks = np.zeros((3, 20, 120), bool)
    masks[1, :5, 50:55] = True
    inst = tracked_frame_instances(tr.match(b, s, l, emb, 0), (20, 120), b, s, l, masks,
                                   category_ids=[7, 9])
    assert inst.track_ids.tolist() == [0, 1]  # by score; the 0.5 detection is not a track
    assert inst.labels.tolist() == [7, 9]
    assert inst.boxes.tolist() == [box(50, 0), box(0, 0)]
    assert inst.masks.shape == (2, 20, 120) and inst.masks[0].sum() == 25
    with pytest.raises(TrackerInputError, match="category ids"):
        tracked_frame_instances(tr.match(b, s, l, emb, 1), (20, 120), b, s, l, category_ids=[7])
