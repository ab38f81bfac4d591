"""UniVS variants (``configs/univs/univs_{r50,swint,swinb,swinl}_stage{2,3}.yaml``).

Every variant shares the Mask2Former neck and the unified video mask decoder; only the backbone
differs. Stage 2 and stage 3 have the same module tree (stage 3 is trained on long clips and its
released weights are EMA weights); ``long_video`` records which stage a model is (the official
``ENABLED_PREV_FRAMES_MEMORY`` switch that would differ is read by no code there either).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["UniVSConfig", "VARIANTS", "get_config"]


@dataclass(frozen=True)
class UniVSConfig:
    """Hyper-parameters (official config key in brackets).

    Attributes:
        backbone: name in :data:`evalkit.zoo.backbones.BACKBONES`.
        backbone_args: overrides passed to the backbone builder.
        conv_dim: pixel-decoder width (``SEM_SEG_HEAD.CONVS_DIM`` 256).
        mask_dim: mask-feature width (``SEM_SEG_HEAD.MASK_DIM`` 256).
        enc_layers: deformable encoder layers (``TRANSFORMER_ENC_LAYERS`` 6).
        enc_ffn: encoder FFN width (1024, hard-coded in Mask2Former).
        enc_heads / enc_points: MSDeformAttn heads (8) and points (4).
        hidden_dim: decoder width (``HIDDEN_DIM`` 256); dec_heads: 8; dec_ffn: 2048.
        dec_layers: decoder layers (``DEC_LAYERS`` 10 minus the initial prediction = 9).
        num_queries: learnable queries (``NUM_OBJECT_QUERIES`` 200).
        text_dim: CLIP RN50x4 embedding width (640).
        num_dense_points: points sampled per visual prompt (``VISUAL_PROMPT_PIXELS_PER_IMAGE``).
        num_max_frames: temporal normaliser of the 3-D position code ('ArbitraryT', 128).
        lang2vision: build the language-to-image cross-attention
            (``TEXT_PROMPT_TO_IMAGE_ENABLE``).
        self_attn_mask: 'sep' (learnable and prompt queries attend within their own stream) or
            'sep-blocked' (each prompt attends only to itself over time).
        long_video: stage-3 weights (provenance only, see module docstring).
    """

    backbone: str = "resnet50"
    backbone_args: dict[str, Any] = field(default_factory=dict)
    conv_dim: int = 256
    mask_dim: int = 256
    enc_layers: int = 6
    enc_ffn: int = 1024
    enc_heads: int = 8
    enc_points: int = 4
    hidden_dim: int = 256
    dec_heads: int = 8
    dec_ffn: int = 2048
    dec_layers: int = 9
    num_queries: int = 200
    text_dim: int = 640
    num_dense_points: int = 32
    num_max_frames: int = 128
    lang2vision: bool = True
    self_attn_mask: str = "sep"
    gn_groups: int = 32
    long_video: bool = True


VARIANTS: dict[str, UniVSConfig] = {
    "r50": UniVSConfig(backbone="resnet50"),
    "swin-t": UniVSConfig(backbone="swin-tiny"),
    "swin-b": UniVSConfig(backbone="swin-base"),
    "swin-l": UniVSConfig(backbone="swin-large"),
}


def get_config(variant: str, **overrides: Any) -> UniVSConfig:
    """The config of ``variant`` (``r50``, ``swin-t``, ``swin-b``, ``swin-l``) with overrides."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown UniVS variant {variant!r}; expected one of {sorted(VARIANTS)}")
    return replace(VARIANTS[variant], **overrides)
