"""Multi-layer perceptrons: the DETR-style head (``layers.{i}`` Linear layers, ReLU between)
and the transformer-block FFN of timm (``fc1`` → GELU → ``fc2``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLP", "GeluMlp"]


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


class GeluMlp(nn.Module):
    """timm's ``Mlp`` as the Swin and ViT(Det) blocks use it: ``fc2(gelu(fc1(x)))`` (exact erf
    GELU, no dropout at inference). Parameter names ``fc1``/``fc2`` are the official block keys
    (``blocks.{i}.mlp.fc1.weight``...).

    Input ``(..., dim)`` → output ``(..., dim)``; ``hidden`` is the inner width.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))
