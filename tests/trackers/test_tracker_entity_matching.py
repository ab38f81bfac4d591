"""UniVS bi-softmax matching of new predictions against memory entities."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.adapters.trackers import (
    EntityMatch,
    TrackerInputError,
    bisoftmax_entity_similarity,
    match_entities,
    newly_detected,
    update_entity_memory,
)


def onehot(k, scale=5.0, dim=6):
    v = torch.zeros(dim)
    v[k] = scale
    return v


def test_similarity_formula():
    g = torch.Generator().manual_seed(0)
    old, new = torch.randn(3, 2, 4, generator=g), torch.randn(4, 3, 4, generator=g)
    got = bisoftmax_entity_similarity(old, new).double().numpy()
    o, n = old.double().numpy(), new.double().numpy()
    ref = np.zeros((3, 4))
    for t in range(2):
        for f in range(3):
            s = o[:, t] @ n[:, f].T  # N x M
            e = np.exp(s)
            ref += (e / e.sum(1, keepdims=True) + e / e.sum(0, keepdims=True))
    ref /= 2 * 6
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_matching_permutation_and_new_entity():
    # memory: entities 0, 1, 2 (last 3 frames each); predictions: entity 2, something new, entity 0
    old = torch.stack([torch.stack([onehot(k)] * 4) for k in range(3)])  # 3 x 4 x 6
    new = torch.stack([torch.stack([onehot(k)] * 2) for k in (2, 5, 0)])  # 3 x 2 x 6
    m = match_entities(old, new, threshold=0.4)
    pairs = sorted(zip(m.old.tolist(), m.new.tolist()))
    assert pairs == [(0, 2), (2, 0)]  # entity 1 is absent, prediction 1 is new
    assert (m.similarity > 0.4).all()
    # bi-softmax of an orthogonal pair among 3 x 3 is uniform: 1/3 passes a 0.1 threshold
    m = match_entities(old, new, threshold=0.1)
    assert sorted(zip(m.old.tolist(), m.new.tolist())) == [(0, 2), (1, 1), (2, 0)]
    assert abs(float(m.similarity[m.old == 1][0]) - 1 / 3) < 1e-6
    assert match_entities(old[:0], new).old.numel() == 0


def test_only_last_three_memory_frames_count():
    # entity 0 looked like onehot(1) long ago, like onehot(0) in its last 3 frames
    old = torch.stack([torch.stack([onehot(1)] * 3 + [onehot(0)] * 3),
                       torch.stack([onehot(1)] * 6)])
    new = torch.stack([torch.stack([onehot(0)])])
    m = match_entities(old, new, threshold=0.1)
    assert m.old.tolist() == [0] and m.new.tolist() == [0]


def test_threshold_rejects_weak_matches():
    old = torch.stack([torch.stack([onehot(0, 0.01)])])
    new = torch.stack([torch.stack([onehot(1, 0.01)]), torch.stack([onehot(2, 0.01)])])
    # similarities: (softmax over 2 preds ~0.5 + softmax over 1 entity = 1) / 2 = 0.75
    assert match_entities(old, new, threshold=0.8).old.numel() == 0
    assert match_entities(old, new, threshold=0.5).old.numel() == 1


def test_update_entity_memory():
    match = EntityMatch(torch.tensor([1, 0]), torch.tensor([0, 1]), torch.tensor([0.9, 0.9]))
    old_logits = torch.tensor([[0.2, 0.4], [0.6, 0.0], [0.1, 0.1]])
    old_emb = torch.tensor([[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]])  # entity 1's last slot is blank
    new_logits = torch.tensor([[0.8, 0.2], [0.0, 0.0]])
    new_emb = torch.tensor([[[2.0, 0.0], [4.0, 0.0]], [[3.0, 3.0], [1.0, 1.0]]])
    logits, emb = update_entity_memory(match, old_logits, old_emb, new_logits, new_emb)
    torch.testing.assert_close(logits, torch.tensor([[0.1, 0.2], [0.7, 0.1], [0.1, 0.1]]))
    torch.testing.assert_close(emb, torch.tensor([[1.5, 1.5], [3.0, 0.0], [3.0, 3.0]]))
    assert old_logits[0, 0] == 0.2  # inputs untouched


def test_newly_detected_rules():
    f, h, w = 2, 8, 8
    mem = torch.zeros(1, f, h, w, dtype=torch.bool)
    mem[0, :, :4, :4] = True
    preds = torch.zeros(4, f, h, w, dtype=torch.bool)
    preds[0, :, :4, :4] = True  # duplicate of the memory entity (IoU 1)
    preds[1, :, 4:, 4:] = True  # new region, confident
    preds[2, :, 4:, :4] = True  # new region, low score
    preds[3, 1, :4, :3] = True  # overlaps the memory in frame 1 only (IoU 0.75)
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.1, 0.1], [0.9, 0.0]])
    assert newly_detected(scores, preds, mem, matched_new=[], score_thr=0.15) == [1]
    assert newly_detected(scores, preds, mem, matched_new=[1], score_thr=0.15) == []
    assert newly_detected(scores, preds, mem, matched_new=[], score_thr=0.05) == [1, 2]
    assert newly_detected(scores, preds, mem[:0], matched_new=[], score_thr=0.05) == []
    with pytest.raises(TrackerInputError, match="M x F x H x W"):
        newly_detected(scores, preds[:, 0], mem, matched_new=[], score_thr=0.1)
