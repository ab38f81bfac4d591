"""Helpers shared by the variant configs of the Deformable-DETR families (UNINEXT, UniRef++):
variant → backbone, the checks every config makes, and overrides that reject unknown names."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

__all__ = ["check_variant", "check_d_model", "variant_backbone", "with_overrides"]

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
