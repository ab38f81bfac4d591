"""The DINO-style deformable transformer of UNINEXT (``DeformableTransformerVLDINO``).

Encoder: 6 multi-scale deformable self-attention layers over the 4 feature levels; the first is
preceded by early fusion with the prompt (:mod:`.fusion`). Two-stage query selection: every
encoder token proposes a box (a base box of side ``0.05·2^level`` at its position, refined by
the encoder box head) and an objectness score (a binary classifier); the ``num_queries`` best
proposals give the decoder's initial reference boxes, while the decoder's content queries are a
learned embedding (mixed query selection, DINO). Decoder: 6 layers of self-attention, deformable
cross-attention and FFN; each layer refines the boxes (iterative refinement) and the refined,
*non-detached* box is the layer's prediction (look-forward-twice).

Coordinates: reference boxes are ``cxcywh`` normalised to the valid (unpadded) image area;
sampling locations are scaled by each level's valid ratio.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import MLP, MultiheadAttention, fp32_island, sine_embed_for_boxes
from ..layers.deformable_encoder import (DeformableEncoderLayer, encoder_reference_points, flatten_levels,
                                         split_levels)
from ..ops import MSDeformAttn
from .fusion import BiAttentionBlock

#: the official float32 islands: ``torch.cuda.amp.custom_fwd(cast_inputs=torch.float32)`` on these
#: functions of UNINEXT ``projects/UNINEXT/uninext/models/deformable_detr/deformable_transformer.py``
_OFFICIAL = "UNINEXT projects/UNINEXT/uninext/models/deformable_detr/deformable_transformer.py"
_CAST = "(custom_fwd(cast_inputs=float32))"

__all__ = ["inverse_sigmoid", "DeformableDecoderLayer",
           "DeformableEncoder", "DeformableDecoder", "DeformableTransformer", "FeatureResizer",
           "MultiScaleMemory"]


def inverse_sigmoid(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``log(x / (1 - x))`` with both terms clamped at ``eps`` (Deformable DETR)."""
    x = x.clamp(0, 1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


class FeatureResizer(nn.Module):
    """Linear → LayerNorm(eps 1e-12): maps a prompt-width vector (768) to ``d_model``.

    ``(..., in_dim)`` → ``(..., out_dim)``.
    """

    def __init__(self, in_dim: int = 768, out_dim: int = 256):
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)
        self.layer_norm = nn.LayerNorm(out_dim, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_norm(self.fc(x))


class MultiScaleMemory:
    """Flattened multi-scale features and their geometry (what deformable attention needs).

    Attributes:
        src: ``B×S×C`` features, ``S = Σ H_l·W_l`` (levels in increasing stride).
        padding_mask: ``B×S`` bool, True on padding.
        spatial_shapes: ``L×2`` int64 ``(H_l, W_l)``; level_start_index: ``L`` int64.
        valid_ratios: ``B×L×2`` float, valid width/height fraction ``(w, h)`` of each level.
    """

    def __init__(self, src, padding_mask, spatial_shapes, level_start_index, valid_ratios):
        self.src = src
        self.padding_mask = padding_mask
        self.spatial_shapes = spatial_shapes
        self.level_start_index = level_start_index
        self.valid_ratios = valid_ratios

    def levels(self, n: int) -> list[torch.Tensor]:
        """The first ``n`` levels as ``B×C×H_l×W_l`` maps."""
        return split_levels(self.src, self.spatial_shapes[:n])


class DeformableDecoderLayer(nn.Module):
    """Self-attention (norm2) → deformable cross-attention (norm1) → FFN (norm3), each with a
    residual; the query position is added to the queries and keys of both attentions.

    ``tgt`` ``B×Q×C``, ``query_pos`` ``B×Q×C``, ``reference_points`` ``B×Q×L×4``.
    """

    def __init__(self, d_model=256, d_ffn=2048, n_levels=4, n_heads=8, n_points=4):
        super().__init__()
        self.cross_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = MultiheadAttention(d_model, n_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.norm3 = nn.LayerNorm(d_model)

    @fp32_island(f"{_OFFICIAL}: DeformableTransformerDecoderLayer.forward {_CAST}")
    def forward(self, tgt, query_pos, reference_points, mem: MultiScaleMemory):
        q = tgt + query_pos
        tgt = self.norm2(tgt + self.self_attn(q, q, tgt)[0])
        tgt = self.norm1(tgt + self.cross_attn(tgt + query_pos, reference_points, mem.src,
                                               mem.spatial_shapes, mem.level_start_index,
                                               mem.padding_mask))
        return self.norm3(tgt + self.linear2(F.relu(self.linear1(tgt))))


class DeformableEncoder(nn.Module):
    """``layers`` deformable encoder layers (the shared
    :class:`~evalkit.zoo.layers.deformable_encoder.DeformableEncoderLayer`, with the padding
    mask); the first ``len(vl_fusion)`` are preceded by early fusion, which also updates the
    prompt features."""

    def __init__(self, num_layers, d_model, d_ffn, n_levels, n_heads, n_points, num_vl_layers,
                 lang_dim, vl_hidden_dim):
        super().__init__()
        self.layers = nn.ModuleList(DeformableEncoderLayer(d_model, d_ffn, n_levels, n_heads, n_points)
                                    for _ in range(num_layers))
        self.vl_fusion = nn.ModuleList(
            BiAttentionBlock(d_model, lang_dim, vl_hidden_dim, 8, init_values=1.0 / num_layers)
            for _ in range(num_vl_layers))

    @fp32_island(f"{_OFFICIAL}: DeformableTransformerEncoder.forward (with its vision-language layers) {_CAST}")
    def forward(self, mem: MultiScaleMemory, pos, prompt, prompt_mask):
        """``pos`` ``B×S×C`` (position + level embedding), ``prompt`` ``B×Nl×Dl``, ``prompt_mask``
        ``B×Nl`` (True = token) → ``(memory B×S×C, fused prompt B×Nl×Dl)``."""
        src = mem.src
        refs = encoder_reference_points(mem.spatial_shapes, mem.valid_ratios)
        for i, layer in enumerate(self.layers):
            if i < len(self.vl_fusion):
                src, prompt = self.vl_fusion[i](src, prompt, prompt_mask)
            src = layer(src, pos, refs, mem.spatial_shapes, mem.level_start_index, mem.padding_mask)
        return src, prompt


class DeformableDecoder(nn.Module):
    """Decoder layers with box-conditioned query positions: the sine code of each reference
    box (512-d) through ``ref_point_head`` (MLP 512→256→256)."""

    def __init__(self, num_layers, d_model, d_ffn, n_levels, n_heads, n_points):
        super().__init__()
        self.layers = nn.ModuleList(DeformableDecoderLayer(d_model, d_ffn, n_levels, n_heads, n_points)
                                    for _ in range(num_layers))
        self.ref_point_head = MLP(2 * d_model, d_model, d_model, 2)

    def layer_inputs(self, reference_points, valid_ratios):
        """``B×Q×4`` normalised boxes → (per-level boxes ``B×Q×L×4``, query position ``B×Q×C``)."""
        ref_in = reference_points[:, :, None] * torch.cat([valid_ratios, valid_ratios], -1)[:, None]
        pos = sine_embed_for_boxes(ref_in[:, :, 0, :], num_pos_feats=self.ref_point_head.layers[0].in_features // 4)
        return ref_in, self.ref_point_head(pos)

    @fp32_island(f"{_OFFICIAL}: DeformableTransformerDecoder.forward {_CAST}")
    def forward(self, tgt, reference_points, mem: MultiScaleMemory, bbox_embed: nn.ModuleList):
        """Returns ``(hs B×Q×C of the last layer, boxes)`` where ``boxes`` lists, per layer, the
        refined ``B×Q×4`` boxes (look-forward-twice: not detached)."""
        output = tgt
        boxes = []
        for lid, layer in enumerate(self.layers):
            ref_in, query_pos = self.layer_inputs(reference_points, mem.valid_ratios)
            output = layer(output, query_pos, ref_in, mem)
            new_ref = (bbox_embed[lid](output) + inverse_sigmoid(reference_points)).sigmoid()
            reference_points = new_ref.detach()
            boxes.append(new_ref)
        return output, boxes


class DeformableTransformer(nn.Module):
    """Encoder + two-stage query selection + decoder.

    Args:
        d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
        num_feature_levels, enc_n_points, dec_n_points: as the official config.
        num_queries: proposals kept by the two-stage selection (900).
        lang_dim: prompt width (768); vl_hidden_dim, num_vl_layers: early fusion.
    """

    def __init__(self, d_model=256, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, num_feature_levels=4, enc_n_points=4, dec_n_points=4,
                 num_queries=900, lang_dim=768, vl_hidden_dim=2048, num_vl_layers=1):
        super().__init__()
        self.d_model = d_model
        self.num_queries = num_queries
        self.encoder = DeformableEncoder(num_encoder_layers, d_model, dim_feedforward,
                                         num_feature_levels, nhead, enc_n_points, num_vl_layers,
                                         lang_dim, vl_hidden_dim)
        self.decoder = DeformableDecoder(num_decoder_layers, d_model, dim_feedforward,
                                         num_feature_levels, nhead, dec_n_points)
        self.level_embed = nn.Parameter(torch.empty(num_feature_levels, d_model))
        self.tgt_embed = nn.Embedding(num_queries, d_model)
        self.enc_output = nn.Linear(d_model, d_model)
        self.enc_output_norm = nn.LayerNorm(d_model)
        # Projects the pooled prompt to a query; the official forward multiplies it by zero
        # (STILL_TGT_FOR_BOTH: every task starts from ``tgt_embed``), so it is kept only so
        # that checkpoints load.
        self.resizer = FeatureResizer(lang_dim, d_model)
        self._reset_parameters()

    def _reset_parameters(self):
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, MSDeformAttn):
                m._reset_parameters()
        nn.init.normal_(self.level_embed)

    def flatten(self, srcs, masks, pos_embeds):
        """Per-level ``B×C×H×W`` maps, ``B×H×W`` padding masks and position codes →
        (:class:`MultiScaleMemory`, ``B×S×C`` position + level embedding)."""
        src, pos, spatial_shapes, level_start = flatten_levels(srcs, pos_embeds, self.level_embed)
        valid_ratios = torch.stack([self._valid_ratio(m) for m in masks], 1)
        mem = MultiScaleMemory(src, torch.cat([m.flatten(1) for m in masks], 1), spatial_shapes, level_start,
                               valid_ratios)
        return mem, pos

    @staticmethod
    def _valid_ratio(mask):
        _, h, w = mask.shape
        valid_h = torch.sum(~mask[:, :, 0], 1)
        valid_w = torch.sum(~mask[:, 0, :], 1)
        return torch.stack([valid_w.float() / w, valid_h.float() / h], -1)

    def encoder_proposals(self, mem: MultiScaleMemory):
        """One base box per encoder token: ``(memory' B×S×C, proposals B×S×4)`` with proposals
        as logits (``inverse_sigmoid`` of normalised ``cxcywh``); invalid ones (padding or a
        coordinate outside (0.01, 0.99)) are ``+inf`` and their features zero."""
        memory, padding_mask = mem.src, mem.padding_mask
        n = memory.shape[0]
        proposals, cur = [], 0
        for lvl, (h, w) in enumerate(mem.spatial_shapes.tolist()):
            m = padding_mask[:, cur:cur + h * w].view(n, h, w)
            valid_h = torch.sum(~m[:, :, 0], 1)
            valid_w = torch.sum(~m[:, 0, :], 1)
            gy, gx = torch.meshgrid(torch.linspace(0, h - 1, h, dtype=torch.float32, device=memory.device),
                                    torch.linspace(0, w - 1, w, dtype=torch.float32, device=memory.device),
                                    indexing="ij")
            grid = torch.cat([gx[..., None], gy[..., None]], -1)
            scale = torch.cat([valid_w[:, None], valid_h[:, None]], 1).view(n, 1, 1, 2)
            grid = (grid[None].expand(n, -1, -1, -1) + 0.5) / scale
            wh = torch.ones_like(grid) * 0.05 * (2.0 ** lvl)
            proposals.append(torch.cat((grid, wh), -1).view(n, -1, 4))
            cur += h * w
        proposals = torch.cat(proposals, 1)
        valid = ((proposals > 0.01) & (proposals < 0.99)).all(-1, keepdim=True)
        proposals = torch.log(proposals / (1 - proposals))
        proposals = proposals.masked_fill(padding_mask[..., None], float("inf"))
        proposals = proposals.masked_fill(~valid, float("inf"))
        out = memory.masked_fill(padding_mask[..., None], 0.0).masked_fill(~valid, 0.0)
        return self.enc_output_norm(self.enc_output(out)), proposals

    @fp32_island(f"{_OFFICIAL}: DeformableTransformer.forward {_CAST}")
    def forward(self, srcs, masks, pos_embeds, prompt, prompt_mask, enc_class_embed, enc_bbox_embed,
                bbox_embed, num_queries: int | None = None):
        """Run encoder, query selection and decoder.

        Args:
            srcs / masks / pos_embeds: per level ``B×C×H_l×W_l`` / ``B×H_l×W_l`` bool (True =
                padding) / ``B×C×H_l×W_l``.
            prompt: ``B×Nl×Dl`` prompt features; prompt_mask ``B×Nl`` bool (True = token).
            enc_class_embed, enc_bbox_embed: the two-stage objectness / box heads.
            bbox_embed: per-decoder-layer box heads (iterative refinement).
            num_queries: queries to keep (default: all ``tgt_embed`` rows; capped at the number
                of encoder tokens).

        Returns:
            dict with ``hs`` (``B×Q×C`` last decoder layer), ``boxes`` (list per layer of
            ``B×Q×4`` normalised ``cxcywh``), ``init_boxes`` (``B×Q×4``), ``memory``
            (:class:`MultiScaleMemory` after the encoder) and ``prompt`` (fused, ``B×Nl×Dl``).
        """
        mem, pos = self.flatten(srcs, masks, pos_embeds)
        memory, prompt = self.encoder(mem, pos, prompt, prompt_mask)
        mem = MultiScaleMemory(memory, mem.padding_mask, mem.spatial_shapes, mem.level_start_index,
                               mem.valid_ratios)
        out_memory, proposals = self.encoder_proposals(mem)
        enc_logits = enc_class_embed(out_memory)[..., 0]  # B×S
        enc_coords = enc_bbox_embed(out_memory) + proposals
        k = min(num_queries or self.num_queries, self.num_queries, enc_logits.shape[1])
        top = torch.topk(enc_logits, k, dim=1)[1]
        reference_points = torch.gather(enc_coords, 1, top[..., None].expand(-1, -1, 4)).sigmoid()
        tgt = self.tgt_embed.weight[None, :k].expand(memory.shape[0], -1, -1)
        hs, boxes = self.decoder(tgt, reference_points, mem, bbox_embed)
        return {"hs": hs, "boxes": boxes, "init_boxes": reference_points, "memory": mem, "prompt": prompt}
