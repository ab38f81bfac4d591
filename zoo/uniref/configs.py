"""UniRef++ variants: hyper-parameters of the official configs
(``projects/UniRef/configs/video/joint_task_vos_rvos_{r50,swin-l}_16gpu.yaml`` and the defaults
of ``uniref/config.py``).

Both variants share the transformer, the references encoders and the heads; they differ in the
backbone (ResNet-50 or Swin-L, each returning res2–res5: res3–res5 feed the transformer, res2 the
mask FPN).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..configs_common import DeformableDetrConfig, with_overrides

__all__ = ["UnirefConfig", "UNIREF_VARIANTS", "make_config"]

#: variant -> (backbone name in :data:`evalkit.zoo.backbones.BACKBONES`, backbone kwargs)
UNIREF_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "r50": ("resnet50", {"out_features": ("res2", "res3", "res4", "res5")}),
    "swin-l": ("swin-large", {"out_features": ("res2", "res3", "res4", "res5")}),
}


@dataclass(frozen=True)
class UnirefConfig(DeformableDetrConfig):
    """Architecture hyper-parameters (defaults: the official video-joint configs); the common
    ones (a plain two-stage Deformable DETR) are those of
    :class:`~evalkit.zoo.configs_common.DeformableDetrConfig`.

    Attributes:
        variant: ``r50`` | ``swin-l``.
        num_queries: two-stage proposals = decoder queries (300).
        fusion_heads, fusion_head_dim: UniFusion cross-attention (8 heads of width 256, i.e. a
            2048-wide attention; ``MODEL.DDETRS.FUSE_CONFIG``).
        context_len: tokens per expression, padded to this length (77).
        mask_encoder_width: stem width of the ResNet-18 of the mask-reference encoder (64; tests
            shrink it; stage widths are 1, 2, 4, 8 times this).
        mask_out_stride: stride of the mask logits of image / R-VOS tasks (4);
        mask_out_stride_vos: of VOS (1, ``MASK_STRIDE_VOS``).
    """

    VARIANTS: ClassVar[dict[str, tuple[str, dict[str, Any]]]] = UNIREF_VARIANTS
    FAMILY: ClassVar[str] = "UniRef++"

    fusion_heads: int = 8
    fusion_head_dim: int = 256
    context_len: int = 77
    mask_encoder_width: int = 64
    mask_out_stride_vos: int = 1

    def __post_init__(self):
        super().__post_init__()
        if self.num_feature_levels != 4:
            raise ValueError("UniRef++ uses 4 feature levels (res3-res5 + one extra); the mask "
                             f"reference encoder has one fuser per level, got {self.num_feature_levels}")
        for s in (self.mask_out_stride, self.mask_out_stride_vos):
            if 4 % s:
                raise ValueError(f"mask output strides must divide 4 (the mask feature stride), got {s}")


def make_config(variant: str = "r50", **overrides: Any) -> UnirefConfig:
    """A :class:`UnirefConfig`; ``overrides`` replace fields (unknown names are an error)."""
    return with_overrides(UnirefConfig(variant=variant), overrides, "UniRef++")
