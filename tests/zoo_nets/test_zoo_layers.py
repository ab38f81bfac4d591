"""Shared layers against torch reference modules and explicit formulas."""
import math

import pytest
import torch
from torch import nn

from evalkit.zoo.layers import (MLP, Conv2d, FrozenBatchNorm2d, LayerNorm2d, MultiheadAttention,
                                PositionEmbeddingLearned, PositionEmbeddingSine, SeparateProjAttention,
                                get_norm, sine_embed_for_boxes)


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_matches_torch(batch_first):
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(32, 4, batch_first=batch_first).eval()
    ours = MultiheadAttention(32, 4, batch_first=batch_first).eval()
    assert set(ours.state_dict()) == set(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    L, S, B = 5, 7, 3
    q = torch.randn(L, B, 32)
    k = torch.randn(S, B, 32)
    v = torch.randn(S, B, 32)
    if batch_first:
        q, k, v = (t.transpose(0, 1) for t in (q, k, v))
    kpm = torch.zeros(B, S, dtype=torch.bool)
    kpm[0, -2:] = True
    kpm[2, 0] = True
    bool_mask = torch.rand(L, S) > 0.7
    bool_mask[:, 1] = False  # no fully masked row
    float_mask = torch.randn(B * 4, L, S)
    for kwargs in [{}, {"key_padding_mask": kpm}, {"attn_mask": bool_mask},
                   {"attn_mask": float_mask, "key_padding_mask": kpm}]:
        want = ref(q, k, v, need_weights=False, **kwargs)[0]
        got = ours(q, k, v, **kwargs)[0]
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_multihead_attention_errors():
    with pytest.raises(ValueError, match="divisible"):
        MultiheadAttention(30, 4)
    m = MultiheadAttention(8, 2)
    x = torch.randn(3, 2, 8)
    with pytest.raises(ValueError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=torch.zeros(3, 3, dtype=torch.bool))


def test_separate_proj_attention_matches_explicit_softmax():
    torch.manual_seed(1)
    m = SeparateProjAttention(16, 2, kdim=12, vdim=12, inner_dim=24).eval()
    q, kv = torch.randn(2, 4, 16), torch.randn(2, 6, 12)
    kpm = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    got = m(q, kv, kv, key_padding_mask=kpm)
    Q = m.q_proj(q).view(2, 4, 2, 12).transpose(1, 2)
    K = m.k_proj(kv).view(2, 6, 2, 12).transpose(1, 2)
    V = m.v_proj(kv).view(2, 6, 2, 12).transpose(1, 2)
    logits = Q @ K.transpose(-1, -2) / math.sqrt(12)
    logits = logits.masked_fill(kpm[:, None, None, :], float("-inf"))
    want = m.out_proj((logits.softmax(-1) @ V).transpose(1, 2).reshape(2, 4, 24))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_frozen_batchnorm_equals_eval_batchnorm():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(6).eval()
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(-1, 1)
    bn.bias.data.uniform_(-1, 1)
    fb = FrozenBatchNorm2d(6)
    sd = bn.state_dict()
    assert "num_batches_tracked" in sd
    fb.load_state_dict(sd)  # the counter is tolerated and ignored
    assert set(fb.state_dict()) == {"weight", "bias", "running_mean", "running_var"}
    assert not list(fb.parameters())
    x = torch.randn(2, 6, 5, 5)
    torch.testing.assert_close(fb(x), bn(x), atol=1e-5, rtol=1e-5)


def test_layernorm2d_matches_channel_formula():
    torch.manual_seed(0)
    ln = LayerNorm2d(5)
    ln.weight.data.uniform_(0.5, 1.5)
    ln.bias.data.uniform_(-1, 1)
    x = torch.randn(2, 5, 3, 4)
    u = x.mean(1, keepdim=True)
    s = (x - u).pow(2).mean(1, keepdim=True)
    want = ln.weight[:, None, None] * (x - u) / torch.sqrt(s + 1e-6) + ln.bias[:, None, None]
    torch.testing.assert_close(ln(x), want, atol=1e-5, rtol=1e-5)


def test_conv_with_norm_and_get_norm():
    conv = Conv2d(3, 32, 3, padding=1, bias=False, norm=get_norm("GN", 32), activation=torch.relu)
    assert set(conv.state_dict()) == {"weight", "norm.weight", "norm.bias"}
    assert (conv(torch.randn(1, 3, 8, 8)) >= 0).all()
    assert get_norm("", 4) is None
    assert isinstance(get_norm("FrozenBN", 4), FrozenBatchNorm2d)
    with pytest.raises(ValueError, match="unknown norm"):
        get_norm("XN", 4)


def _sine_reference(mask, num_pos_feats, temperature, normalize, offset):
    """Element-by-element transcription of the DETR / Deformable-DETR formula."""
    B, H, W = mask.shape
    out = torch.zeros(B, 2 * num_pos_feats, H, W)
    for b in range(B):
        for i in range(H):
            for j in range(W):
                y = float((~mask[b, : i + 1, j]).sum())
                x = float((~mask[b, i, : j + 1]).sum())
                if normalize:
                    y = (y - offset) / (float((~mask[b, :, j]).sum()) + 1e-6) * 2 * math.pi
                    x = (x - offset) / (float((~mask[b, i, :]).sum()) + 1e-6) * 2 * math.pi
                for c in range(num_pos_feats):
                    d = temperature ** (2 * (c // 2) / num_pos_feats)
                    f = math.sin if c % 2 == 0 else math.cos
                    out[b, c, i, j] = f(y / d)
                    out[b, num_pos_feats + c, i, j] = f(x / d)
    return out


@pytest.mark.parametrize("normalize,offset", [(False, 0.0), (True, 0.0), (True, 0.5)])
def test_sine_position_embedding(normalize, offset):
    mask = torch.zeros(2, 3, 4, dtype=torch.bool)
    mask[1, 2:, :] = True
    mask[1, :, 3:] = True
    pe = PositionEmbeddingSine(4, normalize=normalize, offset=offset)
    got = pe(torch.zeros(2, 1, 3, 4), mask)
    want = _sine_reference(mask, 4, 10000, normalize, offset)
    # padded pixels with offset 0.5 have arguments of ~1e6 where float32 and float64 sines
    # differ; they carry no information, so only valid pixels are compared
    valid = (~mask)[:, None].expand_as(got)
    torch.testing.assert_close(got[valid], want[valid], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        PositionEmbeddingSine(4, scale=1.0)


def test_learned_position_embedding():
    pe = PositionEmbeddingLearned(8)
    out = pe(torch.zeros(2, 3, 4, 5))
    assert out.shape == (2, 16, 4, 5)
    torch.testing.assert_close(out[0, :8, 2, 3], pe.col_embed.weight[3])
    torch.testing.assert_close(out[1, 8:, 2, 3], pe.row_embed.weight[2])
    with pytest.raises(ValueError, match="50"):
        pe(torch.zeros(1, 1, 51, 2))


def test_sine_embed_for_boxes_order_and_values():
    boxes = torch.tensor([[0.25, 0.5, 0.1, 0.2]])
    emb = sine_embed_for_boxes(boxes, num_pos_feats=4)
    assert emb.shape == (1, 16)
    # first block encodes y (= 0.5): sin(2π·0.5 / 1), cos(2π·0.5 / 1), sin(π / 100), cos(π / 100)
    want = torch.tensor([math.sin(math.pi), math.cos(math.pi), math.sin(math.pi / 100), math.cos(math.pi / 100)])
    torch.testing.assert_close(emb[0, :4], want, atol=1e-6, rtol=1e-6)
    assert sine_embed_for_boxes(boxes[:, :2], 4).shape == (1, 8)


def test_mlp_layout_and_activation():
    m = MLP(4, 8, 2, 3)
    assert [k for k in m.state_dict()] == [f"layers.{i}.{p}" for i in range(3) for p in ("weight", "bias")]
    x = torch.randn(5, 4)
    h = torch.relu(m.layers[1](torch.relu(m.layers[0](x))))
    torch.testing.assert_close(m(x), m.layers[2](h))
    with pytest.raises(ValueError):
        MLP(4, 8, 2, 0)
