"""Finding and reading run directories (``runs/<benchmark>/<model>/<timestamp>/``).

A run directory is any folder holding a ``metrics.json``; ``run.json`` beside it is optional for
reports (it adds provenance: hardware, timings). Values are converted to *display scale* here,
once: scores in percent points as the papers print them, counts untouched.

Scale rules: the metric-key table (:mod:`evalkit.metrics.keys`) row of (``metrics.json["metric"]``,
key) converts each value (fractions ×100, counts untouched, "undefined" sentinels and NaN
dropped) and names it by its canonical key. Keys of a metric the table does not know fall back
to the registry's ``scale``/``count_keys``, then to the run's own ``scale`` field.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import ResultsError
from ..metrics import keys as metric_keys
from .mapping import metric_info, resolve_metric_key

__all__ = ["RunRecord", "find_run_dirs", "load_run", "load_runs", "select_latest"]

# "inferred": ``--mode infer`` wrote predictions and result files but did not score them.
STATUSES = ("complete", "partial", "server-pending", "inferred")


@dataclass
class RunRecord:
    """One run, with metric values in display scale.

    ``values``: canonical metric key (``evalkit/metrics/keys.csv``; unknown keys kept as given) → value
    in percent points for scores, raw for counts. ``raw``: the metrics exactly as stored.
    """

    path: Path
    benchmark: str
    model: str
    task: str | None
    metric_id: str | None
    status: str
    scale: str
    raw: dict[str, Any]
    values: dict[str, float]
    count_keys: frozenset[str]
    limit: int | None
    samples: dict[str, int]
    weights_sha256: str | None
    created: str
    run_json: dict[str, Any] = field(default_factory=dict)

    @property
    def sha_short(self) -> str:
        return (self.weights_sha256 or "")[:8] or "—"

    @property
    def row_key(self) -> tuple[str, str]:
        """Rows of a leaderboard: one per (model, weights sha256)."""
        return (self.model, self.weights_sha256 or "")


def find_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories at or below ``paths`` (sorted, unique). A path that does not exist or
    holds no run is an error naming it."""
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise ResultsError(f"{p}: no such file or directory (expected a run directory or a folder of runs)")
        if p.is_file():
            if p.name != "metrics.json":
                raise ResultsError(f"{p}: expected a run directory or its metrics.json, got a file")
            hits = [p.parent]
        elif (p / "metrics.json").is_file():
            hits = [p]
        else:
            hits = sorted(m.parent for m in p.rglob("metrics.json"))
        if not hits:
            raise ResultsError(f"{p}: no run directories found (a run directory contains metrics.json)")
        found.extend(h.resolve() for h in hits)
    return sorted(set(found))


def _require(d: dict, key: str, types, where: Path):
    if key not in d:
        raise ResultsError(f"{where}: missing field {key!r}")
    v = d[key]
    if not isinstance(v, types):
        raise ResultsError(f"{where}: field {key!r} should be {_tname(types)}, got {type(v).__name__}")
    return v


