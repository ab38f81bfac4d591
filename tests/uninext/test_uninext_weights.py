"""Loading real (official-format) weights through the adapter: a tiny model's weights written
under the official names as a detectron2 checkpoint file are fetched, converted (and cached as
safetensors), loaded strictly without random initialisation, and give the same predictions as
the model they came from."""
from __future__ import annotations

import re

import numpy as np
import torch

from evalkit.adapters.uninext import build_adapter
from evalkit.types import Categories, Frames
from evalkit.zoo.uninext import build_uninext

from uninext_helpers import TINY, write_vocab

# ours → official (the inverse of the converter's rules, for writing a checkpoint)
_TO_OFFICIAL = [
    (r"text_encoder\.model\.(.*)", r"text_encoder.body.model.\1"),
    (r"template_backbone\.(.*)", r"detr.detr.ref_backbone.0.backbone.\1"),
    (r"backbone\.(.*)", r"detr.detr.backbone.0.backbone.\1"),
    (r"input_proj\.(.*)", r"detr.detr.input_proj.\1"),
    (r"enc_class_embed\.(.*)", r"detr.detr.class_embed.2.\1"),
    (r"enc_bbox_embed\.(.*)", r"detr.detr.bbox_embed.2.\1"),
    (r"(class_embed|bbox_embed|iou_head)\.(.*)", r"detr.detr.\1.\2"),
    (r"transformer\.encoder\.vl_fusion\.(\d+)\.(.*)", r"detr.detr.transformer.encoder.vl_layers.\1.b_attn.\2"),
    (r"transformer\.(.*)", r"detr.detr.transformer.\1"),
    (r"dynamic_mask_head\.controller\.(.*)", r"detr.controller.\1"),
    (r"mask_branch\.(.*)", r"detr.mask_head.\1"),
    (r"dn_label_encoder\.(.*)", r"detr.resizer.\1"),
    (r"reid_head\.embed\.(.*)", r"detr.reid_embed_head.1.\1"),
    (r"reid_head\.(.*)", r"detr.reid_embed_head.0.\1"),
    (r"prompt_adjust\.(.*)", r"detr.adjust_layer.\1"),
    (r"template_fuser\.(.*)", r"detr.sot_fuser.\1"),
]


def _official(sd):
    out = {}
    for k, v in sd.items():
        for pat, rep in _TO_OFFICIAL:
            if re.fullmatch(pat, k):
                out[re.sub(pat, rep, k)] = v.clone()
                break
        else:
            raise AssertionError(f"no official name for {k}")
    for k in [k for k in out if re.match(r"detr\.detr\.(class|bbox)_embed\.", k)]:
        out[k.replace("detr.detr.", "detr.detr.transformer.decoder.")] = out[k]  # aliases
    out["criterion._iter"] = torch.zeros(1)
    out["text_encoder.body.model.embeddings.position_ids"] = torch.arange(512)[None]
    return out


def test_official_checkpoint_file_loads_through_the_adapter(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    overrides = {**TINY, "template_size": 64}
    torch.manual_seed(1)
    src = build_uninext("r50", True, **overrides).eval()
    ckpt = tmp_path / "model_final.pth"
    torch.save({"model": _official(src.state_dict()), "iteration": 90000}, ckpt)
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
