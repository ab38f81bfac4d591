"""Early vision-language fusion before the pixel decoder (GLIP's ``VLFuse``, as GLEE uses it).

One bi-directional cross-attention block: image tokens attend to prompt tokens (class-name
tokens, expression tokens or visual-prompt template tokens) and vice versa. GLEE applies it
only before the first deformable encoder layer; the fused prompt tokens are not used later.

Official quirks kept: both streams are layer-normalised *before* the residual, so the block
returns ``LN(v) + γ_v·Δv`` (not ``v + γ_v·Δv``); attention logits are clamped to ±50000; the
text-side softmax subtracts its row maximum; and no prompt token is masked. GLEE hands the block
a *boolean* validity mask, which the official ``masked_fill(mask == 0, -9e15)`` turns into an
all-``True`` tensor (``-9e15`` cast to bool), so the added term is a constant 1 for every token:
image tokens also attend to the padding of a 77-token expression. Reproduced by not masking.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["BiMultiHeadAttention", "BiAttentionBlock", "VLFuse"]

_CLAMP = 50000.0


class BiMultiHeadAttention(nn.Module):
    """Image↔prompt attention sharing one logit matrix.

    Args:
        v_dim: image token width (256); l_dim: prompt token width (256 after the language
        projection); embed_dim: inner width (2048); num_heads: 8.
    """

    def __init__(self, v_dim: int, l_dim: int, embed_dim: int, num_heads: int):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must divide by num_heads {num_heads}")
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
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, v: torch.Tensor, l: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``v`` ``B×Nv×v_dim``, ``l`` ``B×Nl×l_dim`` → ``(Δv B×Nv×v_dim, Δl B×Nl×l_dim)``."""
        q = self._heads(self.v_proj(v) * self.scale)
        k = self._heads(self.l_proj(l))
        val_v = self._heads(self.values_v_proj(v))
        val_l = self._heads(self.values_l_proj(l))
        logits = (q @ k.transpose(-1, -2)).clamp(-_CLAMP, _CLAMP)  # B×h×Nv×Nl
        logits_l = logits.transpose(-1, -2)
        logits_l = (logits_l - logits_l.amax(-1, keepdim=True)).clamp(-_CLAMP, _CLAMP)
        attn_l = logits_l.softmax(-1)  # B×h×Nl×Nv
        attn_v = logits.softmax(-1)
        out_v = (attn_v @ val_l).transpose(1, 2).flatten(2)
        out_l = (attn_l @ val_v).transpose(1, 2).flatten(2)
        return self.out_v_proj(out_v), self.out_l_proj(out_l)


class BiAttentionBlock(nn.Module):
    """Pre-norm bi-attention with layer scale ``gamma_v``/``gamma_l`` (init 1/6)."""

    def __init__(self, v_dim: int, l_dim: int, embed_dim: int, num_heads: int, init_values: float = 1.0 / 6):
        super().__init__()
        self.layer_norm_v = nn.LayerNorm(v_dim)
        self.layer_norm_l = nn.LayerNorm(l_dim)
        self.attn = BiMultiHeadAttention(v_dim, l_dim, embed_dim, num_heads)
        self.gamma_v = nn.Parameter(init_values * torch.ones(v_dim))
        self.gamma_l = nn.Parameter(init_values * torch.ones(l_dim))

    def forward(self, v: torch.Tensor, l: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.layer_norm_v(v)
        l = self.layer_norm_l(l)
        dv, dl = self.attn(v, l)
        return v + self.gamma_v * dv, l + self.gamma_l * dl


class VLFuse(nn.Module):
    """The fusion layer (``b_attn``) placed before encoder layer 0."""

    def __init__(self, v_dim: int = 256, l_dim: int = 256, embed_dim: int = 2048, num_heads: int = 8):
        super().__init__()
        self.b_attn = BiAttentionBlock(v_dim, l_dim, embed_dim, num_heads)

    def forward(self, visual: torch.Tensor, prompt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``visual`` ``B×S×C`` flattened multi-scale tokens; ``prompt`` ``B×L×C``."""
        return self.b_attn(visual, prompt)
