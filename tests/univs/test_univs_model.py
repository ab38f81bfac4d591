"""Forward shapes of UniVS (tiny R50 on CPU, Swin variants on the meta device) and its
components' contracts."""
from __future__ import annotations

import pytest
import torch

from evalkit.zoo.univs.model import build_univs

TINY = dict(backbone_args={"width_per_group": 8, "stem_out_channels": 8}, conv_dim=32,
            mask_dim=32, hidden_dim=32, enc_layers=1, enc_ffn=64, dec_layers=3, dec_ffn=64,
            num_queries=10, num_dense_points=4, gn_groups=8, text_dim=48)


def tiny_model(**kw):
    torch.manual_seed(0)
    return build_univs("r50", **{**TINY, **kw}).eval()


def test_tiny_forward_shapes_and_prompt_streams():
    model = tiny_model()
    images = torch.randn(3, 3, 64, 96)
    with torch.no_grad():
        feats = model.encode(images, torch.tensor([10, 11, 12]))
        assert [tuple(s) for s in feats.sizes] == [(2, 3), (4, 6), (8, 12)]
        assert feats.mask_features.shape == (3, 32, 16, 24)
        emb = torch.randn(4, 48)
        out = model.decode(feats, model.prompt_encoder.categories(emb, feats.src), class_embeddings=emb)
        assert out["pred_masks"].shape == (14, 3, 16, 24)
        assert out["pred_logits"].shape == (14, 4) and out["pred_embds"].shape == (14, 3, 32)
        # visual prompts: tokens from a mask on frame 0, pooled into queries
        masks = torch.zeros(2, 64, 96)
        masks[0, 8:40, 8:40] = 1
        tok = model.sample_visual_prompt(feats, 0, masks)
        assert tok.feats.shape == (2, 4, 32) and tok.valid.tolist() == [True, False]
        assert torch.count_nonzero(tok.feats[1]) == 0
        prompts = model.prompt_encoder.visual(tok.feats, tok.pos, tok.valid[:, None].expand(-1, 4), 3)
        out = model.decode(feats, prompts)
        assert out["pred_masks"].shape == (12, 3, 16, 24) and "pred_logits" not in out
        # expressions: 1 sentence token + L word tokens
        prompts = model.prompt_encoder.expressions(torch.randn(1, 7, 48), torch.randn(1, 48), feats.src)
        out = model.decode(feats, prompts, sentence_embeddings=torch.randn(1, 48))
        assert out["pred_masks"].shape == (11, 3, 16, 24) and out["pred_logits"].shape == (11, 1)


def test_prompt_queries_do_not_change_learnable_stream():
    """Separated self-attention and target-wise ProCA: adding prompts leaves the learnable
    queries' masks untouched, and one prompt does not affect another."""
    model = tiny_model()
    with torch.no_grad():
        feats = model.encode(torch.randn(2, 3, 64, 64))
        base = model.decode(feats)["pred_masks"]
        emb = torch.randn(3, 48)
        p3 = model.prompt_encoder.categories(emb, feats.src)
        with_p = model.decode(feats, p3)["pred_masks"]
        assert torch.allclose(base, with_p[:10], atol=1e-5)
        # blocked self-attention: each prompt is independent of the others
        model.mask_decoder.self_attn_mask = "sep-blocked"
        p1 = model.prompt_encoder.categories(emb[:1], feats.src)
        one = model.decode(feats, p1)["pred_masks"]
        three = model.decode(feats, p3)["pred_masks"]
        assert torch.allclose(one[10], three[10], atol=1e-5)


@pytest.mark.parametrize("variant,channels", [("swin-t", 96), ("swin-b", 128), ("swin-l", 192)])
def test_swin_variants_on_meta(variant, channels):
    with torch.device("meta"):
        model = build_univs(variant)
    sd = model.state_dict()
    with torch.device("meta"):
        r50 = {k for k in build_univs("r50").state_dict() if not k.startswith("backbone.")}
    assert sd["pixel_decoder.adapter_1.weight"].shape == (256, channels, 1, 1)
    assert sd["pixel_decoder.input_proj.0.0.weight"].shape == (256, channels * 8, 1, 1)
    assert sd["mask_decoder.query_feat.weight"].shape == (200, 256)
    assert len([k for k in sd if k.startswith("mask_decoder.layers.") and k.endswith("ffn.norm.weight")]) == 9
    # everything but the backbone is shared with R50
    assert {k for k in sd if not k.startswith("backbone.")} == r50
    with torch.device("meta"):
        out = model.mask_decoder.classifier.categories(torch.empty(2, 5, 256), torch.empty(7, 640))
    assert out.shape == (5, 7)


def test_position_code_depends_on_absolute_frame_index():
    """'ArbitraryT' codes: frame 7's code is the same whichever clip it is in, so prompt tokens
    sampled on it stay valid for later clips; different frames differ."""
    from evalkit.zoo.univs.position_encoding import PositionEmbeddingSine3D

    pe = PositionEmbeddingSine3D(16)
    a = pe((4, 5), torch.tensor([5, 6, 7]))
    b = pe((4, 5), torch.tensor([7]))
    assert a.shape == (3, 32, 4, 5)
    assert torch.equal(a[2], b[0]) and not torch.allclose(a[0], a[1])
