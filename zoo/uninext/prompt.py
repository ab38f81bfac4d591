"""Prompt generation (paper §3.1): every prompt becomes a sequence of 768-d "language" tokens.

* **Category names** — concatenated into one caption ``"person. bicycle. car"`` (names cleaned
  as the official mapper does) and encoded by BERT; :func:`category_caption` returns the
  caption and, for each category, the indices of its tokens (the *positive map*), over which the
  per-token matching logits are averaged.
* **Expressions** — lower-cased and stripped of punctuation (:func:`clean_expression`), encoded
  by BERT.
* **Annotations** (a box or mask on a reference frame) — :func:`crop_template` cuts a square of
  side ``factor·sqrt(w·h)`` around the target box out of the normalised, padded image, adds the
  target mask as a 4th channel and resizes both to 256×256; the template encoder (a 4-channel
  backbone + the shared input projections) gives P3–P6, :class:`TemplateFuser` sums them at P3
  resolution, and a Linear layer (``adjust_layer``) lifts the 32×32 tokens from 256 to 768-d.
"""
from __future__ import annotations

import math
import re
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .heads import aligned_bilinear

__all__ = ["clean_name", "clean_expression", "category_caption", "positive_map",
           "crop_template", "TemplateFuser"]


def clean_name(name: str) -> str:
    """Official category-name cleaning: drop ``(...)``, ``_`` → space, collapse double spaces."""
    name = re.sub(r"\(.*\)", "", name)
    name = re.sub(r"_", " ", name)
    return re.sub(r"  ", " ", name)


def clean_expression(text: str) -> str:
    """Official expression cleaning: lower-case, drop ``.,'!?"()*#:;``, ``-``/``/`` → space."""
    return re.sub(r"([.,'!?\"()*#:;])", "", text.lower()).replace("-", " ").replace("/", " ")


def category_caption(names: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """``"name1. name2. …"`` and each (cleaned) name's character span ``[start, end)``."""
    caption, spans = "", []
    for i, name in enumerate(clean_name(n) for n in names):
        start = len(caption)
        caption += name
        spans.append((start, len(caption)))
        if i != len(names) - 1:
            caption += ". "
    return caption, spans


def positive_map(encoding, spans: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Token indices of each character span in a fast-tokenizer ``encoding`` (one text).

    As the official ``create_positive_dict``: the first token is that of the span's first
    character (else of the 2nd or 3rd), the last that of its last character (else the one or
    two before). A span whose tokens cannot be found (e.g. truncated away) gets ``[]``.
    """
    out = []
    for beg, end in spans:
        b = encoding.char_to_token(beg)
        if b is None:
            b = encoding.char_to_token(beg + 1)
            if b is None:
                b = encoding.char_to_token(beg + 2)
        e = encoding.char_to_token(end - 1)
        if e is None:
            e = encoding.char_to_token(end - 2)
            if e is None:
                e = encoding.char_to_token(end - 3)
        out.append([] if b is None or e is None else list(range(b, e + 1)))
    return out


def crop_template(image: torch.Tensor, pad_mask: torch.Tensor, box_xywh: Sequence[float],
                  target_mask: torch.Tensor | None, size: int = 256, factor: float = 2.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The 4-channel template of one target (official ``get_template_4c``).

    Args:
        image: ``3×Hp×Wp`` normalised padded image; pad_mask: ``Hp×Wp`` bool (True = padding).
        box_xywh: target box ``(x, y, w, h)`` in resized-image pixels.
        target_mask: ``Hp×Wp`` float/bool target mask on the canvas, or ``None`` to fill the box.
        size: template side (256); factor: crop side over ``sqrt(w·h)`` (2).

    Returns:
        ``(template 4×size×size, padding mask size×size bool)``: RGB (zero outside the image)
        and target-mask channels; pixels outside the canvas count as padding.
    """
    x, y, w, h = (float(v) for v in box_xywh)
    crop = math.ceil(math.sqrt(w * h) * factor)
    x1 = round(x + 0.5 * w - crop * 0.5)
    y1 = round(y + 0.5 * h - crop * 0.5)
    x2, y2 = x1 + crop, y1 + crop
    hp, wp = image.shape[-2:]
    # the official crop pads one pixel more than needed at the far side; kept for parity
    x1_pad, y1_pad = max(0, -x1), max(0, -y1)
    x2_pad, y2_pad = max(x2 - wp + 1, 0), max(y2 - hp + 1, 0)
    sl = (slice(y1 + y1_pad, y2 - y2_pad), slice(x1 + x1_pad, x2 - x2_pad))
    pad = (x1_pad, x2_pad, y1_pad, y2_pad)
    im = F.pad(image[None][(..., *sl)], pad, value=0.0)
    pm = F.pad(pad_mask[None, None][(..., *sl)].float(), pad, value=1.0)
    if target_mask is None:
        tm = torch.zeros_like(pm)
        bx1, by1 = round(x - x1), round(y - y1)
        bx2, by2 = round(bx1 + w), round(by1 + h)
        tm[..., max(0, by1):by2, max(0, bx1):bx2] = 1.0
    else:
        tm = F.pad(target_mask[None, None][(..., *sl)].float(), pad, value=0.0)
    resize = lambda t: F.interpolate(t, (size, size), mode="bilinear", align_corners=False)  # noqa: E731
    template = torch.cat([resize(im), resize(tm)], 1)[0]
    return template, resize(pm)[0, 0].bool()


class TemplateFuser(nn.Module):
    """Official ``FeatureFuser``: a 3×3 conv per level (``refine.{0..3}``), P4–P6 upsampled
    (aligned bilinear) to P3 and summed. ``[P3..P6]`` ``B×C×H_l×W_l`` → ``B×C×H_3×W_3``."""

    def __init__(self, in_channels: int = 256, channels: int = 256):
        super().__init__()
        self.refine = nn.ModuleList(nn.Conv2d(in_channels, channels, 3, padding=1) for _ in range(4))

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self.refine[0](feats[-4])
        for i in range(1, 4):
            p = self.refine[i](feats[i - 4])
            factor = x.shape[-2] // p.shape[-2]
            if factor * p.shape[-2] != x.shape[-2] or factor * p.shape[-1] != x.shape[-1]:
                raise ValueError(f"template levels must be exact multiples: P3 {tuple(x.shape[-2:])} "
                                 f"vs level {i + 3} {tuple(p.shape[-2:])}")
            x = x + aligned_bilinear(p, factor)
        return x
