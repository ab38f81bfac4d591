"""Loading real (official-format) weights through the adapter: a tiny model's weights written
under the official names as a detectron2 checkpoint file are fetched, converted (and cached as
safetensors), loaded strictly without random initialisation, and give the same predictions as
the model they came from."""
from __future__ import annotations

import numpy as np
import torch

from evalkit.adapters.uninext import build_adapter
from evalkit.types import Categories, Frames
from evalkit.zoo.uninext import build_uninext

from uninext_helpers import TINY, official_names, write_vocab

def test_official_checkpoint_file_loads_through_the_adapter(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    overrides = {**TINY, "template_size": 64}
    torch.manual_seed(1)
    src = build_uninext("r50", True, **overrides).eval()
    ckpt = tmp_path / "model_final.pth"
    torch.save({"model": official_names(src.state_dict(), dec_layers=TINY["dec_layers"]), "iteration": 90000}, ckpt)
    vocab = write_vocab(tmp_path / "vocab")
    opts = dict(tokenizer=str(vocab), overrides=overrides, input_size=(64, 128))
    adapter = build_adapter(model_id="uninext-r50", weights=str(ckpt), **opts)
    assert len(list((tmp_path / "cache" / "converted").rglob("*.safetensors"))) == 1
    for k, v in src.state_dict().items():
        assert torch.equal(adapter.model.state_dict()[k], v), k
    assert adapter.weights_sha256 and len(adapter.weights_sha256) == 64
    reference = build_adapter(model_id="uninext-r50", random_weights=True, **opts)
    reference.model.load_state_dict(src.state_dict())
    frames = Frames([np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)])
    prompt = Categories(("person", "car"), (1, 3))
    a = next(iter(adapter.predict(frames, prompt)))
    b = next(iter(reference.predict(frames, prompt)))
    assert a.to_json() == b.to_json()
    again = build_adapter(model_id="uninext-r50", weights=str(ckpt), **opts)  # converted-cache hit
    assert torch.equal(again.model.class_embed[0].bias0, src.class_embed[0].bias0)
