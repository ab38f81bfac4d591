"""Convolution with an attached norm and activation (detectron2's ``layers.Conv2d`` layout).

The norm is a *child* named ``norm`` so the parameter names are ``<conv>.weight``,
``<conv>.bias`` and ``<conv>.norm.*`` — exactly what detectron2 checkpoints contain.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["Conv2d", "c2_msra_fill", "c2_xavier_fill"]


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` followed by optional ``norm`` and ``activation``.

    Args:
        *args, **kwargs: as ``nn.Conv2d``.
        norm: a module applied after the convolution (registered as ``self.norm``).
        activation: a callable applied last (not a registered module; it has no weights).
    """

    def __init__(self, *args, norm: nn.Module | None = None, activation: Callable | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm = norm
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


def c2_msra_fill(module: nn.Module) -> None:
    """Kaiming-normal (fan_out, ReLU) weight and zero bias, Caffe2's MSRAFill."""
    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)


def c2_xavier_fill(module: nn.Module) -> None:
    """Kaiming-uniform with a=1 (Caffe2's XavierFill) and zero bias."""
    nn.init.kaiming_uniform_(module.weight, a=1)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)
