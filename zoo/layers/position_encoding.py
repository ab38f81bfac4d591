"""Position encodings for image feature maps and boxes.

* :class:`PositionEmbeddingSine` — the 2-d sine encoding of DETR ("End-to-End Object Detection
  with Transformers", Carion et al. 2020); with ``offset=0.5`` it is the Deformable-DETR
  variant (UNINEXT, UniRef), with ``offset=0`` the DETR / Mask2Former one (UniVS, GLEE).
* :class:`PositionEmbeddingLearned` — DETR's learned row/column embeddings (50 positions).
* :func:`sine_embed_for_boxes` — sine encoding of box coordinates for query positions
  (Conditional/DAB/DINO-DETR decoders).
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["PositionEmbeddingSine", "PositionEmbeddingLearned", "sine_embed_for_boxes"]


class PositionEmbeddingSine(nn.Module):
    """Sine/cosine encoding of pixel positions.

    Args:
        num_pos_feats: channels per axis (output has ``2·num_pos_feats`` channels: y then x).
        temperature: wavelength base.
        normalize: divide cumulative positions by the valid extent and multiply by ``scale``.
        scale: defaults to 2π; only meaningful with ``normalize``.
        offset: subtracted from the 1-based positions before normalising (0.5 in
            Deformable-DETR, 0 in DETR / Mask2Former).
        eps: added to the extent.

    ``forward(x, mask=None)``: ``x`` ``B×C×H×W`` (only its shape/device are used); ``mask``
    ``B×H×W`` bool, True on padding. Returns ``B×(2·num_pos_feats)×H×W`` float32.
    """

    def __init__(self, num_pos_feats: int = 64, temperature: float = 10000, normalize: bool = False,
                 scale: float | None = None, offset: float = 0.0, eps: float = 1e-6):
        super().__init__()
        if scale is not None and not normalize:
            raise ValueError("scale is only used with normalize=True")
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        self.offset = offset
        self.eps = eps

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.zeros((x.shape[0], x.shape[2], x.shape[3]), dtype=torch.bool, device=x.device)
        not_mask = ~mask
        y_embed = not_mask.cumsum(1, dtype=torch.float32)
        x_embed = not_mask.cumsum(2, dtype=torch.float32)
        if self.normalize:
            y_embed = (y_embed - self.offset) / (y_embed[:, -1:, :] + self.eps) * self.scale
            x_embed = (x_embed - self.offset) / (x_embed[:, :, -1:] + self.eps) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=x.device)
        dim_t = self.temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / self.num_pos_feats)
        pos_x = x_embed[..., None] / dim_t
        pos_y = y_embed[..., None] / dim_t
        pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=4).flatten(3)
        return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


class PositionEmbeddingLearned(nn.Module):
    """Learned absolute encoding: ``row_embed``/``col_embed`` ``Embedding(50, num_pos_feats)``.

    ``forward(x)`` with ``x`` ``B×C×H×W`` (H, W ≤ 50) → ``B×(2·num_pos_feats)×H×W`` (x then y,
    as DETR concatenates them).
    """

    def __init__(self, num_pos_feats: int = 256, max_positions: int = 50):
        super().__init__()
        self.row_embed = nn.Embedding(max_positions, num_pos_feats)
        self.col_embed = nn.Embedding(max_positions, num_pos_feats)
        nn.init.uniform_(self.row_embed.weight)
        nn.init.uniform_(self.col_embed.weight)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        limit = self.row_embed.num_embeddings
        if h > limit or w > limit:
            raise ValueError(f"learned position embedding covers {limit}×{limit}, got a {h}×{w} map")
        x_emb = self.col_embed(torch.arange(w, device=x.device))
        y_emb = self.row_embed(torch.arange(h, device=x.device))
        pos = torch.cat([x_emb[None].expand(h, w, -1), y_emb[:, None].expand(h, w, -1)], dim=-1)
        return pos.permute(2, 0, 1)[None].expand(x.shape[0], -1, -1, -1)


def sine_embed_for_boxes(boxes: torch.Tensor, num_pos_feats: int = 128,
                         temperature: float = 10000) -> torch.Tensor:
    """Sine encoding of normalised box coordinates (the query position of DAB/DINO decoders).

    Args:
        boxes: ``(..., 2)`` points ``(cx, cy)`` or ``(..., 4)`` boxes ``(cx, cy, w, h)`` in [0, 1].
    Returns:
        ``(..., k·num_pos_feats)`` with the coordinates in the order y, x, w, h (k = 2 or 4);
        each coordinate is scaled by 2π and encoded with interleaved sin/cos.
    """
    scale = 2 * math.pi
    dim_t = torch.arange(num_pos_feats, dtype=torch.float32, device=boxes.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_pos_feats)

    def enc(c: torch.Tensor) -> torch.Tensor:
        p = c[..., None] * scale / dim_t
        return torch.stack((p[..., 0::2].sin(), p[..., 1::2].cos()), dim=-1).flatten(-2)

    parts = [enc(boxes[..., 1]), enc(boxes[..., 0])]
    if boxes.shape[-1] == 4:
        parts += [enc(boxes[..., 2]), enc(boxes[..., 3])]
    elif boxes.shape[-1] != 2:
        raise ValueError(f"expected (...,2) points or (...,4) boxes, got {tuple(boxes.shape)}")
    return torch.cat(parts, dim=-1)
