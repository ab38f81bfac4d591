"""UNINEXT MOT / MOTS / VIS through the shared trackers, on hand-made network outputs: two
objects with distinct embeddings must keep their track ids across frames, with dataset
category ids, original-frame boxes and masks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.adapters.uninext import build_adapter
from evalkit.types import Categories, Frames, rle_to_mask

from uninext_helpers import TINY, write_vocab

H, W = 100, 150
PROMPT = Categories(("person", "car"), (7, 42))  # tokens: person = 1, car = 3


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    vocab = write_vocab(tmp_path_factory.mktemp("uninext_vocab_trk"))
    torch.manual_seed(0)
    return build_adapter(model_id="uninext-r50", random_weights=True, tokenizer=str(vocab),
                         overrides={**TINY, "template_size": 64}, input_size=(64, 128))


def _script(adapter, monkeypatch, swap_every_frame: bool):
    """Queries 0/1: a car on the left / a person on the right; every other frame the two
    objects come out of swapped queries, so only the embeddings can keep the ids."""
    calls = {"n": 0}

    def run(batch, prompt, prompt_mask, *, pooled, task):
        t = calls["n"]
        calls["n"] += 1
        q = [1, 0] if swap_every_frame and t % 2 else [0, 1]
        logits = torch.full((1, 5, 16), -10.0)
        logits[0, q[0], 3] = 4.0  # car
        logits[0, q[1], 1] = 3.0  # person
        boxes = torch.tensor([[0.25, 0.5, 0.3, 0.6]] * 5)
        boxes[q[1]] = torch.tensor([0.75, 0.5, 0.3, 0.6])
        boxes[2:, 0] = 0.1  # the three background queries
        emb = torch.zeros(1, 5, 64)
        emb[0, q[0], 0] = 5.0
        emb[0, q[1], 1] = 5.0
        emb[0, 2:, 2] = 5.0
        masks = torch.full((1, 5, 16, 24), -10.0)
        masks[0, q[0], :, :12] = 10.0  # left half
        masks[0, q[1], :, 12:] = 10.0  # right half
        return {"logits": logits, "boxes": boxes[None], "iou": None, "masks": masks, "embeddings": emb}

    monkeypatch.setattr(adapter, "run", run)
    monkeypatch.setattr(adapter.model, "decode_masks", lambda out, b, q: out["masks"][b][q])


def _frames(n):
    rng = np.random.default_rng(0)
    return Frames([rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(n)])


@pytest.mark.parametrize("task", ["mot", "mots"])
def test_mot_keeps_identities(adapter, monkeypatch, task):
    _script(adapter, monkeypatch, swap_every_frame=True)
    adapter.prepare(task)
    out = list(adapter.predict(_frames(4), PROMPT))
    first = dict(zip(out[0].labels.tolist(), out[0].track_ids.tolist()))
    assert set(first) == {7, 42} and len(set(first.values())) == 2
    for inst in out:
        assert dict(zip(inst.labels.tolist(), inst.track_ids.tolist())) == first
        car = inst.labels.tolist().index(42)
        np.testing.assert_allclose(inst.boxes[car], [15.0, 20.0, 60.0, 80.0], atol=1e-4)
        if task == "mots":
            m = rle_to_mask(inst.masks[car])
            assert m[:, :75].all() and not m[:, 75:].any()
        else:
            assert inst.masks is None


def test_vis_video_level_outputs(adapter, monkeypatch):
    _script(adapter, monkeypatch, swap_every_frame=True)
    adapter.prepare("vis")
    out = list(adapter.predict(_frames(4), PROMPT))
    assert len(out) == 4
    tracks = {}
    for inst in out:
        assert inst.image_size == (H, W)
        for tid, label, score in zip(inst.track_ids.tolist(), inst.labels.tolist(), inst.scores.tolist()):
            tracks.setdefault((tid, label), set()).add(round(score, 6))
    # one (track, category) per object, each with one video-level score on every frame
    assert sorted(label for _, label in tracks) == [7, 42]
    assert all(len(s) == 1 for s in tracks.values())
    car = [k for k in tracks if k[1] == 42][0]
    assert abs(next(iter(tracks[car])) - 1 / (1 + np.exp(-4.0))) < 1e-5
