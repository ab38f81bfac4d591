"""Multi-scale deformable attention core in plain PyTorch (the reference for the kernels).

Semantics are those of Deformable DETR's ``ms_deform_attn_core_pytorch`` and of its CUDA op:
for every query ``q``, head ``m``, level ``l`` and point ``p`` the value map of level ``l`` is
sampled bilinearly at the normalised location ``(x, y) in [0, 1]^2`` with ``align_corners=False``
(location ``0`` is the left edge of the first pixel, ``1`` the right edge of the last, so pixel
``j`` has its centre at ``(j + 0.5) / W``) and zero padding outside the map; the samples are
weighted by the attention weights and summed over levels and points.

It works level by level through ``F.grid_sample`` and materialises a
``(N*M) x D x Lq x (L*P)`` tensor, which is the memory cost the Triton kernels avoid.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def ms_deform_attn_reference(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    level_start_index: torch.Tensor | None,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """Multi-scale deformable attention through ``F.grid_sample``.

    Args:
        value: ``N x S x M x D`` values of all levels flattened row-major per level and
            concatenated level after level, ``S = sum_l H_l * W_l``.
        spatial_shapes: ``L x 2`` integer ``(H_l, W_l)`` per level.
        level_start_index: ``L`` offsets of each level in ``S`` (unused: the levels are split
            by ``spatial_shapes``, as the official reference does; kept for the common signature).
        sampling_locations: ``N x Lq x M x L x P x 2`` normalised ``(x, y)`` locations, ``[0, 1]``
            inside the map; values outside sample zeros.
        attention_weights: ``N x Lq x M x L x P`` weights (a softmax over ``L * P`` in the model).

    Returns:
        ``N x Lq x (M*D)`` in ``value``'s dtype; the heads are concatenated head-major.
        Locations and weights are cast to ``value``'s dtype first.
    """
    del level_start_index
    n, _, m, d = value.shape
    _, lq, _, n_levels, n_points, _ = sampling_locations.shape
    shapes = [(int(h), int(w)) for h, w in spatial_shapes.tolist()]
    sampling_locations = sampling_locations.to(value.dtype)
    attention_weights = attention_weights.to(value.dtype)
    per_level = value.split([h * w for h, w in shapes], dim=1)
    # grid_sample's grid spans [-1, 1] over the map with align_corners=False.
    grids = 2 * sampling_locations - 1
    samples = []
    for lvl, (h, w) in enumerate(shapes):
        # N x HW x M x D -> (N*M) x D x H x W
        v = per_level[lvl].flatten(2).transpose(1, 2).reshape(n * m, d, h, w)
        # N x Lq x M x P x 2 -> (N*M) x Lq x P x 2
        g = grids[:, :, :, lvl].transpose(1, 2).flatten(0, 1)
        samples.append(
            F.grid_sample(v, g, mode="bilinear", padding_mode="zeros", align_corners=False)
        )  # (N*M) x D x Lq x P
    # N x Lq x M x L x P -> (N*M) x 1 x Lq x (L*P)
    attn = attention_weights.transpose(1, 2).reshape(n * m, 1, lq, n_levels * n_points)
    out = (torch.stack(samples, dim=-2).flatten(-2) * attn).sum(-1)  # (N*M) x D x Lq
    return out.view(n, m * d, lq).transpose(1, 2).contiguous()
