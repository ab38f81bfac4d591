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

# GLIP's bi-attention block is shared with UNINEXT (same parameters and arithmetic); GLEE calls it
# without a prompt mask, which reproduces the official quirk described above.
from ..uninext.fusion import BiAttentionBlock, BiMultiHeadAttention

__all__ = ["BiMultiHeadAttention", "BiAttentionBlock", "VLFuse"]


class VLFuse(nn.Module):
    """The fusion layer (``b_attn``) placed before encoder layer 0."""

    def __init__(self, v_dim: int = 256, l_dim: int = 256, embed_dim: int = 2048, num_heads: int = 8):
        super().__init__()
        self.b_attn = BiAttentionBlock(v_dim, l_dim, embed_dim, num_heads)  # no mask: see module docstring

    def forward(self, visual: torch.Tensor, prompt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``visual`` ``B×S×C`` flattened multi-scale tokens; ``prompt`` ``B×L×C``."""
        return self.b_attn(visual, prompt)
