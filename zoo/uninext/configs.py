"""UNINEXT variants: hyper-parameters of the official configs (``projects/UNINEXT/configs``).

All variants share the transformer and heads (``video_joint_r50.yaml`` and its ``_BASE_``
chain); they differ in the backbone. The image-joint stage (``UNINEXT_IMG``) has no template
encoder, no SOT fuser / adjust layer and no ReID head; the video-joint stage (``UNINEXT_VID``)
adds them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..configs_common import check_d_model, check_variant, with_overrides

__all__ = ["UninextConfig", "UNINEXT_VARIANTS", "make_config"]

#: variant -> (backbone name in :data:`evalkit.zoo.backbones.BACKBONES`, backbone kwargs)
UNINEXT_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "r50": ("resnet50", {"out_features": ("res3", "res4", "res5")}),
    "convnext-l": ("convnext-large", {"out_features": ("res3", "res4", "res5")}),
    "vit-h": ("vit-huge", {"out_features": ("res3", "res4", "res5")}),
}


@dataclass(frozen=True)
class UninextConfig:
    """Architecture hyper-parameters (defaults: the official R50 configs).

    Attributes:
        variant: ``r50`` | ``convnext-l`` | ``vit-h``; video: stage-3 (video-joint) modules.
        backbone_overrides: keyword overrides of the backbone constructor (tests shrink it).
        d_model, nheads, dim_feedforward, enc_layers, dec_layers, num_feature_levels,
        enc_n_points, dec_n_points, num_queries: deformable transformer (256, 8, 2048, 6, 6, 4,
            4, 4, 900).
        vl_hidden_dim, num_vl_layers: early fusion width (2048) and how many encoder layers
            have it (1).
        text_config: overrides of the BERT configuration (bert-base-uncased by default);
            the text width (768) is the "language" width every prompt is projected to.
        max_query_len: tokens per text prompt (256).
        log_scale, prior_prob: retrieval-head initialisation (0.0, 0.01).
        controller_layers: dynamic mask convolutions (3); mask_out_stride: 4.
        reid_layers: deformable ReID decoder layers (2).
        template_size, search_area_factor: template crop 256×256 of a square of side
            ``factor·sqrt(w·h)`` around the target box (2).
    """

    variant: str = "r50"
    video: bool = True
    backbone_overrides: dict[str, Any] = field(default_factory=dict)
    d_model: int = 256
    nheads: int = 8
    dim_feedforward: int = 2048
    enc_layers: int = 6
    dec_layers: int = 6
    num_feature_levels: int = 4
    enc_n_points: int = 4
    dec_n_points: int = 4
    num_queries: int = 900
    vl_hidden_dim: int = 2048
    num_vl_layers: int = 1
    text_config: dict[str, Any] = field(default_factory=dict)
    max_query_len: int = 256
    log_scale: float = 0.0
    prior_prob: float = 0.01
    controller_layers: int = 3
    mask_out_stride: int = 4
    reid_layers: int = 2
    template_size: int = 256
    search_area_factor: float = 2.0

    def __post_init__(self):
        check_variant(self.variant, UNINEXT_VARIANTS, "UNINEXT")
        check_d_model(self.d_model)
        if self.num_vl_layers > self.enc_layers:
            raise ValueError("num_vl_layers cannot exceed enc_layers")


def make_config(variant: str = "r50", video: bool = True, **overrides: Any) -> UninextConfig:
    """A :class:`UninextConfig`; ``overrides`` replace fields (unknown names are an error)."""
    return with_overrides(UninextConfig(variant=variant, video=video), overrides, "UNINEXT")
