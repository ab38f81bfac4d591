"""Swin Transformer ("Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
Liu et al. 2021) in the Mask2Former ``D2SwinTransformer`` layout used by UniVS (Swin-T/B/L),
GLEE-Plus and UniRef++ (Swin-L).

Parameter names equal the official ones: ``patch_embed.{proj,norm}``,
``layers.{i}.blocks.{j}.{norm1,attn.{relative_position_bias_table,qkv,proj},norm2,mlp.{fc1,fc2}}``,
``layers.{i}.downsample.{reduction,norm}``, ``norm{0..3}`` (one LayerNorm per output).
``relative_position_index`` is recomputed from the window size (non-persistent); the official
buffer is dropped on conversion (see :func:`swin_key_map`).
Window attention runs on ``scaled_dot_product_attention`` with the relative-position bias and
the shifted-window mask (−100 between windows, as the official code) as an additive mask.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..convert_utils import KeyMap
from ..layers import GeluMlp
from .base import Backbone, ShapeSpec, variant_config

__all__ = ["SwinTransformer", "build_swin", "swin_key_map", "SWIN_CONFIGS"]

#: embed_dim, depths, num_heads, window_size, pretrain_img_size of the released models
SWIN_CONFIGS = {
    "tiny": dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7),
    "base": dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), window_size=12),
    "large": dict(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48), window_size=12),
}


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """``B×H×W×C`` (H, W multiples of ws) → ``(B·nW)×ws²×C``."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def window_reverse(windows: torch.Tensor, ws: int, h: int, w: int) -> torch.Tensor:
    """``(B·nW)×ws²×C`` → ``B×H×W×C``."""
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // ws) * (w // ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def relative_position_index(ws: int) -> torch.Tensor:
    """``ws²×ws²`` index into the ``(2ws−1)²`` bias table (row-major over (Δy, Δx))."""
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (ws - 1)
    return rel[..., 0] * (2 * ws - 1) + rel[..., 1]


