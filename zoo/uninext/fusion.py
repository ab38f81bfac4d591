"""Early fusion: bi-directional cross-attention between image and prompt features.

UNINEXT fuses the prompt embedding into the visual features before the first deformable encoder
layer (paper §3.2, "early fusion"), with GLIP's ``BiAttentionBlock``: every visual token attends
to the prompt tokens and every prompt token attends to the visual tokens, through one shared
similarity matrix; both updates are scaled by learnable per-channel ``gamma`` and added to the
layer-normalised inputs.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["BiMultiHeadAttention", "BiAttentionBlock"]

# GLIP clamps the similarities so fp16 stays finite; the same bound is kept in every precision.
_CLAMP = 50000.0


class BiMultiHeadAttention(nn.Module):
    """Multi-head attention in both directions between ``v`` (visual) and ``l`` (language).

    Args:
        v_dim, l_dim: widths of the visual (256) and prompt (768) features.
        embed_dim: attention width (2048); num_heads: 8.

    ``forward(v, l, mask_l)``: ``v`` ``B×Nv×v_dim``, ``l`` ``B×Nl×l_dim``, ``mask_l`` ``B×Nl``
    (1/True = real token, 0/False = padding) → ``(delta_v B×Nv×v_dim, delta_l B×Nl×l_dim)``.
    Padding tokens are never attended to by visual tokens; prompt tokens attend to all visual
    tokens (the official block passes no visual mask).
    """

    def __init__(self, v_dim: int, l_dim: int, embed_dim: int, num_heads: int):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.v_proj = nn.Linear(v_dim, embed_dim)
        self.l_proj = nn.Linear(l_dim, embed_dim)
        self.values_v_proj = nn.Linear(v_dim, embed_dim)
        self.values_l_proj = nn.Linear(l_dim, embed_dim)
        self.out_v_proj = nn.Linear(embed_dim, v_dim)
        self.out_l_proj = nn.Linear(embed_dim, l_dim)
        for lin in (self.v_proj, self.l_proj, self.values_v_proj, self.values_l_proj,
                    self.out_v_proj, self.out_l_proj):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)  # B×h×N×d

    def forward(self, v: torch.Tensor, l: torch.Tensor, mask_l: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        b, nv, _ = v.shape
        q = self._heads(self.v_proj(v) * self.scale)
        k = self._heads(self.l_proj(l))
        val_v = self._heads(self.values_v_proj(v))
        val_l = self._heads(self.values_l_proj(l))
        sim = (q @ k.transpose(-1, -2)).clamp(-_CLAMP, _CLAMP)  # B×h×Nv×Nl
        # language side: each token's distribution over visual tokens (max-subtracted, clamped)
        sim_l = sim.transpose(-1, -2)
        sim_l = (sim_l - sim_l.amax(-1, keepdim=True)).clamp(-_CLAMP, _CLAMP)
        attn_l = sim_l.softmax(-1)
        if mask_l is not None:
            bias = torch.zeros(mask_l.shape, dtype=sim.dtype, device=sim.device)
            bias = bias.masked_fill(~mask_l.bool(), -9e15)
            sim = sim + bias[:, None, None, :]
        attn_v = sim.softmax(-1)
        out_v = (attn_v @ val_l).transpose(1, 2).reshape(b, nv, -1)
        out_l = (attn_l @ val_v).transpose(1, 2).reshape(b, l.shape[1], -1)
        return self.out_v_proj(out_v), self.out_l_proj(out_l)


class BiAttentionBlock(nn.Module):
    """LayerNorm both inputs, bi-directional attention, gated residual (``gamma``).

    Parameter names follow the official ``BiAttentionBlockForCheckpoint``:
    ``layer_norm_v``, ``layer_norm_l``, ``attn.*``, ``gamma_v`` (v_dim), ``gamma_l`` (l_dim).

    Args:
        init_values: initial gamma (1 / number of encoder layers officially).
    """

    def __init__(self, v_dim: int = 256, l_dim: int = 768, embed_dim: int = 2048, num_heads: int = 8,
                 init_values: float = 1.0 / 6):
        super().__init__()
        self.layer_norm_v = nn.LayerNorm(v_dim)
        self.layer_norm_l = nn.LayerNorm(l_dim)
        self.attn = BiMultiHeadAttention(v_dim, l_dim, embed_dim, num_heads)
        self.gamma_v = nn.Parameter(init_values * torch.ones(v_dim))
        self.gamma_l = nn.Parameter(init_values * torch.ones(l_dim))

    def forward(self, v: torch.Tensor, l: torch.Tensor, mask_l: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``v`` ``B×Nv×v_dim``, ``l`` ``B×Nl×l_dim``, ``mask_l`` ``B×Nl`` → fused ``(v, l)``."""
        v = self.layer_norm_v(v)
        l = self.layer_norm_l(l)
        dv, dl = self.attn(v, l, mask_l)
        return v + self.gamma_v * dv, l + self.gamma_l * dl
