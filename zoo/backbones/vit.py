"""Plain ViT backbone as UNINEXT's ``D2ViT`` (ViT-H/16 with MAE weights), ViTDet-style
("Exploring Plain Vision Transformer Backbones for Object Detection", Li et al. 2022).

Windowed (14×14) and global attention blocks, both with decomposed relative positions; an
absolute position table from 224-pixel pre-training (with a cls slot) resized to the token grid;
and UNINEXT's simple feature pyramid on the stride-16 map: ``fpn1`` a 2×2 stride-2 transposed
conv (→ ``res3``, D/2 channels, stride 8), ``fpn2`` identity (→ ``res4``, stride 16) and
``fpn3`` a 2×2 max-pool (→ ``res5``, stride 32). There is no final norm.

Official quirk kept: ``window_block_indexes`` is ``(0, 1, 3, 4, 6, 7, 9, 10)`` for every size,
so in ViT-H (32 blocks) only those eight blocks use windows and blocks 2, 5, 8, 11 and 12–31 use
global attention (rel-pos tables sized for a 1024-pixel input, 127 entries).

Parameter names equal the official ones (``patch_embed.proj``, ``pos_embed``,
``blocks.{i}.{norm1,attn.{qkv,proj,rel_pos_h,rel_pos_w},norm2,mlp.{fc1,fc2}}``, ``fpn1.0``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..convert_utils import KeyMap
from ..layers import GeluMlp
from .base import Backbone, ShapeSpec, init_linears_trunc_normal, variant_config
from .vit_utils import PatchEmbed, decomposed_rel_pos_bias, get_abs_pos, window_partition, window_unpartition

__all__ = ["ViT", "build_vit", "vit_key_map", "VIT_CONFIGS", "UNINEXT_WINDOW_BLOCKS"]

VIT_CONFIGS = {
    "base": dict(embed_dim=768, depth=12, num_heads=12),
    "large": dict(embed_dim=1024, depth=24, num_heads=16),
    "huge": dict(embed_dim=1280, depth=32, num_heads=16),
}
UNINEXT_WINDOW_BLOCKS = (0, 1, 3, 4, 6, 7, 9, 10)


class Attention(nn.Module):
    """Multi-head self-attention on a ``B×H×W×C`` token map with optional decomposed rel-pos.

    Args:
        input_size: token grid the rel-pos tables are sized for (``2s−1`` rows each).
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, use_rel_pos: bool = True,
                 input_size: tuple[int, int] = (14, 14)):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.use_rel_pos = use_rel_pos
        if use_rel_pos:
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each B×heads×N×d
        bias = None
        if self.use_rel_pos:
            bias = decomposed_rel_pos_bias(q.reshape(b * self.num_heads, h * w, -1),
                                           self.rel_pos_h, self.rel_pos_w, (h, w), (h, w))
            bias = bias.view(b, self.num_heads, h * w, h * w)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(x.transpose(1, 2).reshape(b, h, w, -1))


class Block(nn.Module):
    """Pre-norm transformer block; ``window_size > 0`` restricts attention to windows."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 use_rel_pos: bool = True, window_size: int = 0, input_size: tuple[int, int] = (64, 64)):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias, use_rel_pos,
                              input_size if window_size == 0 else (window_size, window_size))
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = GeluMlp(dim, int(dim * mlp_ratio))
        self.window_size = window_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            h, w = x.shape[1:3]
            x, pad_hw = window_partition(x, self.window_size)
            x = window_unpartition(self.attn(x), self.window_size, pad_hw, (h, w))
        else:
            x = self.attn(x)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class ViT(Backbone):
    """ViT backbone with UNINEXT's three-level simple feature pyramid.

    Args:
        embed_dim, depth, num_heads: see :data:`VIT_CONFIGS` (ViT-H: 1280, 32, 16).
        img_size: the size the global rel-pos tables are built for (1024).
        patch_size: 16; in_chans: 3, or 4 for the RGB+mask template encoder.
        window_size: 14; window_block_indexes: see the module note.
        pretrain_img_size: 224 (sizes ``pos_embed``: ``1×(1+(224/16)²)×D``).

    Output ``res3`` ``B×D/2×H/8×W/8``, ``res4`` ``B×D×H/16×W/16``, ``res5`` ``B×D×H/32×W/32``.
    """

    size_divisibility = 32  # UNINEXT uninext/backbone/vit.py D2ViT.size_divisibility

    def __init__(self, embed_dim: int = 1280, depth: int = 32, num_heads: int = 16, img_size: int = 1024,
                 patch_size: int = 16, in_chans: int = 3, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 window_size: int = 14, window_block_indexes=UNINEXT_WINDOW_BLOCKS, use_rel_pos: bool = True,
                 pretrain_img_size: int = 224, pretrain_use_cls_token: bool = True,
                 out_features=("res3", "res4", "res5")):
        super().__init__()
        self.in_chans = in_chans
        self.patch_size = patch_size
        self.pretrain_use_cls_token = pretrain_use_cls_token
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        n_pos = (pretrain_img_size // patch_size) ** 2 + int(pretrain_use_cls_token)
        self.pos_embed = nn.Parameter(torch.zeros(1, n_pos, embed_dim))
        grid = (img_size // patch_size, img_size // patch_size)
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, use_rel_pos,
                  window_size if i in window_block_indexes else 0, grid)
            for i in range(depth))
        self.fpn1 = nn.Sequential(nn.ConvTranspose2d(embed_dim, embed_dim // 2, kernel_size=2, stride=2))
        self._out_shapes = {
            "res3": ShapeSpec(embed_dim // 2, patch_size // 2),
            "res4": ShapeSpec(embed_dim, patch_size),
            "res5": ShapeSpec(embed_dim, patch_size * 2),
        }
        self._set_out_features(out_features)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        init_linears_trunc_normal(self)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x``: ``B×in_chans×H×W`` → ``{res3, res4, res5}`` (see class docstring)."""
        self._check_input(x, self.in_chans)
        x = self.patch_embed(x)
        x = x + get_abs_pos(self.pos_embed, self.pretrain_use_cls_token, (x.shape[1], x.shape[2])).to(x.dtype)
        for blk in self.blocks:
            x = blk(x)
        xp = x.permute(0, 3, 1, 2)
        out = {}
        if "res3" in self.out_features:
            out["res3"] = self.fpn1(xp)
        if "res4" in self.out_features:
            out["res4"] = xp.contiguous()
        if "res5" in self.out_features:
            out["res5"] = F.max_pool2d(xp, kernel_size=2, stride=2)
        return out


def build_vit(size: str = "huge", **overrides) -> ViT:
    """``size`` one of :data:`VIT_CONFIGS` with UNINEXT's settings (window 14, rel-pos)."""
    return ViT(**{**variant_config(VIT_CONFIGS, size, "ViT"), **overrides})


def vit_key_map() -> KeyMap:
    """Rules for UNINEXT's ``D2ViT`` state dict relative to the backbone (names agree)."""
    return KeyMap().rename(r"(?P<k>(patch_embed|pos_embed|blocks|fpn1)(\..*)?)", r"\g<k>")
