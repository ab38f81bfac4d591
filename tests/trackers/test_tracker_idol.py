"""IDOLTracker, IDOL's video-level post-processing and the mask resizing helper."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from evalkit.adapters.trackers import (
    IDOLTracker,
    IDOLVideoAccumulator,
    TrackerInputError,
    idol_mask_iou,
    idol_mask_nms,
    resize_mask_logits,
    upsample_crop_resize,
    video_instances_to_frames,
)

H = W = 16


def e(k, scale=10.0, dim=8):
    v = torch.zeros(dim)
    v[k] = scale
    return v


def mask(x0, y0, x1, y1):
    """Mask logits: +10 inside the rectangle, -10 outside."""
    m = torch.full((H, W), -10.0)
    m[y0:y1, x0:x1] = 10.0
    return m


def frame(dets):
    """dets: list of (score, label, mask logits, embed)."""
    n = len(dets)
    return dict(
        boxes=torch.zeros(n, 4),
        scores=torch.tensor([d[0] for d in dets]),
        labels=torch.tensor([d[1] for d in dets], dtype=torch.int64),
        masks=torch.stack([d[2] for d in dets]) if dets else torch.zeros(0, H, W),
        embeds=torch.stack([d[3] for d in dets]) if dets else torch.zeros(0, 8),
    )


def ids_by_input(out, n):
    res = [None] * n
    for i, t in zip(out.indices.tolist(), out.ids.tolist()):
        res[i] = t
    return res


A, B, C = mask(0, 0, 4, 4), mask(8, 8, 12, 12), mask(0, 10, 4, 14)


def test_births_thresholds_first_and_later_frames():
    tr = IDOLTracker(init_score_thr=0.3, addnew_score_thr=0.6)
    out = tr.match(**frame([(0.5, 1, A, e(0)), (0.25, 1, B, e(1))]), frame_id=0)
    assert ids_by_input(out, 2) == [0, -1]  # 0.25 < init_score_thr; no overlap: -1
    out = tr.match(**frame([(0.9, 1, A, e(0)), (0.5, 1, B, e(1)), (0.7, 1, C, e(2))]), frame_id=1)
    # A continues; B (0.5) is not born (< addnew 0.6), C (0.7) is
    assert ids_by_input(out, 3) == [0, -1, 1]


def test_mask_nms_pre_in_input_order():
    keep = idol_mask_nms(torch.stack([A, A.clone(), B]), 0.5)
    assert keep.tolist() == [True, False, True]
    tr = IDOLTracker()
    out = tr.match(**frame([(0.5, 1, A, e(0)), (0.9, 1, A, e(1))]), frame_id=0)
    assert out.indices.tolist() == [0]  # input order, not score order, decides
    # IDOL's IoU: two empty masks overlap fully
    empty = torch.zeros(1, 4, 4, dtype=torch.bool)
    assert float(idol_mask_iou(empty, empty)) == 1.0


def test_nms_post_marks_overlapping_leftovers():
    tr = IDOLTracker(init_score_thr=0.5, nms_thr_post=0.05, nms_thr_pre=0.5)
    big, part, far = mask(0, 0, 8, 8), mask(0, 0, 8, 3), mask(12, 12, 16, 16)
    # part overlaps big with IoU 24/64 = 0.375: survives the pre-NMS (0.5), not born (0.3),
    # and overlaps an earlier detection >= nms_thr_post -> -2; far -> -1
    dets = [(0.9, 1, big, e(0)), (0.3, 1, part, e(1)), (0.3, 1, far, e(2))]
    out = tr.match(**frame(dets), frame_id=0)
    assert ids_by_input(out, 3) == [0, -2, -1]


def test_deaths_and_reid_after_gap():
    for gap_end, reid in ((10, True), (11, False)):
        tr = IDOLTracker(memo_tracklet_frames=10)
        tr.match(**frame([(0.9, 1, A, e(0)), (0.9, 1, B, e(1))]), frame_id=0)
        for f in range(1, gap_end):
            out = tr.match(**frame([(0.9, 1, B, e(1))]), frame_id=f)
            assert out.ids.tolist() == [1]
        out = tr.match(**frame([(0.9, 1, A, e(0)), (0.8, 1, B, e(1))]), frame_id=gap_end)
        assert ids_by_input(out, 2) == ([0, 1] if reid else [2, 1])


def test_no_detection_leaves_memory_untouched():
    tr = IDOLTracker(memo_tracklet_frames=2)
    tr.match(**frame([(0.9, 1, A, e(0))]), frame_id=0)
    out = tr.match(**frame([]), frame_id=5)
    assert len(out.ids) == 0 and 0 in tr.tracklets


def test_long_match_memory_embedding():
    tr = IDOLTracker(memory_len=3, match_metric="cosine")
    embs = [e(0, 1.0), e(0, 1.0) + e(1, 0.2), e(0, 1.0) + e(1, 0.4), e(0, 1.0) + e(1, 0.6)]
    scores = [0.9, 0.5, 0.7, 0.8]
    for f, (v, s) in enumerate(zip(embs, scores)):
        out = tr.match(**frame([(s, 1, A, v)]), frame_id=f)
        assert out.ids.tolist() == [0]
    t = tr.tracklets[0]
    assert len(t.long_embeds) == 3 and t.exist_frames == 4
    w = torch.tensor(scores[1:]) + torch.tensor([1 / 3, 2 / 3, 1.0])
    expected = (torch.stack(embs[1:]) * w[:, None]).sum(0) / w.sum()
    torch.testing.assert_close(tr._memory_embed(t), expected)
    tr.temporal_weight = False
    w = torch.tensor(scores[1:])
    expected = (torch.stack(embs[1:]) * w[:, None]).sum(0) / w.sum()
    torch.testing.assert_close(tr._memory_embed(t), expected)
    tr.long_match = False
    mom = embs[0]
    for v in embs[1:]:
        mom = 0.2 * mom + 0.8 * v
    torch.testing.assert_close(tr._memory_embed(t), mom)


@pytest.mark.parametrize("frame_weight, expected", [(False, 0), (True, 1)])
def test_frame_weight_prefers_long_lived_tracks(frame_weight, expected):
    tr = IDOLTracker(frame_weight=frame_weight)
    tr.match(**frame([(0.9, 1, A, e(0, 3.0)), (0.9, 1, B, e(1, 3.0))]), frame_id=0)
    for f in (1, 2, 3):
        tr.match(**frame([(0.9, 1, B, e(1, 3.0))]), frame_id=f)
    # one detection close to both tracks, slightly closer to track 0 (seen once; track 1: 4 times)
    probe = e(0, 1.02) + e(1, 1.0)
    out = tr.match(**frame([(0.9, 1, C, probe)]), frame_id=4)
    assert out.ids.tolist() == [expected]


def test_class_agnostic_matching():
    tr = IDOLTracker()
    tr.match(**frame([(0.9, 1, A, e(0))]), frame_id=0)
    out = tr.match(**frame([(0.9, 2, A, e(0))]), frame_id=1)
    assert out.ids.tolist() == [0]  # IDOL ignores labels when matching
    assert tr.tracklets[0].label == 2


def test_bad_masks():
    with pytest.raises(TrackerInputError, match="masks"):
        IDOLTracker().match(torch.zeros(1, 4), torch.ones(1), torch.ones(1), torch.zeros(2, 4, 4),
                            torch.zeros(1, 8), 0)


# ------------------------------------------------------------------------------------------
# video-level post-processing
# ------------------------------------------------------------------------------------------
def cls(*v):
    return torch.tensor(v, dtype=torch.float32)


def test_accumulator_padding_and_short_tracklet_rule():
    acc = IDOLVideoAccumulator()
    for t in range(12):
        ids, scores, masks = [0], [cls(0.9, 0.0)], [f"m0_{t}"]
        if t < 2:  # id 1: two valid frames at the start -> dropped at frame 9
            ids.append(1), scores.append(cls(0.5, 0.5)), masks.append("m1")
        if t in (0, 1, 2):  # id 2: three valid frames -> kept
            ids.append(2), scores.append(cls(0.2, 0.6)), masks.append("m2")
        if t == 3:  # id 3: born at frame 3; padded with three leading None
            ids.append(3), scores.append(cls(0.3, 0.3)), masks.append("m3")
        acc.add_frame(ids, torch.stack(scores), masks)
        if t == 8:
            assert set(acc.tracks) == {0, 1, 2, 3}  # nothing is dropped up to frame 8
        if t == 9:
            assert set(acc.tracks) == {0, 2}
    assert acc.tracks[0]["masks"] == [f"m0_{t}" for t in range(12)]
    assert acc.tracks[2]["masks"] == ["m2"] * 3 + [None] * 9


def test_accumulator_born_late_is_padded():
    acc = IDOLVideoAccumulator()
    acc.add_frame([0], cls(0.9)[None], ["a"])
    acc.add_frame([0, 5], torch.stack([cls(0.9), cls(0.4)]), ["a", "b"])
    acc.add_frame([], torch.zeros(0, 1), [])
    assert acc.tracks[5]["masks"] == [None, "b", None]
    assert acc.tracks[0]["masks"] == ["a", "a", None]


def test_finalize_mean_and_multi_class():
    acc = IDOLVideoAccumulator()
    acc.add_frame([7, 3], torch.stack([cls(0.9, 0.06, 0.0), cls(0.1, 0.2, 0.3)]), ["x", "y"])
    acc.add_frame([7], torch.stack([cls(0.7, 0.02, 0.0)]), ["x2"])
    out = acc.finalize(apply_cls_thres=0.05)
    # id 7: mean over its 2 valid frames (0.8, 0.04, 0); id 3: its single frame
    got = [(v.track_id, v.label, round(v.score, 6)) for v in out]
    assert got == [(7, 0, 0.8), (3, 0, 0.1), (3, 1, 0.2), (3, 2, 0.3)]
    assert out[0].masks == ["x", "x2"] and out[1].masks == ["y", None]
    single = acc.finalize(multi_cls=False)
    assert [(v.track_id, v.label) for v in single] == [(7, 0), (3, 2)]
    mx = acc.finalize(multi_cls=False, temporal_score_type="max")
    assert round(mx[0].score, 6) == 0.9
    assert IDOLVideoAccumulator().finalize() == []


def test_accumulator_rejects_bad_frames():
    acc = IDOLVideoAccumulator()
    with pytest.raises(TrackerInputError):
        acc.add_frame([1, 1], torch.zeros(2, 3), ["a", "b"])
    with pytest.raises(TrackerInputError):
        acc.add_frame([1], torch.zeros(2, 3), ["a"])


# ------------------------------------------------------------------------------------------
# mask resizing
# ------------------------------------------------------------------------------------------
def test_upsample_crop_resize_steps():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 8, generator=g) * 3
    input_size, out_size = (20, 30), (41, 61)  # padded input 24 x 32
    got = upsample_crop_resize(logits, input_size, out_size)
    up = F.interpolate(logits[:, None], size=(24, 32), mode="bilinear", align_corners=False)
    up = up.sigmoid()
    ref = F.interpolate(up[:, :, :20, :30], size=out_size, mode="nearest")[:, 0] > 0.5
    assert got.dtype == torch.bool and got.shape == (2, 41, 61)
    assert torch.equal(got, ref)
    prob = upsample_crop_resize(logits, input_size, out_size, resize_mode="bilinear",
                                threshold=None)
    assert prob.dtype == torch.float32 and 0 <= float(prob.min()) and float(prob.max()) <= 1


def test_upsample_crop_resize_removes_padding():
    logits = torch.full((1, 4, 4), -10.0)
    logits[0, 2:, 2:] = 10.0  # object only in the padded half
    got = upsample_crop_resize(np.asarray(logits), (8, 8), (5, 5))
    assert not got.any()
    with pytest.raises(TrackerInputError, match="exceeds"):
        upsample_crop_resize(logits, (20, 8), (5, 5))
    assert upsample_crop_resize(torch.zeros(0, 4, 4), (8, 8), (5, 7)).shape == (0, 5, 7)


def test_video_instances_to_frames():
    acc = IDOLVideoAccumulator()
    m1 = np.zeros((4, 5), bool)
    m1[0, 0] = True
    acc.add_frame([3], cls(0.9, 0.2)[None], [m1], [np.array([0, 0, 1, 1])])
    acc.add_frame([3, 4], torch.stack([cls(0.7, 0.0), cls(0.0, 0.6)]), [m1, ~m1], [None, None])
    frames = video_instances_to_frames(acc.finalize(), 2, (4, 5), category_ids=[10, 20])
    # (track 3, class 0), (track 3, class 1), (track 4, class 1) -> track ids 0, 1, 2
    assert frames[0].track_ids.tolist() == [0, 1] and frames[0].labels.tolist() == [10, 20]
    assert frames[0].boxes.tolist() == [[0, 0, 1, 1]] * 2
    assert frames[1].track_ids.tolist() == [0, 1, 2] and frames[1].boxes is None
    np.testing.assert_allclose(frames[1].scores, [0.8, 0.1, 0.6], rtol=1e-6)
    assert frames[1].masks.shape == (3, 4, 5) and frames[1].masks[2].sum() == 19
    with pytest.raises(TrackerInputError, match="category ids"):
        video_instances_to_frames(acc.finalize(), 2, (4, 5), category_ids=[10])


def test_idol_pipeline_on_a_synthetic_video():
    """Two objects crossing over 12 frames, one spurious blip: tracker + masks + video output."""
    g = torch.Generator().manual_seed(0)
    emb = {0: e(0, 4.0), 1: e(1, 4.0)}
    tr, acc = IDOLTracker(), IDOLVideoAccumulator()
    for t in range(12):
        dets = []
        for k in (0, 1):
            x = 1 + t if k == 0 else 12 - t
            noisy = emb[k] + 0.2 * torch.randn(8, generator=g)
            dets.append((0.8 - 0.1 * k, k, mask(x, 2 + 6 * k, x + 3, 5 + 6 * k), noisy))
        if t == 4:  # a one-frame false positive, far from both
            dets.append((0.3, 1, mask(0, 13, 2, 16), e(5, 4.0)))
        f = frame(dets)
        out = tr.match(**f, frame_id=t)
        idx, ids = out.tracked()
        cls_scores = F.one_hot(f["labels"][idx], 2).float() * f["scores"][idx, None]
        masks = upsample_crop_resize(f["masks"][idx], (H * 4 - 4, W * 4), (30, 32))
        acc.add_frame(ids, cls_scores, list(masks.numpy()))
    out = acc.finalize()
    assert [(v.track_id, v.label) for v in out] == [(0, 0), (1, 1)]  # the blip (id 2) was dropped
    assert all(all(m is not None for m in v.masks) for v in out)
    assert out[0].score == pytest.approx(0.8) and out[1].score == pytest.approx(0.7)


def test_resize_mask_logits_glee_path():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 2, 5, 7, generator=g)  # Q x T x h x w
    got = resize_mask_logits(logits, (20, 28), (18, 25), (37, 50))
    x = F.interpolate(logits, size=(20, 28), mode="bilinear", align_corners=False)[:, :, :18, :25]
    ref = F.interpolate(x, size=(37, 50), mode="bilinear", align_corners=False) > 0
    assert got.shape == (3, 2, 37, 50) and torch.equal(got, ref)
    raw = resize_mask_logits(logits[0], (20, 28), (18, 25), (37, 50), threshold=None)
    assert raw.dtype == torch.float32 and raw.shape == (2, 37, 50)
    with pytest.raises(TrackerInputError, match="exceeds"):
        resize_mask_logits(logits, (20, 28), (21, 25), (37, 50))
