"""Instance heads of UniRef++ on the decoder queries and the encoder memory.

* Class-agnostic scores (``class_embed``: Linear d→1 per decoder layer, plus one for the
  two-stage proposals) and iterative box refinement (``bbox_embed``: MLP d→d→4, 3 layers) —
  built by the model (:mod:`.model`).
* Masks: UNINEXT's CondInst branch (:class:`~evalkit.zoo.uninext.heads.MaskBranch`: top-down
  P5→P3 fusion of the encoder memory into 8 channels at stride 8) refined to stride 4 by
  :class:`MaskFPN` with the backbone's res2 features (Mask2Former-style lateral + output conv;
  official ``USE_BACKBONE_FEATURE``), then per-query dynamic 1×1 convolutions
  (:class:`~evalkit.zoo.uninext.heads.DynamicMaskHead` with feature stride 4).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import c2_xavier_fill

__all__ = ["MaskFPN"]


class MaskFPN(nn.Module):
    """Stride-8 mask features + backbone res2 → stride-4 mask features.

    ``lateral_conv`` (1×1 C2→c), ``output_conv`` (3×3 c→c, ReLU), ``mask_conv`` (1×1 c→c).

    ``forward(mask_feats B×c×H/8×W/8, res2 B×C2×H/4×W/4)`` → ``B×c×H/4×W/4``.
    """

    def __init__(self, res2_channels: int, channels: int = 8):
        super().__init__()
        self.lateral_conv = nn.Conv2d(res2_channels, channels, 1)
        self.output_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.mask_conv = nn.Conv2d(channels, channels, 1)
        c2_xavier_fill(self.lateral_conv)
        c2_xavier_fill(self.output_conv)

    def forward(self, mask_feats: torch.Tensor, res2: torch.Tensor) -> torch.Tensor:
        lateral = self.lateral_conv(res2)
        y = lateral + F.interpolate(mask_feats, size=lateral.shape[-2:], mode="bilinear",
                                    align_corners=False)
        return self.mask_conv(F.relu(self.output_conv(y)))
