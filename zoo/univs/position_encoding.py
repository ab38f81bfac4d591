"""3-D sine position codes of UniVS ('ArbitraryT', ``POSITION_EMBEDDING_SINE3D``).

The spatial part is Mask2Former's normalised sine code (y then x, ``C/2`` channels each); the
temporal part uses the *absolute* frame index divided by ``num_max_frames`` (128) times 2π, with
``C`` channels, and is added to the spatial code. Because the temporal code depends on the frame
index and not on the clip length, prompt tokens taken from any earlier frame keep a meaningful
position when reused by a later clip (the paper's streaming inference, §4.2).
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["PositionEmbeddingSine3D"]


class PositionEmbeddingSine3D(nn.Module):
    """Args: num_pos_feats (C/2), temperature (10000), num_max_frames (128). No parameters."""

    def __init__(self, num_pos_feats: int = 128, temperature: float = 10000, num_max_frames: int = 128):
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.num_max_frames = num_max_frames
        self.scale = 2 * math.pi

    def _dim_t(self, n: int, device) -> torch.Tensor:
        d = torch.arange(n, dtype=torch.float32, device=device)
        return self.temperature ** (2 * torch.div(d, 2, rounding_mode="floor") / n)

    @staticmethod
    def _sincos(x: torch.Tensor) -> torch.Tensor:
        return torch.stack((x[..., 0::2].sin(), x[..., 1::2].cos()), dim=-1).flatten(-2)

    def _temporal(self, frame_indices: torch.Tensor) -> torch.Tensor:
        """``T`` frame indices → ``T×C`` codes."""
        z = frame_indices.float() / self.num_max_frames * self.scale
        return self._sincos(z[:, None] / self._dim_t(2 * self.num_pos_feats, z.device))

    def forward(self, size: tuple[int, int], frame_indices: torch.Tensor) -> torch.Tensor:
        """Codes of a ``T×H×W`` grid: ``T×C×H×W`` float32 (``frame_indices``: ``T`` ints)."""
        h, w = size
        device = frame_indices.device
        eps = 1e-6
        y = torch.arange(1, h + 1, dtype=torch.float32, device=device) / (h + eps) * self.scale
        x = torch.arange(1, w + 1, dtype=torch.float32, device=device) / (w + eps) * self.scale
        dim_t = self._dim_t(self.num_pos_feats, device)
        pos_y = self._sincos(y[:, None] / dim_t)[:, None].expand(h, w, -1)
        pos_x = self._sincos(x[:, None] / dim_t)[None].expand(h, w, -1)
        spatial = torch.cat([pos_y, pos_x], -1)  # H×W×C
        pos = spatial[None] + self._temporal(frame_indices)[:, None, None]
        return pos.permute(0, 3, 1, 2).contiguous()
