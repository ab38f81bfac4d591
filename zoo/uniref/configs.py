"""UniRef++ variants: hyper-parameters of the official configs
(``projects/UniRef/configs/video/joint_task_vos_rvos_{r50,swin-l}_16gpu.yaml`` and the defaults
of ``uniref/config.py``).

Both variants share the transformer, the references encoders and the heads; they differ in the
backbone (ResNet-50 or Swin-L, each returning res2–res5: res3–res5 feed the transformer, res2 the
mask FPN).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..configs_common import check_d_model, check_variant, with_overrides

__all__ = ["UnirefConfig", "UNIREF_VARIANTS", "make_config"]

#: variant -> (backbone name in :data:`evalkit.zoo.backbones.BACKBONES`, backbone kwargs)
UNIREF_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "r50": ("resnet50", {"out_features": ("res2", "res3", "res4", "res5")}),
    "swin-l": ("swin-large", {"out_features": ("res2", "res3", "res4", "res5")}),
}


@dataclass(frozen=True)
class UnirefConfig:
    """Architecture hyper-parameters (defaults: the official video-joint configs).

    Attributes:
        variant: ``r50`` | ``swin-l``.
        backbone_overrides: keyword overrides of the backbone constructor (tests shrink it).
        d_model, nheads, dim_feedforward, enc_layers, dec_layers, num_feature_levels,
        enc_n_points, dec_n_points: plain two-stage Deformable DETR (256, 8, 2048, 6, 6, 4, 4, 4).
        num_queries: two-stage proposals = decoder queries (300).
        fusion_heads, fusion_head_dim: UniFusion cross-attention (8 heads of width 256, i.e. a
            2048-wide attention; ``MODEL.DDETRS.FUSE_CONFIG``).
        text_config: overrides of the BERT configuration (bert-base-uncased by default).
        context_len: tokens per expression, padded to this length (77).
        mask_encoder_width: stem width of the ResNet-18 of the mask-reference encoder (64; tests
            shrink it; stage widths are 1, 2, 4, 8 times this).
        controller_layers: dynamic mask convolutions (3).
        mask_out_stride: stride of the mask logits of image / R-VOS tasks (4);
        mask_out_stride_vos: of VOS (1, ``MASK_STRIDE_VOS``).
        prior_prob: initial foreground probability of the class heads (0.01).
    """

    variant: str = "r50"
    backbone_overrides: dict[str, Any] = field(default_factory=dict)
    d_model: int = 256
    nheads: int = 8
    dim_feedforward: int = 2048
    enc_layers: int = 6
    dec_layers: int = 6
    num_feature_levels: int = 4
    enc_n_points: int = 4
    dec_n_points: int = 4
    num_queries: int = 300
    fusion_heads: int = 8
    fusion_head_dim: int = 256
    text_config: dict[str, Any] = field(default_factory=dict)
    context_len: int = 77
    mask_encoder_width: int = 64
    controller_layers: int = 3
    mask_out_stride: int = 4
    mask_out_stride_vos: int = 1
    prior_prob: float = 0.01

    def __post_init__(self):
        check_variant(self.variant, UNIREF_VARIANTS, "UniRef++")
        check_d_model(self.d_model)
        if self.num_feature_levels != 4:
            raise ValueError("UniRef++ uses 4 feature levels (res3-res5 + one extra); the mask "
                             f"reference encoder has one fuser per level, got {self.num_feature_levels}")
        for s in (self.mask_out_stride, self.mask_out_stride_vos):
            if 4 % s:
                raise ValueError(f"mask output strides must divide 4 (the mask feature stride), got {s}")


def make_config(variant: str = "r50", **overrides: Any) -> UnirefConfig:
    """A :class:`UnirefConfig`; ``overrides`` replace fields (unknown names are an error)."""
    return with_overrides(UnirefConfig(variant=variant), overrides, "UniRef++")
