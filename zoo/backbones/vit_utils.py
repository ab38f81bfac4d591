"""Pieces shared by the plain-ViT backbones (ViTDet-style ViT-H, EVA02): window partition with
padding, decomposed relative positions (MViTv2), absolute-position resizing, patch embedding.
Token maps are channels-last ``B×H×W×C`` throughout, as in the official code."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["window_partition", "window_unpartition", "get_rel_pos", "decomposed_rel_pos_bias",
           "get_abs_pos", "PatchEmbed"]


def window_partition(x: torch.Tensor, ws: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """``B×H×W×C`` → (``(B·nW)×ws×ws×C``, padded (Hp, Wp)); zero padding right/bottom."""
    b, h, w, c = x.shape
    pad_h, pad_w = (ws - h % ws) % ws, (ws - w % ws) % ws
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // ws, ws, wp // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws, ws, c), (hp, wp)


def window_unpartition(windows: torch.Tensor, ws: int, pad_hw: tuple[int, int], hw: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`, cropping the padding: → ``B×H×W×C``."""
    hp, wp = pad_hw
    h, w = hw
    b = windows.shape[0] // (hp * wp // ws // ws)
    x = windows.view(b, hp // ws, wp // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    return x[:, :h, :w].contiguous()


def get_rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """Relative-position embeddings ``q_size×k_size×C`` from a table ``L×C``; the table is
    linearly resized when ``L != 2·max(q, k) − 1`` (inputs other than the training size)."""
    max_rel = int(2 * max(q_size, k_size) - 1)
    if rel_pos.shape[0] != max_rel:
        rel_pos = F.interpolate(rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1),
                                size=max_rel, mode="linear").reshape(-1, max_rel).permute(1, 0)
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * max(q_size / k_size, 1.0)
    rel = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos[rel.long()]


def decomposed_rel_pos_bias(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                            q_size: tuple[int, int], k_size: tuple[int, int]) -> torch.Tensor:
    """Additive attention bias of decomposed relative positions (MViTv2, Li et al. 2022).

    Args:
        q: ``B'×(qh·qw)×d`` *unscaled* queries (B' = batch·heads).
    Returns:
        ``B'×(qh·qw)×(kh·kw)`` bias, ``q·R_h`` broadcast over key columns + ``q·R_w`` over rows.
    """
    qh, qw = q_size
    kh, kw = k_size
    rh = get_rel_pos(qh, kh, rel_pos_h).to(q.dtype)
    rw = get_rel_pos(qw, kw, rel_pos_w).to(q.dtype)
    b, _, d = q.shape
    r_q = q.reshape(b, qh, qw, d)
    rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, rh)
    rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, rw)
    return (rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).reshape(b, qh * qw, kh * kw)


def get_abs_pos(abs_pos: torch.Tensor, has_cls_token: bool, hw: tuple[int, int]) -> torch.Tensor:
    """``1×N×C`` pre-training position table (optionally with a leading cls entry) → ``1×H×W×C``,
    bicubically resized when the token grid differs from the pre-training one."""
    h, w = hw
    if has_cls_token:
        abs_pos = abs_pos[:, 1:]
    n = abs_pos.shape[1]
    size = int(math.sqrt(n))
    if size * size != n:
        raise ValueError(f"position table of {n} entries is not a square grid")
    grid = abs_pos.reshape(1, size, size, -1)
    if size == h and size == w:
        return grid
    out = F.interpolate(grid.permute(0, 3, 1, 2), size=(h, w), mode="bicubic", align_corners=False)
    return out.permute(0, 2, 3, 1)


class PatchEmbed(nn.Module):
    """``proj``: non-overlapping conv; ``B×C×H×W`` → ``B×H/p×W/p×D`` (channels last)."""

    def __init__(self, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)
