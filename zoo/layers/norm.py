"""Normalisation layers shared by the backbones and heads.

* :class:`FrozenBatchNorm2d` — detectron2's frozen BN: the four statistics are *buffers*
  (``weight``, ``bias``, ``running_mean``, ``running_var``, no ``num_batches_tracked``), so a
  detectron2 ResNet checkpoint loads key for key.
* :class:`LayerNorm2d` — LayerNorm over the channel axis of an ``N×C×H×W`` map (detectron2's
  ``"LN"`` norm, ConvNeXt's ``channels_first`` LayerNorm).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FrozenBatchNorm2d", "LayerNorm2d", "get_norm"]


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed affine parameters and statistics.

    ``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`` per channel, computed
    as one scale and shift. Input and output ``N×C×H×W``, any floating dtype.
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features) - eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.view(1, -1, 1, 1).to(x.dtype) + shift.view(1, -1, 1, 1).to(x.dtype)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints saved from nn.BatchNorm2d carry a counter that has no meaning here.
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of ``N×C×H×W`` (statistics per pixel, biased variance).

    Args:
        num_channels: C.
        eps: added to the variance; detectron2 ``"LN"`` and ConvNeXt use 1e-6.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # F.layer_norm over a channels-last view equals the explicit mean/var formula the
        # official code uses, and it is one fused kernel.
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


def get_norm(norm: str | None, channels: int) -> nn.Module | None:
    """Norm layer by detectron2 name: ``"FrozenBN"``, ``"BN"``, ``"GN"`` (32 groups), ``"LN"``
    (:class:`LayerNorm2d`, eps 1e-6) or ``""``/``None`` (no norm)."""
    if not norm:
        return None
    if norm == "FrozenBN":
        return FrozenBatchNorm2d(channels)
    if norm == "BN":
        return nn.BatchNorm2d(channels)
    if norm == "GN":
        return nn.GroupNorm(32, channels)
    if norm == "LN":
        return LayerNorm2d(channels)
    raise ValueError(f"unknown norm {norm!r}; expected one of FrozenBN, BN, GN, LN or ''")
