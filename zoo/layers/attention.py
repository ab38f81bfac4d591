"""Multi-head attention on :func:`torch.nn.functional.scaled_dot_product_attention`.

Two parameter layouts, matching what the official models store:

* :class:`MultiheadAttention` — ``in_proj_weight`` (3E×E), ``in_proj_bias`` (3E), ``out_proj``
  — the layout of ``torch.nn.MultiheadAttention`` (DETR decoders, Mask2Former, CLIP's
  ``ResidualAttentionBlock``). Same call signature and mask conventions as the torch module.
* :class:`SeparateProjAttention` — ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` Linear
  layers (Hugging Face CLIP/BERT-style, GLIP/UniRef fusion attention).

SDPA picks a fused kernel (flash / memory-efficient) where one applies and needs no
``L×S`` weight matrix otherwise; attention weights are therefore not returned.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MultiheadAttention", "SeparateProjAttention", "merge_masks"]


def merge_masks(
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None,
    batch: int,
    num_heads: int,
    q_len: int,
    k_len: int,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """Combine masks in ``nn.MultiheadAttention`` conventions into one additive SDPA mask.

    Args:
        attn_mask: ``L×S`` or ``(B·heads)×L×S``; bool (True = *not allowed*) or float (added).
        key_padding_mask: ``B×S``; bool (True = padding, ignored) or float (added).

    Returns:
        ``None`` or a float mask broadcastable to ``B×heads×L×S`` (``-inf`` where masked).
    """
    out = None
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            attn_mask = torch.zeros(attn_mask.shape, dtype=dtype, device=attn_mask.device).masked_fill(
                attn_mask, float("-inf")
            )
        attn_mask = attn_mask.to(dtype)
        if attn_mask.dim() == 2:
            out = attn_mask.view(1, 1, q_len, k_len)
        elif attn_mask.dim() == 3:
            out = attn_mask.view(batch, num_heads, q_len, k_len)
        else:
            raise ValueError(f"attn_mask must be L×S or (B·heads)×L×S, got {tuple(attn_mask.shape)}")
    if key_padding_mask is not None:
        if key_padding_mask.shape != (batch, k_len):
            raise ValueError(
                f"key_padding_mask must be B×S = {(batch, k_len)}, got {tuple(key_padding_mask.shape)}"
            )
        if key_padding_mask.dtype == torch.bool:
            kpm = torch.zeros(key_padding_mask.shape, dtype=dtype, device=key_padding_mask.device)
            kpm = kpm.masked_fill(key_padding_mask, float("-inf"))
        else:
            kpm = key_padding_mask.to(dtype)
        kpm = kpm.view(batch, 1, 1, k_len)
        out = kpm if out is None else out + kpm
    return out


def _heads(x: torch.Tensor, num_heads: int, batch_first: bool) -> torch.Tensor:
    """``L×B×E`` (or ``B×L×E``) → ``B×heads×L×(E/heads)``."""
    if not batch_first:
        x = x.transpose(0, 1)
    b, n, e = x.shape
    return x.reshape(b, n, num_heads, e // num_heads).transpose(1, 2)


def _unheads(x: torch.Tensor, batch_first: bool) -> torch.Tensor:
    b, h, n, d = x.shape
    x = x.transpose(1, 2).reshape(b, n, h * d)
    return x if batch_first else x.transpose(0, 1)


class MultiheadAttention(nn.Module):
    """Drop-in for ``nn.MultiheadAttention`` (same parameter names, shapes, masks) computed with
    SDPA. Only ``kdim == vdim == embed_dim`` is supported (the packed layout).

    Args:
        embed_dim: E; num_heads: must divide E; dropout: attention dropout (training only);
        bias: biases in the projections; batch_first: inputs ``B×L×E`` instead of ``L×B×E``.

    ``forward(query, key, value, key_padding_mask=None, attn_mask=None)`` returns
    ``(output, None)`` with output shaped like ``query``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # torch.nn.MultiheadAttention's initialisation
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, None]:
        if need_weights:
            raise ValueError("attention weights are not computed (fused SDPA); pass need_weights=False")
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q = b_k = b_v = None
        if self.in_proj_bias is not None:
            b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        q = _heads(F.linear(query, w_q, b_q), self.num_heads, self.batch_first)
        k = _heads(F.linear(key, w_k, b_k), self.num_heads, self.batch_first)
        v = _heads(F.linear(value, w_v, b_v), self.num_heads, self.batch_first)
        mask = merge_masks(attn_mask, key_padding_mask, q.shape[0], self.num_heads,
                           q.shape[2], k.shape[2], q.dtype)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out_proj(_unheads(out, self.batch_first)), None


class SeparateProjAttention(nn.Module):
    """Multi-head attention with separate ``q_proj``/``k_proj``/``v_proj``/``out_proj`` Linear
    layers, batch-first (``B×L×E`` in and out).

    Args:
        embed_dim: E of the query and output; num_heads: heads;
        kdim, vdim: key/value input dims (default E); inner_dim: projected width (default E;
        UniRef's fusion attention uses heads × 256); dropout: attention dropout (training).
    """

    def __init__(self, embed_dim: int, num_heads: int, kdim: int | None = None, vdim: int | None = None,
                 inner_dim: int | None = None, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        inner_dim = inner_dim or embed_dim
        if inner_dim % num_heads:
            raise ValueError(f"inner_dim {inner_dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(embed_dim, inner_dim, bias=bias)
        self.k_proj = nn.Linear(kdim or embed_dim, inner_dim, bias=bias)
        self.v_proj = nn.Linear(vdim or embed_dim, inner_dim, bias=bias)
        self.out_proj = nn.Linear(inner_dim, embed_dim, bias=bias)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Masks as :func:`merge_masks` (bool True = masked out)."""
        q = _heads(self.q_proj(query), self.num_heads, True)
        k = _heads(self.k_proj(key), self.num_heads, True)
        v = _heads(self.v_proj(value), self.num_heads, True)
        mask = merge_masks(attn_mask, key_padding_mask, q.shape[0], self.num_heads,
                           q.shape[2], k.shape[2], q.dtype)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out_proj(_unheads(out, True))
