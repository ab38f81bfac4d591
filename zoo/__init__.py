"""evalkit.zoo: model code (backbones, text encoders, shared layers, model families).

The entry points :func:`build_model`, :func:`convert_checkpoint` and :func:`load_model` are
resolved lazily so that ``import evalkit.zoo`` (model listing) does not import torch.
"""
from __future__ import annotations

from typing import Any

__all__ = ["build_model", "convert_checkpoint", "load_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'evalkit.zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
