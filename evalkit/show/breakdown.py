"""Per-sample scores of a run, for ordering the gallery worst-first.

They come from the run's ``breakdown.json`` (per-sample, per-sequence and per-category results
recorded beside ``metrics.json``). The reader accepts the per-sample table in any of these
shapes, so that it keeps working while that file's layout settles:

- ``{"samples": {"<id>": {"<key>": value, ...}, ...}}`` (also under ``per_sample``,
  ``sample`` or ``sequences``);
- ``{"samples": [{"sample_id": "<id>", "<key>": value, ...}, ...]}`` (``id`` also accepted);
- ``{"samples": {"<id>": value, ...}}`` (one number per sample).

The key sorted on is the file's ``primary`` (or ``key``) field, top-level or beside the table,
else the first numeric key of the first sample. Its direction comes from
``evalkit/metrics/keys.csv`` for the run's metric (``lower`` is better: the largest first),
else from a ``direction`` field, else higher-is-better. Without a breakdown (or without a
per-sample table in it) :func:`sample_scores` returns no scores and the gallery orders the
samples by id and says so.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import EvalkitError

__all__ = ["SampleScores", "sample_scores", "worst_first"]

_TABLES = ("samples", "per_sample", "sample", "sequences")


@dataclass
class SampleScores:
    """Per-sample values of one key.

    Attributes:
        values: sample id -> value (``None``: no breakdown; a sample absent from the mapping
            has no value and is placed last).
        key: the key the values are of.
        higher_better: direction of ``key``.
        note: one line saying where the order comes from (shown in the gallery).
    """

    values: dict[str, float] | None
    key: str | None
    higher_better: bool
    note: str


def _table(data: dict):
    for name in _TABLES:
        if name in data:
            return name, data[name]
    return None, None


def _rows(table, path: Path, name: str) -> dict[str, object]:
    if isinstance(table, dict):
        return {str(k): v for k, v in table.items()}
    if isinstance(table, list):
        rows = {}
        for i, r in enumerate(table):
            sid = r.get("sample_id", r.get("id")) if isinstance(r, dict) else None
            if sid is None:
                raise EvalkitError(f"{path}: {name}[{i}] has no 'sample_id' (expected a list of "
                                   f"{{'sample_id': ..., '<key>': value}})")
            rows[str(sid)] = r
        return rows
    raise EvalkitError(f"{path}: '{name}' must be an object keyed by sample id or a list of rows, "
                       f"got {type(table).__name__}")


def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def sample_scores(run_dir, metric: str | None = None) -> SampleScores:
    """The per-sample scores of ``run_dir`` (see the module docstring). ``metric``: the run's
    metric id, for the key's direction. A malformed ``breakdown.json`` is an error naming the
    file and field; a missing one is not."""
    path = Path(run_dir) / "breakdown.json"
    if not path.is_file():
        return SampleScores(None, None, True, "no breakdown.json in the run: samples in id order")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EvalkitError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise EvalkitError(f"{path}: expected a JSON object")
    name, table = _table(data)
    if table is None:
        return SampleScores(None, None, True, f"{path.name} has no per-sample table "
                                              f"({'/'.join(_TABLES)}): samples in id order")
    meta = table if isinstance(table, dict) and isinstance(table.get("values"), (dict, list)) else {}
    if meta:
        table = meta["values"]
    rows = _rows(table, path, name)
    key = meta.get("primary") or meta.get("key") or data.get("primary") or data.get("key")
    if isinstance(key, dict):  # {"primary": {"key": ...}}
        key = key.get("key")
    if key is None:
        for r in rows.values():
            if isinstance(r, dict):
                key = next((k for k, v in r.items() if _number(v) is not None), None)
            break
    values: dict[str, float] = {}
    for sid, r in rows.items():
        v = _number(r.get(key) if isinstance(r, dict) else r)
        if v is not None:
            values[sid] = v
    higher = True
    row = None
    if metric and key:
        from ..metrics.keys import lookup

        row = lookup(metric, str(key))
    direction = row.direction if row is not None else (meta.get("direction") or data.get("direction"))
    if direction == "lower":
        higher = False
    label = key or "value"
    return SampleScores(values, label, higher,
                        f"worst first by per-sample {label} ({'lower' if higher else 'higher'} is worse) "
                        f"from {path.name}")


def worst_first(ids: list[str], scores: SampleScores) -> list[str]:
    """``ids`` ordered worst-first by ``scores`` (ties and samples without a value keep the
    split's order; those without a value come last); the split's order without scores."""
    if scores.values is None:
        return list(ids)
    pos = {s: k for k, s in enumerate(ids)}
    sign = 1.0 if scores.higher_better else -1.0

    def rank(s: str):
        v = scores.values.get(s)
        return (v is None, sign * v if v is not None else 0.0, pos[s])

    return sorted(ids, key=rank)
