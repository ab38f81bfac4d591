"""GLEE network: shapes of the tiny Lite forward, Plus/Pro module trees on the meta device and
reduced-size Plus/Pro forwards."""
from __future__ import annotations

import pytest
import torch

from evalkit.errors import UnsupportedTaskError
from evalkit.zoo.glee.model import build_glee

from glee_helpers import TINY, tiny_glee


def _class_prompt(model, n_names: int, batch: int):
    ids = torch.tensor([[1, 2 + i, 3] for i in range(n_names)])
    return model.category_prompt(ids, torch.ones_like(ids), batch)


def test_lite_tiny_forward_shapes_and_frames():
    model = tiny_glee()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 96), _class_prompt(model, 3, 2))
    q = TINY["num_queries"]
    assert out.logits.shape == (2, q, 3) and out.scores.shape == (2, q, 1)
    assert out.masks.shape == (2, q, 16, 24)  # stride-4 mask features of the padded canvas
    assert out.boxes.shape == (2, q, 4) and ((out.boxes >= 0) & (out.boxes <= 1)).all()
    assert out.embeds.shape == (2, q, TINY["hidden_dim"])
    # the two images are decoded independently: image 1 alone gives the same result
    with torch.no_grad():
        torch.manual_seed(0)
        x = torch.randn(2, 3, 64, 96)
        both = model(x, _class_prompt(model, 3, 2))
        one = model(x[1:], _class_prompt(model, 3, 1))
    torch.testing.assert_close(both.masks[1:], one.masks, atol=1e-4, rtol=1e-4)


def test_expression_and_visual_prompt_forward():
    model = tiny_glee()
    ids = torch.tensor([[1, 5, 6, 3, 3, 3]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]])
    vm = torch.zeros(1, 64, 64, dtype=torch.bool)
    vm[0, 10:30, 20:40] = True
    with torch.no_grad():
        g = model(torch.randn(1, 3, 64, 64), model.expression_prompt(ids, mask))
        v = model(torch.randn(1, 3, 64, 64), None, vm, "box")
        tokens = model.prompt_tokens([torch.randn(1, 64, 8, 8)] * 4, vm)
    assert g.logits.shape[-1] == 1 and v.logits.shape[-1] == 1
    assert len(tokens) == 4 and tokens[0][0].shape == (1, TINY["max_prompt_points"], 64)
    assert not tokens[0][1].any()


@pytest.mark.parametrize("variant,backbone,in_proj", [("plus", "swin-l", (384, 768, 1536)), ("pro", "eva02-l", None)])
def test_plus_and_pro_module_trees_on_meta(variant, backbone, in_proj):
    with torch.device("meta"):
        model = build_glee(variant, backbone)
    sd = model.state_dict()
    assert sd["predictor.category_embed"].shape == (256, 256)
    assert len([k for k in sd if k.startswith("predictor.decoder.layers.") and k.endswith("norm3.weight")]) == 9
    assert sd["predictor.decoder.ref_point_head.layers.0.weight"].shape == (256, 512)
    assert sd["lang_projection"].shape == (512, 256)
    if in_proj is None:  # EVA02's pyramid is already 256-d: no input projection, fuser on p4-p6
        assert not any(k.startswith("pixel_decoder.input_proj") for k in sd)
        assert sd["sot_fuser.refine.0.weight"].shape == (256, 256, 3, 3)
        assert sd["pixel_decoder.adapter_1.weight"].shape == (256, 256, 1, 1)
    else:
        assert tuple(sd[f"pixel_decoder.input_proj.{i}.0.weight"].shape[1] for i in range(3)) == in_proj
        assert sd["pixel_decoder.input_proj.3.0.weight"].shape == (256, 1536, 3, 3)
        assert sd["pixel_decoder.adapter_1.weight"].shape == (256, 192, 1, 1)


def test_stage1_models_have_no_template_fuser():
    with torch.device("meta"):
        model = build_glee("lite", "r50", visual_prompt=False)
    keys = model.state_dict()
    assert not any(k.startswith("sot_fuser.") for k in keys)
    assert "pn_indicator.weight" in keys and "mask_sptial_embed.3" in keys  # created unconditionally
    with pytest.raises(UnsupportedTaskError, match="visual prompter"):
        model.template_tokens(torch.zeros(1, 3, 64, 64, device="meta"), torch.ones(1, 64, 64, dtype=torch.bool), "box")


def test_reduced_plus_and_pro_forward():
    small = dict(TINY)
    torch.manual_seed(0)
    plus = build_glee("plus", "swin-l", backbone_overrides=dict(embed_dim=32, depths=(1, 1, 1, 1),
                                                                 num_heads=(1, 2, 4, 8), window_size=4), **small).eval()
    pro_backbone = dict(embed_dim=64, depth=2, num_heads=4, img_size=64, window_size=4, window_block_indexes=(0,))
    pro = build_glee("pro", "eva02-l", backbone_overrides=pro_backbone, **small).eval()
    vm = torch.zeros(1, 64, 64, dtype=torch.bool)
    vm[0, 8:40, 8:40] = True
    with torch.no_grad():
        a = plus(torch.randn(1, 3, 64, 64), _class_prompt(plus, 2, 1), vm, "mask")
        b = pro(torch.randn(1, 3, 64, 64), _class_prompt(pro, 2, 1))
    assert a.masks.shape == (1, TINY["num_queries"], 16, 16)  # stride 4 (res2 lateral)
    assert b.masks.shape == (1, TINY["num_queries"], 8, 8)  # stride 8 (p3 lateral)
