"""The converter maps every key of the official UNINEXT-R50 manifests (both stages) onto our
module tree; the result loads strictly and the model runs."""
from __future__ import annotations

import pytest
import torch

from evalkit.errors import WeightsError
from evalkit.adapters.factory import model_around
from evalkit.zoo.cards import get_card
from evalkit.zoo.uninext import build_uninext
from evalkit.zoo.uninext.convert import convert_uninext

from manifest_helpers import manifest_rows, synthetic_checkpoint
from uninext_helpers import official_names


@pytest.mark.parametrize("stage", ["image", "video"])
def test_synthetic_official_checkpoint_converts_loads_and_runs(stage):
    rows = manifest_rows(f"uninext_r50_{stage}_joint.tsv")
    ckpt = synthetic_checkpoint(rows)
    with torch.device("meta"):
        expected = build_uninext("r50", video=stage == "video")
    ours, report = convert_uninext(ckpt, expected)
    assert report.ok
    assert set(report.dropped) == {"criterion._iter", "text_encoder.body.model.embeddings.position_ids"}
    # the 74 decoder-attached head copies are checked equal and folded onto the heads
    assert sum(len(v) for v in report.aliases.values()) == 74
    assert len(report.mapped) + len(report.dropped) + 74 == len(rows)
    # the card factory's loading: the card's network built on meta, loaded strictly in place
    model = model_around(get_card("uninext-r50" if stage == "video" else "uninext-r50-image"), ours)
    sd = ckpt["model"]
    assert torch.equal(model.backbone.res2[0].conv1.weight, sd["detr.detr.backbone.0.backbone.res2.0.conv1.weight"])
    assert torch.equal(model.enc_class_embed.body.weight, sd["detr.detr.class_embed.6.body.weight"])
    assert torch.equal(model.transformer.encoder.vl_fusion[0].gamma_l,
                       sd["detr.detr.transformer.encoder.vl_layers.0.b_attn.gamma_l"])
    if stage == "video":
        assert torch.equal(model.template_backbone.stem.conv1.weight,
                           sd["detr.detr.ref_backbone.0.backbone.stem.conv1.weight"])
        assert torch.equal(model.reid_head.embed.layers[2].bias, sd["detr.reid_embed_head.1.layers.2.bias"])
    images = torch.randn(1, 3, 64, 96)
    pad = torch.zeros(1, 64, 96, dtype=torch.bool)
    ids = torch.tensor([[2, 10, 5, 11, 3, 0]])
    with torch.no_grad():
        prompt, mask = model.encode_text(ids, (ids > 0).long())
        out = model(images, pad, prompt, mask, torch.tensor([[64, 96]]), pooled=False, num_queries=10)
    assert out["logits"].shape == (1, 10, 6)
    assert out["boxes"].shape == (1, 10, 4) and out["masks"].shape == (1, 10, 16, 24)
    assert torch.isfinite(out["logits"]).all() and torch.isfinite(out["masks"]).all()
    assert ("embeddings" in out) == (stage == "video")


def test_unknown_missing_or_conflicting_keys_are_errors():
    rows = manifest_rows("uninext_r50_image_joint.tsv")
    # shapes only (meta tensors), except one head and its decoder alias, whose values are compared
    sd = {k: torch.empty(shape, dtype=getattr(torch, dt), device="meta") for k, shape, dt in rows}
    head, alias = ("detr.detr.bbox_embed.0.layers.0.bias",
                   "detr.detr.transformer.decoder.bbox_embed.0.layers.0.bias")
    sd[head] = torch.zeros(256)
    sd[alias] = torch.zeros(256)
    with torch.device("meta"):
        model = build_uninext("r50", video=False)
    ours, report = convert_uninext(sd, model)
    assert report.aliases["bbox_embed.0.layers.0.bias"] == [head]
    bad = dict(sd)
    bad["detr.detr.some_new_head.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError, match="some_new_head"):
        convert_uninext(bad, model)
    bad = dict(sd)
    bad[alias] = torch.ones(256)  # an alias that differs from its head
    with pytest.raises(WeightsError, match="different"):
        convert_uninext(bad, model)
    bad = {k: v for k, v in sd.items() if not k.startswith("detr.controller.")}
    with pytest.raises(WeightsError, match="controller"):
        convert_uninext(bad, model)
    with torch.device("meta"):
        video_model = build_uninext("r50", video=True)
    with pytest.raises(WeightsError, match="template_backbone"):  # a stage-2 checkpoint
        convert_uninext(sd, video_model)


@pytest.mark.parametrize("variant", ["convnext-l", "vit-h"])
def test_big_variants_convert_on_meta(variant):
    """ConvNeXt-L / ViT-H checkpoints (shapes only): every key maps, template stem included."""
    with torch.device("meta"):
        model = build_uninext(variant, video=True)
    official = official_names(model.state_dict())
    ours, report = convert_uninext({"model": official}, model)
    assert report.ok and set(ours) == set(model.state_dict())
    assert sum(len(v) for v in report.aliases.values()) == 74
