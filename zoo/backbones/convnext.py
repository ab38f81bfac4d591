"""ConvNeXt ("A ConvNet for the 2020s", Liu et al. 2022) as UNINEXT's ``D2ConvNeXt`` (large).

Module names follow the official tree — ``downsample_layers.{0..3}``, ``stages.{i}.{j}.{dwconv,
norm,pwconv1,pwconv2,gamma}``, ``norm{1,2,3}`` — with plain parameters. The UNINEXT code stores
every LayerNorm weight/bias and layer-scale ``gamma`` as ``nn.Embedding(1, D)``, i.e. keys
``….weight.weight`` / ``….bias.weight`` / ``….gamma.weight`` of shape ``1×D``;
:func:`convnext_key_map` renames and squeezes them.

Outputs: ``res2`` (stage 0, *not* normalised, as the official forward), ``res3..res5`` each
through ``norm{1,2,3}``; UNINEXT uses ``res3..res5``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..convert_utils import KeyMap, squeeze_leading
from ..layers import LayerNorm2d
from .base import Backbone, ShapeSpec, variant_config

__all__ = ["ConvNeXt", "build_convnext", "convnext_key_map", "CONVNEXT_CONFIGS"]

CONVNEXT_CONFIGS = {
    "tiny": dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
    "base": dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
    "large": dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536)),
}


class Block(nn.Module):
    """7×7 depthwise conv → LayerNorm → Linear 4× → GELU → Linear → ×gamma, residual.

    ``B×D×H×W`` → same shape.
    """

    def __init__(self, dim: int, layer_scale_init_value: float = 1.0):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        # UNINEXT's D2ConvNeXt configs all set layer_scale_init_value > 0 (1.0), so gamma exists
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class ConvNeXt(Backbone):
    """ConvNeXt returning ``res2..res5`` (strides 4–32, channels ``dims``).

    Args:
        depths, dims: see :data:`CONVNEXT_CONFIGS`; in_chans: 3 or 4 (template encoder).
        layer_scale_init_value: initial gamma (1.0 in UNINEXT).
    """

    size_divisibility = 32  # UNINEXT uninext/backbone/convnext.py D2ConvNeXt.size_divisibility

    def __init__(self, depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536), in_chans: int = 3,
                 layer_scale_init_value: float = 1.0, out_features=("res3", "res4", "res5")):
        super().__init__()
        self.in_chans = in_chans
        self.downsample_layers = nn.ModuleList([
            nn.Sequential(nn.Conv2d(in_chans, dims[0], kernel_size=4, stride=4), LayerNorm2d(dims[0], 1e-6))
        ])
        for i in range(3):
            self.downsample_layers.append(nn.Sequential(
                LayerNorm2d(dims[i], 1e-6), nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2)))
        self.stages = nn.ModuleList(
            nn.Sequential(*[Block(dims[i], layer_scale_init_value) for _ in range(depths[i])]) for i in range(4))
        for i in range(1, 4):
            self.add_module(f"norm{i}", LayerNorm2d(dims[i], 1e-6))
        self._out_shapes = {f"res{i + 2}": ShapeSpec(dims[i], 4 * 2 ** i) for i in range(4)}
        self._set_out_features(out_features)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x``: ``B×in_chans×H×W`` → ``{res_k: B×dims[k-2]×H/s×W/s}``."""
        self._check_input(x, self.in_chans)
        out = {}
        for i in range(4):
            x = self.stages[i](self.downsample_layers[i](x))
            name = f"res{i + 2}"
            if name in self.out_features:
                out[name] = x if i == 0 else getattr(self, f"norm{i}")(x)
        return out


def build_convnext(size: str = "large", **overrides) -> ConvNeXt:
    """``size`` one of :data:`CONVNEXT_CONFIGS`."""
    return ConvNeXt(**{**variant_config(CONVNEXT_CONFIGS, size, "ConvNeXt"), **overrides})


def convnext_key_map() -> KeyMap:
    """Rules for UNINEXT's ``D2ConvNeXt`` state dict relative to the backbone: the
    ``nn.Embedding(1, D)`` parameters become ``D`` vectors; the names otherwise agree.
    (A plain timm/facebookresearch ConvNeXt state dict, with ``D``-shaped parameters, maps too:
    squeezing leaves 1-d tensors unchanged.)"""
    return (KeyMap()
            .rename(r"(?P<m>.*)\.weight\.weight", r"\g<m>.weight", squeeze_leading)
            .rename(r"(?P<m>.*)\.bias\.weight", r"\g<m>.bias", squeeze_leading)
            .rename(r"(?P<m>.*\.gamma)\.weight", r"\g<m>", squeeze_leading)
            .rename(r"(?P<k>(downsample_layers|stages|norm[1-3])(\..*)?)", r"\g<k>"))
