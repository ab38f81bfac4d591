"""Backbones: output names/shapes/strides on tiny configs, parameter counts and key names of
the full configs (built on the meta device), attention against explicit formulas, and
conversion of official key layouts."""
import math

import pytest
import torch

from evalkit.zoo.backbones import backbone_key_map, build_backbone
from evalkit.zoo.backbones.eva02 import Attention as EvaAttention
from evalkit.zoo.backbones.eva02 import Rope, rope_tables
from evalkit.zoo.backbones.swin import BasicLayer, WindowAttention
from evalkit.zoo.backbones.vit import Attention as VitAttention
from evalkit.zoo.backbones.vit_utils import get_rel_pos
from evalkit.zoo.convert_utils import KeyMap, load_strict
from zoo_nets_helpers import count_params, manifest, synthetic_state_dict

TINY = {
    "resnet50": dict(width_per_group=4, stem_out_channels=4),
    "swin-tiny": dict(embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), window_size=3),
    "convnext-large": dict(depths=(1, 1, 2, 1), dims=(8, 16, 32, 64)),
    "vit-huge": dict(embed_dim=32, depth=4, num_heads=4, img_size=128, window_size=3, window_block_indexes=(0, 1)),
    "eva02-large": dict(embed_dim=32, depth=3, num_heads=2, img_size=128, window_size=4, window_block_indexes=(0, 1),
                        out_channels=16),
}


# 4 input channels: the RGB+mask template encoders of UNINEXT (R50, ConvNeXt-L, ViT-H)
@pytest.mark.parametrize("name,in_chans", [(n, 3) for n in sorted(TINY)]
                         + [("resnet50", 4), ("convnext-large", 4), ("vit-huge", 4)])
def test_tiny_output_shapes_match_output_shape(name, in_chans):
    torch.manual_seed(0)
    key = "in_channels" if name == "resnet50" else "in_chans"
    m = build_backbone(name, **TINY[name], **{key: in_chans}).eval()
    H, W = (128, 128) if name == "eva02-large" else (96, 160)
    with torch.no_grad():
        out = m(torch.randn(2, in_chans, H, W))
    spec = m.output_shape()
    assert list(out) == list(spec)
    strides = [s.stride for s in spec.values()]
    assert strides == sorted(strides) and all(math.log2(s).is_integer() for s in strides)
    for k, v in out.items():
        assert v.shape == (2, spec[k].channels, math.ceil(H / spec[k].stride), math.ceil(W / spec[k].stride)), k
        assert torch.isfinite(v).all()
    with pytest.raises(ValueError, match=f"B×{in_chans}×H×W"):
        m(torch.randn(1, in_chans + 1, H, W))


def test_expected_feature_names_and_unknown_feature():
    assert list(build_backbone("resnet50", **TINY["resnet50"]).output_shape()) == ["res2", "res3", "res4", "res5"]
    assert list(build_backbone("vit-huge", **TINY["vit-huge"]).output_shape()) == ["res3", "res4", "res5"]
    assert list(build_backbone("eva02-large", **TINY["eva02-large"]).output_shape()) == ["p3", "p4", "p5", "p6"]
    with pytest.raises(ValueError, match="no feature"):
        build_backbone("resnet50", out_features=("res6",))
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("resnet42")


@pytest.mark.parametrize("module, fn, family", [("swin", "build_swin", "Swin"), ("vit", "build_vit", "ViT"),
                                                ("convnext", "build_convnext", "ConvNeXt"),
                                                ("eva02", "build_eva02", "EVA02")])
def test_unknown_size_lists_the_known_ones(module, fn, family):
    import importlib

    build = getattr(importlib.import_module(f"evalkit.zoo.backbones.{module}"), fn)
    with pytest.raises(ValueError, match=rf"unknown {family} size 'giant'; expected one of \['"):
        build("giant")


# -- full configurations on the meta device ----------------------------------------------------
def _meta(name, **kw):
    with torch.device("meta"):
        return build_backbone(name, **kw)


def test_resnet50_full_counts_match_official():
    m = _meta("resnet50")
    # official R50 backbone: 23,454,912 parameters + 106,240 FrozenBN buffer elements (README-univs)
    assert count_params(m) == 23_454_912
    assert sum(b.numel() for b in m.buffers()) == 106_240
    assert m.output_shape()["res5"].channels == 2048


