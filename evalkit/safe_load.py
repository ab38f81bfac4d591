"""Read checkpoints without executing code.

:func:`load_state_dict_safely` accepts safetensors files, ``torch.save`` files (zip and the
legacy format) read with ``torch.load(weights_only=True)``, and plain pickles of numpy arrays
(detectron2 ``.pkl``) read with a restricted unpickler. Whatever references other code (a
class, a function: how a malicious pickle runs its payload) is refused with a
:class:`~evalkit.errors.WeightsError` naming the offending globals; nothing is executed.
"""
from __future__ import annotations

import codecs
import logging
import pickle
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import WeightsError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["load_state_dict_safely"]

log = logging.getLogger("evalkit.hub")


# -- loading -----------------------------------------------------------------------------------
def _numpy_safe_globals() -> list[Any]:
    """Globals needed to unpickle plain numpy arrays (detectron2 ``.pkl`` checkpoints); they
    only rebuild arrays, they cannot run code."""
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    return [_reconstruct, scalar, np.ndarray, np.dtype,
            *{type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int32, np.int64,
                                          np.uint8, np.bool_)}]


class _ArrayUnpickler(pickle.Unpickler):
    """A plain (non-torch) pickle reader that can rebuild numpy arrays, dicts and numbers and
    nothing else: any other global (a class, a function) is refused before it is called."""

    def find_class(self, module: str, name: str) -> Any:
        from collections import OrderedDict

        # numpy 1 names the array module numpy.core.multiarray, numpy 2 numpy._core.multiarray
        # (pickles written by either may be read by either): compare under the numpy 2 name
        allowed = {f"{g.__module__}.{g.__qualname__}".replace("numpy.core.", "numpy._core."): g
                   for g in _numpy_safe_globals()}
        allowed["collections.OrderedDict"] = OrderedDict
        # protocol-2 pickles store bytes as _codecs.encode(str, "latin1"): data, not code
        allowed["_codecs.encode"] = codecs.encode
        key = f"{module}.{name}".replace("numpy.core.", "numpy._core.")
        if key in allowed:
            return allowed[key]
        raise pickle.UnpicklingError(f"GLOBAL {module}.{name} was not an allowed global")


#: First object of a file written by torch.save(..., _use_new_zipfile_serialization=False).
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _load_plain_pickle(path: Path) -> Any:
    """The first pickled object of ``path``, read with :class:`_ArrayUnpickler`."""
    with open(path, "rb") as f:
        return _ArrayUnpickler(f, encoding="latin1").load()


def _unsafe_globals(path: Path, exc: Exception) -> list[str]:
    """Names of the code a refused pickle references: a static scan of a torch zip file
    (nothing is executed), else the global the restricted unpickler stopped at."""
    import torch

    names: list[str] = []
    try:
        if zipfile.is_zipfile(path):
            names = list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # the scan is best effort; the refusal stands either way
        names = []
    return names or re.findall(r"GLOBAL (\S+) was not an allowed global", str(exc))


def _refused_global(exc: Exception) -> bool:
    """True when ``exc`` is a refusal of a global (a pickle that references code), False for
    bytes that are not a pickle at all (``invalid load key``: a truncated or foreign file)."""
    text = str(exc)
    return "was not an allowed global" in text or "Unsupported global" in text \
        or "Weights only load failed" in text


def _as_state_dict(obj: Any, path: Path) -> "dict[str, torch.Tensor]":
    import numpy as np
    import torch

    # detectron2 saves {"model": {...}, "optimizer": ..., "iteration": N}; others
    # {"state_dict": {...}}; GLEE's demo files are the bare dict.
    for key in ("model", "state_dict", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: expected a state dict (name → tensor), got {type(obj).__name__}")
    out: dict[str, torch.Tensor] = {}
    skipped = []
    for k, v in obj.items():
        if isinstance(v, torch.Tensor):
            out[k] = v
        elif isinstance(v, np.ndarray):
            out[k] = torch.from_numpy(np.ascontiguousarray(v))
        else:
            skipped.append(k)
    if skipped:
        log.info("%s: %d non-tensor entries ignored (%s)", path, len(skipped), ", ".join(skipped[:5]))
    if not out:
        raise WeightsError(f"{path}: no tensors found (top-level keys: {list(obj)[:10]})")
    return out


def load_state_dict_safely(path: str | os.PathLike) -> "dict[str, torch.Tensor]":
    """Read a checkpoint without executing code: name → tensor (CPU).

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(weights_only=True)`` (plus plain numpy arrays). A checkpoint whose pickle
    references other code (a class, a function: how malicious pickles run) is refused with a
    :class:`WeightsError` naming the offending global; nothing in it is executed. A wrapping
    ``{"model": ...}`` / ``{"state_dict": ...}`` dict is unwrapped; non-tensor entries are
    ignored.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"no such weights file {path}")
    with open(path, "rb") as f:
        head = f.read(16)
    if path.suffix == ".safetensors" or head[8:9] == b"{":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:
            if path.suffix == ".safetensors":
                raise WeightsError(f"{path}: not a valid safetensors file ({exc})") from None
    try:
        if zipfile.is_zipfile(path):  # torch.save's format
            with torch.serialization.safe_globals(_numpy_safe_globals()):
                obj = torch.load(path, map_location="cpu", weights_only=True)
        else:  # plain pickles (detectron2 .pkl) or torch's legacy (pre-1.6) format
            obj = _load_plain_pickle(path)
            if obj == _TORCH_LEGACY_MAGIC:
                with torch.serialization.safe_globals(_numpy_safe_globals()):
                    obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not _refused_global(exc):  # not a refusal: the bytes are no pickle at all
            raise WeightsError(f"{path}: not a readable checkpoint ({exc})") from None
        raise WeightsError(
            f"refusing to load {path}: it needs pickled code to load (globals: "
            f"{', '.join(_unsafe_globals(path, exc)) or 'unknown'}). evalkit only loads tensors "
            f"(safetensors or torch.load(weights_only=True)); a checkpoint that references "
            f"classes or functions can run arbitrary code. If you trust the file, re-save its "
            f"tensors with safetensors and pass that file instead."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, pickle.PickleError) as exc:
        raise WeightsError(f"{path}: not a readable checkpoint ({exc})") from None
    return _as_state_dict(obj, path)