def _tname(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def _registry_scale(metric_id: str | None) -> tuple[str | None, frozenset[str] | None]:
    """(scale, count_keys) from the metric registry, (None, None) when it does not know it."""
    if not metric_id:
        return None, None
    try:
        from ..registry import METRICS

        if metric_id not in METRICS:
            return None, None
        meta = METRICS.get(metric_id).meta
    except Exception:  # a broken metric provider must not stop a report over stored numbers
        return None, None
    return meta.get("scale"), (frozenset(meta["count_keys"]) if "count_keys" in meta else None)


def _display_values(metrics: dict, metric_id: str | None, run_scale: str | None,
                    mfile: Path) -> tuple[dict[str, float], frozenset[str], str]:
    """(canonical key → value in display scale, canonical count keys, the run's scale).

    A key the metric-key table lists for the run's metric id is converted by its row (scale,
    "undefined" sentinel); per-class breakdowns are no leaderboard cells. A run of a metric the
    table does not know (a plug-in) falls back to the registry's ``scale``/``count_keys``, then to
    the run's own ``scale`` field; its keys keep their names."""
    reg_scale, reg_counts = _registry_scale(metric_id)
    scale = reg_scale or run_scale or "fraction"
    if scale not in ("fraction", "percent"):
        raise ResultsError(f"{mfile}: field 'scale' is {scale!r}; expected 'fraction' or 'percent'")
    values: dict[str, float] = {}
    counts: set[str] = set()
    for k, v in metrics.items():
        if v is None or isinstance(v, (dict, list)):
            continue  # per-class / per-sequence breakdowns are not leaderboard cells
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ResultsError(f"{mfile}: metrics[{k!r}] should be a number, got {v!r}")
        row = metric_keys.lookup(metric_id, k) if metric_id else None
        if row is not None:
            if row.is_breakdown:
                continue
            shown = metric_keys.to_display(row, v)
            if shown is not None:
                values.setdefault(row.canonical, shown)
            if row.is_count:
                counts.add(row.canonical)
            continue
        # not in the table for this metric id: its registry metadata, then the run's own scale
        key = resolve_metric_key(k) or k
        info = metric_info(key)
        is_count = (k in reg_counts) if reg_counts is not None else info.kind == "count"
        v = float(v)
        if not math.isfinite(v) or (v == -1.0 and not is_count and info.kind == "score"):
            continue  # NaN, or COCO-style "undefined" (no ground truth in that area range): no cell
        if is_count:
            counts.add(key)
        elif info.kind == "score" and scale == "fraction":
            v *= 100.0
        values.setdefault(key, v)
    return values, frozenset(counts), scale


def load_run(path: str | Path) -> RunRecord:
    """Read one run directory; malformed records raise ResultsError naming file and field."""
    path = Path(path)
    mfile = path / "metrics.json"
    try:
        m = json.loads(mfile.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: not a run directory (no metrics.json)") from None
    except json.JSONDecodeError as e:
        raise ResultsError(f"{mfile}: invalid JSON ({e})") from None
    if not isinstance(m, dict):
        raise ResultsError(f"{mfile}: expected a JSON object")
    benchmark = _require(m, "benchmark", str, mfile)
    model = _require(m, "model", str, mfile)
    status = _require(m, "status", str, mfile)
    if status not in STATUSES:
        raise ResultsError(f"{mfile}: field 'status' is {status!r}; expected one of {', '.join(STATUSES)}")
    metrics = m.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ResultsError(f"{mfile}: field 'metrics' should be an object of name → number")
    metric_id = m.get("metric")
    values, counts, scale = _display_values(metrics, metric_id, m.get("scale"), mfile)
    if status in ("server-pending", "inferred"):
        values = {}
    samples = m.get("samples") or {}
    run_json: dict[str, Any] = {}
    rj = path / "run.json"
    if rj.is_file():
        try:
            run_json = json.loads(rj.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ResultsError(f"{rj}: invalid JSON ({e})") from None
    return RunRecord(
        path=path, benchmark=benchmark, model=model, task=m.get("task"), metric_id=metric_id,
        status=status, scale=scale, raw=dict(metrics), values=values,
        count_keys=counts, limit=m.get("limit"),
        samples={k: int(v) for k, v in samples.items() if isinstance(v, (int, float))},
        weights_sha256=m.get("weights_sha256") or run_json.get("weights_sha256"),
        created=str(m.get("created") or run_json.get("finished") or path.name), run_json=run_json,
    )


def load_runs(paths: Iterable[str | Path]) -> list[RunRecord]:
    return [load_run(p) for p in find_run_dirs(paths)]


def select_latest(runs: Iterable[RunRecord]) -> dict[tuple[str, str, str], RunRecord]:
    """One run per (model, weights sha256, benchmark): a complete run beats a partial one,
    which beats a server-pending or unscored one; among equals the newest (``created``) wins."""
    rank = {"complete": 2, "partial": 1, "server-pending": 0, "inferred": 0}
    best: dict[tuple[str, str, str], RunRecord] = {}
    for r in runs:
        k = (*r.row_key, r.benchmark)
        cur = best.get(k)
        if cur is None or (rank[r.status], r.created, str(r.path)) > (rank[cur.status], cur.created, str(cur.path)):
            best[k] = r
    return best