class WindowAttention(nn.Module):
    """Multi-head self-attention inside ``ws×ws`` windows with a learned relative-position bias.

    ``forward(x, mask)``: ``x`` ``(B·nW)×ws²×C``; ``mask`` ``nW×ws²×ws²`` additive or None.
    """

    def __init__(self, dim: int, window_size: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        self.window_size = window_size
        self.num_heads = num_heads
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def init_non_persistent_buffers(self) -> None:
        """Recompute ``relative_position_index`` (not in state dicts) on the bias table's
        device: a model built on ``meta`` and loaded in place has none
        (:func:`evalkit.zoo.convert_utils.load_into_meta`)."""
        device = self.relative_position_bias_table.device
        self.register_buffer("relative_position_index", relative_position_index(self.window_size).to(device),
                             persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        bw, n, c = x.shape
        q, k, v = self.qkv(x).reshape(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, -1).permute(2, 0, 1).to(q.dtype)  # heads×N×N
        if mask is None:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias[None])
        else:
            nw = mask.shape[0]
            full = bias[None] + mask[:, None].to(q.dtype)  # nW×heads×N×N
            shape5 = (bw // nw, nw, self.num_heads, n, -1)
            out = F.scaled_dot_product_attention(q.reshape(shape5), k.reshape(shape5), v.reshape(shape5),
                                                 attn_mask=full[None])
            out = out.reshape(bw, self.num_heads, n, -1)
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class SwinTransformerBlock(nn.Module):
    """Pre-norm (shifted-)window attention + MLP on ``B×(H·W)×C`` tokens."""

    def __init__(self, dim: int, num_heads: int, window_size: int, shift_size: int, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True):
        super().__init__()
        self.window_size = window_size
        self.shift_size = shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = GeluMlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, h: int, w: int, shift_mask: torch.Tensor | None) -> torch.Tensor:
        b, _, c = x.shape
        ws = self.window_size
        shortcut = x
        x = self.norm1(x).view(b, h, w, c)
        # pad the map to whole windows (right/bottom), as the official code
        pad_r, pad_b = (ws - w % ws) % ws, (ws - h % ws) % ws
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        hp, wp = h + pad_b, w + pad_r
        if self.shift_size:
            x = torch.roll(x, shifts=(-self.shift_size, -self.shift_size), dims=(1, 2))
        x = self.attn(window_partition(x, ws), shift_mask if self.shift_size else None)
        x = window_reverse(x, ws, hp, wp)
        if self.shift_size:
            x = torch.roll(x, shifts=(self.shift_size, self.shift_size), dims=(1, 2))
        x = x[:, :h, :w].reshape(b, h * w, c)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2×2 neighbourhood concat (order (0,0),(1,0),(0,1),(1,1)) → LayerNorm(4C) → Linear 4C→2C."""

    def __init__(self, dim: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, _, c = x.shape
        x = F.pad(x.view(b, h, w, c), (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class BasicLayer(nn.Module):
    """One stage: ``depth`` blocks alternating plain and shifted windows, then PatchMerging."""

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float,
                 qkv_bias: bool, downsample: bool):
        super().__init__()
        self.window_size = window_size
        self.shift_size = window_size // 2
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2,
                                 mlp_ratio, qkv_bias)
            for i in range(depth))
        self.downsample = PatchMerging(dim) if downsample else None

    def shift_mask(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        """``nW×ws²×ws²``: 0 within a region, −100 across regions of the cyclically shifted map."""
        ws, s = self.window_size, self.shift_size
        hp, wp = math.ceil(h / ws) * ws, math.ceil(w / ws) * ws
        img = torch.zeros((1, hp, wp, 1), device=device)
        cnt = 0
        for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
            for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
                img[:, hs, wsl, :] = cnt
                cnt += 1
        win = window_partition(img, ws).squeeze(-1)
        diff = win[:, None, :] - win[:, :, None]
        return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)

    def forward(self, x: torch.Tensor, h: int, w: int):
        """Returns (stage output ``B×(h·w)×C``, downsampled tokens, their h, w)."""
        mask = self.shift_mask(h, w, x.device)
        for blk in self.blocks:
            x = blk(x, h, w, mask)
        if self.downsample is None:
            return x, x, h, w
        return x, self.downsample(x, h, w), (h + 1) // 2, (w + 1) // 2


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch×patch`` conv (input zero-padded to a multiple) + LayerNorm."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int, patch_norm: bool = True):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if patch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch_size
        x = F.pad(x, (0, (p - x.shape[3] % p) % p, 0, (p - x.shape[2] % p) % p))
        x = self.proj(x)
        if self.norm is not None:
            x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return x


class SwinTransformer(Backbone):
    """Swin backbone returning ``res2..res5`` (strides 4–32, channels C, 2C, 4C, 8C).

    Args:
        embed_dim, depths, num_heads, window_size: see :data:`SWIN_CONFIGS`.
        patch_size: 4; in_chans: 3; mlp_ratio: 4; qkv_bias: True.
        ape: absolute position embedding (off in every released model; then
            ``absolute_pos_embed`` ``1×C×(pretrain/patch)²`` is a parameter).
        pretrain_img_size: only sizes ``absolute_pos_embed``.
    """

    size_divisibility = 32  # the D2SwinTransformer wrapper's size_divisibility (Mask2Former, UNINEXT)

    def __init__(self, embed_dim: int = 96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size: int = 7,
                 patch_size: int = 4, in_chans: int = 3, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 ape: bool = False, patch_norm: bool = True, pretrain_img_size: int = 224,
                 out_features=("res2", "res3", "res4", "res5")):
        super().__init__()
        self.in_chans = in_chans
        self.num_layers = len(depths)
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim, patch_norm)
        self.absolute_pos_embed = None
        if ape:
            r = pretrain_img_size // patch_size
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, embed_dim, r, r))
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)
        self.num_features = [embed_dim * 2 ** i for i in range(self.num_layers)]
        self.layers = nn.ModuleList(
            BasicLayer(self.num_features[i], depths[i], num_heads[i], window_size, mlp_ratio, qkv_bias,
                       downsample=i < self.num_layers - 1)
            for i in range(self.num_layers))
        for i, ch in enumerate(self.num_features):
            self.add_module(f"norm{i}", nn.LayerNorm(ch))
        self._out_shapes = {f"res{i + 2}": ShapeSpec(ch, patch_size * 2 ** i)
                            for i, ch in enumerate(self.num_features)}
        self._set_out_features(out_features)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x``: ``B×3×H×W`` → ``{res_k: B×C_k×⌈H/s_k⌉×⌈W/s_k⌉}``."""
        self._check_input(x, self.in_chans)
        x = self.patch_embed(x)
        h, w = x.shape[2:]
        if self.absolute_pos_embed is not None:
            x = x + F.interpolate(self.absolute_pos_embed, size=(h, w), mode="bicubic")
        x = x.flatten(2).transpose(1, 2)
        out = {}
        for i, layer in enumerate(self.layers):
            x_out, x, nh, nw = layer(x, h, w)
            name = f"res{i + 2}"
            if name in self.out_features:
                y = getattr(self, f"norm{i}")(x_out)
                out[name] = y.view(-1, h, w, self.num_features[i]).permute(0, 3, 1, 2).contiguous()
            h, w = nh, nw
        return out


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def build_swin(size: str = "tiny", **overrides) -> SwinTransformer:
    """``size`` one of :data:`SWIN_CONFIGS` (tiny/base/large); ``overrides`` change any field."""
    return SwinTransformer(**{**variant_config(SWIN_CONFIGS, size, "Swin"), **overrides})


def swin_key_map() -> KeyMap:
    """Rules for an official ``D2SwinTransformer`` state dict relative to the backbone."""
    return (KeyMap()
            .drop(r"layers\.\d+\.blocks\.\d+\.attn\.relative_position_index",
                  "derived buffer, recomputed from the window size")
            .drop(r"layers\.\d+\.blocks\.\d+\.attn_mask", "derived shift mask, recomputed per input")
            .rename(r"(?P<k>(patch_embed|layers|norm\d|absolute_pos_embed)(\..*)?)", r"\g<k>"))
