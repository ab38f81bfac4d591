"""``MSDeformAttn``: the multi-scale deformable attention module of Deformable DETR.

Parameter names (``sampling_offsets``, ``attention_weights``, ``value_proj``, ``output_proj``),
their shapes and their initialisation follow the official module, so official checkpoints load
into it key for key.
"""
from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.precision import fp32_island
from .errors import OpInputError
from .msda import ms_deform_attn


class MSDeformAttn(nn.Module):
    """Multi-scale deformable attention (Zhu et al., ICLR 2021, eq. 2-3).

    Each query attends to ``n_points`` sampled locations per head and per feature level around
    its reference point; sampling offsets and attention weights are linear functions of the
    query (weights softmax-normalised over ``n_levels * n_points``).

    Args:
        d_model: channels ``C`` of queries and values.
        n_levels: number of feature levels ``L``.
        n_heads: attention heads ``M``; ``d_model`` must divide by it.
        n_points: sampling points ``P`` per head and level.
        backend: MSDA backend, ``"auto" | "triton" | "reference"`` (see
            :func:`evalkit.zoo.ops.ms_deform_attn`).
    """

    def __init__(self, d_model: int = 256, n_levels: int = 4, n_heads: int = 8, n_points: int = 4,
                 *, backend: str = "auto"):
        super().__init__()
        if d_model % n_heads != 0:
            raise OpInputError(
                f"MSDeformAttn: d_model must be divisible by n_heads, got {d_model} and {n_heads}"
            )
        head_dim = d_model // n_heads
        if head_dim & (head_dim - 1):
            warnings.warn(
                f"MSDeformAttn: head dimension {head_dim} is not a power of 2; the kernels "
                "are most efficient with power-of-2 head dimensions",
                stacklevel=2,
            )
        self.d_model = d_model
        self.n_levels = n_levels
        self.n_heads = n_heads
        self.n_points = n_points
        self.backend = backend
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Official init: offsets start on a ring of ``n_heads`` directions, point ``k`` at
        distance ``k + 1`` (in pixels of each level); attention starts uniform."""
        nn.init.constant_(self.sampling_offsets.weight, 0.0)
        thetas = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = grid / grid.abs().max(-1, keepdim=True)[0]  # onto the unit square's border
        grid = grid.view(self.n_heads, 1, 1, 2).repeat(1, self.n_levels, self.n_points, 1)
        grid = grid * torch.arange(1, self.n_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.reshape(-1))
        nn.init.constant_(self.attention_weights.weight, 0.0)
        nn.init.constant_(self.attention_weights.bias, 0.0)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.constant_(self.value_proj.bias, 0.0)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.constant_(self.output_proj.bias, 0.0)

    @fp32_island("UNINEXT projects/UNINEXT/uninext/models/deformable_detr/ops/modules/ms_deform_attn.py: "
                 "MSDeformAttn.forward (custom_fwd(cast_inputs=float32))")
    def forward(
        self,
        query: torch.Tensor,
        reference_points: torch.Tensor,
        input_flatten: torch.Tensor,
        input_spatial_shapes: torch.Tensor,
        input_level_start_index: torch.Tensor,
        input_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend from ``query`` to the multi-scale map ``input_flatten``.

        Args:
            query: ``N x Lq x C``.
            reference_points: ``N x Lq x L x 2`` normalised ``(x, y)`` in ``[0, 1]`` (top-left
                corner ``(0, 0)``, bottom-right ``(1, 1)``; padded images use the valid area's
                ratio, as the caller computes), or ``N x Lq x L x 4`` normalised boxes
                ``(cx, cy, w, h)``: offsets are then scaled by half the box size over
                ``n_points``.
            input_flatten: ``N x S x C`` features of all levels, ``S = sum_l H_l W_l``.
            input_spatial_shapes: ``L x 2`` integer ``(H_l, W_l)``.
            input_level_start_index: ``L`` integer offsets of the levels in ``S``.
            input_padding_mask: optional ``N x S`` bool, True at padded positions (their values
                are zeroed before sampling).

        Returns:
            ``N x Lq x C``.
        """
        n, lq, _ = query.shape
        _, s, c = input_flatten.shape
        if c != self.d_model or query.shape[-1] != self.d_model:
            raise OpInputError(
                f"MSDeformAttn: query and input_flatten must have {self.d_model} channels, got "
                f"{query.shape[-1]} and {c}"
            )
        if tuple(input_spatial_shapes.shape) != (self.n_levels, 2):
            raise OpInputError(
                f"MSDeformAttn: input_spatial_shapes must be {self.n_levels} x 2, got "
                f"{tuple(input_spatial_shapes.shape)}"
            )
        value = self.value_proj(input_flatten)
        if input_padding_mask is not None:
            if tuple(input_padding_mask.shape) != (n, s):
                raise OpInputError(
                    f"MSDeformAttn: input_padding_mask must be N x S = {n} x {s}, got "
                    f"{tuple(input_padding_mask.shape)}"
                )
            value = value.masked_fill(input_padding_mask[..., None], 0.0)
        value = value.view(n, s, self.n_heads, self.d_model // self.n_heads)
        offsets = self.sampling_offsets(query).view(
            n, lq, self.n_heads, self.n_levels, self.n_points, 2
        )
        weights = self.attention_weights(query).view(
            n, lq, self.n_heads, self.n_levels * self.n_points
        )
        weights = F.softmax(weights, -1).view(n, lq, self.n_heads, self.n_levels, self.n_points)
        if reference_points.shape[:3] != (n, lq, self.n_levels) or \
                reference_points.shape[-1] not in (2, 4):
            raise OpInputError(
                f"MSDeformAttn: reference_points must be N x Lq x L x 2 or 4 = "
                f"{n} x {lq} x {self.n_levels} x (2|4), got {tuple(reference_points.shape)}"
            )
        if reference_points.shape[-1] == 2:
            # Offsets are in pixels of each level: normalise by (W_l, H_l).
            shapes = input_spatial_shapes
            normalizer = torch.stack([shapes[..., 1], shapes[..., 0]], -1)
            locations = reference_points[:, :, None, :, None, :] + \
                offsets / normalizer[None, None, None, :, None, :].to(offsets.dtype)
        else:
            locations = reference_points[:, :, None, :, None, :2] + \
                offsets / self.n_points * reference_points[:, :, None, :, None, 2:] * 0.5
        out = ms_deform_attn(
            value, input_spatial_shapes, input_level_start_index, locations, weights,
            backend=self.backend,
        )
        return self.output_proj(out)
