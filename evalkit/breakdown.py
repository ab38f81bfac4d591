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

import numpy as np

from .errors import EvalkitError
from .fileio import atomic_write_json
from .metrics._breakdown import UNITS, Breakdown, collecting

__all__ = ["BREAKDOWN_FILE", "SCHEMA", "score_with_breakdown", "write_breakdown", "load_breakdown", "aggregate",
           "unit_values", "value_of", "load_ap_state", "AP_STATE_FILE"]

BREAKDOWN_FILE = "breakdown.json"
SCHEMA = 1
_REDUCES = {"mean": ("key",), "weighted": ("key", "weight"), "ratio": ("num", "den")}  # and "average" (of these)
log = logging.getLogger("evalkit.run")


def score_with_breakdown(bench: Any, results_dir: Path, selection: Any, run_dir: Path, model: str) -> dict[str, float]:
    """Score a run's results (:func:`evalkit.selection.score_selection`) and write
    ``run_dir/breakdown.json`` from the breakdown the metric emitted while scoring.

    A metric that emitted no breakdown, or more than one, writes none; that is logged, never an
    error: the headline numbers stand. (A multi-part metric, ODinW or Ref-DAVIS, combines the
    breakdowns of its parts into one, :func:`evalkit.metrics._breakdown.combine_parts`.)
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


AP_STATE_FILE = "breakdown_ap.npz"


def write_breakdown(path: Path, bd: Breakdown, *, benchmark: str, model: str, metric: str,
                    metrics: dict[str, float] | None = None) -> None:
    """Write ``bd`` as ``breakdown.json`` (atomic; non-finite numbers become ``null``), and its
    arrays, if any, as ``breakdown_ap.npz`` beside it (written first: the JSON names it)."""
    path = Path(path)
    if bd.arrays:
        import io

        from .fileio import atomic_write_bytes

        buf = io.BytesIO()
        np.savez_compressed(buf, **bd.arrays)
        atomic_write_bytes(path.parent / AP_STATE_FILE, buf.getvalue())
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
        "ap_state": AP_STATE_FILE if bd.arrays else None,
    })


def load_ap_state(bd: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The matching state of an AP breakdown (``breakdown_ap.npz``), or None where it has none."""
    name = bd.get("ap_state")
    if not name:
        return None
    path = Path(bd["path"]).parent / name
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise EvalkitError(f"{path}: the AP matching state named by breakdown.json is unreadable ({e})") from None


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
        if not _valid_spec(spec):
            raise EvalkitError(f"{path}: aggregates[{name!r}] must be {{over: samples|categories, reduce: "
                               f"mean|weighted|ratio|average, and its fields}}, got {spec!r}")
    data["path"] = str(path)
    return data


def _valid_spec(spec: Any, nested: bool = False) -> bool:
    if not isinstance(spec, dict) or spec.get("over") not in ("samples", "categories"):
        return False
    if spec.get("reduce") == "average" and not nested:
        parts = spec.get("of")
        return isinstance(parts, list) and bool(parts) and all(
            _valid_spec(p, True) and p["over"] == spec["over"] for p in parts)
    need = _REDUCES.get(spec.get("reduce"))
    return need is not None and all(k in spec for k in need)


def _pair(row: dict[str, Any], spec: dict[str, Any]) -> tuple[float, float] | None:
    """(numerator, denominator) of one unit for a simple spec; None where its fields are null,
    or where the spec is restricted to one ``part`` of a multi-part metric and the unit is of
    another."""
    if "part" in spec and row.get("part") != spec["part"]:
        return None
    r = spec["reduce"]
    if r == "mean":
        v = row.get(spec["key"])
        return None if v is None else (float(v), 1.0)
    if r == "weighted":
        v, w = row.get(spec["key"]), row.get(spec["weight"])
        return None if v is None or w is None else (float(v) * float(w), float(w))
    n, d = row.get(spec["num"]), row.get(spec["den"])
    return None if n is None or d is None else (float(n), float(d))


def unit_values(bd: dict[str, Any], spec: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    """(unit ids, ``n x C x 2`` float64 ``(numerator, denominator)`` per unit and component).

    The headline is ``scale * mean over the C components of sum(numerators) / sum(denominators)``
    over the units (with repetition for a bootstrap resample): ``C = 1`` for ``mean``,
    ``weighted`` and ``ratio``; ``average`` has one component per spec of its ``of`` list
    (LVOS J&F = the mean of the seen and unseen J and F means). A unit whose fields are null
    for a component adds ``(0, 0)`` to it, as the official mean leaves out undefined entries
    (a category without ground truth); a unit null for every component is left out.
    """
    parts = spec["of"] if spec["reduce"] == "average" else [spec]
    ids, vals = [], []
    for uid, row in bd[spec["over"]].items():
        pairs = [_pair(row, p) for p in parts]
        if all(p is None for p in pairs):
            continue
        ids.append(uid)
        vals.append([(0.0, 0.0) if p is None else p for p in pairs])
    return ids, np.asarray(vals, np.float64).reshape(len(ids), len(parts), 2)


def value_of(vals: np.ndarray, scale: float) -> float:
    """``scale * mean_c(sum num / sum den)`` of ``n x C x 2`` unit values; NaN where a
    component's denominator is 0 (as the official mean of nothing)."""
    num, den = vals[..., 0].sum(0), vals[..., 1].sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(scale * np.mean(np.where(den != 0, num / np.where(den != 0, den, 1), np.nan)))


def aggregate(bd: dict[str, Any], key: str, units: Sequence[str] | None = None) -> float:
    """Rebuild headline ``key`` from the breakdown: over all its units, or over ``units``
    (ids, repetitions counted: a bootstrap resample). NaN where a denominator is 0."""
    spec = bd["aggregates"].get(key)
    if spec is None:
        raise EvalkitError(f"{bd.get('path', 'breakdown')}: no aggregate for {key!r} "
                           f"(has: {', '.join(bd['aggregates']) or 'none'})")
    ids, vals = unit_values(bd, spec)
    if units is not None:
        pos = {u: i for i, u in enumerate(ids)}
        vals = vals[[pos[u] for u in units if u in pos]]
    return value_of(vals, float(spec.get("scale", 1.0)))
