"""The pixel decoder: MaskDINO's deformable encoder with early fusion, plus one FPN level.

Inputs are backbone maps; outputs are four 256-d levels (strides 8, 16, 32, 64 for R50/Swin;
the same for EVA02's p3–p6) and the per-pixel mask features (stride 4 for R50/Swin, stride 8
for EVA02, whose pyramid has no stride-4 map).

Level order (official ``FEATURE_ORDER low2high``): the encoder sees the levels high resolution
first (res3, res4, res5, extra); ``input_proj.{0,1,2}`` project res3/res4/res5 and
``input_proj.3`` is the stride-2 3×3 conv on res5 that makes the extra level. The FPN adds the
lateral res2 (``adapter_1``) to the upsampled stride-8 encoder output and smooths it
(``layer_1``); ``mask_features`` is a 1×1 conv on that map.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import Conv2d, PositionEmbeddingSine, c2_xavier_fill, fp32_island, get_norm
from ..layers.deformable_encoder import (DeformableEncoderLayer, encoder_reference_points, flatten_levels,
                                         split_levels)
from ..ops import MSDeformAttn
from .early_fusion import VLFuse

__all__ = ["MaskDINOEncoder", "DeformableEncoder"]


class DeformableEncoder(nn.Module):
    """``layers`` (the shared deformable encoder layers,
    :class:`~evalkit.zoo.layers.deformable_encoder.DeformableEncoderLayer`) and ``vl_layers``
    (the early-fusion layer applied before the first ``len(vl_layers)`` encoder layers; the
    official model has one).

    No padding mask: GLEE runs its encoder with all-valid masks, so the valid ratios are 1.
    """

    def __init__(self, num_layers: int, d_model: int, d_ffn: int, n_levels: int, n_heads: int, n_points: int,
                 vl_layers: int = 1, vl_embed_dim: int = 2048, vl_heads: int = 8):
        super().__init__()
        self.layers = nn.ModuleList(DeformableEncoderLayer(d_model, d_ffn, n_levels, n_heads, n_points)
                                    for _ in range(num_layers))
        self.vl_layers = nn.ModuleList(VLFuse(d_model, d_model, vl_embed_dim, vl_heads) for _ in range(vl_layers))

    def forward(self, src, pos, spatial_shapes, level_start_index, prompt=None):
        ref = encoder_reference_points(spatial_shapes, src.new_ones(src.shape[0], len(spatial_shapes), 2))
        for i, layer in enumerate(self.layers):
            if prompt is not None and i < len(self.vl_layers):
                src, prompt = self.vl_layers[i](src, prompt)
            src = layer(src, pos, ref, spatial_shapes, level_start_index)
        return src


class _Transformer(nn.Module):
    """Holds ``level_embed`` and ``encoder`` (the official ``transformer`` attribute)."""

    def __init__(self, n_levels: int, d_model: int, **encoder_args):
        super().__init__()
        self.level_embed = nn.Parameter(torch.empty(n_levels, d_model))
        nn.init.normal_(self.level_embed)
        self.encoder = DeformableEncoder(d_model=d_model, n_levels=n_levels, **encoder_args)


class MaskDINOEncoder(nn.Module):
    """Multi-scale deformable encoder + FPN (``MaskDINOEncoder``).

    Args:
        in_channels: backbone channels of ``in_features`` (increasing stride).
        in_features: backbone maps read (``res2..res5`` or ``p3..p6``); the first is the FPN
            lateral input.
        encoder_in_features: the maps fed to the encoder (increasing stride).
        project_inputs: False for EVA02 (its pyramid is already ``conv_dim`` wide).
        conv_dim / mask_dim: 256; num_levels: 4 (extra stride-2 levels are added when the
            encoder inputs are fewer); enc_layers 6; d_ffn 2048; n_heads 8; n_points 4.
    """

    def __init__(self, in_channels: dict[str, int], in_features, encoder_in_features, *, project_inputs: bool = True,
                 conv_dim: int = 256, mask_dim: int = 256, num_levels: int = 4, enc_layers: int = 6,
                 d_ffn: int = 2048, n_heads: int = 8, n_points: int = 4, vl_embed_dim: int = 2048,
                 vl_heads: int = 8, strides: dict[str, int] | None = None, common_stride: int = 4):
        super().__init__()
        self.in_features = tuple(in_features)
        self.encoder_in_features = tuple(encoder_in_features)
        self.num_levels = num_levels
        self.project_inputs = project_inputs
        if project_inputs:
            projs = [nn.Sequential(nn.Conv2d(in_channels[f], conv_dim, 1), nn.GroupNorm(32, conv_dim))
                     for f in self.encoder_in_features]
            extra_in = in_channels[self.encoder_in_features[-1]]
            for _ in range(num_levels - len(self.encoder_in_features)):
                projs.append(nn.Sequential(nn.Conv2d(extra_in, conv_dim, 3, stride=2, padding=1),
                                           nn.GroupNorm(32, conv_dim)))
                extra_in = conv_dim
            self.input_proj = nn.ModuleList(projs)
            for p in self.input_proj:
                nn.init.xavier_uniform_(p[0].weight, gain=1)
                nn.init.zeros_(p[0].bias)
        elif len(self.encoder_in_features) != num_levels:
            raise ValueError("without input projections the backbone must give every encoder level")
        self.transformer = _Transformer(num_levels, conv_dim, num_layers=enc_layers, d_ffn=d_ffn,
                                        n_heads=n_heads, n_points=n_points, vl_embed_dim=vl_embed_dim,
                                        vl_heads=vl_heads)
        for m in self.transformer.encoder.layers.modules():
            if isinstance(m, nn.Linear) and m.weight.dim() > 1:
                nn.init.xavier_uniform_(m.weight)
        for m in self.transformer.encoder.layers.modules():
            if isinstance(m, MSDeformAttn):
                m._reset_parameters()
        self.pe_layer = PositionEmbeddingSine(conv_dim // 2, normalize=True)
        self.mask_features = Conv2d(conv_dim, mask_dim, kernel_size=1)
        c2_xavier_fill(self.mask_features)
        # One FPN level: from the first encoder stride down to the common stride (at least one).
        strides = strides or {}
        enc_stride = strides.get(self.encoder_in_features[0], 8)
        n_fpn = max(int(round(math.log2(enc_stride / common_stride))), 1)
        if n_fpn != 1:
            raise ValueError("GLEE's pixel decoder has exactly one FPN level")
        lateral_in = in_channels[self.in_features[0]]
        self.adapter_1 = Conv2d(lateral_in, conv_dim, 1, bias=False, norm=get_norm("GN", conv_dim))
        self.layer_1 = Conv2d(conv_dim, conv_dim, 3, padding=1, bias=False, norm=get_norm("GN", conv_dim),
                              activation=F.relu)
        c2_xavier_fill(self.adapter_1)
        c2_xavier_fill(self.layer_1)

    @fp32_island("GLEE projects/GLEE/glee/models/pixel_decoder/maskdino_encoder.py: "
                 "MaskDINOEncoder.forward_features (autocast(enabled=False), features .float())")
    def forward(self, features: dict[str, torch.Tensor],
                prompt: torch.Tensor | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encode backbone maps.

        Args:
            features: ``{name: B×C×H×W}`` backbone outputs.
            prompt: ``B×L×conv_dim`` early-fusion tokens (class names, expression or
                visual-prompt template) or None (no early fusion).

        Returns:
            ``(mask_features B×mask_dim×H/4×W/4, [4 maps B×conv_dim×H_l×W_l, strides 8..64])``.

        Runs in float32 even under autocast, as the official ``forward_features``
        (``autocast(enabled=False)``: deformable attention is kept out of half precision).
        """
        srcs, pos = [], []
        for i, f in enumerate(self.encoder_in_features):
            x = features[f].float()
            srcs.append(self.input_proj[i](x) if self.project_inputs else x)
            pos.append(self.pe_layer(x))
        if self.project_inputs:
            last = features[self.encoder_in_features[-1]].float()
            for i in range(len(self.encoder_in_features), self.num_levels):
                last = self.input_proj[i](last)
                srcs.append(last)
                pos.append(self.pe_layer(last))
        flat, pos_flat, shapes, start = flatten_levels(srcs, pos, self.transformer.level_embed)
        levels = split_levels(self.transformer.encoder(flat, pos_flat, shapes, start, prompt), shapes)
        lateral = self.adapter_1(features[self.in_features[0]].float())
        fpn = self.layer_1(lateral + F.interpolate(levels[0], size=lateral.shape[-2:], mode="bilinear",
                                                   align_corners=False))
        return self.mask_features(fpn), levels
