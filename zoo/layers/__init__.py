"""Layers shared by the model families: norms, conv-with-norm, MLPs, attention, position codes.

The multi-scale deformable encoder layer is :mod:`evalkit.zoo.layers.deformable_encoder`,
imported by its full name (it needs :mod:`evalkit.zoo.ops`, which imports this package).
"""
from .attention import MultiheadAttention, SeparateProjAttention, merge_masks
from .conv import Conv2d, c2_msra_fill, c2_xavier_fill
from .mlp import MLP, GeluMlp
from .norm import FrozenBatchNorm2d, LayerNorm2d, get_norm
from .position_encoding import PositionEmbeddingLearned, PositionEmbeddingSine, sine_embed_for_boxes
from .precision import fp32_island

__all__ = [
    "MultiheadAttention", "SeparateProjAttention", "merge_masks", "Conv2d", "c2_msra_fill",
    "c2_xavier_fill", "MLP", "GeluMlp", "FrozenBatchNorm2d", "LayerNorm2d", "get_norm",
    "PositionEmbeddingLearned", "PositionEmbeddingSine", "sine_embed_for_boxes", "fp32_island",
]
