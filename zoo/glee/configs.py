"""GLEE variants: backbone and the hyper-parameters of the official configs.

All three variants share the object decoder of ``configs/images/Lite/base_clip_teacher_image_R50.yaml``
(hidden 256, 8 heads, FFN 2048, 6 encoder / 9 decoder layers, 300 queries, 4 feature levels,
4 sampling points) and differ in the backbone and the features the pixel decoder reads:

| variant | backbone | pixel-decoder inputs | encoder inputs | input projection |
|---|---|---|---|---|
| lite | ResNet-50 (FrozenBN) | res2–res5 | res3–res5 (+1 stride-2 conv level) | 1×1 conv + GN per level |
| plus | Swin-L (window 12) | res2–res5 | res3–res5 (+1 stride-2 conv level) | 1×1 conv + GN per level |
| pro | EVA02-L + simple pyramid | p3–p6 | p3–p6 | none (already 256-d) |
"""
from __future__ import annotations

from typing import Any

__all__ = ["VARIANTS", "DECODER_DEFAULTS", "BACKBONE_ALIASES", "variant_config"]

#: names used in the model cards → zoo backbone names
BACKBONE_ALIASES = {"r50": "resnet50", "resnet50": "resnet50", "swin-l": "swin-large",
                    "swin-large": "swin-large", "eva02-l": "eva02-large", "eva02-large": "eva02-large"}

VARIANTS: dict[str, dict[str, Any]] = {
    "lite": dict(backbone="resnet50", in_features=("res2", "res3", "res4", "res5"),
                 encoder_in_features=("res3", "res4", "res5"), backbone_has_pyramid=False),
    "plus": dict(backbone="swin-large", in_features=("res2", "res3", "res4", "res5"),
                 encoder_in_features=("res3", "res4", "res5"), backbone_has_pyramid=False),
    "pro": dict(backbone="eva02-large", in_features=("p3", "p4", "p5", "p6"),
                encoder_in_features=("p3", "p4", "p5", "p6"), backbone_has_pyramid=True),
}

#: object-decoder settings shared by every released GLEE model
DECODER_DEFAULTS: dict[str, Any] = dict(
    hidden_dim=256, num_heads=8, dim_feedforward=2048, enc_layers=6, dec_layers=9,
    num_queries=300, num_levels=4, n_points=4, common_stride=4,
    vl_embed_dim=2048, vl_heads=8, template_size=256, search_area_factor=2.0,
    max_prompt_points=512,
)


def variant_config(variant: str) -> dict[str, Any]:
    if variant not in VARIANTS:
        raise ValueError(f"unknown GLEE variant {variant!r}; expected one of {sorted(VARIANTS)}")
    return dict(VARIANTS[variant])
