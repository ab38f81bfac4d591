"""The plain two-stage Deformable DETR of UniRef++ (``uniref/models/deformable_detr``).

Unlike UNINEXT's DINO-style transformer this one has no denoising queries, no early fusion
inside the encoder (UniFusion runs before it, :mod:`.fusion`) and no per-layer query-position
head: the decoder's query position is computed once, from the selected proposals, by
``pos_trans`` (Linear 2d→2d + LayerNorm over the sine code of the proposal box) and kept for
every layer (Deformable DETR, two-stage). With mixed selection the content queries are the
learned ``query_embed`` (300×d, held by the model), the reference boxes the top-k proposals.
Iterative box refinement with look-forward-twice: each layer's refined, non-detached box is its
prediction; the next layer starts from it detached.

The encoder layers, decoder layers, flattening, valid ratios and proposal generation are
UNINEXT's (:mod:`evalkit.zoo.uninext.transformer`); only the two-stage query construction and
the decoder loop differ.

Coordinates: reference boxes are ``cxcywh`` normalised to the valid (unpadded) image area.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..layers import fp32_island
from ..uninext.transformer import (DeformableDecoderLayer, DeformableEncoder, DeformableTransformer,
                                   MultiScaleMemory, inverse_sigmoid)

#: the official float32 islands: ``torch.cuda.amp.custom_fwd(cast_inputs=torch.float32)`` on these
#: functions of UniRef ``projects/UniRef/uniref/models/deformable_detr/deformable_transformer.py``
_OFFICIAL = "UniRef projects/UniRef/uniref/models/deformable_detr/deformable_transformer.py"
_CAST = "(custom_fwd(cast_inputs=float32))"

__all__ = ["proposal_pos_embed", "PlainDeformableDecoder", "PlainDeformableTransformer"]


def proposal_pos_embed(proposals: torch.Tensor, num_pos_feats: int = 128,
                       temperature: float = 10000) -> torch.Tensor:
    """Sine code of proposal boxes (Deformable DETR ``get_proposal_pos_embed``).

    Args:
        proposals: ``B×Q×4`` *unnormalised* (logit) ``cxcywh`` boxes; the sigmoid is applied
            here, so ``+inf`` (invalid proposals) encodes as 1.
    Returns:
        ``B×Q×(4·num_pos_feats)``: coordinates in the order ``cx, cy, w, h``, each scaled by 2π
        and encoded with interleaved sin/cos.
    """
    dim_t = torch.arange(num_pos_feats, dtype=torch.float32, device=proposals.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_pos_feats)
    pos = proposals.sigmoid() * (2 * math.pi)
    pos = pos[..., None] / dim_t  # B×Q×4×F
    pos = torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(2)
    return pos


class PlainDeformableDecoder(nn.Module):
    """Deformable decoder layers with a fixed query position (no per-layer position head)."""

    def __init__(self, num_layers, d_model, d_ffn, n_levels, n_heads, n_points):
        super().__init__()
        self.layers = nn.ModuleList(DeformableDecoderLayer(d_model, d_ffn, n_levels, n_heads, n_points)
                                    for _ in range(num_layers))

    @fp32_island(f"{_OFFICIAL}: DeformableTransformerDecoder.forward {_CAST}")
    def forward(self, tgt, query_pos, reference_points, mem: MultiScaleMemory, bbox_embed: nn.ModuleList):
        """``tgt``/``query_pos`` ``B×Q×C``, ``reference_points`` ``B×Q×4`` normalised boxes →
        ``(hs B×Q×C of the last layer, boxes: per layer the refined B×Q×4 boxes)``."""
        output = tgt
        scale = torch.cat([mem.valid_ratios, mem.valid_ratios], -1)[:, None]
        boxes = []
        for lid, layer in enumerate(self.layers):
            output = layer(output, query_pos, reference_points[:, :, None] * scale, mem)
            new_ref = (bbox_embed[lid](output) + inverse_sigmoid(reference_points)).sigmoid()
            reference_points = new_ref.detach()
            boxes.append(new_ref)
        return output, boxes


class PlainDeformableTransformer(DeformableTransformer):
    """Encoder + two-stage proposals (mixed selection) + decoder.

    Sub-modules (official names): ``encoder.layers``, ``decoder.layers``, ``level_embed``,
    ``enc_output``/``enc_output_norm`` (proposal features), ``pos_trans``/``pos_trans_norm``
    (query position from the proposal box).

    Inherits ``flatten``, ``encoder_proposals`` and the initialisation from UNINEXT's
    transformer; its own parameters are only those above (no ``tgt_embed`` / ``resizer``, no
    early-fusion layers), so the parent's constructor is not run.
    """

    def __init__(self, d_model=256, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, num_feature_levels=4, enc_n_points=4, dec_n_points=4,
                 num_queries=300):
        nn.Module.__init__(self)
        self.d_model = d_model
        self.num_queries = num_queries
        # no early-fusion layers: UniFusion acts on the input features instead
        self.encoder = DeformableEncoder(num_encoder_layers, d_model, dim_feedforward,
                                         num_feature_levels, nhead, enc_n_points, 0, d_model, d_model)
        self.decoder = PlainDeformableDecoder(num_decoder_layers, d_model, dim_feedforward,
                                              num_feature_levels, nhead, dec_n_points)
        self.level_embed = nn.Parameter(torch.empty(num_feature_levels, d_model))
        self.enc_output = nn.Linear(d_model, d_model)
        self.enc_output_norm = nn.LayerNorm(d_model)
        self.pos_trans = nn.Linear(2 * d_model, 2 * d_model)
        self.pos_trans_norm = nn.LayerNorm(2 * d_model)
        self._reset_parameters()

    @fp32_island(f"{_OFFICIAL}: DeformableTransformer.forward {_CAST}")
    def forward(self, srcs, masks, pos_embeds, query_embed, enc_class_embed, enc_bbox_embed,
                bbox_embed, num_queries: int | None = None):
        """Run encoder, query selection and decoder.

        Args:
            srcs / masks / pos_embeds: per level ``B×C×H_l×W_l`` (after UniFusion) / ``B×H_l×W_l``
                bool (True = padding) / ``B×C×H_l×W_l``.
            query_embed: ``Q×C`` learned content queries (mixed selection).
            enc_class_embed, enc_bbox_embed: the two-stage proposal heads (class / box).
            bbox_embed: per-decoder-layer box heads.
            num_queries: keep fewer proposals (default all ``Q``; capped at the encoder tokens).

        Returns:
            dict with ``hs`` ``B×Q×C`` (last layer), ``boxes`` (per layer ``B×Q×4``
            normalised ``cxcywh``), ``init_boxes`` ``B×Q×4`` and ``memory``
            (:class:`~evalkit.zoo.uninext.transformer.MultiScaleMemory` after the encoder).
        """
        mem, pos = self.flatten(srcs, masks, pos_embeds)
        memory, _ = self.encoder(mem, pos, None, None)
        mem = MultiScaleMemory(memory, mem.padding_mask, mem.spatial_shapes, mem.level_start_index,
                               mem.valid_ratios)
        out_memory, proposals = self.encoder_proposals(mem)
        enc_logits = enc_class_embed(out_memory)[..., 0]  # B×S (class-agnostic)
        enc_coords = enc_bbox_embed(out_memory) + proposals
        k = min(num_queries or self.num_queries, self.num_queries, query_embed.shape[0],
                enc_logits.shape[1])
        top = torch.topk(enc_logits, k, dim=1)[1]
        coords_unact = torch.gather(enc_coords, 1, top[..., None].expand(-1, -1, 4)).detach()
        reference_points = coords_unact.sigmoid()
        pos_code = self.pos_trans_norm(self.pos_trans(proposal_pos_embed(coords_unact, self.d_model // 2)))
        query_pos = pos_code[..., :self.d_model]
        tgt = query_embed[None, :k].expand(memory.shape[0], -1, -1)
        hs, boxes = self.decoder(tgt, query_pos, reference_points, mem, bbox_embed)
        return {"hs": hs, "boxes": boxes, "init_boxes": reference_points, "memory": mem}
