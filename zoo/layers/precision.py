"""Float32 islands under autocast.

The official repositories train with automatic mixed precision but keep some components in
float32: the deformable transformers of UNINEXT/UniRef++ and their MSDA op
(``torch.cuda.amp.custom_fwd(cast_inputs=torch.float32)`` in
``uninext/models/deformable_detr/deformable_transformer.py`` and ``ops/modules/ms_deform_attn.py``),
GLEE's pixel-decoder encoder and decoder layers (``@autocast(enabled=False)`` on
``MaskDINOEncoder.forward_features`` and ``DeformableTransformerDecoderLayer.forward``), UniVS's
pixel decoder (``@autocast(enabled=False)`` on ``MSDeformAttnPixelDecoderVL.forward_features``).

:func:`fp32_island` is the device-agnostic equivalent of ``custom_fwd(cast_inputs=float32)``:
when autocast is active (CPU or CUDA), floating-point inputs are cast to float32 and the body
runs with autocast disabled; without autocast it is a plain call (bit-identical outputs).
``torch.amp.custom_fwd`` is bound to one ``device_type``, which is why this one checks both.

:data:`ISLANDS` lists every decorated function with the official place it mirrors (recorded in
``run.json`` when a run uses a reduced precision).
"""
from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any, Callable, TypeVar

import torch

__all__ = ["fp32_island", "to_float32", "autocast_device", "ISLANDS"]

F = TypeVar("F", bound=Callable[..., Any])

#: ``module.qualname`` of each island → the official function it follows
ISLANDS: dict[str, str] = {}

_REDUCED = (torch.float16, torch.bfloat16)
_DEVICE_TYPES = ("cuda", "cpu")


def autocast_device() -> str | None:
    """The device type (``"cuda"`` or ``"cpu"``) whose autocast is enabled in this thread, or
    None."""
    for dev in _DEVICE_TYPES:
        if torch.is_autocast_enabled(dev):
            return dev
    return None


def to_float32(x: Any, _depth: int = 0) -> Any:
    """``x`` with every float16/bfloat16 tensor cast to float32, through tuples, lists, dicts,
    dataclasses and plain objects holding tensors in attributes (``MultiScaleMemory``...).

    Containers are rebuilt (a shallow copy for objects), never changed in place: a module may
    keep the object it returns (memory banks). ``nn.Module`` values are returned as they are.
    """
    if isinstance(x, torch.Tensor):
        return x.float() if x.dtype in _REDUCED else x
    if _depth > 6 or x is None or isinstance(x, (str, bytes, int, float, bool, torch.nn.Module)):
        return x
    if isinstance(x, tuple):
        items = [to_float32(v, _depth + 1) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else tuple(items)
    if isinstance(x, list):
        return [to_float32(v, _depth + 1) for v in x]
    if isinstance(x, dict):
        out = copy.copy(x)  # keeps dict subclasses (PixelDecoderOutput)
        for k, v in x.items():
            out[k] = to_float32(v, _depth + 1)
        return out
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        changes = {f.name: to_float32(getattr(x, f.name), _depth + 1) for f in dataclasses.fields(x)
                   if f.init and hasattr(x, f.name)}
        return dataclasses.replace(x, **changes)
    attrs = getattr(x, "__dict__", None)
    if attrs and any(isinstance(v, (torch.Tensor, list, tuple, dict)) for v in attrs.values()):
        out = copy.copy(x)
        for k, v in attrs.items():
            setattr(out, k, to_float32(v, _depth + 1))
        return out
    return x


def fp32_island(official: str) -> Callable[[F], F]:
    """Decorator: run the function in float32 even under autocast.

    Args:
        official: where the official code keeps this computation in float32
            (``"repo path: Class.function (how)"``), recorded in :data:`ISLANDS`.
    """

    def wrap(fn: F) -> F:
        ISLANDS[f"{fn.__module__}.{fn.__qualname__}"] = official

        @functools.wraps(fn)
        def island(*args, **kwargs):
            dev = autocast_device()
            if dev is None:
                return fn(*args, **kwargs)
            with torch.autocast(dev, enabled=False):
                return fn(*to_float32(args), **to_float32(kwargs))

        return island  # type: ignore[return-value]

    return wrap
