"""The multi-scale deformable-attention encoder layer (Deformable DETR, Zhu et al. 2021, §4.1),
shared by UNINEXT/UniRef++ (``transformer.encoder``), GLEE (``pixel_decoder.transformer.encoder``)
and UniVS (``sem_seg_head.pixel_decoder.transformer.encoder``).

The three official copies are the same module — UNINEXT
``projects/UNINEXT/uninext/models/deformable_detr/deformable_transformer_dino.py:
DeformableTransformerEncoderLayer``, GLEE
``projects/GLEE/glee/models/pixel_decoder/maskdino_encoder.py: MSDeformAttnTransformerEncoderLayer``
and UniVS ``univs/modeling/pixel_decoder/msdeformattn_vl.py: MSDeformAttnTransformerEncoderLayer``:
post-norm, ReLU FFN, submodules ``self_attn``, ``norm1``, ``linear1``, ``linear2``, ``norm2`` (the
checkpoint key names), and the same ``get_reference_points``. What differs between the families
is only data:

- widths: ``d_ffn`` 2048 (UNINEXT, UniRef++, GLEE) or 1024 (UniVS); ``n_levels`` 4 (UNINEXT,
  UniRef++, GLEE) or 3 (UniVS, res3–res5); ``n_heads`` 8 and ``n_points`` 4 everywhere;
- the padding mask: UNINEXT/UniRef++ pad a batch to a common size and pass it (with valid ratios
  below 1), GLEE and UniVS pass all-valid masks, i.e. ``padding_mask=None`` and valid ratios 1.

Official layers also hold three ``nn.Dropout`` (0.1 in their constructors, 0.0 in the GLEE and
UniVS configs); dropout has no parameters and is the identity in evaluation, so it is left out.

Not exported from :mod:`evalkit.zoo.layers` itself: this module imports :mod:`evalkit.zoo.ops`,
whose ``MSDeformAttn`` imports :mod:`evalkit.zoo.layers.precision`; import it by its full name.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import MSDeformAttn
from .precision import fp32_island

__all__ = ["DeformableEncoderLayer", "encoder_reference_points", "flatten_levels", "split_levels"]


class DeformableEncoderLayer(nn.Module):
    """``norm1(x + MSDeformAttn(x + pos, x))`` then ``norm2(x + linear2(relu(linear1(x))))``.

    Args:
        d_model: token width ``C``; d_ffn: FFN hidden width; n_levels, n_heads, n_points: of
            the deformable attention (:class:`evalkit.zoo.ops.MSDeformAttn`).
    """

    def __init__(self, d_model: int = 256, d_ffn: int = 2048, n_levels: int = 4, n_heads: int = 8,
                 n_points: int = 4):
        super().__init__()
        self.self_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.norm2 = nn.LayerNorm(d_model)

    # UNINEXT/UniRef++ declare this float32 island on the layer itself; GLEE and UniVS call it
    # inside their pixel decoder's island, where the decorator is a plain call.
    @fp32_island("UNINEXT projects/UNINEXT/uninext/models/deformable_detr/deformable_transformer_dino.py: "
                 "DeformableTransformerEncoderLayer.forward (custom_fwd(cast_inputs=float32))")
    def forward(self, src: torch.Tensor, pos: torch.Tensor, reference_points: torch.Tensor,
                spatial_shapes: torch.Tensor, level_start_index: torch.Tensor,
                padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """One layer over the flattened levels.

        Args:
            src: ``B×S×C`` tokens of all levels (``S = Σ H_l·W_l``, levels in the caller's order).
            pos: ``B×S×C`` position + level embedding (added to the queries only, not the values).
            reference_points: ``B×S×L×2`` normalised ``(x, y)`` per level
                (:func:`encoder_reference_points`).
            spatial_shapes: ``L×2`` int64 ``(H_l, W_l)``; level_start_index: ``L`` int64.
            padding_mask: ``B×S`` bool, True on padding (its values are zeroed), or None.

        Returns:
            ``B×S×C``, the dtype of ``src``.
        """
        src = self.norm1(src + self.self_attn(src + pos, reference_points, src, spatial_shapes,
                                              level_start_index, padding_mask))
        return self.norm2(src + self.linear2(F.relu(self.linear1(src))))


def encoder_reference_points(spatial_shapes: torch.Tensor, valid_ratios: torch.Tensor) -> torch.Tensor:
    """Every token's reference point on every level (the official ``get_reference_points``).

    The pixel centres of each level are normalised by that level's *valid* extent, then scaled
    by each level's valid ratio, so that a token points at the same image location on all
    levels. With all-valid masks (GLEE, UniVS: ``valid_ratios`` all ones) this is the plain
    ``(i + 0.5) / W``, ``(j + 0.5) / H`` on every level, bit for bit (a product with 1.0 is exact).

    Args:
        spatial_shapes: ``L×2`` int64 ``(H_l, W_l)``.
        valid_ratios: ``B×L×2`` float, ``(w, h)`` fraction of each level that is not padding.

    Returns:
        ``B×S×L×2`` float32 ``(x, y)`` in ``[0, 1]``.
    """
    dev = valid_ratios.device
    refs = []
    for lvl, (h, w) in enumerate(spatial_shapes.tolist()):
        ref_y, ref_x = torch.meshgrid(torch.linspace(0.5, h - 0.5, h, dtype=torch.float32, device=dev),
                                      torch.linspace(0.5, w - 0.5, w, dtype=torch.float32, device=dev),
                                      indexing="ij")
        ref_y = ref_y.reshape(-1)[None] / (valid_ratios[:, None, lvl, 1] * h)
        ref_x = ref_x.reshape(-1)[None] / (valid_ratios[:, None, lvl, 0] * w)
        refs.append(torch.stack((ref_x, ref_y), -1))
    return torch.cat(refs, 1)[:, :, None] * valid_ratios[:, None]


def flatten_levels(srcs: list[torch.Tensor], pos: list[torch.Tensor], level_embed: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-level maps → the token sequence the encoder runs on (the official encoders'
    ``forward`` preamble: ``flatten(2).transpose(1, 2)``, level embedding added to the position).

    Args:
        srcs: per level ``B×C×H_l×W_l`` features, in the encoder's level order.
        pos: per level ``B×C×H_l×W_l`` position codes.
        level_embed: ``L×C`` learned level embedding.

    Returns:
        ``(src B×S×C, pos + level embedding B×S×C, spatial_shapes L×2 int64 (H_l, W_l),
        level_start_index L int64)`` with ``S = Σ H_l·W_l``.
    """
    spatial_shapes = torch.as_tensor([tuple(s.shape[-2:]) for s in srcs], dtype=torch.long, device=srcs[0].device)
    level_start_index = torch.cat((spatial_shapes.new_zeros((1,)), spatial_shapes.prod(1).cumsum(0)[:-1]))
    src = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)
    pos = torch.cat([p.flatten(2).transpose(1, 2) + level_embed[lvl].view(1, 1, -1) for lvl, p in enumerate(pos)], 1)
    return src, pos, spatial_shapes, level_start_index


def split_levels(tokens: torch.Tensor, spatial_shapes: torch.Tensor) -> list[torch.Tensor]:
    """The inverse of :func:`flatten_levels` for the first ``len(spatial_shapes)`` levels:
    ``B×S×C`` tokens → per level ``B×C×H_l×W_l`` maps."""
    b, _, c = tokens.shape
    out, start = [], 0
    for h, w in spatial_shapes.tolist():
        out.append(tokens[:, start:start + h * w].transpose(1, 2).reshape(b, c, h, w))
        start += h * w
    return out
