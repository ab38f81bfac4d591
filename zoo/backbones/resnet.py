"""ResNet in the detectron2 layout ("Deep Residual Learning", He et al. 2016).

Parameter names equal detectron2's (``stem.conv1.{weight,norm.*}``,
``res{2..5}.{i}.{conv1,conv2,conv3,shortcut}.{weight,norm.*}``), so the backbones inside the
UNINEXT, UniRef++, GLEE and UniVS checkpoints load without renaming. As configured by all four
(``STRIDE_IN_1X1 False``) the stride sits in the 3×3 convolution; norms are FrozenBatchNorm2d.
The stem takes 3 channels (RGB) or 4 (UNINEXT's template encoder: RGB + target mask).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..convert_utils import KeyMap
from ..layers import Conv2d, c2_msra_fill, get_norm
from .base import Backbone, ShapeSpec

__all__ = ["ResNet", "build_resnet", "resnet_key_map", "BLOCKS_PER_STAGE"]

BLOCKS_PER_STAGE = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class BottleneckBlock(nn.Module):
    """1×1 → 3×3 (stride, dilation) → 1×1 with a projection shortcut when shapes change.

    Input ``B×in×H×W`` → output ``B×out×H/stride×W/stride``.
    """

    def __init__(self, in_channels: int, out_channels: int, bottleneck_channels: int, stride: int = 1,
                 norm: str = "FrozenBN", dilation: int = 1, stride_in_1x1: bool = False):
        super().__init__()
        self.shortcut = None
        if in_channels != out_channels:
            self.shortcut = Conv2d(in_channels, out_channels, 1, stride=stride, bias=False,
                                   norm=get_norm(norm, out_channels))
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = Conv2d(in_channels, bottleneck_channels, 1, stride=s1, bias=False,
                            norm=get_norm(norm, bottleneck_channels))
        self.conv2 = Conv2d(bottleneck_channels, bottleneck_channels, 3, stride=s3, padding=dilation,
                            dilation=dilation, bias=False, norm=get_norm(norm, bottleneck_channels))
        self.conv3 = Conv2d(bottleneck_channels, out_channels, 1, bias=False,
                            norm=get_norm(norm, out_channels))
        for conv in (self.conv1, self.conv2, self.conv3, self.shortcut):
            if conv is not None:
                c2_msra_fill(conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu_(self.conv1(x))
        out = F.relu_(self.conv2(out))
        out = self.conv3(out)
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return F.relu_(out + shortcut)


class BasicStem(nn.Module):
    """7×7 stride-2 conv + norm + ReLU + 3×3 stride-2 max-pool (stride 4 overall)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 64, norm: str = "FrozenBN"):
        super().__init__()
        self.conv1 = Conv2d(in_channels, out_channels, 7, stride=2, padding=3, bias=False,
                            norm=get_norm(norm, out_channels))
        c2_msra_fill(self.conv1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu_(self.conv1(x))
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)


class ResNet(Backbone):
    """Bottleneck ResNet-50/101/152 returning ``res2..res5`` (strides 4–32, 256–2048 channels).

    Args:
        depth: 50, 101 or 152.
        in_channels: 3 (RGB) or 4 (RGB + mask template stem).
        out_features: subset of ``stem, res2, res3, res4, res5``.
        norm: ``"FrozenBN"`` (all four official models) or another :func:`get_norm` name.
        stride_in_1x1: False in all four official configs (stride in the 3×3 conv).
        res5_dilation: 1 or 2 (res5 stride 16 instead of 32 when 2).
        width_per_group, stem_out_channels: 64 for the standard network (tests shrink them).
    """

    #: 0, no input constraint: detectron2's ResNet does not override
    #: ``Backbone.size_divisibility`` (``modeling/backbone/backbone.py``, 0), and the official
    #: inference of the families that ask the backbone (UNINEXT ``ddetrs.py:coco_inference``)
    #: therefore pads an R50 batch only to its largest image.
    size_divisibility = 0

    def __init__(self, depth: int = 50, in_channels: int = 3,
                 out_features=("res2", "res3", "res4", "res5"), norm: str = "FrozenBN",
                 stride_in_1x1: bool = False, res5_dilation: int = 1, width_per_group: int = 64,
                 stem_out_channels: int = 64):
        super().__init__()
        if depth not in BLOCKS_PER_STAGE:
            raise ValueError(f"ResNet depth must be one of {sorted(BLOCKS_PER_STAGE)}, got {depth}")
        if res5_dilation not in (1, 2):
            raise ValueError(f"res5_dilation must be 1 or 2, got {res5_dilation}")
        self.in_channels = in_channels
        self.stem = BasicStem(in_channels, stem_out_channels, norm)
        shapes = {"stem": ShapeSpec(stem_out_channels, 4)}
        in_ch, bottleneck, out_ch, stride = stem_out_channels, width_per_group, 4 * width_per_group, 4
        self.stage_names = []
        for i, n_blocks in enumerate(BLOCKS_PER_STAGE[depth]):
            name = f"res{i + 2}"
            dilation = res5_dilation if i == 3 else 1
            first_stride = 1 if i == 0 or (i == 3 and dilation == 2) else 2
            blocks = []
            for b in range(n_blocks):
                blocks.append(BottleneckBlock(in_ch, out_ch, bottleneck,
                                              stride=first_stride if b == 0 else 1, norm=norm,
                                              dilation=dilation, stride_in_1x1=stride_in_1x1))
                in_ch = out_ch
            self.add_module(name, nn.Sequential(*blocks))
            self.stage_names.append(name)
            stride *= first_stride
            shapes[name] = ShapeSpec(out_ch, stride)
            bottleneck *= 2
            out_ch *= 2
        self._out_shapes = shapes
        self._set_out_features(out_features)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x``: ``B×in_channels×H×W`` normalised image → ``{name: B×C×H/s×W/s}``."""
        self._check_input(x, self.in_channels)
        out = {}
        x = self.stem(x)
        if "stem" in self.out_features:
            out["stem"] = x
        for name in self.stage_names:
            x = getattr(self, name)(x)
            if name in self.out_features:
                out[name] = x
        return out


def build_resnet(depth: int = 50, in_channels: int = 3, out_features=("res2", "res3", "res4", "res5"),
                 **kwargs) -> ResNet:
    """detectron2 ResNet as configured by the four families (FrozenBN, stride in 3×3)."""
    return ResNet(depth=depth, in_channels=in_channels, out_features=out_features, **kwargs)


def resnet_key_map() -> KeyMap:
    """Rules for a detectron2 ResNet state dict relative to the backbone (names are equal;
    ``num_batches_tracked`` of BatchNorm-trained exports is dropped)."""
    return (KeyMap()
            .drop(r".*\.num_batches_tracked", "BatchNorm counter; FrozenBatchNorm2d has none")
            .rename(r"(?P<k>(stem|res[2-5])\..*)", r"\g<k>"))
