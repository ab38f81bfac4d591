"""The unified video mask decoder of UniVS (paper §3.2, Fig. 3).

Two query streams share every layer: ``num_queries`` learnable queries (category-specified
detection) and one *prompt query* per prompted target (a category, an expression or a visual
prompt). Each of the ``dec_layers`` layers applies, in this order:

1. **ProCA** (target-wise prompt cross-attention): each prompt query attends only to its own
   prompt tokens (and to itself), so targets never leak into each other;
2. **image cross-attention**, per frame, masked by the previous layer's predicted masks
   (Mask2Former's masked attention), cycling over the strides 32/16/8;
3. **separated self-attention** over all queries of all frames of the clip; a mask keeps the
   learnable and the prompt stream apart ('sep'), or each prompt query to itself
   ('sep-blocked', used for referring segmentation);
4. an FFN.

Heads: ``mask_embed`` (3-layer MLP) dotted with the stride-4 mask features gives per-frame mask
logits; ``classifier`` projects queries to the 640-d CLIP space and compares them with CLIP text
embeddings of the category names (cosine similarity times a learnt temperature) — UniVS has no
fixed-vocabulary classification layer.

All tensors are sequence-first as in the official code: queries ``Q×T×C`` (T frames of one
video act as the batch of the attention layers), image tokens ``HW×T×C``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import MLP, MultiheadAttention

__all__ = ["UnifiedVideoMaskDecoder", "PromptQueries", "AttentionLayer", "FFNLayer", "ClipClassifier"]


class AttentionLayer(nn.Module):
    """Post-norm attention block: ``norm(q + attn(q + q_pos, k + k_pos, k))``.

    Used for self-attention (``k = q``), image cross-attention, ProCA and the
    language-to-image cross-attention of the prompt encoder.
    """

    def __init__(self, d_model: int, nhead: int):
        super().__init__()
        self.attn = MultiheadAttention(d_model, nhead)
        self.norm = nn.LayerNorm(d_model)
        for p in self.attn.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor | None = None, *, attn_mask=None,
                pos: torch.Tensor | None = None, query_pos: torch.Tensor | None = None) -> torch.Tensor:
        """``tgt`` ``Lq×B×C``; ``memory`` ``Lk×B×C`` (``None``: self-attention); ``attn_mask``
        ``(B·heads)×Lq×Lk`` or ``Lq×Lk`` bool, True = not allowed."""
        q = tgt if query_pos is None else tgt + query_pos
        if memory is None:
            k, v = q, tgt
        else:
            k, v = (memory if pos is None else memory + pos), memory
        return self.norm(tgt + self.attn(q, k, v, attn_mask=attn_mask)[0])


class FFNLayer(nn.Module):
    """Post-norm ``norm(x + linear2(relu(linear1(x))))``."""

    def __init__(self, d_model: int, dim_feedforward: int):
        super().__init__()
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm = nn.LayerNorm(d_model)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.linear2(F.relu(self.linear1(x))))


class DecoderLayer(nn.Module):
    """One decoder layer: ``prompt_cross_attn`` (ProCA), ``cross_attn``, ``self_attn``, ``ffn``."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int):
        super().__init__()
        self.prompt_cross_attn = AttentionLayer(d_model, nhead)
        self.cross_attn = AttentionLayer(d_model, nhead)
        self.self_attn = AttentionLayer(d_model, nhead)
        self.ffn = FFNLayer(d_model, dim_feedforward)


class ClipClassifier(nn.Module):
    """Open-vocabulary classification against CLIP text embeddings.

    ``vis2text_projection`` maps ``C``-d queries into the 640-d CLIP space; ``cls_temp`` and
    ``reid_temp`` are learnt log-temperatures (scalars).
    """

    def __init__(self, hidden_dim: int, text_dim: int):
        super().__init__()
        self.vis2text_projection = nn.Linear(hidden_dim, text_dim)
        self.cls_temp = nn.Parameter(torch.full((), math.log(1 / 0.07)))
        self.reid_temp = nn.Parameter(torch.full((), math.log(1 / 0.07)))

    def categories(self, queries: torch.Tensor, class_embeddings: torch.Tensor) -> torch.Tensor:
        """``queries`` ``T×Q×C`` (normed), ``class_embeddings`` ``K×640`` → logits ``Q×K``
        (cosine similarity averaged over frames, times ``exp(cls_temp)``)."""
        v = F.normalize(self.vis2text_projection(queries), dim=-1)
        t = F.normalize(class_embeddings.to(v), dim=-1)
        return torch.einsum("tqc,kc->tqk", v, t).mean(0) * self.cls_temp.exp()

    def expressions(self, queries: torch.Tensor, sentence_embeddings: torch.Tensor) -> torch.Tensor:
        """``queries`` ``T×Q×C``, ``sentence_embeddings`` ``E×640`` → ``Q×E`` (dot products
        of the frame-averaged projection with the raw sentence features, as officially)."""
        v = self.vis2text_projection(queries).mean(0)
        return v @ sentence_embeddings.to(v).t()


