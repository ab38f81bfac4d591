"""Image backbones returning named feature maps with known strides and widths.

| name | module | outputs | used by |
|---|---|---|---|
| ``resnet50`` | :mod:`.resnet` (detectron2 layout, FrozenBN) | res2–res5 | all four families; 4-channel stem for UNINEXT's template encoder |
| ``swin-tiny/base/large`` | :mod:`.swin` (Mask2Former ``D2SwinTransformer``) | res2–res5 | UniVS, GLEE-Plus, UniRef++ |
| ``convnext-large`` | :mod:`.convnext` (UNINEXT ``D2ConvNeXt``) | res3–res5 | UNINEXT |
| ``vit-huge`` | :mod:`.vit` (UNINEXT ``D2ViT``) | res3–res5 | UNINEXT |
| ``eva02-large`` | :mod:`.eva02` (GLEE ``D2_EVA02``) | p3–p6 | GLEE-Pro |

Each module also exports a ``*_key_map()`` with the rules that map the official backbone keys
(relative to the backbone) onto ours; family converters nest them under their prefixes with
:meth:`evalkit.zoo.convert_utils.KeyMap.nested`.
"""
from __future__ import annotations

from typing import Any, Callable

from .base import Backbone, ShapeSpec

__all__ = ["Backbone", "ShapeSpec", "build_backbone", "backbone_key_map", "BACKBONES"]


def _resnet(**kw):
    from .resnet import build_resnet
    return build_resnet(**kw)


def _factory(module: str, fn: str, size: str) -> Callable[..., Backbone]:
    def build(in_channels: int | None = None, **kw):
        import importlib
        if in_channels is not None:  # these constructors name it as timm does
            kw["in_chans"] = in_channels
        return getattr(importlib.import_module(f"{__name__}.{module}"), fn)(size, **kw)
    return build


#: name → builder(**overrides); every builder takes ``in_channels`` (3: RGB; 4: RGB + mask)
BACKBONES: dict[str, Callable[..., Backbone]] = {
    "resnet50": lambda **kw: _resnet(**{"depth": 50, **kw}),
    "resnet101": lambda **kw: _resnet(**{"depth": 101, **kw}),
    "swin-tiny": _factory("swin", "build_swin", "tiny"),
    "swin-base": _factory("swin", "build_swin", "base"),
    "swin-large": _factory("swin", "build_swin", "large"),
    "convnext-large": _factory("convnext", "build_convnext", "large"),
    "vit-huge": _factory("vit", "build_vit", "huge"),
    "eva02-large": _factory("eva02", "build_eva02", "large"),
}

_KEY_MAPS = {"resnet": ("resnet", "resnet_key_map"), "swin": ("swin", "swin_key_map"),
             "convnext": ("convnext", "convnext_key_map"), "vit": ("vit", "vit_key_map"),
             "eva02": ("eva02", "eva02_key_map")}


def build_backbone(name: str, **overrides: Any) -> Backbone:
    """Build a backbone by name (see :data:`BACKBONES`); ``overrides`` go to its constructor,
    ``in_channels`` under whatever name the constructor gives it."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(BACKBONES)}")
    return BACKBONES[name](**overrides)


def backbone_key_map(name: str):
    """The official→ours key rules of a backbone family (``resnet50`` → the ResNet rules...)."""
    import importlib
    for prefix, (module, fn) in _KEY_MAPS.items():
        if name.startswith(prefix):
            return getattr(importlib.import_module(f"{__name__}.{module}"), fn)()
    raise ValueError(f"no key map for backbone {name!r}")
