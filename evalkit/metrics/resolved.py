"""The options a metric actually ran with: its signature's defaults overlaid with the options
given, so a run record names every variant (``sot`` ``variant``, ``burst`` ``exemplar_classes``,
``vspw`` ``vc`` / ``vc_labels`` ...) even when the default was used."""
from __future__ import annotations

import inspect
import os
from typing import Any

__all__ = ["resolved_options"]


def _plain(v: Any) -> Any:
    """A JSON value for an option (paths as strings, tuples as lists, numpy scalars unboxed)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_plain(x) for x in (sorted(v, key=str) if isinstance(v, (set, frozenset)) else v)]
    if hasattr(v, "item") and callable(v.item):  # numpy scalar
        try:
            return _plain(v.item())
        except (TypeError, ValueError):
            pass
    return repr(v)


def resolved_options(metric_id: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{name: value}`` of every keyword option of metric ``metric_id``: the given ``options``
    over the defaults of the metric function (its first two parameters, ``gt`` and
    ``results``, are not options). Options the signature does not name are kept as given."""
    from . import METRICS

    options = dict(options or {})
    fn = METRICS.load(metric_id)
    out: dict[str, Any] = {}
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable: only the given options are known
        params = []
    for prm in params[2:]:
        if prm.kind in (prm.VAR_POSITIONAL, prm.VAR_KEYWORD):
            continue
        if prm.name in options:
            out[prm.name] = options.pop(prm.name)
        elif prm.default is not prm.empty:
            out[prm.name] = prm.default
    out.update(options)
    return {k: _plain(v) for k, v in out.items()}