@dataclass
class PromptQueries:
    """Prompt queries entering the decoder (``Qp`` targets, ``T`` frames, ``L`` tokens).

    Attributes:
        content: ``Qp×T×C`` initial query content (prompt mean + task embedding).
        pos: ``Qp×T×C`` query position code.
        tokens: ``Qp×L×T×C`` prompt tokens ProCA attends to.
        tokens_pos: ``Qp×L×T×C`` their position codes (visual prompts) or ``None`` (text).
        kind: ``"visual"``, ``"categories"`` or ``"expression"``.
    """

    content: torch.Tensor
    pos: torch.Tensor
    tokens: torch.Tensor
    tokens_pos: torch.Tensor | None
    kind: str

    def __len__(self) -> int:
        return self.content.shape[0]


class UnifiedVideoMaskDecoder(nn.Module):
    """Args: hidden_dim, nheads, dim_feedforward, dec_layers (9), num_queries (200), mask_dim,
    text_dim (640), num_levels (3), self_attn_mask ('sep' | 'sep-blocked')."""

    def __init__(self, hidden_dim: int = 256, nheads: int = 8, dim_feedforward: int = 2048, dec_layers: int = 9,
                 num_queries: int = 200, mask_dim: int = 256, text_dim: int = 640, num_levels: int = 3,
                 self_attn_mask: str = "sep"):
        super().__init__()
        if self_attn_mask not in ("sep", "sep-blocked"):
            raise ValueError(f"self_attn_mask must be 'sep' or 'sep-blocked', got {self_attn_mask!r}")
        self.num_heads = nheads
        self.num_queries = num_queries
        self.num_levels = num_levels
        self.self_attn_mask = self_attn_mask
        self.layers = nn.ModuleList(DecoderLayer(hidden_dim, nheads, dim_feedforward) for _ in range(dec_layers))
        self.decoder_norm = nn.LayerNorm(hidden_dim)
        self.query_feat = nn.Embedding(num_queries, hidden_dim)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.level_embed = nn.Embedding(num_levels, hidden_dim)
        self.mask_embed = MLP(hidden_dim, hidden_dim, mask_dim, 3)
        self.classifier = ClipClassifier(hidden_dim, text_dim)

    # -- attention masks --------------------------------------------------------------------
    def separated_self_attn_mask(self, num_prompts: int, t: int, blocked: bool, device) -> torch.Tensor:
        """``(Q·T)×(Q·T)`` bool (True = blocked) over queries ordered ``q·T + t``."""
        ql = self.num_queries * t
        n = ql + num_prompts * t
        mask = torch.ones(n, n, dtype=torch.bool, device=device)
        mask[:ql, :ql] = False
        if num_prompts:
            if blocked:
                ids = torch.arange(num_prompts, device=device).repeat_interleave(t)
                mask[ql:, ql:] = ids[:, None] != ids[None, :]
            else:
                mask[ql:, ql:] = False
        return mask

    def _proca(self, layer: DecoderLayer, output, query_pos, prompts: PromptQueries):
        """Target-wise prompt cross-attention of the ``Qp`` prompt queries (rows ``Ql:``)."""
        ql = self.num_queries
        learn, prompt = output[:ql], output[ql:]
        qp, t, c = prompt.shape
        keys = torch.cat([prompt[:, None], prompts.tokens], 1).transpose(0, 1).flatten(1, 2)  # (1+L)×QpT×C
        if prompts.tokens_pos is not None:
            key_pos = torch.cat([query_pos[ql:, None], prompts.tokens_pos], 1).transpose(0, 1).flatten(1, 2)
            q_pos = query_pos[ql:].flatten(0, 1)[None]
        else:
            key_pos = q_pos = None
        out = layer.prompt_cross_attn(prompt.flatten(0, 1)[None], keys, pos=key_pos, query_pos=q_pos)
        return torch.cat([learn, out[0].view(qp, t, c)])

    def _heads(self, output, mask_features):
        """Mask logits ``Q×T×H×W`` and normed queries ``T×Q×C``."""
        dec = self.decoder_norm(output).transpose(0, 1)  # T×Q×C
        masks = torch.einsum("tqc,tchw->qthw", self.mask_embed(dec), mask_features)
        return masks, dec

    def _predict(self, output, mask_features, grounding: bool):
        """One prediction-head call: :meth:`_heads`, then (expression prompts) :meth:`_l4p`."""
        masks, dec = self._heads(output, mask_features)
        if grounding:
            masks = self._l4p(masks, dec, self.num_queries)
        return masks, dec

    def _attn_mask(self, masks: torch.Tensor, target_size) -> torch.Tensor:
        q, t = masks.shape[:2]
        m = F.interpolate(masks.transpose(0, 1), size=target_size, mode="bilinear", align_corners=False)
        m = (m.sigmoid().flatten(2) < 0.5)  # T×Q×HW
        m[m.all(-1)] = False  # a query with an empty mask may look everywhere
        return m.repeat_interleave(self.num_heads, 0)

    @staticmethod
    def _l4p(masks: torch.Tensor, dec: torch.Tensor, ql: int) -> torch.Tensor:
        """Learnable-for-prompt (grounding): average each prompt's mask with the mask of the
        learnable query most similar to it (cosine of the normed queries, averaged over frames;
        official ``forward_prediction_heads``, ``l4p_indices``). ``masks`` ``Q×T×h×w``,
        ``dec`` ``T×Q×C``."""
        n = F.normalize(dec, dim=-1)
        sim = torch.einsum("tqc,tkc->qk", n, n[:, ql:]) / n.shape[0]
        best = sim[:ql].argmax(0)
        masks = masks.clone()
        masks[ql:] = (masks[ql:] + masks[best]) / 2
        return masks

    def image_tokens(self, multi_scale: list[torch.Tensor], multi_scale_pos: list[torch.Tensor]):
        """Per level ``T×C×H_l×W_l`` maps → sequence-first tokens ``H_lW_l×T×C`` (plus the level
        embedding), their position codes and the level sizes. The prompt encoder reads the
        same tokens."""
        src, pos, sizes = [], [], []
        for i, (x, p) in enumerate(zip(multi_scale, multi_scale_pos)):
            sizes.append(tuple(x.shape[-2:]))
            src.append(x.flatten(2).permute(2, 0, 1) + self.level_embed.weight[i])
            pos.append(p.flatten(2).permute(2, 0, 1))
        return src, pos, sizes

    def forward(self, src: list[torch.Tensor], pos: list[torch.Tensor], sizes: list[tuple[int, int]],
                mask_features: torch.Tensor, prompts: PromptQueries | None = None,
                class_embeddings: torch.Tensor | None = None,
                sentence_embeddings: torch.Tensor | None = None, *,
                self_attn_mask: str | None = None) -> dict[str, torch.Tensor]:
        """Decode one clip (``self_attn_mask``: this call's ``'sep'`` / ``'sep-blocked'``, else
        the decoder's own).

        Args:
            src, pos, sizes: from :meth:`image_tokens` (strides 32, 16, 8).
            mask_features: ``T×mask_dim×H/4×W/4``.
            prompts: prompt queries or ``None`` (learnable queries only).
            class_embeddings: ``K×640`` CLIP embeddings of the category names (logits against
                categories), or ``None``.
            sentence_embeddings: ``E×640`` (expression prompts: logits against sentences).

        Returns:
            ``pred_masks`` ``Q×T×H/4×W/4`` logits, ``pred_embds`` ``Q×T×C`` (normed query
            embeddings), ``pred_logits`` ``Q×K`` (or ``Q×E``; absent without embeddings) with
            ``Q = num_queries + Qp`` (learnable first).
        """
        t = mask_features.shape[0]
        output = self.query_feat.weight[:, None].expand(-1, t, -1)
        query_pos = self.query_embed.weight[:, None].expand(-1, t, -1)
        num_prompts = 0 if prompts is None else len(prompts)
        if num_prompts:
            output = torch.cat([output, prompts.content])
            query_pos = torch.cat([query_pos, prompts.pos])
            output = self._proca(self.layers[0], output, query_pos, prompts)
            # after the first ProCA the prompt content doubles as its position code (official)
            query_pos = torch.cat([query_pos[:self.num_queries], output[self.num_queries:]])
        # official forward_prediction_heads (task 'grounding', eval): every head call averages each
        # prompt's mask with its most similar learnable query's mask, and the next layer's masked
        # attention is built from the averaged mask
        grounding = num_prompts > 0 and prompts.kind == "expression"
        masks, dec = self._predict(output, mask_features, grounding)
        attn_mask = self._attn_mask(masks, sizes[0])
        mode = self_attn_mask or self.self_attn_mask
        if mode not in ("sep", "sep-blocked"):
            raise ValueError(f"self_attn_mask must be 'sep' or 'sep-blocked', got {mode!r}")
        blocked = mode == "sep-blocked" or (prompts is not None and prompts.kind == "expression")
        sa_mask = self.separated_self_attn_mask(num_prompts, t, blocked, output.device)
        q = output.shape[0]
        for i, layer in enumerate(self.layers):
            if num_prompts and i > 0:
                output = self._proca(layer, output, query_pos, prompts)
            lvl = i % self.num_levels
            output = layer.cross_attn(output, src[lvl], attn_mask=attn_mask, pos=pos[lvl], query_pos=query_pos)
            # spatio-temporal self-attention over the Q·T queries of the clip
            flat = layer.self_attn(output.reshape(q * t, 1, -1), attn_mask=sa_mask,
                                   query_pos=query_pos.reshape(q * t, 1, -1))
            output = layer.ffn(flat.view(q, t, -1))
            masks, dec = self._predict(output, mask_features, grounding)
            if i + 1 < len(self.layers):
                attn_mask = self._attn_mask(masks, sizes[(i + 1) % self.num_levels])
        out = {"pred_masks": masks, "pred_embds": dec.transpose(0, 1)}
        if prompts is not None and prompts.kind == "expression" and sentence_embeddings is not None:
            out["pred_logits"] = self.classifier.expressions(dec, sentence_embeddings)
        elif class_embeddings is not None:
            out["pred_logits"] = self.classifier.categories(dec, class_embeddings)
        return out
