"""Training of the tiny UNINEXT: losses and assignment behave, and a short run is bitwise
reproducible on CPU."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.train.losses import contrastive_embed, dice, hungarian_match, sigmoid_focal


def test_hungarian_prefers_the_right_query():
    boxes = torch.tensor([[0.2, 0.2, 0.1, 0.1], [0.7, 0.7, 0.2, 0.2], [0.5, 0.5, 0.3, 0.3]])
    gt = torch.tensor([[0.7, 0.7, 0.2, 0.2], [0.21, 0.2, 0.1, 0.1]])
    prob = torch.full((3, 2), 0.5)
    q, g = hungarian_match(prob, boxes, gt)
    assert dict(zip(g.tolist(), q.tolist())) == {0: 1, 1: 0}
    q, g = hungarian_match(prob, boxes, gt[:0])
    assert len(q) == len(g) == 0


def test_losses_vanish_on_perfect_predictions():
    t = torch.tensor([[1.0, 0.0, 1.0]])
    assert sigmoid_focal(torch.tensor([[20.0, -20.0, 20.0]]), t).sum() < 1e-6
    assert sigmoid_focal(torch.tensor([[-20.0, 20.0, -20.0]]), t).sum() > 1
    assert dice(torch.tensor([[30.0, -30.0, 30.0]]), t)[0] < 1e-6
    key = torch.nn.functional.normalize(torch.eye(3), dim=1) * 10
    ids = torch.tensor([0, 1, 2])
    assert contrastive_embed(key, key, ids, ids) < 1e-3
    assert contrastive_embed(key, key.flip(0), ids, ids) > 5


def test_short_training_is_reproducible(tmp_path):
    from safetensors.torch import load_file

    from evalkit.train.loop import train

    torch.set_num_threads(1)
    outs = []
    for k in range(2):
        out = tmp_path / f"w{k}.safetensors"
        train(1, out, seed=3, batch=1, tasks=("rec",), log_every=100)
        outs.append(load_file(str(out)))
    assert outs[0].keys() == outs[1].keys()
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])
    # and it changed the weights
    from evalkit.train.loop import build_tiny

    init = build_tiny(3).state_dict()
    assert any(not torch.equal(init[k], outs[0][k]) for k in outs[0] if k.startswith("class_embed"))
