"""``breakdown.json``: the per-sample, per-sequence and per-category results of a run.

Written beside ``metrics.json`` by every scored run (:func:`score_with_breakdown`), from the
evaluation state the headline numbers came from (:mod:`evalkit.metrics._breakdown`: the metric
emits it while it scores, nothing is evaluated twice). Read by ``evalkit compare``
(:mod:`evalkit.reports.compare`), the gallery and ``evalkit show``. The format is documented in
``docs/breakdown.md``; :func:`load_breakdown` checks it and :func:`aggregate` rebuilds a headline
number from it (optionally over a resampled set of units, for the bootstrap).
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Sequence

from .errors import EvalkitError
from .fileio import atomic_write_json
from .metrics._breakdown import UNITS, Breakdown, collecting

__all__ = ["BREAKDOWN_FILE", "SCHEMA", "score_with_breakdown", "write_breakdown", "load_breakdown", "aggregate",
           "unit_values"]

BREAKDOWN_FILE = "breakdown.json"
SCHEMA = 1
_REDUCES = {"mean": ("key",), "weighted": ("key", "weight"), "ratio": ("num", "den")}
log = logging.getLogger("evalkit.run")


def score_with_breakdown(bench: Any, results_dir: Path, selection: Any, run_dir: Path, model: str) -> dict[str, float]:
    """Score a run's results (:func:`evalkit.selection.score_selection`) and write
    ``run_dir/breakdown.json`` from the breakdown the metric emitted while scoring.

    A metric without a breakdown, or one that scored several times (ODinW: one COCO evaluation
    per dataset), writes none; that is logged, never an error: the headline numbers stand.
    """
    from .selection import score_selection

    with collecting() as found:
        metrics = score_selection(bench, results_dir, selection)
    if len(found) != 1:
        log.info("no breakdown.json: metric %s emitted %d breakdowns (expected one)", bench.metric, len(found))
        return metrics
    bd = found[0]
    unknown = sorted(set(bd.samples) - set(selection.ids))
    if unknown:  # the metric's unit is not the benchmark's sample: keep the file, say so
        log.warning("breakdown: %d of its %s ids are not sample ids of the run (first: %s)",
                    len(unknown), bd.unit, unknown[0])
    write_breakdown(run_dir / BREAKDOWN_FILE, bd, benchmark=bench.id, model=model, metric=bench.metric,
                    metrics=metrics)
    return metrics


def write_breakdown(path: Path, bd: Breakdown, *, benchmark: str, model: str, metric: str,
                    metrics: dict[str, float] | None = None) -> None:
    """Write ``bd`` as ``breakdown.json`` (atomic; non-finite numbers become ``null``)."""
    atomic_write_json(path, {
        "schema": SCHEMA,
        "benchmark": benchmark,
        "model": model,
        "metric": metric,
        "unit": bd.unit,
        "score_key": bd.score_key,
        "higher_is_better": bd.higher_is_better,
        "fields": dict(bd.fields),
        "aggregates": {k: dict(v) for k, v in bd.aggregates.items() if metrics is None or k in metrics},
        "samples": {str(k): _clean(v) for k, v in bd.samples.items()},
        "categories": {str(k): _clean(v) for k, v in bd.categories.items()},
    })


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, (bool, int, str)) or v is None:
            out[k] = v
        elif isinstance(v, dict):
            out[k] = _clean(v)
        else:
            f = float(v)
            out[k] = f if math.isfinite(f) else None
    return out


def load_breakdown(run_dir: str | Path) -> dict[str, Any]:
    """The checked ``breakdown.json`` of a run directory (or the file itself).

    Raises:
        EvalkitError: missing file (with how to produce it), unreadable JSON, unknown schema or
            a missing/ill-typed field, naming the file and the field.
    """
    p = Path(run_dir)
    path = p if p.is_file() else p / BREAKDOWN_FILE
    if not path.is_file():
        raise EvalkitError(f"{path}: no breakdown file (runs scored by this version write one; "
                           f"re-score the run with `evalkit run --mode score --resume {p}`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EvalkitError(f"{path}: not readable as JSON ({e})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise EvalkitError(f"{path}: expected a breakdown object with \"schema\": {SCHEMA}, "
                           f"got {data.get('schema') if isinstance(data, dict) else type(data).__name__!r}")
    for key, typ in (("benchmark", str), ("metric", str), ("unit", str), ("samples", dict), ("categories", dict),
                     ("aggregates", dict), ("higher_is_better", bool)):
        if not isinstance(data.get(key), typ):
            raise EvalkitError(f"{path}: field {key!r} must be a {typ.__name__}, got {data.get(key)!r:.80}")
    if data["unit"] not in UNITS:
        raise EvalkitError(f"{path}: unit must be one of {', '.join(UNITS)}, got {data['unit']!r}")
    for name, spec in data["aggregates"].items():
        need = _REDUCES.get(spec.get("reduce") if isinstance(spec, dict) else None)
        if need is None or spec.get("over") not in ("samples", "categories") or any(k not in spec for k in need):
            raise EvalkitError(f"{path}: aggregates[{name!r}] must be {{over: samples|categories, reduce: "
                               f"mean|weighted|ratio, and its fields}}, got {spec!r}")
    data["path"] = str(path)
    return data


def unit_values(bd: dict[str, Any], spec: dict[str, Any]) -> tuple[list[str], list[tuple[float, float]]]:
    """(unit ids, ``(numerator, denominator)`` per unit) of an aggregate: the headline is
    ``scale * sum(numerators) / sum(denominators)`` over the units (with repetition for a
    bootstrap resample). Units where the aggregate's fields are null are left out, as the
    official mean leaves out undefined entries (a category without ground truth)."""
    rows = bd[spec["over"]]
    ids, vals = [], []
    for uid, row in rows.items():
        r = spec["reduce"]
        if r == "mean":
            v = row.get(spec["key"])
            pair = None if v is None else (float(v), 1.0)
        elif r == "weighted":
            v, w = row.get(spec["key"]), row.get(spec["weight"])
            pair = None if v is None or w is None else (float(v) * float(w), float(w))
        else:
            n, d = row.get(spec["num"]), row.get(spec["den"])
            pair = None if n is None or d is None else (float(n), float(d))
        if pair is not None:
            ids.append(uid)
            vals.append(pair)
    return ids, vals


def aggregate(bd: dict[str, Any], key: str, units: Sequence[str] | None = None) -> float:
    """Rebuild headline ``key`` from the breakdown: over all its units, or over ``units``
    (ids, repetitions counted: a bootstrap resample). NaN where the denominator is 0."""
    spec = bd["aggregates"].get(key)
    if spec is None:
        raise EvalkitError(f"{bd.get('path', 'breakdown')}: no aggregate for {key!r} "
                           f"(has: {', '.join(bd['aggregates']) or 'none'})")
    ids, vals = unit_values(bd, spec)
    if units is not None:
        by_id = dict(zip(ids, vals))
        vals = [by_id[u] for u in units if u in by_id]
    num = sum(n for n, _ in vals)
    den = sum(d for _, d in vals)
    return float(spec.get("scale", 1.0)) * num / den if den else float("nan")
