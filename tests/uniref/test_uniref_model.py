"""UniRef++ network: forward shapes (tiny R50), the full variants on the meta device, and the
pieces whose semantics are easy to get subtly wrong (UniFusion's attention and zero init,
reference concatenation, proposal position code, mask strides)."""
from __future__ import annotations

import math

import pytest
import torch

from evalkit.zoo.uniref import build_uniref
from evalkit.zoo.uniref.fusion import ReferenceFeatures, UniFusion
from evalkit.zoo.uniref.transformer import proposal_pos_embed

from uniref_helpers import TINY, VOCAB


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_uniref("r50", **TINY).eval()


def _inputs(h=64, w=96, valid_w=90):
    g = torch.Generator().manual_seed(1)
    img = torch.randn(1, 3, h, w, generator=g)
    pad = torch.zeros(1, h, w, dtype=torch.bool)
    pad[:, :, valid_w:] = True
    return img, pad, torch.tensor([[h, valid_w]])


def _text(n=16, real=7):
    ids = torch.randint(5, len(VOCAB), (1, n), generator=torch.Generator().manual_seed(2))
    am = torch.zeros(1, n, dtype=torch.long)
    am[:, :real] = 1
    return ids, am


@torch.no_grad()
def test_forward_shapes_language_and_mask(tiny):
    img, pad, sizes = _inputs()
    vis = tiny.features(img, pad)
    assert [tuple(s.shape[-2:]) for s in vis.srcs] == [(8, 12), (4, 6), (2, 3), (1, 2)]
    assert vis.res2.shape[-2:] == (16, 24)
    lang = tiny.encode_text(*_text())
    out = tiny(vis, sizes, language=lang)
    q, d = TINY["num_queries"], TINY["d_model"]
    assert out["logits"].shape == (1, q)
    assert out["boxes"].shape == (1, q, 4) and bool(((out["boxes"] >= 0) & (out["boxes"] <= 1)).all())
    assert out["mask_features"].shape == (1, d // 32, 16, 24)
    assert out["mask_params"].shape == (1, q, (d // 32 + 2) * 8 + 8 * 8 + 8 + 8 + 8 + 1)
    masks = torch.zeros(2, 64, 96)
    masks[0, 10:30, 10:40] = 1
    masks[1, 30:50, 50:80] = 1
    ref = tiny.encode_mask_reference(vis, masks)
    assert [k.shape for k in ref.keys] == [(2, 96, d), (2, 24, d), (2, 6, d), (2, 2, d)]
    both = ReferenceFeatures.concat([ref, ref])
    out2 = tiny(vis, sizes.expand(2, 2), language=None, mask=both)
    assert out2["logits"].shape == (2, q)
    assert tiny.decode_masks(out2, 1, torch.tensor([0, 3])).shape == (2, 16, 24)
    assert tiny.decode_masks(out2, 1, torch.tensor([0]), out_stride=1).shape == (1, 64, 96)
    assert all(torch.isfinite(v).all() for v in out2.values())


@torch.no_grad()
def test_batch_of_references_equals_one_at_a_time(tiny):
    """Objects batched through fusion + transformer give what each alone gives (VOS batching)."""
    img, pad, sizes = _inputs()
    vis = tiny.features(img, pad)
    masks = torch.zeros(3, 64, 96)
    masks[0, :20, :30] = 1
    masks[1, 20:, 30:] = 1
    masks[2, 5:60, 5:85] = 1
    refs = tiny.encode_mask_reference(vis, masks)
    together = tiny(vis, sizes.expand(3, 2), mask=refs)
    for i, r in enumerate(refs.split()):
        alone = tiny(vis, sizes, mask=r)
        torch.testing.assert_close(alone["logits"][0], together["logits"][i], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(alone["boxes"][0], together["boxes"][i], atol=1e-5, rtol=1e-4)


def test_unifusion_starts_as_identity_and_matches_reference_attention():
    torch.manual_seed(0)
    fusion = UniFusion(32, num_heads=2, head_dim=8).eval()
    srcs = [torch.randn(2, 32, 3, 4), torch.randn(2, 32, 2, 2)]
    keys = torch.randn(2, 5, 32)
    padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    ref = ReferenceFeatures([keys], [keys * 2], [padding], [keys.mean(1)])
    out = fusion(srcs, language=ref)
    for a, b in zip(out, srcs):  # zero-initialised adaLN: gate 0
        torch.testing.assert_close(a, b)
    torch.nn.init.normal_(fusion.adaLN_modulation[1].weight, std=0.1)
    x = srcs[0].flatten(2).transpose(1, 2)
    got = fusion.attend(fusion.norm_v(x), fusion.norm_l(keys), keys * 2, padding)
    # explicit softmax attention, padded keys excluded, one sample at a time
    a = fusion.attn
    for b in range(2):
        keep = ~padding[b]
        q = a.q_proj(fusion.norm_v(x[b])).view(-1, 2, 8).transpose(0, 1)
        k = a.k_proj(fusion.norm_l(keys[b][keep])).view(-1, 2, 8).transpose(0, 1)
        v = a.v_proj(keys[b][keep] * 2).view(-1, 2, 8).transpose(0, 1)
        w = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(8), -1)
        want = a.out_proj((w @ v).transpose(0, 1).reshape(-1, 16))
        torch.testing.assert_close(got[b], want, atol=1e-5, rtol=1e-4)
    # modulation: out = x + gate * (A * (1 + scale) + shift)
    shift, scale, gate = fusion.adaLN_modulation(ref.embeds[0]).chunk(3, 1)
    fused = fusion([srcs[0]], language=ref)[0].flatten(2).transpose(1, 2)
    want = x + gate[:, None] * (got * (1 + scale[:, None]) + shift[:, None])
    torch.testing.assert_close(fused, want, atol=1e-5, rtol=1e-4)


def test_reference_concat_and_merge():
    r1 = ReferenceFeatures([torch.ones(1, 2, 4)], [torch.ones(1, 2, 4)], [torch.zeros(1, 2, dtype=torch.bool)],
                           [torch.zeros(1, 4)])
    r2 = ReferenceFeatures([torch.zeros(1, 3, 4)], [torch.zeros(1, 3, 4)], [torch.ones(1, 3, dtype=torch.bool)],
                           [torch.full((1, 4), 2.0)])
    c = ReferenceFeatures.concat([r1, r2])
    assert c.keys[0].shape == (1, 5, 4) and c.padding[0].tolist() == [[False, False, True, True, True]]
    torch.testing.assert_close(c.embeds[0], torch.ones(1, 4))
    shots = ReferenceFeatures.stack([r1, r1])
    m = shots.merge_batch()
    assert m.keys[0].shape == (1, 4, 4) and m.embeds[0].shape == (1, 4)
    assert ReferenceFeatures.stack([r1, r2]) is None
    assert [s.keys[0].shape for s in shots.split()] == [(1, 2, 4), (1, 2, 4)]


def test_proposal_pos_embed_formula():
    props = torch.tensor([[[0.3, -1.0, 2.0, float("inf")]]])
    got = proposal_pos_embed(props, num_pos_feats=4)
    s = props.sigmoid()[0, 0] * 2 * math.pi
    dim_t = torch.tensor([1.0, 1.0, 100.0, 100.0])  # 10000 ** (2 * (i // 2) / 4)
    want = []
    for c in s:
        p = c / dim_t
        want += [p[0].sin(), p[1].cos(), p[2].sin(), p[3].cos()]
    torch.testing.assert_close(got[0, 0], torch.stack(want))


def test_full_variants_on_meta_device():
    with torch.device("meta"):
        r50 = build_uniref("r50")
        swin = build_uniref("swin-l")
    n50 = sum(p.numel() for p in r50.parameters())
    assert n50 == 190_990_968  # the official manifest's unique parameter count
    sd = swin.state_dict()
    assert sd["mask_fpn.lateral_conv.weight"].shape == (8, 192, 1, 1)  # Swin-L res2 width
    assert sd["input_proj.2.0.weight"].shape == (256, 1536, 1, 1)
    assert sd["input_proj.3.0.weight"].shape == (256, 1536, 3, 3)
    assert sd["backbone.layers.2.blocks.17.attn.relative_position_bias_table"].shape == (23 * 23, 24)
    assert sd["query_embed.weight"].shape == (300, 256)
    assert sd["fusion.attn.q_proj.weight"].shape == (2048, 256)
    assert sd["mask_encoder.conv1.weight"].shape == (64, 4, 7, 7)
    r50_keys = {k for k in r50.state_dict() if not k.startswith("backbone.")}
    swin_keys = {k for k in sd if not k.startswith("backbone.")}
    assert r50_keys == swin_keys


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown UniRef"):
        build_uniref("vit-h")
    with pytest.raises(TypeError, match="unknown UniRef"):
        build_uniref("r50", n_queries=3)


@torch.no_grad()
def test_swin_layout_forward_on_a_reduced_config():
    """The Swin-L variant's wiring (res2 to the mask FPN, res3-res5 + extra level to the
    transformer) runs on a reduced Swin (the full one is checked on the meta device)."""
    torch.manual_seed(0)
    cfg = {k: v for k, v in TINY.items() if k != "backbone_overrides"}
    model = build_uniref("swin-l", backbone_overrides=dict(embed_dim=32, depths=(2, 2, 2, 2),
                                                           num_heads=(1, 2, 4, 8), window_size=4),
                         **cfg).eval()
    img, pad, sizes = _inputs()
    vis = model.features(img, pad)
    assert vis.res2.shape == (1, 32, 16, 24)
    masks = torch.zeros(1, 64, 96)
    masks[0, 10:40, 20:60] = 1
    out = model(vis, sizes, language=model.encode_text(*_text()), mask=model.encode_mask_reference(vis, masks))
    assert out["logits"].shape == (1, TINY["num_queries"]) and torch.isfinite(out["boxes"]).all()
    assert model.decode_masks(out, 0, torch.tensor([1]), 1).shape == (1, 64, 96)
