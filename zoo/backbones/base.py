"""The backbone interface: a module returning named feature maps of known stride and width."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

__all__ = ["ShapeSpec", "Backbone", "variant_config", "init_linears_trunc_normal"]


@dataclass(frozen=True)
class ShapeSpec:
    """Channels and stride (input pixels per feature pixel) of one feature map."""

    channels: int
    stride: int


class Backbone(nn.Module):
    """Base class. ``forward(x)`` takes a normalised image batch ``B×C×H×W`` (float) and returns
    ``{name: B×channels×⌈H/stride⌉×⌈W/stride⌉}`` for the names in ``out_features``.

    Subclasses set ``self._out_shapes`` (name → :class:`ShapeSpec`, every map the network can
    produce) and ``self.out_features`` (the requested subset, in increasing stride).
    """

    _out_shapes: dict[str, ShapeSpec]
    out_features: tuple[str, ...]

    def _set_out_features(self, out_features) -> None:
        unknown = [f for f in out_features if f not in self._out_shapes]
        if unknown:
            raise ValueError(f"{type(self).__name__} has no feature(s) {unknown}; "
                             f"available: {list(self._out_shapes)}")
        self.out_features = tuple(out_features)

    def output_shape(self) -> dict[str, ShapeSpec]:
        """Name → :class:`ShapeSpec` of every returned map."""
        return {k: self._out_shapes[k] for k in self.out_features}

    #: inputs padded to a multiple of this give exact-stride outputs (0 = no constraint);
    #: a class constant of each backbone
    size_divisibility: int = 0

    def _check_input(self, x: torch.Tensor, channels: int) -> None:
        if x.dim() != 4 or x.shape[1] != channels:
            raise ValueError(f"{type(self).__name__} expects a B×{channels}×H×W image tensor, "
                             f"got shape {tuple(x.shape)}")


def variant_config(configs: Mapping[str, dict[str, Any]], size: str, family: str) -> dict[str, Any]:
    """``configs[size]``, the hyper-parameters of one registered size of a backbone family;
    an unknown size is a ValueError that lists the known ones."""
    if size not in configs:
        raise ValueError(f"unknown {family} size {size!r}; expected one of {sorted(configs)}")
    return configs[size]


def init_linears_trunc_normal(module: nn.Module, std: float = 0.02) -> None:
    """timm's ViT initialisation: every ``nn.Linear`` weight from a normal truncated at ±2,
    std ``std``, biases zero; visited in ``module.modules()`` order, so a seeded build draws
    the same weights as the loop it replaces."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
