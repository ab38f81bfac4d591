"""UniFusion (paper §3.3): multi-scale fusion of the current frame with its references.

For every feature level ``l`` (the same weights at every level), the current-frame tokens ``F_l``
attend to the reference keys ``K`` with values ``V``; the result is modulated adaLN-style by a
scale, shift and gate regressed from the pooled reference feature ``f_ref`` and added to the
input::

    A   = Attn(LN_v(F_l), LN_r(K), V)
    γ, β, α = Linear(SiLU(f_ref))            # zero-initialised: fusion starts as identity
    F'_l = F_l + α · (A · (1 + γ) + β)

For a language reference ``K = V`` are the projected word features (one set for all levels);
for a mask reference ``K`` are the visual features of the reference frame at level ``l`` and ``V``
the mask encoder's output there (:mod:`.reference`). With both (R-VOS after the first frame) the
two results are added.

The attention is 8 heads of width 256 (a 2048-wide projection). The official code runs it with
the flash-attn package on variable-length, unpadded keys in bf16; here it runs on
:func:`torch.nn.functional.scaled_dot_product_attention`: for one sample the padded key tokens
are removed so no mask is needed (the flash / fused CPU kernels apply) — also for a batch whose
samples share their padding (several objects on one frame); otherwise a boolean key mask is
passed. On CUDA the attention is computed in bf16 like the official one
(``attn_dtype``), on CPU in the input precision.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import SeparateProjAttention

__all__ = ["ReferenceFeatures", "UniFusion"]


@dataclass
class ReferenceFeatures:
    """Keys, values and condition of a reference, per feature level.

    Attributes:
        keys: per level ``B×N_l×C`` (a language reference has one level, used for all).
        values: per level ``B×N_l×C``.
        padding: per level ``B×N_l`` bool, True on padding tokens.
        embeds: per level ``B×C`` pooled reference feature (the adaLN condition).
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    padding: list[torch.Tensor]
    embeds: list[torch.Tensor]

    def level(self, l: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        i = l if len(self.keys) > 1 else 0
        return self.keys[i], self.values[i], self.padding[i], self.embeds[i]

    @staticmethod
    def concat(refs: Sequence["ReferenceFeatures"]) -> "ReferenceFeatures":
        """Several references of the same sample as one: tokens concatenated, conditions
        averaged (official ``concat_mask_dict_features``: first + previous frame)."""
        n = len(refs[0].keys)
        return ReferenceFeatures(
            [torch.cat([r.keys[i] for r in refs], 1) for i in range(n)],
            [torch.cat([r.values[i] for r in refs], 1) for i in range(n)],
            [torch.cat([r.padding[i] for r in refs], 1) for i in range(n)],
            [torch.stack([r.embeds[i] for r in refs], 1).mean(1) for i in range(n)])

    def split(self) -> list["ReferenceFeatures"]:
        """One reference per sample of the batch (views, no copy)."""
        n = self.keys[0].shape[0]
        return [ReferenceFeatures([k[i:i + 1] for k in self.keys], [v[i:i + 1] for v in self.values],
                                  [p[i:i + 1] for p in self.padding], [e[i:i + 1] for e in self.embeds])
                for i in range(n)]

    @staticmethod
    def stack(refs: Sequence["ReferenceFeatures"]) -> "ReferenceFeatures | None":
        """Several samples' references as one batch, or None when their token counts differ."""
        if len({tuple(tuple(k.shape[1:]) for k in r.keys) for r in refs}) != 1:
            return None
        n = len(refs[0].keys)
        return ReferenceFeatures([torch.cat([r.keys[i] for r in refs]) for i in range(n)],
                                 [torch.cat([r.values[i] for r in refs]) for i in range(n)],
                                 [torch.cat([r.padding[i] for r in refs]) for i in range(n)],
                                 [torch.cat([r.embeds[i] for r in refs]) for i in range(n)])

    def merge_batch(self) -> "ReferenceFeatures":
        """The ``B`` samples of this reference as one sample (few-shot supports: tokens of all
        shots concatenated, conditions averaged; official ``aggregate=True``)."""
        return ReferenceFeatures([k.flatten(0, 1)[None] for k in self.keys],
                                 [v.flatten(0, 1)[None] for v in self.values],
                                 [p.flatten(0, 1)[None] for p in self.padding],
                                 [e.mean(0, keepdim=True) for e in self.embeds])


class UniFusion(nn.Module):
    """Reference → current-frame fusion, one set of weights for all levels.

    Args:
        d_model: feature width (256) of the current frame and of the references.
        num_heads, head_dim: attention heads (8) and their width (256).

    Parameters (official names): ``norm_v``, ``norm_l`` (LayerNorms of queries and keys),
    ``attn.{q,k,v,out}_proj``, ``adaLN_modulation.1`` (Linear d→3d after SiLU).
    """

    def __init__(self, d_model: int = 256, num_heads: int = 8, head_dim: int = 256):
        super().__init__()
        self.num_heads = num_heads
        self.norm_v = nn.LayerNorm(d_model)
        self.norm_l = nn.LayerNorm(d_model)
        self.attn = SeparateProjAttention(d_model, num_heads, inner_dim=num_heads * head_dim)
        for lin in (self.attn.q_proj, self.attn.k_proj, self.attn.v_proj, self.attn.out_proj):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d_model, 3 * d_model))
        nn.init.zeros_(self.adaLN_modulation[1].weight)
        nn.init.zeros_(self.adaLN_modulation[1].bias)
        #: attention precision: None = bf16 on CUDA (as the official flash-attn path), else input
        self.attn_dtype: torch.dtype | None = None

    def attend(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               padding: torch.Tensor) -> torch.Tensor:
        """``query`` ``B×Nq×C``, ``key``/``value`` ``B×Nk×C``, ``padding`` ``B×Nk`` → ``B×Nq×C``."""
        a = self.attn
        q, k, v = a.q_proj(query), a.k_proj(key), a.v_proj(value)
        b, nq, inner = q.shape
        mask = None
        if b == 1 or bool((padding == padding[:1]).all()):
            # the same keys are padding in every sample: drop them, no mask needed
            keep = ~padding[0]
            if not bool(keep.all()):
                k, v = k[:, keep], v[:, keep]
        else:
            mask = (~padding)[:, None, None, :]

        def heads(x):
            return x.view(b, x.shape[1], self.num_heads, inner // self.num_heads).transpose(1, 2)

        dtype = self.attn_dtype or (torch.bfloat16 if q.is_cuda else q.dtype)
        out = F.scaled_dot_product_attention(heads(q).to(dtype), heads(k).to(dtype), heads(v).to(dtype),
                                             attn_mask=mask)
        return a.out_proj(out.to(q.dtype).transpose(1, 2).reshape(b, nq, inner))

    def branch(self, src: torch.Tensor, ref: ReferenceFeatures, level: int) -> torch.Tensor:
        """The gated, modulated attention result of one reference at one level: ``B×N×C``."""
        key, value, padding, embed = ref.level(level)
        out = self.attend(self.norm_v(src), self.norm_l(key), value, padding)
        shift, scale, gate = self.adaLN_modulation(embed).chunk(3, dim=1)
        return gate[:, None] * (out * (1 + scale[:, None]) + shift[:, None])

    def forward(self, srcs: list[torch.Tensor], language: ReferenceFeatures | None = None,
                mask: ReferenceFeatures | None = None) -> list[torch.Tensor]:
        """Fuse ``srcs`` (per level ``B×C×H_l×W_l``) with a language and/or a mask reference;
        returns the fused maps (same shapes)."""
        if language is None and mask is None:
            raise ValueError("UniFusion needs a language and/or a mask reference")
        out = []
        for lvl, src in enumerate(srcs):
            b, c, h, w = src.shape
            x = src.flatten(2).transpose(1, 2)
            fused = x
            if language is not None:
                fused = fused + self.branch(x, language, lvl)
            if mask is not None:
                fused = fused + self.branch(x, mask, lvl)
            out.append(fused.transpose(1, 2).reshape(b, c, h, w))
        return out
