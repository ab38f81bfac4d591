"""EVA-02 ViT-L backbone with a ViTDet simple feature pyramid, as GLEE-Pro's ``D2_EVA02``
("EVA-02: A Visual Representation for Neon Genesis", Fang et al. 2023).

Blocks: pre-norm (LayerNorm eps 1e-6); attention with separate bias-free ``q_proj``/``k_proj``/
``v_proj`` plus ``q_bias``/``v_bias`` (no key bias), 2-d rotary position embedding (RoPE) on
queries and keys; SwiGLU MLP (``w1``, ``w2``, sub-LayerNorm ``ffn_ln``, ``w3``, hidden
``int(D·4·2/3)``). Windowed (16×16) and global blocks; absolute positions from 224-pixel
pre-training (cls slot) resized to the token grid.

RoPE tables (official ``VisionRotaryEmbeddingFast``): per axis ``head_dim/4`` frequencies
``θ^(−2i/(head_dim/2))``, positions ``t·pt_seq_len/ft_seq_len`` (interpolated from the 16-token
pre-training grid), each frequency repeated twice; the row axis fills the first half of the
head dimension, the column axis the second. The window table covers ``window²`` tokens, the
global one ``(img_size/patch)²``. Official quirk kept: when a global block sees fewer tokens than
its table (an input smaller than ``img_size``) the *first* rows of the table are used, which is
only right for the square ``img_size`` input GLEE pads to (1536 for GLEE-Pro).

Pyramid (``simfp_{3,4,5}`` + max-pool top block), all 256 channels, LN-normalised 1×1 and 3×3
convs without bias: ``p3`` stride 8 (2×2 transposed conv first), ``p4`` 16, ``p5`` 32 (max-pool
first), ``p6`` 64 (``max_pool2d(p5, 1, stride 2)``).

Parameter names equal the official ones under the backbone (``net.*``, ``simfp_*``); the RoPE
tables are recomputed (non-persistent) and dropped on conversion (:func:`eva02_key_map`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..convert_utils import KeyMap
from ..layers import Conv2d, LayerNorm2d
from .base import Backbone, ShapeSpec, init_linears_trunc_normal, variant_config
from .vit_utils import PatchEmbed, get_abs_pos, window_partition, window_unpartition

__all__ = ["EVA02ViT", "EVA02Pyramid", "build_eva02", "eva02_key_map", "EVA02_CONFIGS", "rope_tables"]

EVA02_CONFIGS = {
    # GLEE-Pro: cfg.MODEL.EVA02 defaults in the official glee/config.py
    "large": dict(embed_dim=1024, depth=24, num_heads=16, img_size=1536, window_size=16,
                  window_block_indexes=(0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 18, 19, 21, 22)),
}


def rope_tables(head_dim: int, ft_seq_len: int, pt_seq_len: int = 16, theta: float = 10000.0):
    """(cos, sin) tables ``(ft_seq_len²)×head_dim`` of the 2-d rotary embedding (see module)."""
    dim = head_dim // 2
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
    t = torch.arange(ft_seq_len).float() / ft_seq_len * pt_seq_len
    f = torch.repeat_interleave(t[:, None] * freqs[None, :], 2, dim=-1)  # L×dim
    n = ft_seq_len
    grid = torch.cat([f[:, None, :].expand(n, n, dim), f[None, :, :].expand(n, n, dim)], dim=-1)
    grid = grid.reshape(n * n, 2 * dim)
    return grid.cos(), grid.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Pairs ``(x0, x1)`` along the last axis → ``(−x1, x0)``."""
    x = x.unflatten(-1, (-1, 2))
    return torch.stack((-x[..., 1], x[..., 0]), dim=-1).flatten(-2)


