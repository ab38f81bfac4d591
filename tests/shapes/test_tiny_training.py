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


def test_uniref_short_training_is_reproducible(tmp_path):
    from safetensors.torch import load_file

    from evalkit.train.uniref_loop import build_tiny_uniref, train_uniref

    torch.set_num_threads(1)
    outs = []
    for k in range(2):
        out = tmp_path / f"u{k}.safetensors"
        train_uniref(1, out, seed=3, sizes_of={"res": 1, "vos": 1}, log=lambda line: None)
        outs.append(load_file(str(out)))
    assert outs[0].keys() == outs[1].keys()
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])
    init = build_tiny_uniref(3).state_dict()
    # both reference kinds were trained: the text side and the mask-reference encoder moved
    for prefix in ("text_projection", "mask_encoder", "class_embed"):
        assert any(not torch.equal(init[k], outs[0][k]) for k in outs[0] if k.startswith(prefix)), prefix


def test_training_hands_the_tokenizer_to_tokenize(tmp_path, monkeypatch):
    """The training loops pass the suite's tokenizer to ``tokenize(..., tokenizer=)`` and to the
    caption's token map: the text encoder's own tokenizer is never read nor written (it would
    load ``bert-base-uncased`` by name)."""
    from evalkit.train.loop import build_tiny, train
    from evalkit.train.uniref_loop import build_tiny_uniref, train_uniref
    from evalkit.zoo.text.bert import BertTextEncoder

    def refuse(self):
        raise AssertionError("the encoder's own tokenizer was read")

    monkeypatch.setattr(BertTextEncoder, "tokenizer", property(refuse))
    torch.set_num_threads(1)
    assert build_tiny(0).text_encoder._tokenizer is None
    assert build_tiny_uniref(0).text_encoder._tokenizer is None
    train(1, tmp_path / "n.safetensors", seed=0, batch=1, tasks=("det", "rec"), log_every=100)
    train_uniref(1, tmp_path / "u.safetensors", seed=0, sizes_of={"res": 1, "vos": 1}, log=lambda line: None)
    assert (tmp_path / "n.safetensors").is_file() and (tmp_path / "u.safetensors").is_file()


def test_task_batch_spec():
    from evalkit.train.loop import task_batches

    assert task_batches(4) == {"det": 4, "rec": 4, "ref": 2, "vis": 2}
    assert task_batches(4, "ref=8, rec=6") == {"det": 4, "rec": 6, "ref": 8, "vis": 2}
    for bad in ("ref=0", "foo=2", "ref", "ref=x"):
        with pytest.raises(ValueError, match="task=N"):
            task_batches(4, bad)


def test_reference_triplets_follow_the_tracker():
    """Annotation-prompt batches pair the first-frame template with the previous frame's (or
    the first one's when the object is hidden there), and the search frame comes later."""
    from evalkit.train.data import TrainData

    data = TrainData(0)
    first, prev, search, tg = data.references(6)
    assert len(first) == len(prev) == len(search) == len(tg) == 6
    for (f0, m0), (fp, mp), s, t in zip(first, prev, search, tg):
        assert f0.shape == fp.shape == s.shape == (128, 128, 3)
        assert m0.any() and mp.any() and len(t.boxes) == 1


def test_fresh_expressions_single_out_their_target():
    """Fresh expressions name the target's category and come with one target box."""
    from evalkit.benchmarks.shapes.scenes import CATEGORIES
    from evalkit.train.data import TrainData

    data = TrainData(1, fresh_expressions=True)
    imgs, texts, tg = data.expressions(12)
    names = {c["name"] for c in CATEGORIES}
    assert len(imgs) == len(texts) == len(tg) == 12
    for text, t in zip(texts, tg):
        assert text.startswith("the ") and " ".join(text.split()[1:3]) in names, text
        assert len(t.boxes) == 1
    assert len(set(texts)) > 3  # drawn afresh, not one fixed expression


def test_recipe_specs_resolve_and_fail_clearly(tmp_path):
    """``<recipe>@N`` trains that recipe's first N steps once (then reuses the file); unknown
    specs name the recipes."""
    from evalkit.train.loop import RECIPES, TrainingConfigError, resolve_weights
    from evalkit.zoo.tiny import weights_file

    torch.set_num_threads(1)
    assert resolve_weights("uninext-tiny", 0, tmp_path, "--init") == weights_file("uninext-tiny")
    assert resolve_weights(None, 0, tmp_path, "--init") is None
    for bad in ("nope@3", "uninext-tiny@0", "uninext-tiny@x", str(tmp_path / "missing.safetensors")):
        with pytest.raises(TrainingConfigError, match="--init"):
            resolve_weights(bad, 0, tmp_path, "--init")
    assert "uniref-pp-tiny-stage1" in RECIPES and RECIPES["uniref-pp-tiny"]["model"] == "uniref-pp-tiny"
    # an intermediate already trained is reused, not trained again (no training happens here)
    done = tmp_path / "uniref-pp-tiny-stage1-step7.safetensors"
    done.write_bytes(b"x")
    assert resolve_weights("uniref-pp-tiny-stage1@7", 0, tmp_path, "--init") == done


def test_uniref_starts_from_the_uninext_backbone(tmp_path):
    from evalkit.train.loop import build_tiny
    from evalkit.train.uniref_loop import build_tiny_uniref, load_pretrained
    from safetensors.torch import save_file

    src = build_tiny(5).state_dict()
    path = tmp_path / "n.safetensors"
    save_file({k: v.contiguous() for k, v in src.items()}, str(path))
    model = build_tiny_uniref(0)
    n = load_pretrained(model, path)
    state = model.state_dict()
    assert n > 100
    assert all(torch.equal(state[k], src[k]) for k in state if k.startswith(("backbone.", "text_encoder.model.embeddings")))
    bad = dict(src)
    bad.pop("backbone.stem.conv1.weight")
    save_file({k: v.contiguous() for k, v in bad.items()}, str(path))
    with pytest.raises(ValueError, match="backbone.stem.conv1.weight"):
        load_pretrained(build_tiny_uniref(0), path)
