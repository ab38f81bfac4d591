"""Loading weights the way a user does: a tiny checkpoint in the official layout (our tiny model's
weights renamed to the official keys, decoder aliases included) round-trips through the
converter, and the adapter factory loads it from a local file through the converted-weights
cache, then predicts with those weights."""
from __future__ import annotations

import numpy as np
import torch

from evalkit.types import Expression, Frames
from evalkit.zoo.uniref import build_uniref
from evalkit.zoo.uniref.convert import convert_uniref

from uniref_helpers import TINY, frame, write_vocab

#: our prefix → official prefix (the inverse of the converter's table, for building test data)
_OFFICIAL = [("backbone.", "detr.detr.backbone.0.backbone."), ("input_proj.", "detr.detr.input_proj."),
             ("query_embed.", "detr.detr.query_embed."), ("transformer.", "detr.detr.transformer."),
             ("class_embed.", "detr.detr.class_embed."), ("bbox_embed.", "detr.detr.bbox_embed."),
             ("dynamic_mask_head.controller.", "detr.controller."), ("mask_branch.", "detr.mask_head."),
             ("mask_fpn.", "detr."), ("fusion.", "detr.fusion_module."),
             ("text_encoder.model.", "text_encoder."), ("text_projection.", "resizer."),
             ("mask_encoder.", "value_encoder.")]


def to_official(ours: dict, dec_layers: int) -> dict:
    out = {}
    for k, v in ours.items():
        if k.startswith(("enc_class_embed.", "enc_bbox_embed.")):
            head, rest = k[len("enc_"):].split(".", 1)
            k = f"{head}.{dec_layers}.{rest}"
        new = next(o + k[len(p):] for p, o in _OFFICIAL if k.startswith(p))
        out[new] = v
        if new.startswith(("detr.detr.class_embed.", "detr.detr.bbox_embed.")):
            out["detr.detr.transformer.decoder." + new[len("detr.detr."):]] = v
    out["criterion._iter"] = torch.zeros(1)
    return out


def test_tiny_official_checkpoint_round_trip_and_adapter_loading(tmp_path, monkeypatch):
    torch.manual_seed(3)
    model = build_uniref("r50", **TINY)
    ours = model.state_dict()
    official = to_official(ours, TINY["dec_layers"])
    with torch.device("meta"):
        expected = build_uniref("r50", **TINY)
    back, rep = convert_uniref({"model": official}, expected)
    assert rep.ok and set(back) == set(ours)
    assert all(torch.equal(back[k], ours[k]) for k in ours)

    path = tmp_path / "video-joint_r50.pth"
    torch.save({"model": official, "iteration": 1}, path)
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    from evalkit.adapters.uniref import build_adapter

    adapter = build_adapter(model_id="uniref-pp-r50", weights=str(path), overrides=TINY,
                            tokenizer=str(write_vocab(tmp_path / "vocab")), input_size=(64, 96))
    loaded = adapter.model.state_dict()
    assert all(torch.equal(loaded[k], ours[k]) for k in ours)
    assert adapter.weights_sha256 and len(adapter.weights_sha256) == 64
    assert list((tmp_path / "cache" / "converted" / "uniref-pp-r50").glob("*.safetensors"))
    adapter.prepare("res")
    (inst,) = adapter.predict(Frames([frame(0)]), Expression("a dog"))
    # the same weights put into a random-weight adapter give the same prediction
    other = build_adapter(model_id="uniref-pp-r50", random_weights=True, overrides=TINY,
                          tokenizer=str(tmp_path / "vocab" / "vocab.txt"), input_size=(64, 96))
    other.model.load_state_dict(ours)
    other.prepare("res")
    (ref,) = other.predict(Frames([frame(0)]), Expression("a dog"))
    np.testing.assert_allclose(inst.scores, ref.scores, rtol=1e-5)
    np.testing.assert_allclose(inst.boxes, ref.boxes, rtol=1e-5, atol=1e-4)
    assert inst.masks == ref.masks
