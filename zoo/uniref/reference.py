"""Reference encoders of UniRef++ (paper §3.2).

* Language: BERT word features projected to ``d`` (:class:`~evalkit.zoo.uninext.transformer.FeatureResizer`,
  official ``resizer``); keys = values = the words, condition = their masked mean — built by
  :meth:`evalkit.zoo.uniref.model.UniRef.encode_text`.
* Mask (:class:`MaskReferenceEncoder`, official ``value_encoder`` = STCN's ``ValueEncoderSO``):
  a ResNet-18 on the reference image concatenated with its mask (4 input channels); its stride
  8/16/32 stages and one extra stride-2 conv (stride 64) are each fused with the reference
  frame's visual features of the same level by a :class:`FeatureFusionBlock` (ResBlock → CBAM →
  ResBlock). The results are the *values* of the mask reference; its *keys* are the reference
  frame's visual features themselves and its condition their mean over the valid area.

The ResNet-18 keeps torchvision's layout with biased convolutions and BatchNorm (eval mode:
running statistics), as the official ``mod_resnet``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BasicBlock", "ResBlock", "CBAM", "FeatureFusionBlock", "MaskReferenceEncoder"]


class BasicBlock(nn.Module):
    """ResNet basic block (3×3 → BN → ReLU → 3×3 → BN, + shortcut, ReLU); convs have biases."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride),
                                            nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResBlock(nn.Module):
    """Pre-activation residual block ``x + conv2(relu(conv1(relu(x))))``; a 3×3 ``downsample``
    conv projects ``x`` when the widths differ."""

    def __init__(self, indim: int, outdim: int):
        super().__init__()
        self.downsample = nn.Conv2d(indim, outdim, 3, padding=1) if indim != outdim else None
        self.conv1 = nn.Conv2d(indim, outdim, 3, padding=1)
        self.conv2 = nn.Conv2d(outdim, outdim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.conv2(F.relu(self.conv1(F.relu(x))))
        return (x if self.downsample is None else self.downsample(x)) + r


class _ChannelGate(nn.Module):
    """CBAM channel attention: ``sigmoid(MLP(avgpool) + MLP(maxpool))`` scales the channels.
    ``mlp`` = Flatten, Linear C→C/r, ReLU, Linear C/r→C (official indices 1 and 3)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, channels // reduction), nn.ReLU(),
                                 nn.Linear(channels // reduction, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        att = self.mlp(x.mean((2, 3), keepdim=True)) + self.mlp(x.amax((2, 3), keepdim=True))
        return x * torch.sigmoid(att)[:, :, None, None]


class _BasicConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=(kernel - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _SpatialGate(nn.Module):
    """CBAM spatial attention: a 7×7 conv over [channel max, channel mean] → sigmoid scale."""

    def __init__(self):
        super().__init__()
        self.spatial = _BasicConv(2, 1, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(pooled))


class CBAM(nn.Module):
    """Convolutional Block Attention Module (Woo et al. 2018): channel then spatial gating.
    ``B×C×H×W`` → same shape."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.ChannelGate = _ChannelGate(channels, reduction)
        self.SpatialGate = _SpatialGate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.SpatialGate(self.ChannelGate(x))


class FeatureFusionBlock(nn.Module):
    """``[x, f]`` (mask-encoder and visual features, concatenated on channels) → ResBlock →
    (+ CBAM of it) → ResBlock: ``B×(Cx+Cf)×H×W`` → ``B×outdim×H×W``."""

    def __init__(self, indim: int, outdim: int):
        super().__init__()
        self.block1 = ResBlock(indim, outdim)
        self.attention = CBAM(outdim)
        self.block2 = ResBlock(outdim, outdim)

    def forward(self, x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        x = self.block1(torch.cat([x, f], 1))
        return self.block2(x + self.attention(x))


class MaskReferenceEncoder(nn.Module):
    """The mask-reference (value) encoder.

    Args:
        d_model: width of the visual features and of the output values (256).
        width: ResNet-18 stem width (64; stages ``width·(1, 2, 4, 8)``).

    ``forward(image, mask, srcs)``: ``image`` ``B×3×H×W`` normalised reference frame (padded to
    a multiple of 64 / the backbone's divisibility), ``mask`` ``B×1×H×W`` float target mask on
    the same canvas, ``srcs`` the reference frame's 4 visual feature levels (strides 8–64,
    ``B×d×H_l×W_l``) → 4 value maps ``B×d×H_l×W_l``.
    """

    def __init__(self, d_model: int = 256, width: int = 64):
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(4, w, 7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(w)
        self.layer1 = nn.Sequential(BasicBlock(w, w), BasicBlock(w, w))
        self.layer2 = nn.Sequential(BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 2 * w))
        self.layer3 = nn.Sequential(BasicBlock(2 * w, 4 * w, 2), BasicBlock(4 * w, 4 * w))
        self.layer4 = nn.Sequential(BasicBlock(4 * w, 8 * w, 2), BasicBlock(8 * w, 8 * w))
        self.final_layer = nn.Sequential(nn.Conv2d(8 * w, d_model, 3, stride=2, padding=1),
                                         nn.GroupNorm(32, d_model))
        self.fuser2 = FeatureFusionBlock(2 * w + d_model, d_model)
        self.fuser3 = FeatureFusionBlock(4 * w + d_model, d_model)
        self.fuser4 = FeatureFusionBlock(8 * w + d_model, d_model)
        self.fuser5 = FeatureFusionBlock(d_model + d_model, d_model)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, image: torch.Tensor, mask: torch.Tensor,
                srcs: list[torch.Tensor]) -> list[torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(torch.cat([image, mask], 1))))
        x = F.max_pool2d(x, 3, stride=2, padding=1)
        x2 = self.layer2(self.layer1(x))  # stride 8
        x3 = self.layer3(x2)  # 16
        x4 = self.layer4(x3)  # 32
        x5 = self.final_layer(x4)  # 64
        return [self.fuser2(x2, srcs[0]), self.fuser3(x3, srcs[1]), self.fuser4(x4, srcs[2]),
                self.fuser5(x5, srcs[3])]