class Rope(nn.Module):
    """Holds one (cos, sin) table pair; applies it to ``B×heads×N×head_dim``."""

    def __init__(self, head_dim: int, ft_seq_len: int, pt_seq_len: int = 16):
        super().__init__()
        cos, sin = rope_tables(head_dim, ft_seq_len, pt_seq_len)
        self.register_buffer("freqs_cos", cos, persistent=False)
        self.register_buffer("freqs_sin", sin, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        n = t.shape[2]
        if n > self.freqs_cos.shape[0]:
            raise ValueError(f"EVA02 RoPE table covers {self.freqs_cos.shape[0]} tokens, got {n}: "
                             f"the input is larger than the backbone's img_size")
        cos, sin = self.freqs_cos[:n].to(t.dtype), self.freqs_sin[:n].to(t.dtype)
        return t * cos + rotate_half(t) * sin


class Attention(nn.Module):
    """Self-attention with RoPE on a ``B×H×W×C`` token map (tables passed in at call time)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.v_bias = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, rope: Rope) -> torch.Tensor:
        b, h, w, c = x.shape
        x = x.reshape(b, h * w, c)
        q = F.linear(x, self.q_proj.weight, self.q_bias)
        k = F.linear(x, self.k_proj.weight)
        v = F.linear(x, self.v_proj.weight, self.v_bias)
        q, k, v = (t.reshape(b, h * w, self.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        q, k = rope(q).type_as(v), rope(k).type_as(v)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, h, w, c))


class SwiGLU(nn.Module):
    """``w3(ffn_ln(silu(w1 x) · w2 x))``."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden)
        self.w2 = nn.Linear(dim, hidden)
        self.ffn_ln = nn.LayerNorm(hidden, eps=1e-6)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w3(self.ffn_ln(F.silu(self.w1(x)) * self.w2(x)))


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, window_size: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = SwiGLU(dim, int(dim * mlp_ratio))
        self.window_size = window_size

    def forward(self, x: torch.Tensor, rope: Rope) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            h, w = x.shape[1:3]
            x, pad_hw = window_partition(x, self.window_size)
            x = window_unpartition(self.attn(x, rope), self.window_size, pad_hw, (h, w))
        else:
            x = self.attn(x, rope)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class EVA02ViT(nn.Module):
    """The EVA-02 trunk: ``B×C×H×W`` → ``B×D×H/16×W/16`` (stride-16 map, ``last_feat``)."""

    def __init__(self, embed_dim: int = 1024, depth: int = 24, num_heads: int = 16, img_size: int = 1536,
                 patch_size: int = 16, in_chans: int = 3, mlp_ratio: float = 4 * 2 / 3, qkv_bias: bool = True,
                 window_size: int = 16, window_block_indexes=(), pt_hw_seq_len: int = 16,
                 pretrain_img_size: int = 224, pretrain_use_cls_token: bool = True):
        super().__init__()
        self.pretrain_use_cls_token = pretrain_use_cls_token
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        n_pos = (pretrain_img_size // patch_size) ** 2 + int(pretrain_use_cls_token)
        self.pos_embed = nn.Parameter(torch.zeros(1, n_pos, embed_dim))
        head_dim = embed_dim // num_heads
        self.rope_win = Rope(head_dim, window_size, pt_hw_seq_len)
        self.rope_glb = Rope(head_dim, img_size // patch_size, pt_hw_seq_len)
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, window_size if i in window_block_indexes else 0)
            for i in range(depth))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        init_linears_trunc_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = x + get_abs_pos(self.pos_embed, self.pretrain_use_cls_token, (x.shape[1], x.shape[2])).to(x.dtype)
        for blk in self.blocks:
            x = blk(x, self.rope_win if blk.window_size > 0 else self.rope_glb)
        return x.permute(0, 3, 1, 2)


def _ln_conv(cin: int, cout: int, k: int) -> Conv2d:
    return Conv2d(cin, cout, kernel_size=k, padding=k // 2, bias=False, norm=LayerNorm2d(cout, 1e-6))


class EVA02Pyramid(Backbone):
    """``net`` (:class:`EVA02ViT`) + simple feature pyramid → ``p3..p6`` (256 channels).

    Args:
        out_channels: pyramid width (256); in_chans: 3; other arguments go to :class:`EVA02ViT`.
    """

    size_divisibility = 32  # GLEE glee/backbone/eva02.py D2_EVA02.size_divisibility

    def __init__(self, out_channels: int = 256, in_chans: int = 3, out_features=("p3", "p4", "p5", "p6"),
                 **vit_args):
        super().__init__()
        self.in_chans = in_chans
        self.net = EVA02ViT(in_chans=in_chans, **vit_args)
        dim = self.net.patch_embed.proj.out_channels
        patch = self.net.patch_embed.proj.stride[0]
        self.simfp_3 = nn.Sequential(nn.ConvTranspose2d(dim, dim // 2, kernel_size=2, stride=2),
                                     _ln_conv(dim // 2, out_channels, 1), _ln_conv(out_channels, out_channels, 3))
        self.simfp_4 = nn.Sequential(_ln_conv(dim, out_channels, 1), _ln_conv(out_channels, out_channels, 3))
        self.simfp_5 = nn.Sequential(nn.MaxPool2d(kernel_size=2, stride=2),
                                     _ln_conv(dim, out_channels, 1), _ln_conv(out_channels, out_channels, 3))
        self._out_shapes = {f"p{i}": ShapeSpec(out_channels, s)
                            for i, s in ((3, patch // 2), (4, patch), (5, patch * 2), (6, patch * 4))}
        self._set_out_features(out_features)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x``: ``B×3×H×W`` (GLEE pads to ``img_size``²) → ``{p3, p4, p5, p6}``."""
        self._check_input(x, self.in_chans)
        f = self.net(x)
        p5 = self.simfp_5(f)
        out = {"p3": self.simfp_3(f), "p4": self.simfp_4(f), "p5": p5,
               "p6": F.max_pool2d(p5, kernel_size=1, stride=2, padding=0)}
        return {k: out[k] for k in self.out_features}


def build_eva02(size: str = "large", **overrides) -> EVA02Pyramid:
    """GLEE-Pro's backbone; ``overrides`` change any :class:`EVA02ViT` / pyramid argument."""
    return EVA02Pyramid(**{**variant_config(EVA02_CONFIGS, size, "EVA02"), **overrides})


def eva02_key_map() -> KeyMap:
    """Rules for GLEE's ``D2_EVA02`` state dict relative to the backbone. The official RoPE
    tables are persistent buffers, also repeated under every block's ``attn.rope``; ours are
    recomputed from the configuration, so all of them are dropped."""
    return (KeyMap()
            .drop(r"net\.(rope_win|rope_glb|blocks\.\d+\.attn\.rope)\.freqs_(cos|sin)",
                  "RoPE table, recomputed from the configuration")
            .rename(r"(?P<k>(net|simfp_[2-6])\..*)", r"\g<k>"))
