"""The DETR-style multi-layer perceptron (``layers.{i}`` Linear layers, ReLU between)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """``num_layers`` Linear layers ``input_dim → hidden_dim … → output_dim`` with ReLU after
    every layer but the last. Parameter names ``layers.{i}.{weight,bias}`` match the official
    DETR / Deformable-DETR / Mask2Former heads (``bbox_embed``, ``mask_embed``, controller).

    Input ``(..., input_dim)`` → output ``(..., output_dim)``.
    """

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"MLP needs num_layers >= 1, got {num_layers}")
        self.num_layers = num_layers
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims_in, dims_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < self.num_layers - 1:
                x = F.relu(x)
        return x
