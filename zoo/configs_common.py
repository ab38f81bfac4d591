"""What the variant configs of the Deformable-DETR families (UNINEXT, UniRef++) share: the
base hyper-parameters (:class:`DeformableDetrConfig`), variant → backbone, the checks every
config makes, and overrides that reject unknown names."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

__all__ = ["DeformableDetrConfig", "check_variant", "check_d_model", "variant_backbone", "with_overrides"]

C = TypeVar("C")


def check_variant(variant: str, variants: dict[str, Any], family: str) -> None:
    """``ValueError`` naming the known variants when ``variant`` is not one of them."""
    if variant not in variants:
        raise ValueError(f"unknown {family} variant {variant!r}; expected one of {sorted(variants)}")


def check_d_model(d_model: int) -> None:
    """The transformer width must be a multiple of 32: GroupNorm(32) in the input projections
    and the 8-channel dynamic-mask features both divide it."""
    if d_model % 32:
        raise ValueError(f"d_model must be a multiple of 32 (GroupNorm(32) and the 8-channel "
                         f"mask features), got {d_model}")


def variant_backbone(variants: dict[str, tuple[str, dict[str, Any]]], cfg) -> tuple[str, dict[str, Any]]:
    """``(backbone name in BACKBONES, constructor kwargs)`` of ``cfg.variant``: the variant's
    kwargs updated by ``cfg.backbone_overrides`` (tests shrink the backbone this way)."""
    name, kw = variants[cfg.variant]
    return name, {**kw, **cfg.backbone_overrides}


def with_overrides(cfg: C, overrides: dict[str, Any], family: str) -> C:
    """``cfg`` with fields replaced by ``overrides``; unknown field names are a ``TypeError``
    listing the known ones."""
    known = cfg.__dataclass_fields__
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise TypeError(f"unknown {family} config field(s) {unknown}; known: {sorted(known)}")
    return replace(cfg, **overrides)


@dataclass(frozen=True)
class DeformableDetrConfig:
    """Hyper-parameters common to the Deformable-DETR families (defaults: the official R50
    configs); a family subclasses it, sets :attr:`VARIANTS` / :attr:`FAMILY` and adds its own.

    Attributes:
        variant: a key of the family's ``VARIANTS`` (the backbone).
        backbone_overrides: keyword overrides of the backbone constructor (tests shrink it).
        d_model, nheads, dim_feedforward, enc_layers, dec_layers, num_feature_levels,
        enc_n_points, dec_n_points: deformable transformer (256, 8, 2048, 6, 6, 4, 4, 4).
        num_queries: decoder queries (family default).
        text_config: overrides of the BERT configuration (bert-base-uncased by default).
        controller_layers: dynamic mask convolutions (3); mask_out_stride: stride of the mask
            logits (4).
        prior_prob: initial foreground probability of the class heads (0.01).
    """

    #: variant → (backbone name in :data:`evalkit.zoo.backbones.BACKBONES`, backbone kwargs)
    VARIANTS: ClassVar[dict[str, tuple[str, dict[str, Any]]]] = {}
    #: the family as written in error messages
    FAMILY: ClassVar[str] = ""

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
    text_config: dict[str, Any] = field(default_factory=dict)
    controller_layers: int = 3
    mask_out_stride: int = 4
    prior_prob: float = 0.01

    def __post_init__(self):
        check_variant(self.variant, self.VARIANTS, self.FAMILY)
        check_d_model(self.d_model)
