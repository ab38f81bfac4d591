"""Layers shared by the model families: norms, conv-with-norm, MLP, attention, position codes."""
from .attention import MultiheadAttention, SeparateProjAttention, merge_masks
from .conv import Conv2d, c2_msra_fill, c2_xavier_fill
from .mlp import MLP
from .norm import FrozenBatchNorm2d, LayerNorm2d, get_norm
from .position_encoding import PositionEmbeddingLearned, PositionEmbeddingSine, sine_embed_for_boxes
from .precision import fp32_island

__all__ = [
    "MultiheadAttention", "SeparateProjAttention", "merge_masks", "Conv2d", "c2_msra_fill",
    "c2_xavier_fill", "MLP", "FrozenBatchNorm2d", "LayerNorm2d", "get_norm",
    "PositionEmbeddingLearned", "PositionEmbeddingSine", "sine_embed_for_boxes", "fp32_island",
]
