"""UNINEXT forward shapes for every variant and stage (tiny configs run; full configs are built
on the meta device and their parameter shapes checked)."""
from __future__ import annotations

import pytest
import torch

from evalkit.zoo.api import build_model
from evalkit.zoo.uninext import build_uninext
from evalkit.zoo.uninext.heads import aligned_bilinear
from evalkit.zoo.uninext.prompt import category_caption, clean_expression, crop_template

from uninext_helpers import TINY

TINY_BACKBONES = {
    "r50": TINY["backbone_overrides"],
    "convnext-l": dict(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)),
    "vit-h": dict(embed_dim=32, depth=2, num_heads=4, img_size=128, window_size=2,
                  window_block_indexes=(0,)),
}


def _tiny(variant, video):
    torch.manual_seed(0)
    return build_uninext(variant, video, **{**TINY, "backbone_overrides": TINY_BACKBONES[variant],
                                            "template_size": 64}).eval()


@pytest.mark.parametrize("variant", ["r50", "convnext-l", "vit-h"])
@pytest.mark.parametrize("video", [False, True])
def test_forward_shapes(variant, video):
    model = _tiny(variant, video)
    b, h, w = 2, 64, 96
    images = torch.randn(b, 3, h, w)
    pad = torch.zeros(b, h, w, dtype=torch.bool)
    pad[1, :, 80:] = True  # second image is 64×80
    ids = torch.randint(5, 20, (b, 7))
    am = torch.ones(b, 7, dtype=torch.long)
    am[1, 5:] = 0
    with torch.no_grad():
        prompt, mask = model.encode_text(ids, am)
        sizes = torch.tensor([[64, 96], [64, 80]])
        out = model(images, pad, prompt, mask, sizes, pooled=False)
        pooled = model(images, pad, prompt, mask, sizes, pooled=True, num_queries=7, with_masks=False)
    q, d = TINY["num_queries"], TINY["d_model"]
    assert prompt.shape == (b, 7, 32) and mask.dtype == torch.bool
    assert out["logits"].shape == (b, q, 7) and pooled["logits"].shape == (b, 7, 1)
    assert not any(k.startswith("mask") for k in pooled)  # box-only pass: no mask branch
    with pytest.raises(ValueError, match="with_masks"):
        model.decode_masks(pooled, 0, torch.tensor([0]))
    assert out["boxes"].shape == (b, q, 4) and ((out["boxes"] >= 0) & (out["boxes"] <= 1)).all()
    assert out["iou"].shape == (b, q, 1)
    assert out["masks"].shape == (b, q, h // 4, w // 4)
    assert out["mask_features"].shape == (b, d // 32, h // 8, w // 8)
    assert out["mask_centers"].shape == (b, q, 2)
    assert ("embeddings" in out) == video
    if video:
        assert out["embeddings"].shape == (b, q, d)
        tokens, tmask = model.encode_template(torch.randn(1, 4, 64, 64), torch.zeros(1, 64, 64, dtype=torch.bool))
        assert tokens.shape == (1, 64, 32) and tmask.all()  # (64/8)² tokens of 768 (here 32) dims
    else:
        with pytest.raises(ValueError, match="video-stage"):
            model.encode_template(torch.randn(1, 4, 64, 64), torch.zeros(1, 64, 64, dtype=torch.bool))
    # masks decoded on demand equal those of the full pass
    sel = torch.tensor([3, 0])
    assert torch.allclose(model.decode_masks(out, 1, sel), out["masks"][1, sel], atol=1e-5)


# expected widths of res3..res5 of the full backbones (input projections read them)
BACKBONE_WIDTHS = {"r50": (512, 1024, 2048), "convnext-l": (384, 768, 1536), "vit-h": (640, 1280, 1280)}


@pytest.mark.parametrize("model_id,variant,video", [
    ("uninext-r50", "r50", True), ("uninext-r50-image", "r50", False),
    ("uninext-convnext-l", "convnext-l", True), ("uninext-convnext-l-image", "convnext-l", False),
    ("uninext-vit-h", "vit-h", True), ("uninext-vit-h-image", "vit-h", False),
])
def test_full_variants_on_meta(model_id, variant, video):
    with torch.device("meta"):
        model = build_model(model_id)
    sd = model.state_dict()
    for lvl, c in enumerate(BACKBONE_WIDTHS[variant]):
        assert sd[f"input_proj.{lvl}.0.weight"].shape == (256, c, 1, 1)
    assert sd["input_proj.3.0.weight"].shape == (256, BACKBONE_WIDTHS[variant][-1], 3, 3)
    assert sd["transformer.tgt_embed.weight"].shape == (900, 256)
    assert sd["transformer.encoder.vl_fusion.0.attn.l_proj.weight"].shape == (2048, 768)
    assert sd["dynamic_mask_head.controller.layers.2.weight"].shape == (169, 256)
    assert sd["class_embed.5.dot_product_projection_text.weight"].shape == (256, 768)
    assert any(k.startswith("template_backbone.") for k in sd) == video
    assert any(k.startswith("reid_head.") for k in sd) == video
    if video:
        stem = {"r50": "template_backbone.stem.conv1.weight",
                "convnext-l": "template_backbone.downsample_layers.0.0.weight",
                "vit-h": "template_backbone.patch_embed.proj.weight"}[variant]
        assert sd[stem].shape[1] == 4  # RGB + target mask


def test_prompt_helpers():
    caption, spans = category_caption(["person", "traffic_light", "hair drier (appliance)"])
    assert caption == "person. traffic light. hair drier "
    assert [caption[a:b] for a, b in spans] == ["person", "traffic light", "hair drier "]
    assert clean_expression("The man's LEFT-hand side/top.") == "the mans left hand side top"
    img = torch.arange(3 * 20 * 30, dtype=torch.float32).reshape(3, 20, 30)
    pad = torch.zeros(20, 30, dtype=torch.bool)
    # a 4×4 box at (10, 8): crop side ceil(sqrt(16)·2) = 8 around its centre (12, 10) → x 8..16
    tpl, tmask = crop_template(img, pad, (10, 8, 4, 4), None, size=8, factor=2.0)
    assert tpl.shape == (4, 8, 8) and not tmask.any()
    assert torch.equal(tpl[:3], img[:, 6:14, 8:16])  # same size: the crop is copied as is
    assert tpl[3, 2:6, 2:6].eq(1).all() and tpl[3].sum() == 16  # the box is the target channel
    # near the border, outside pixels are zero and padding
    tpl, tmask = crop_template(img, pad, (0, 0, 4, 4), None, size=8, factor=2.0)
    assert tmask[:2].all() and tmask[:, :2].all() and not tmask[2:, 2:].any()
    x = torch.randn(1, 1, 3, 4)
    up = aligned_bilinear(x, 2)
    assert up.shape == (1, 1, 6, 8) and torch.allclose(up[..., 1::2, 1::2], x)


def test_early_fusion_masks_prompt_padding_only_when_asked():
    from evalkit.zoo.uninext.fusion import BiAttentionBlock

    torch.manual_seed(0)
    block = BiAttentionBlock(v_dim=16, l_dim=8, embed_dim=32, num_heads=4, init_values=1.0).eval()
    v, l = torch.randn(1, 10, 16), torch.randn(1, 5, 8)
    mask = torch.tensor([[True, True, True, False, False]])
    l2 = l.clone()
    l2[:, 3:] = torch.randn(1, 2, 8)  # change only the padding tokens
    with torch.no_grad():
        v_a, l_a = block(v, l, mask)
        v_b, l_b = block(v, l2, mask)
        v_c, _ = block(v, l2, None)
        v_d, _ = block(v, l, None)
    assert torch.allclose(v_a, v_b, atol=1e-6)  # visual tokens never see masked padding
    assert torch.allclose(l_a[:, :3], l_b[:, :3], atol=1e-6)  # tokens are updated independently
    assert not torch.allclose(v_c, v_d)  # without the mask (annotation prompts) padding counts
