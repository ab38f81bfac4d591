"""The image encoder's neck: Mask2Former's multi-scale deformable-attention pixel decoder
("Masked-attention Mask Transformer", Cheng et al. 2022, §3.2; UniVS §3.1).

Backbone maps res3–res5 are projected to ``conv_dim`` (1×1 conv + GroupNorm), refined jointly by
``enc_layers`` deformable self-attention layers (Deformable DETR encoder, post-norm), and res2 is
added by one FPN step (``adapter_1`` lateral 1×1 conv, ``layer_1`` 3×3 conv) to give stride-4
per-pixel embeddings (``mask_features``). Parameter names equal the official
``sem_seg_head.pixel_decoder.*`` names.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import ShapeSpec
from ..layers import Conv2d, PositionEmbeddingSine, c2_xavier_fill, fp32_island
from ..layers.deformable_encoder import (DeformableEncoderLayer, encoder_reference_points, flatten_levels,
                                         split_levels)

__all__ = ["MSDeformAttnPixelDecoder", "PixelDecoderOutput"]


class DeformableEncoder(nn.Module):
    """Deformable DETR's encoder-only transformer (``transformer.{level_embed, encoder.layers}``),
    layers :class:`~evalkit.zoo.layers.deformable_encoder.DeformableEncoderLayer`."""

    def __init__(self, d_model: int, d_ffn: int, n_levels: int, n_heads: int, n_points: int, num_layers: int):
        super().__init__()
        self.level_embed = nn.Parameter(torch.empty(n_levels, d_model))
        nn.init.normal_(self.level_embed)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(
            DeformableEncoderLayer(d_model, d_ffn, n_levels, n_heads, n_points) for _ in range(num_layers))

    def forward(self, srcs: list[torch.Tensor], pos: list[torch.Tensor]) -> list[torch.Tensor]:
        """``srcs``/``pos``: per level ``B×C×H_l×W_l`` → the encoded levels, same shapes."""
        flat, pos_flat, spatial, start = flatten_levels(srcs, pos, self.level_embed)
        # Mask2Former passes an all-false padding mask: valid ratios 1
        ref = encoder_reference_points(spatial, flat.new_ones(flat.shape[0], len(srcs), 2))
        for layer in self.encoder.layers:
            flat = layer(flat, pos_flat, ref, spatial, start)
        return split_levels(flat, spatial)


class PixelDecoderOutput(dict):
    """``mask_features`` ``B×mask_dim×H/4×W/4`` and ``multi_scale`` (strides 32, 16, 8, each
    ``B×conv_dim×H_l×W_l``, lowest resolution first, as the decoder consumes them)."""


class MSDeformAttnPixelDecoder(nn.Module):
    """Mask2Former's ``MSDeformAttnPixelDecoder`` with three transformer levels (res3–res5) and
    one FPN level (res2).

    Args:
        input_shape: backbone outputs ``res2..res5`` → :class:`ShapeSpec`.
        conv_dim / mask_dim: widths (256); enc_*: encoder settings; gn_groups: 32.

    ``forward(features)`` takes ``{res2..res5: B×C_k×H_k×W_k}`` and returns a
    :class:`PixelDecoderOutput`.
    """

    def __init__(self, input_shape: dict[str, ShapeSpec], conv_dim: int = 256, mask_dim: int = 256,
                 enc_layers: int = 6, enc_ffn: int = 1024, enc_heads: int = 8, enc_points: int = 4,
                 gn_groups: int = 32):
        super().__init__()
        names = sorted(input_shape, key=lambda k: input_shape[k].stride)
        self.fpn_in = names[0]
        self.transformer_in = names[1:][::-1]  # res5, res4, res3: low resolution first
        self.input_proj = nn.ModuleList()
        for name in self.transformer_in:
            proj = nn.Sequential(nn.Conv2d(input_shape[name].channels, conv_dim, 1), nn.GroupNorm(gn_groups, conv_dim))
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.zeros_(proj[0].bias)
            self.input_proj.append(proj)
        self.pe_layer = PositionEmbeddingSine(conv_dim // 2, normalize=True)
        self.transformer = DeformableEncoder(conv_dim, enc_ffn, len(self.transformer_in), enc_heads,
                                             enc_points, enc_layers)
        self.mask_features = nn.Conv2d(conv_dim, mask_dim, 1)
        c2_xavier_fill(self.mask_features)
        self.adapter_1 = Conv2d(input_shape[self.fpn_in].channels, conv_dim, 1, bias=False,
                                norm=nn.GroupNorm(gn_groups, conv_dim))
        self.layer_1 = Conv2d(conv_dim, conv_dim, 3, padding=1, bias=False,
                              norm=nn.GroupNorm(gn_groups, conv_dim), activation=F.relu)
        c2_xavier_fill(self.adapter_1)
        c2_xavier_fill(self.layer_1)

    @fp32_island("UniVS univs/modeling/pixel_decoder/msdeformattn_vl.py: "
                 "MSDeformAttnPixelDecoderVL.forward_features (autocast(enabled=False))")
    def forward(self, features: dict[str, torch.Tensor]) -> PixelDecoderOutput:
        srcs, pos = [], []
        for proj, name in zip(self.input_proj, self.transformer_in):
            x = features[name].float()  # deformable attention runs in float32, as officially
            srcs.append(proj(x))
            pos.append(self.pe_layer(x))
        outs = self.transformer(srcs, pos)
        lateral = self.adapter_1(features[self.fpn_in].float())
        fine = self.layer_1(lateral + F.interpolate(outs[-1], size=lateral.shape[-2:], mode="bilinear",
                                                    align_corners=False))
        return PixelDecoderOutput(mask_features=self.mask_features(fine), multi_scale=outs[:3])
