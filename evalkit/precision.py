"""Mixed-precision inference: ``evalkit run --dtype float32|bfloat16|float16``.

The reduced dtype applies to the network only, as the official training recipes' automatic
mixed precision (``SOLVER.AMP.ENABLED``) does:

* While a zoo network runs, ``torch.autocast(device, dtype)`` is on: convolutions, linear
  layers and matrix products run in ``dtype``; the weights stay float32.
* The official float32 islands stay in float32: every function decorated with
  :func:`evalkit.zoo.layers.precision.fp32_island` (deformable transformers and MSDA, the
  pixel decoders; the list is :func:`islands`).
* Everything outside the network stays float32: the outermost module call returns its
  floating-point outputs as float32, so score post-processing, box mapping to the original
  frame, mask up-sampling and thresholds, NMS and the trackers' matching see float32 tensors,
  as the official post-processing does after its explicit ``.float()`` casts (UniVS
  ``inference_video_vis.py``: ``out['pred_logits'][0].float()``...).

Autocast is entered at the outermost ``nn.Module`` call and left when it returns (global module
hooks installed only inside :func:`mixed_precision`), so no adapter needs to know about it: an
adapter that calls ``model.encode(...)``, ``model.decode_masks(...)`` or a submodule directly is
covered the same way.

float16 is accepted on CUDA and on CPU (PyTorch's CPU autocast has float16 kernels); bfloat16 on
CUDA needs a GPU that supports it (``torch.cuda.is_bf16_supported()``).
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

from .errors import EvalkitError

__all__ = ["DTYPES", "check_dtype", "mixed_precision", "islands", "describe"]

#: accepted ``--dtype`` values (the first is the default: no autocast at all)
DTYPES = ("float32", "bfloat16", "float16")


def _device_type(device: str) -> str:
    dev = str(device).split(":", 1)[0]
    if dev not in ("cpu", "cuda"):
        raise EvalkitError(f"--dtype: autocast runs on cpu or cuda devices, got device {device!r}")
    return dev


def check_dtype(dtype: str, device: str = "cpu") -> str:
    """Validate ``dtype`` for ``device``; returns the dtype name.

    Raises:
        EvalkitError: an unknown name, or a dtype the device cannot run.
    """
    if dtype not in DTYPES:
        raise EvalkitError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype == "float32":
        return dtype
    dev = _device_type(device)
    if dev == "cuda" and dtype == "bfloat16":
        import torch

        if torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
            raise EvalkitError(f"--dtype bfloat16: the GPU of device {device!r} ({torch.cuda.get_device_name()}) "
                               "has no bfloat16 support; use --dtype float16")
    return dtype


class _Scope(threading.local):
    depth = 0
    ctx: Any = None


class _ModuleAutocast:
    """Global module hooks: autocast on at the outermost module call, float32 outputs out."""

    def __init__(self, device_type: str, dtype):
        self.device_type, self.dtype = device_type, dtype
        self.scope = _Scope()

    def pre(self, module, args):
        s = self.scope
        if s.depth == 0:
            import torch

            s.ctx = torch.autocast(self.device_type, dtype=self.dtype)
            s.ctx.__enter__()
        s.depth += 1

    def post(self, module, args, output):
        s = self.scope
        s.depth -= 1
        if s.depth == 0 and s.ctx is not None:
            ctx, s.ctx = s.ctx, None
            ctx.__exit__(None, None, None)
            from .zoo.layers.precision import to_float32

            return to_float32(output)
        return None


@contextlib.contextmanager
def mixed_precision(dtype: str = "float32", device: str = "cpu") -> Iterator[None]:
    """Run the zoo networks called inside the block in ``dtype`` (see the module docstring).

    ``float32`` is a no-op: no hook, no autocast, outputs bit-identical to a plain call.

        with mixed_precision("bfloat16", "cuda"):
            preds = list(adapter.predict(frames, prompt))
    """
    check_dtype(dtype, device)
    if dtype == "float32":
        yield
        return
    import torch
    from torch.nn.modules import module as nn_module

    state = _ModuleAutocast(_device_type(device), getattr(torch, dtype))
    h_pre = nn_module.register_module_forward_pre_hook(state.pre)
    # always_call: a module that raises still leaves autocast and rebalances the depth
    h_post = nn_module.register_module_forward_hook(state.post, always_call=True)
    try:
        yield
    finally:
        h_post.remove()
        h_pre.remove()
        if state.scope.ctx is not None:  # a generator abandoned inside a module call
            state.scope.ctx.__exit__(None, None, None)
            state.scope.ctx, state.scope.depth = None, 0


def islands() -> dict[str, str]:
    """Our float32 islands → the official function each follows (imports the zoo modules that
    declare them)."""
    import importlib

    for mod in ("ops.ms_deform_attn", "uninext.transformer", "uniref.transformer", "glee.pixel_decoder",
                "glee.decoder", "univs.pixel_decoder"):
        importlib.import_module(f"evalkit.zoo.{mod}")
    from .zoo.layers.precision import ISLANDS

    return dict(sorted(ISLANDS.items()))


def describe(dtype: str, device: str) -> dict[str, Any]:
    """The ``precision`` record of run.json."""
    if dtype == "float32":
        return {"dtype": "float32", "autocast": None}
    return {"dtype": dtype, "autocast": _device_type(device), "fp32_islands": islands(),
            "outside_network": "float32 (outputs of the outermost module call are cast to float32)"}
