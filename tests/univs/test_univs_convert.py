"""Converter: synthetic official state dicts from the manifests → convert → strict load → forward."""
from __future__ import annotations

import functools

import pytest
import torch

from evalkit.errors import WeightsError
from evalkit.zoo.convert_utils import load_strict
from evalkit.zoo.univs.convert import convert_text_encoder, convert_univs
from evalkit.zoo.univs.model import build_univs

from manifest_helpers import manifest_rows


@functools.lru_cache(maxsize=None)
def _manifest(name: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    sd = {}
    for key, shape, dtype in manifest_rows(name):
        sd[key] = torch.randn(shape, generator=g, dtype=getattr(torch, dtype)) * 0.02
        if key.endswith("running_var"):  # a variance must be positive for a finite forward
            sd[key] = sd[key].abs() + 1.0
    return sd


def test_r50_stage3_converts_loads_strictly_and_runs():
    sd = _manifest("univs_r50_stage3.tsv")
    model = build_univs("r50")
    ours, report = convert_univs(sd, model)
    assert report.ok and not report.dropped and len(report.mapped) == len(sd) == 626
    load_strict(model, ours)
    assert torch.equal(model.mask_decoder.classifier.cls_temp,
                       sd["sem_seg_head.predictor.cls_temp.weight"].reshape(()))
    proca = "sem_seg_head.predictor.transformer_prompt_self_attention_layers.3.multihead_attn.in_proj_weight"
    assert torch.equal(model.mask_decoder.layers[3].prompt_cross_attn.attn.in_proj_weight, sd[proca])
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64), class_embeddings=torch.randn(3, 640))
    assert out["pred_masks"].shape == (203, 2, 16, 16)
    assert out["pred_logits"].shape == (203, 3)
    assert torch.isfinite(out["pred_masks"]).all()


def test_ema_teacher_keys_are_dropped_with_reason_and_unknown_keys_fail():
    sd = _manifest("univs_r50_stage3.tsv")
    with torch.device("meta"):
        meta = build_univs("r50")
    extra = dict(sd)
    extra["sem_seg_head_t.predictor.query_feat.weight"] = sd["sem_seg_head.predictor.query_feat.weight"]
    _, report = convert_univs(extra, meta)
    assert "EMA" in report.dropped["sem_seg_head_t.predictor.query_feat.weight"]
    extra["sem_seg_head.predictor.class_embed.weight"] = torch.zeros(41, 256)
    with pytest.raises(WeightsError, match="class_embed"):
        convert_univs(extra, meta)
    missing = dict(sd)
    del missing["sem_seg_head.predictor.prompt_sot.weight"]
    with pytest.raises(WeightsError, match="task_sot"):
        convert_univs(missing, meta)


def test_regionclip_text_tower_file_loads_strictly():
    from evalkit.zoo.text.regionclip import build_regionclip_rn50x4_text

    sd = _manifest("univs_regionclip_rn50x4_lang_encoder.tsv")
    with torch.device("meta"):
        meta = build_regionclip_rn50x4_text()
    ours, report = convert_text_encoder({"model": sd}, meta)
    assert report.ok and len(ours) == 149
    ours2, _ = convert_text_encoder({f"lang_encoder.{k}": v for k, v in sd.items()}, meta)
    assert set(ours2) == set(ours)


def test_swin_checkpoint_layout_converts_on_meta():
    """A Swin-L UniVS checkpoint: the R50 manifest's head keys plus D2 Swin backbone keys
    (their derived ``relative_position_index`` buffers are dropped with a reason)."""
    sd = _manifest("univs_r50_stage3.tsv")
    with torch.device("meta"):
        model = build_univs("swin-l")
    official = {k: v for k, v in sd.items() if not k.startswith("backbone.")}
    for k, v in model.backbone.state_dict().items():
        official[f"backbone.{k}"] = torch.empty(v.shape, device="meta")
    for i, layer in enumerate(model.backbone.layers):
        for j, _ in enumerate(layer.blocks):
            key = f"backbone.layers.{i}.blocks.{j}.attn.relative_position_index"
            official[key] = torch.empty(144, 144, device="meta")
    # the pixel decoder's input widths follow the backbone (Swin-L: 192·2^i channels)
    for lvl, ch in ((0, 1536), (1, 768), (2, 384)):
        key = f"sem_seg_head.pixel_decoder.input_proj.{lvl}.0.weight"
        official[key] = torch.empty(256, ch, 1, 1, device="meta")
    official["sem_seg_head.pixel_decoder.adapter_1.weight"] = torch.empty(256, 192, 1, 1, device="meta")
    ours, report = convert_univs(official, model)
    assert report.ok and len(ours) == len(model.state_dict())
    assert all("relative_position_index" in k for k in report.dropped)


@pytest.mark.parametrize("model_id", ["univs-r50", "univs-r50-stage2"])
def test_card_converter_through_the_zoo_api(model_id):
    """``evalkit.zoo.convert_checkpoint`` finds the builder and converter from the card."""
    from evalkit.zoo import convert_checkpoint

    sd = _manifest("univs_r50_stage3.tsv")
    ours = convert_checkpoint(model_id, {"model": sd})
    assert len(ours) == 626 and ours["mask_decoder.classifier.cls_temp"].dim() == 0
