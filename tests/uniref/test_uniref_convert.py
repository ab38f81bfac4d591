"""UniRef++ converter on the official R50 manifest: a synthetic checkpoint with exactly the
manifest's names, shapes and dtypes converts (every key mapped or dropped with a reason), loads
strictly and runs; a broken checkpoint is a clear error."""
from __future__ import annotations

import pytest
import torch

from evalkit.errors import WeightsError
from evalkit.adapters.factory import model_around
from evalkit.zoo.cards import get_card
from evalkit.zoo.uniref import build_uniref
from evalkit.zoo.uniref.convert import convert_uniref

from manifest_helpers import manifest_rows, synthetic_checkpoint
from uniref_helpers import MANIFEST_R50


@pytest.fixture(scope="module")
def rows():
    return manifest_rows(MANIFEST_R50)


@pytest.fixture(scope="module")
def meta_r50():
    with torch.device("meta"):
        return build_uniref("r50")


def test_manifest_shapes_convert_on_meta(rows, meta_r50):
    sd = {k: torch.empty(s, dtype=getattr(torch, d), device="meta") for k, s, d in rows}
    ours, rep = convert_uniref({"model": sd}, meta_r50)
    assert rep.ok
    assert len(rep.mapped) + len(rep.dropped) + sum(len(v) for v in rep.aliases.values()) == len(rows)
    assert set(rep.dropped) == {"criterion._iter"}
    # the 56 decoder aliases of the heads (7 class + 7 box heads: 2 + 6 tensors each)
    assert sum(len(v) for v in rep.aliases.values()) == 56
    # the decoder's copy comes first in the official order; the head's own key is its alias
    assert rep.mapped["detr.detr.transformer.decoder.class_embed.6.weight"] == "enc_class_embed.weight"
    assert rep.aliases["enc_class_embed.weight"] == ["detr.detr.class_embed.6.weight"]
    assert rep.mapped["value_encoder.fuser2.attention.ChannelGate.mlp.3.weight"] == \
        "mask_encoder.fuser2.attention.ChannelGate.mlp.3.weight"
    assert rep.mapped["detr.lateral_conv.weight"] == "mask_fpn.lateral_conv.weight"
    assert rep.mapped["text_encoder.pooler.dense.weight"] == "text_encoder.model.pooler.dense.weight"
    assert set(ours) == set(meta_r50.state_dict())


def test_synthetic_checkpoint_loads_strictly_and_runs(rows, meta_r50):
    ckpt = synthetic_checkpoint(rows)
    # transformers <= 4.30 also saved this buffer: accepted and dropped
    ckpt["model"]["text_encoder.embeddings.position_ids"] = torch.arange(512)[None]
    ours, rep = convert_uniref(ckpt, meta_r50)
    assert "text_encoder.embeddings.position_ids" in rep.dropped
    model = model_around(get_card("uniref-pp-r50"), ours)  # the card factory's strict in-place load
    assert model.mask_encoder.bn1.num_batches_tracked.dtype == torch.int64
    torch.testing.assert_close(model.bbox_embed[2].layers[0].weight,
                               ckpt["model"]["detr.detr.bbox_embed.2.layers.0.weight"])
    with torch.no_grad():
        img = torch.randn(1, 3, 64, 64)
        pad = torch.zeros(1, 64, 64, dtype=torch.bool)
        vis = model.features(img, pad)
        ids = torch.tensor([[101, 2158, 2006, 1996, 2187, 102] + [0] * 71])
        am = (ids > 0).long()
        lang = model.encode_text(ids, am)
        mask = torch.zeros(1, 64, 64)
        mask[0, 8:40, 8:40] = 1
        ref = model.encode_mask_reference(vis, mask)
        out = model(vis, torch.tensor([[64, 64]]), language=lang, mask=ref)
        tokens = 8 * 8 + 4 * 4 + 2 * 2 + 1  # fewer encoder tokens than the 300 proposals
        assert out["logits"].shape == (1, tokens) and out["boxes"].shape == (1, tokens, 4)
        logits = model.decode_masks(out, 0, out["logits"][0].topk(1).indices, out_stride=1)
    assert logits.shape == (1, 64, 64)
    assert all(torch.isfinite(v).all() for v in out.values()) and torch.isfinite(logits).all()


def test_broken_checkpoints_are_clear_errors(rows, meta_r50):
    sd = {k: torch.empty(s, dtype=getattr(torch, d), device="meta") for k, s, d in rows}
    missing = dict(sd)
    del missing["detr.fusion_module.adaLN_modulation.1.weight"]
    with pytest.raises(WeightsError, match="fusion.adaLN_modulation.1.weight"):
        convert_uniref(missing, meta_r50)
    extra = dict(sd, **{"detr.some_new_head.weight": torch.empty(3, device="meta")})
    with pytest.raises(WeightsError, match="neither mapped nor declared dropped.*some_new_head"):
        convert_uniref(extra, meta_r50)
    wrong = dict(sd, **{"detr.detr.query_embed.weight": torch.empty(900, 256, device="meta")})
    with pytest.raises(WeightsError, match="query_embed"):
        convert_uniref(wrong, meta_r50)


def test_aliased_heads_must_agree(rows, meta_r50):
    ckpt = synthetic_checkpoint(rows)["model"]
    ckpt["detr.detr.transformer.decoder.bbox_embed.1.layers.0.bias"] = torch.ones(256)
    with pytest.raises(WeightsError, match="aliased"):
        convert_uniref(ckpt, meta_r50)


def test_zoo_api_and_swin_variant(rows):
    """``evalkit.zoo.convert_checkpoint`` goes through the card's converter; the Swin-L
    checkpoint (no manifest published) is the R50 one with the official ``D2SwinTransformer``
    backbone keys, including the buffers the converter drops."""
    from evalkit.zoo.api import convert_checkpoint

    sd = {k: torch.empty(s, dtype=getattr(torch, d), device="meta") for k, s, d in rows}
    ours = convert_checkpoint("uniref-pp-r50", {"model": sd})
    assert "mask_encoder.fuser5.block2.conv2.weight" in ours
    with torch.device("meta"):
        swin = build_uniref("swin-l")
    prefix = "detr.detr.backbone.0.backbone."
    official = {k: v for k, v in sd.items() if not k.startswith(prefix)}
    official.update({prefix + k[len("backbone."):]: torch.empty(v.shape, device="meta")
                     for k, v in swin.state_dict().items() if k.startswith("backbone.")})
    official[prefix + "layers.0.blocks.0.attn.relative_position_index"] = torch.empty(144, 144, device="meta")
    official[prefix + "layers.0.blocks.1.attn_mask"] = torch.empty(4, 144, 144, device="meta")
    for k in ("detr.detr.input_proj.0.0.weight", "detr.detr.input_proj.1.0.weight",
              "detr.detr.input_proj.2.0.weight", "detr.detr.input_proj.3.0.weight",
              "detr.lateral_conv.weight"):
        official[k] = torch.empty(swin.state_dict()[k.replace("detr.detr.", "").replace(
            "detr.lateral_conv", "mask_fpn.lateral_conv")].shape, device="meta")
    ours, rep = convert_uniref(official, swin)
    assert rep.ok and len(rep.dropped) == 3 and set(ours) == set(swin.state_dict())
