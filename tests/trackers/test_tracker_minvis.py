"""MinVIS frame-to-frame Hungarian matching and GLEE's video-level selection."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from evalkit.adapters.trackers import (
    MinVISMatcher,
    TrackerInputError,
    align_video,
    clip_windows,
    match_from_embeds,
    tao_frame_filter,
    tao_video_topk,
    video_topk,
)


def test_clip_windows():
    assert clip_windows(23, 10) == [(0, 10), (10, 20), (20, 23)]
    assert clip_windows(10, 10) == [(0, 10)]
    assert clip_windows(0) == []
    with pytest.raises(TrackerInputError):
        clip_windows(5, 0)


def test_match_recovers_permutations():
    g = torch.Generator().manual_seed(0)
    tgt = torch.randn(6, 16, generator=g)
    for perm in (torch.randperm(6, generator=g) for _ in range(5)):
        cur = tgt[perm] * 3.0 + 0.01 * torch.randn(6, 16, generator=g)  # scale-free: cosine
        got = match_from_embeds(tgt, cur)
        # cur[got[i]] is tgt[i]
        assert torch.equal(perm[torch.from_numpy(got)], torch.arange(6))


def test_match_is_optimal_on_cosine_cost():
    g = torch.Generator().manual_seed(1)
    tgt, cur = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    got = match_from_embeds(tgt, cur)
    t = tgt / tgt.norm(dim=1, keepdim=True)
    c = cur / cur.norm(dim=1, keepdim=True)
    cost = (1 - t @ c.T).double()
    best = min(itertools.permutations(range(5)),
               key=lambda p: float(sum(cost[i, p[i]] for i in range(5))))
    assert tuple(got.tolist()) == best


def test_match_rejects_fewer_current_queries():
    with pytest.raises(TrackerInputError, match="cannot cover"):
        match_from_embeds(torch.randn(3, 4), torch.randn(2, 4))
    with pytest.raises(TrackerInputError):
        match_from_embeds(torch.randn(3, 4), torch.randn(3, 5))


def test_streaming_matcher_uses_mean_of_last_three_aligned():
    g = torch.Generator().manual_seed(2)
    objs = torch.randn(4, 8, generator=g)
    frames, perms = [], []
    for t in range(7):
        p = torch.randperm(4, generator=g)
        frames.append(objs[p] + 0.05 * torch.randn(4, 8, generator=g))
        perms.append(p)
    m = MinVISMatcher()
    for t, f in enumerate(frames):
        got = torch.from_numpy(m.step(f))
        # aligned query q of frame t is object perms[0][q] of frame 0 in every frame
        assert torch.equal(perms[t][got], perms[0])
    assert len(m.aligned) == 3
    torch.testing.assert_close(m.aligned[-1], frames[-1][torch.from_numpy(m.step(frames[-1]))])
    whole = align_video(torch.stack(frames))
    assert whole.shape == (7, 4) and (whole[0] == np.arange(4)).all()


def test_reference_is_mean_of_last_three_aligned_frames():
    g = torch.Generator().manual_seed(3)
    # unrelated frames: the matching is decided by the reference alone
    frames = torch.randn(12, 5, 6, generator=g)
    got = align_video(frames)
    aligned = [frames[0]]
    for t in range(1, 12):
        ref = torch.stack(aligned[-3:]).mean(0)
        perm = match_from_embeds(ref, frames[t])
        assert got[t].tolist() == perm.tolist()
        aligned.append(frames[t][torch.from_numpy(perm)])
    assert (align_video(frames, history=1) != got).any()  # the history matters on this input


def test_video_topk_and_tao_topk():
    logits = torch.tensor([[2.0, -1.0, 0.0], [1.0, 3.0, -2.0]])
    s, lab, q = video_topk(logits, k=3)
    assert lab.tolist() == [1, 0, 0] and q.tolist() == [1, 0, 1]
    torch.testing.assert_close(s, torch.sigmoid(torch.tensor([3.0, 2.0, 1.0])))
    assert len(video_topk(logits, k=100)[0]) == 6
    s, lab, q = tao_video_topk(logits, k=5)
    assert q.tolist() == [1, 0] and lab.tolist() == [1, 0]


def test_tao_frame_filter_area_and_quirky_nms():
    masks = torch.zeros(3, 20, 20, dtype=torch.bool)
    masks[0, :3, :3] = True  # area 9
    masks[1, :2, :2] = True  # area 4 <= 5: dropped
    masks[2, 5:8, 5:8] = True
    # boxes 0 and 2 do not overlap as xyxy, but do as GLEE's (x0, y0, w, h)->cxcywh reading:
    # box 0 -> (-5, -5, 5, 5), box 2 -> (-1, -1, 5, 5): IoU 36/100 > 0.3
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0, 0, 1, 1], [2.0, 2.0, 8.0, 8.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert tao_frame_filter(boxes, masks, scores, nms_thr=0.3).tolist() == [0]
    assert tao_frame_filter(boxes, masks, scores, nms_thr=0.5).tolist() == [0, 2]