def test_vit_huge_full_config():
    m = _meta("vit-huge")
    sd = m.state_dict()
    D, hd = 1280, 80
    assert sd["pos_embed"].shape == (1, 197, D)
    assert sd["patch_embed.proj.weight"].shape == (D, 3, 16, 16)
    assert sd["blocks.0.attn.rel_pos_h"].shape == (27, hd)  # 14×14 windows
    assert sd["blocks.2.attn.rel_pos_h"].shape == (127, hd)  # global at 1024 px
    assert sd["blocks.31.attn.rel_pos_w"].shape == (127, hd)  # official quirk: 12..31 global
    assert sd["fpn1.0.weight"].shape == (D, D // 2, 2, 2)
    per_block = 12 * D * D + 13 * D
    rel = 8 * 2 * 27 * hd + 24 * 2 * 127 * hd
    want = (D * 3 * 256 + D) + 197 * D + 32 * per_block + rel + (D * (D // 2) * 4 + D // 2)
    assert count_params(m) == want
    assert count_params(_meta("vit-huge", in_chans=4)) == want + D * 256  # RGB+mask template stem


def test_eva02_large_full_config():
    m = _meta("eva02-large")
    sd = m.state_dict()
    D, hidden = 1024, 2730
    assert sd["net.pos_embed"].shape == (1, 197, D)
    assert sd["net.blocks.0.mlp.w1.weight"].shape == (hidden, D)
    assert sd["net.blocks.0.mlp.ffn_ln.weight"].shape == (hidden,)
    assert sd["net.blocks.5.attn.q_bias"].shape == (D,) and "net.blocks.5.attn.k_bias" not in sd
    assert sd["simfp_3.0.weight"].shape == (D, D // 2, 2, 2)
    assert sd["simfp_3.1.weight"].shape == (256, 512, 1, 1) and sd["simfp_3.1.norm.weight"].shape == (256,)
    assert sd["simfp_5.2.weight"].shape == (256, 256, 3, 3) and "simfp_5.0.weight" not in sd
    assert m.net.rope_win.freqs_cos.shape == (256, 64) and m.net.rope_glb.freqs_cos.shape == (96 * 96, 64)
    assert not any("rope" in k for k in sd)
    block = 2 * D + 3 * D * D + 2 * D + D * D + D + 2 * D + 2 * (hidden * D + hidden) + 2 * hidden + D * hidden + D
    pyr = (D * 512 * 4 + 512) + (256 * 512 + 512) + (256 * 256 * 9 + 512) + 2 * ((256 * D + 512) + (256 * 256 * 9 + 512))
    assert count_params(m) == D * 3 * 256 + D + 197 * D + 24 * block + pyr
    assert {k: s.stride for k, s in m.output_shape().items()} == {"p3": 8, "p4": 16, "p5": 32, "p6": 64}


@pytest.mark.parametrize("size,C,depths,heads,ws", [
    ("tiny", 96, (2, 2, 6, 2), (3, 6, 12, 24), 7),
    ("base", 128, (2, 2, 18, 2), (4, 8, 16, 32), 12),
    ("large", 192, (2, 2, 18, 2), (6, 12, 24, 48), 12),
])
def test_swin_full_configs(size, C, depths, heads, ws):
    m = _meta(f"swin-{size}")
    want = C * 3 * 16 + C + 2 * C
    for i, (n, h) in enumerate(zip(depths, heads)):
        d = C * 2 ** i
        want += n * (12 * d * d + 13 * d + (2 * ws - 1) ** 2 * h) + 2 * d
        if i < 3:
            want += 8 * d * d + 8 * d
    assert count_params(m) == want
    assert [s.channels for s in m.output_shape().values()] == [C, 2 * C, 4 * C, 8 * C]


def test_convnext_large_full_config():
    m = _meta("convnext-large")
    dims, depths = (192, 384, 768, 1536), (3, 3, 27, 3)
    want = dims[0] * 3 * 16 + dims[0] + 2 * dims[0]
    for i in range(3):
        want += 2 * dims[i] + dims[i + 1] * dims[i] * 4 + dims[i + 1] + 2 * dims[i + 1]  # downsample + norm{i+1}
    want += sum(n * (8 * d * d + 58 * d) for n, d in zip(depths, dims))
    assert count_params(m) == want
    assert {k: (s.channels, s.stride) for k, s in m.output_shape().items()} == {
        "res3": (384, 8), "res4": (768, 16), "res5": (1536, 32)}


# -- attention against explicit formulas ------------------------------------------------------
def test_swin_window_attention_with_shift_mask_matches_explicit():
    torch.manual_seed(0)
    attn = WindowAttention(8, 3, 2).eval()
    layer = BasicLayer(8, 2, 2, 3, 4.0, True, downsample=False)
    mask = layer.shift_mask(6, 6, torch.device("cpu"))  # 4 windows
    assert mask.shape == (4, 9, 9) and set(mask.unique().tolist()) == {-100.0, 0.0}
    x = torch.randn(2 * 4, 9, 8)
    got = attn(x, mask)
    q, k, v = attn.qkv(x).reshape(8, 9, 3, 2, 4).permute(2, 0, 3, 1, 4)
    logits = (q * 4 ** -0.5) @ k.transpose(-2, -1)
    idx = attn.relative_position_index
    bias = attn.relative_position_bias_table[idx.reshape(-1)].reshape(9, 9, 2).permute(2, 0, 1)
    logits = (logits + bias).view(2, 4, 2, 9, 9) + mask[None, :, None]
    want = attn.proj((logits.view(8, 2, 9, 9).softmax(-1) @ v).transpose(1, 2).reshape(8, 9, 8))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # index: (Δy + ws − 1)·(2ws − 1) + (Δx + ws − 1) for token pairs in row-major order
    assert idx[0, 0] == 2 * 5 + 2 and idx[0, 8] == 0 and idx[8, 0] == 24


def test_vit_attention_with_rel_pos_matches_explicit():
    torch.manual_seed(0)
    attn = VitAttention(16, 2, input_size=(5, 5)).eval()
    torch.nn.init.normal_(attn.rel_pos_h)
    torch.nn.init.normal_(attn.rel_pos_w)
    x = torch.randn(2, 4, 6, 16)  # 4×6 grid: tables get resized (9 → 11 rows)
    got = attn(x)
    q, k, v = attn.qkv(x).reshape(2, 24, 3, 2, 8).permute(2, 0, 3, 1, 4).reshape(3, 4, 24, 8)
    logits = (q * 8 ** -0.5) @ k.transpose(-2, -1)
    Rh, Rw = get_rel_pos(4, 4, attn.rel_pos_h), get_rel_pos(6, 6, attn.rel_pos_w)
    logits = logits.view(4, 4, 6, 4, 6)
    for i in range(4):
        for j in range(6):
            qv = q.view(4, 4, 6, 8)[:, i, j]
            logits[:, i, j] += (qv @ Rh[i].T)[:, :, None] + (qv @ Rw[j].T)[:, None, :]
    out = (logits.view(4, 24, 24).softmax(-1) @ v).view(2, 2, 4, 6, 8).permute(0, 2, 3, 1, 4).reshape(2, 4, 6, 16)
    torch.testing.assert_close(got, attn.proj(out), atol=1e-5, rtol=1e-5)
    # rel-pos table entries: row i, column k ↔ table index i − k + (size − 1)
    table = torch.arange(9.0)[:, None]
    assert get_rel_pos(5, 5, table)[1, 3, 0] == 1 - 3 + 4


def test_rope_tables_match_formula():
    hd, n, pt = 8, 3, 16
    cos, sin = rope_tables(hd, n, pt)
    assert cos.shape == (n * n, hd)
    for i in range(n):
        for j in range(n):
            for c in range(hd):
                half = hd // 2
                pos = (i if c < half else j) * pt / n
                k = (c % half) // 2
                angle = pos * 10000 ** (-2 * k / half)
                assert abs(cos[i * n + j, c] - math.cos(angle)) < 1e-5
                assert abs(sin[i * n + j, c] - math.sin(angle)) < 1e-5


def test_eva02_attention_matches_explicit():
    torch.manual_seed(0)
    attn = EvaAttention(16, 2).eval()
    torch.nn.init.normal_(attn.q_bias)
    torch.nn.init.normal_(attn.v_bias)
    rope = Rope(8, 3)
    x = torch.randn(2, 3, 3, 16)
    got = attn(x, rope)
    xf = x.reshape(2, 9, 16)
    q = (xf @ attn.q_proj.weight.T + attn.q_bias).view(2, 9, 2, 8).transpose(1, 2)
    k = (xf @ attn.k_proj.weight.T).view(2, 9, 2, 8).transpose(1, 2)
    v = (xf @ attn.v_proj.weight.T + attn.v_bias).view(2, 9, 2, 8).transpose(1, 2)

    def rot(t):  # pairs (a, b) → (−b, a)
        r = torch.empty_like(t)
        r[..., 0::2], r[..., 1::2] = -t[..., 1::2], t[..., 0::2]
        return t * rope.freqs_cos + r * rope.freqs_sin

    q, k = rot(q), rot(k)
    out = ((q * 8 ** -0.5) @ k.transpose(-2, -1)).softmax(-1) @ v
    want = attn.proj(out.transpose(1, 2).reshape(2, 9, 16)).view(2, 3, 3, 16)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="RoPE table covers 9 tokens"):
        attn(torch.randn(1, 4, 4, 16), rope)


# -- conversion of official layouts -------------------------------------------------------------
R50_SOURCES = [
    ("uninext_r50_image_joint.tsv", "detr.detr.backbone.0.backbone.", 3),
    ("uninext_r50_video_joint.tsv", "detr.detr.ref_backbone.0.backbone.", 4),
    ("uniref_pp_r50_video_joint.tsv", "detr.detr.backbone.0.backbone.", 3),
    ("glee_lite_r50_joint.tsv", "glee.backbone.", 3),
    ("univs_r50_stage3.tsv", "backbone.", 3),
]


@pytest.mark.parametrize("tsv,prefix,in_chans", R50_SOURCES)
def test_resnet50_official_keys_convert_exactly(tsv, prefix, in_chans):
    entries = {k: v for k, v in manifest(tsv).items() if k.startswith(prefix)}
    assert len(entries) == 265
    ours = _meta("resnet50", in_channels=in_chans)
    assert [k for k in ours.state_dict()] == [k[len(prefix):] for k in entries]  # same names, same order
    sd = synthetic_state_dict(entries, device="meta")
    km = KeyMap().nested(prefix, "", backbone_key_map("resnet50"))
    out, rep = km.convert(sd, expected=ours, what=tsv)
    assert rep.ok and len(rep.mapped) == 265


def test_resnet50_loads_converted_values_and_widens_stem():
    entries = {k: v for k, v in manifest("uninext_r50_image_joint.tsv").items()
               if k.startswith("detr.detr.backbone.0.backbone.")}
    sd = synthetic_state_dict(entries)
    for k, v in sd.items():  # keep activations bounded through 53 layers
        if v.dim() == 4:
            sd[k] = v * (v[0].numel()) ** -0.5
        elif k.endswith("running_var"):
            sd[k] = v.abs() + 0.5
        elif k.endswith("norm.weight"):
            sd[k] = 0.5 + 0.1 * v
    # the 3-channel image-joint backbone initialises the 4-channel template encoder (3c→4c)
    def widen(t):
        return torch.cat([t, t.new_zeros(t.shape[0], 1, *t.shape[2:])], dim=1)

    km = (KeyMap().rename(r"detr\.detr\.backbone\.0\.backbone\.stem\.conv1\.weight", "stem.conv1.weight", widen)
          .nested("detr.detr.backbone.0.backbone.", "", backbone_key_map("resnet50")))
    m = build_backbone("resnet50", in_channels=4).eval()
    out, _ = km.convert(sd, expected=m)
    load_strict(m, out)
    w = m.stem.conv1.weight
    torch.testing.assert_close(w[:, :3], sd["detr.detr.backbone.0.backbone.stem.conv1.weight"])
    assert (w[:, 3] == 0).all()
    with torch.no_grad():
        feats = m(torch.randn(1, 4, 64, 64))
    assert feats["res5"].shape == (1, 2048, 2, 2) and torch.isfinite(feats["res5"]).all()


def _official_swin_keys(C, depths, ws, heads):
    """The official D2SwinTransformer state-dict layout (names from the official module tree)."""
    keys = {"patch_embed.proj.weight": (C, 3, 4, 4), "patch_embed.proj.bias": (C,),
            "patch_embed.norm.weight": (C,), "patch_embed.norm.bias": (C,)}
    for i, (n, h) in enumerate(zip(depths, heads)):
        d = C * 2 ** i
        for j in range(n):
            p = f"layers.{i}.blocks.{j}."
            keys.update({p + "norm1.weight": (d,), p + "norm1.bias": (d,),
                         p + "attn.relative_position_bias_table": ((2 * ws - 1) ** 2, h),
                         p + "attn.relative_position_index": (ws * ws, ws * ws),
                         p + "attn.qkv.weight": (3 * d, d), p + "attn.qkv.bias": (3 * d,),
                         p + "attn.proj.weight": (d, d), p + "attn.proj.bias": (d,),
                         p + "norm2.weight": (d,), p + "norm2.bias": (d,),
                         p + "mlp.fc1.weight": (4 * d, d), p + "mlp.fc1.bias": (4 * d,),
                         p + "mlp.fc2.weight": (d, 4 * d), p + "mlp.fc2.bias": (d,)})
        if i < len(depths) - 1:
            keys.update({f"layers.{i}.downsample.reduction.weight": (2 * d, 4 * d),
                         f"layers.{i}.downsample.norm.weight": (4 * d,),
                         f"layers.{i}.downsample.norm.bias": (4 * d,)})
    for i in range(len(depths)):
        keys.update({f"norm{i}.weight": (C * 2 ** i,), f"norm{i}.bias": (C * 2 ** i,)})
    return {k: (s, "int64" if k.endswith("index") else "float32") for k, s in keys.items()}


def test_swin_large_official_layout_converts():
    entries = _official_swin_keys(192, (2, 2, 18, 2), 12, (6, 12, 24, 48))
    sd = synthetic_state_dict(entries, device="meta")
    out, rep = KeyMap().nested("backbone.", "", backbone_key_map("swin-large")).convert(
        {"backbone." + k: v for k, v in sd.items()}, expected=_meta("swin-large"))
    assert len(rep.dropped) == 24 and set(rep.dropped.values()) == {"derived buffer, recomputed from the window size"}


def test_convnext_embedding_layout_converts_and_loads():
    dims, depths = (8, 16, 32, 64), (1, 1, 2, 1)
    m = build_backbone("convnext-large", dims=dims, depths=depths)
    # UNINEXT stores LayerNorm weight/bias and gamma as nn.Embedding(1, D): key.weight of 1×D
    official = {}
    for k, v in m.state_dict().items():
        is_ln = (k.startswith("norm") or ".norm." in k or k.startswith("downsample_layers.0.1.")
                 or (k.startswith("downsample_layers.") and ".0." in k[18:] and k.split(".")[1] != "0"))
        if k.endswith(".gamma"):
            official[k + ".weight"] = torch.randn(1, *v.shape)
        elif is_ln and v.dim() == 1:
            official[k + ".weight"] = torch.randn(1, *v.shape)
        else:
            official[k] = torch.randn(v.shape)
    assert "stages.0.0.norm.weight.weight" in official and "downsample_layers.1.0.bias.weight" in official
    out, rep = backbone_key_map("convnext").convert(official, expected=m)
    load_strict(m, out)
    torch.testing.assert_close(m.stages[0][0].gamma, official["stages.0.0.gamma.weight"][0])
    torch.testing.assert_close(m.norm3.bias, official["norm3.bias.weight"][0])


def test_eva02_official_layout_converts():
    m = _meta("eva02-large", **{k: v for k, v in TINY["eva02-large"].items()})
    ours = m.state_dict()
    official = {("backbone." + k): torch.empty(v.shape, device="meta") for k, v in ours.items()}
    # the official tables are persistent, at the trunk and repeated under each block's attn.rope
    for name in ("net.rope_win", "net.rope_glb", "net.blocks.0.attn.rope", "net.blocks.2.attn.rope"):
        for t in ("freqs_cos", "freqs_sin"):
            official[f"backbone.{name}.{t}"] = torch.empty(16, 16, device="meta")
    out, rep = KeyMap().nested("backbone.", "", backbone_key_map("eva02")).convert(official, expected=m)
    assert len(rep.dropped) == 8


def test_vit_official_layout_converts():
    m = _meta("vit-huge", **TINY["vit-huge"], in_chans=4)
    official = {"detr.detr.ref_backbone.0.backbone." + k: torch.empty(v.shape, device="meta")
                for k, v in m.state_dict().items()}
    out, rep = KeyMap().nested("detr.detr.ref_backbone.0.backbone.", "", backbone_key_map("vit")).convert(
        official, expected=m)
    assert rep.ok and "patch_embed.proj.weight" in out and "fpn1.0.bias" in out
