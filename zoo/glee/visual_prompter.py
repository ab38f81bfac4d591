"""The visual prompter: how points, boxes, scribbles and masks enter GLEE.

A visual prompt is a binary mask ``M`` on the padded input canvas (a box is its filled
rectangle, a click a small rectangle around it, a scribble its stroke). It is used twice:

1. **Template (early fusion).** A square of side ``⌈√(w·h)·2⌉`` around the mask's bounding box
   is cropped from the normalised image (for points and scribbles the mask is *added* to the
   image channels first), resized to 256×256, passed through the image backbone and fused by
   :class:`FeatureFuser` (``sot_fuser``: 3×3 convs on the last three backbone maps, upsampled to
   the finest and summed) into ``32×32`` tokens that join the early-fusion prompt.
2. **Prompt tokens (decoder self-attention).** Up to 512 pixels of ``M`` are sampled on each of
   the four encoder levels, projected by ``mask_sptial_embed[l]`` and tagged with the positive
   indicator ``pn_indicator[0]``; decoder layer ``i`` attends to the tokens of level ``i mod 3``.

Sampling follows the official code (pixel indices divided by the canvas size, bilinear sampling
with ``align_corners=True``); when a mask has more than 512 pixels the subset is drawn with a
fixed-seed generator so predictions are deterministic (the official code uses the global RNG).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FeatureFuser", "aligned_bilinear", "crop_template", "mask_box", "sample_prompt_tokens"]

#: seed of the generator drawing prompt pixels (only used for masks larger than the budget)
SAMPLING_SEED = 0


def aligned_bilinear(x: torch.Tensor, factor: int) -> torch.Tensor:
    """CondInst's corner-aligned ×``factor`` upsampling of ``B×C×H×W``."""
    if factor == 1:
        return x
    h, w = x.shape[-2:]
    x = F.pad(x, (0, 1, 0, 1), mode="replicate")
    x = F.interpolate(x, size=(factor * h + 1, factor * w + 1), mode="bilinear", align_corners=True)
    x = F.pad(x, (factor // 2, 0, factor // 2, 0), mode="replicate")
    return x[:, :, :factor * h, :factor * w]


class FeatureFuser(nn.Module):
    """``refine.{0,1,2}``: 3×3 convs from the last three backbone maps to ``channels``; the
    coarser two are upsampled to the first and summed → ``B×channels×H×W``."""

    def __init__(self, in_channels, channels: int = 256):
        super().__init__()
        self.refine = nn.ModuleList(nn.Conv2d(c, channels, 3, padding=1) for c in in_channels)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.refine[0](features[-3])
        for conv, f in zip(self.refine[1:], features[-2:]):
            y = conv(f)
            fh, fw = x.shape[-2] // y.shape[-2], x.shape[-1] // y.shape[-1]
            if fh != fw or fh * y.shape[-2] != x.shape[-2]:
                raise ValueError(f"FeatureFuser: maps {tuple(x.shape)} and {tuple(y.shape)} are not "
                                 "aligned by an integer factor")
            x = x + aligned_bilinear(y, fh)
        return x


def mask_box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """Inclusive pixel bounds ``(x_min, y_min, x_max, y_max)`` of a non-empty ``H×W`` mask."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def crop_template(image: torch.Tensor, mask: torch.Tensor, mode: str, size: int = 256,
                  search_area_factor: float = 2.0) -> torch.Tensor:
    """The template crop of one prompt.

    Args:
        image: ``3×Hp×Wp`` normalised image (padded canvas); mask: ``Hp×Wp`` bool, non-empty.
        mode: ``point``/``scribble`` (the mask is added to the image) or ``box``/``mask``.

    Returns:
        ``1×3×size×size``. The official box is ``(x, y, x_max − x, y_max − y)`` (inclusive
        maxima, so a one-pixel mask has zero width and falls back to the whole image).
    """
    img = image + mask.to(image.dtype) if mode in ("point", "scribble") else image
    x0, y0, x1, y1 = mask_box(mask)
    w, h = x1 - x0, y1 - y0
    crop = math.ceil(math.sqrt(w * h) * search_area_factor)
    cx = max(0, round(x0 + 0.5 * w - crop * 0.5))
    cy = max(0, round(y0 + 0.5 * h - crop * 0.5))
    patch = img[:, cy:cy + crop, cx:cx + crop]
    if patch.shape[-1] == 0 or patch.shape[-2] == 0:
        patch = img
    return F.interpolate(patch[None], (size, size), mode="bilinear", align_corners=False)


def _sample(points: torch.Tensor, budget: int, gen: torch.Generator) -> torch.Tensor:
    if points.shape[0] <= budget:
        return points
    idx = torch.randperm(points.shape[0], generator=gen)[:budget].to(points.device)
    return points[idx]


def sample_prompt_tokens(levels: list[torch.Tensor], masks: torch.Tensor, spatial_embed, indicator: torch.Tensor,
                         budget: int = 512) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Prompt tokens per encoder level.

    Args:
        levels: 4 maps ``B×C×H_l×W_l``; masks: ``B×Hp×Wp`` bool prompt masks on the canvas.
        spatial_embed: 4 matrices ``C×C`` (``mask_sptial_embed``); indicator: ``C`` positive tag.

    Returns:
        per level ``(tokens B×P×C, padding B×P bool)``, P the largest sampled count.
    """
    gen = torch.Generator().manual_seed(SAMPLING_SEED)
    hp, wp = masks.shape[-2:]
    div = torch.tensor([hp, wp], dtype=torch.float32, device=masks.device)
    out = []
    for feat, proj in zip(levels, spatial_embed):
        feat = (feat.permute(0, 2, 3, 1) @ proj).permute(0, 3, 1, 2)
        pts = [_sample(torch.nonzero(m).float() / div, budget, gen) for m in masks]
        p = max(max(len(x) for x in pts), 1)
        grid = feat.new_zeros(len(pts), p, 2)
        pad = torch.ones(len(pts), p, dtype=torch.bool, device=feat.device)
        for i, x in enumerate(pts):
            grid[i, :len(x)] = x.flip(-1).to(feat.dtype)  # (y, x) → (x, y)
            pad[i, :len(x)] = False
        tok = F.grid_sample(feat, 2.0 * grid[:, :, None] - 1.0, align_corners=True)[..., 0].transpose(1, 2)
        out.append((tok + indicator * (~pad)[..., None].to(tok.dtype), pad))
    return out
