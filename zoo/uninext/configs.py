"""UNINEXT variants: hyper-parameters of the official configs (``projects/UNINEXT/configs``).

All variants share the transformer and heads (``video_joint_r50.yaml`` and its ``_BASE_``
chain); they differ in the backbone. The image-joint stage (``UNINEXT_IMG``) has no template
encoder, no SOT fuser / adjust layer and no ReID head; the video-joint stage (``UNINEXT_VID``)
adds them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..configs_common import DeformableDetrConfig, with_overrides

__all__ = ["UninextConfig", "UNINEXT_VARIANTS", "make_config"]

#: variant -> (backbone name in :data:`evalkit.zoo.backbones.BACKBONES`, backbone kwargs)
UNINEXT_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "r50": ("resnet50", {"out_features": ("res3", "res4", "res5")}),
    "convnext-l": ("convnext-large", {"out_features": ("res3", "res4", "res5")}),
    "vit-h": ("vit-huge", {"out_features": ("res3", "res4", "res5")}),
}


@dataclass(frozen=True)
class UninextConfig(DeformableDetrConfig):
    """Architecture hyper-parameters (defaults: the official R50 configs); the common ones are
    those of :class:`~evalkit.zoo.configs_common.DeformableDetrConfig`.

    Attributes:
        variant: ``r50`` | ``convnext-l`` | ``vit-h``; video: stage-3 (video-joint) modules.
        num_queries: decoder queries (900).
        vl_hidden_dim, num_vl_layers: early fusion width (2048) and how many encoder layers
            have it (1).
        text_config: the text width (768) is the "language" width every prompt is projected to.
        max_query_len: tokens per text prompt (256).
        log_scale, prior_prob: retrieval-head initialisation (0.0, 0.01).
        reid_layers: deformable ReID decoder layers (2).
        template_size, search_area_factor: template crop 256×256 of a square of side
            ``factor·sqrt(w·h)`` around the target box (2).
    """

    VARIANTS: ClassVar[dict[str, tuple[str, dict[str, Any]]]] = UNINEXT_VARIANTS
    FAMILY: ClassVar[str] = "UNINEXT"

    video: bool = True
    num_queries: int = 900
    vl_hidden_dim: int = 2048
    num_vl_layers: int = 1
    max_query_len: int = 256
    log_scale: float = 0.0
    reid_layers: int = 2
    template_size: int = 256
    search_area_factor: float = 2.0

    def __post_init__(self):
        super().__post_init__()
        if self.num_vl_layers > self.enc_layers:
            raise ValueError("num_vl_layers cannot exceed enc_layers")


def make_config(variant: str = "r50", video: bool = True, **overrides: Any) -> UninextConfig:
    """A :class:`UninextConfig`; ``overrides`` replace fields (unknown names are an error)."""
    return with_overrides(UninextConfig(variant=variant, video=video), overrides, "UNINEXT")
