"""The end of a run, in named steps: collect what the store holds for the selection, write the
official results as the predictions stream out of the store, score them, write ``metrics.json``
and ``run.json``. Rank 0 only, after every rank finished inference.

    collect(state)                     → Collected (which selected samples are done / failed)
    write_results(bench, store, ids, results_dir)
                                       → the benchmark's writer fed one sample at a time
    score(state, collected)            → (metrics or None, status, scoring seconds)
    metrics_record / run_record(...)   → the two JSON records

Only :func:`write_results` touches predictions, and it holds one sample's at a time (plus what
the writer's format needs, see :meth:`Benchmark.write_stream`); every other step works on ids
and counts.
"""
from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from .breakdown import score_with_breakdown
from .errors import EvalkitError
from .fileio import atomic_write_json
from .run_state import RunResult, RunState
from .store import PredictionStore, StoreIndex

__all__ = ["Collected", "collect", "write_results", "score", "metrics_record", "run_record", "finalise"]

log = logging.getLogger("evalkit.run")


def _now_iso() -> str:
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Collected:
    """The store's answer for the selection: ``done`` (selected ids with a prediction, split
    order), ``failed`` (selected id → error message, ``--on-error skip`` failures) and the
    store's ``index`` (where each record is, for streaming them)."""

    done: list[str]
    failed: dict[str, str]
    index: StoreIndex


def collect(state: RunState) -> Collected:
    """What the store holds for the selected samples; an error naming the first sample without
    a record unless only inferring (``--mode infer`` may stop part way)."""
    cfg, ids = state.cfg, state.ids
    index = state.store.index()
    missing = [i for i in ids if i not in index.done and i not in index.failed]
    if missing and cfg.mode != "infer":
        how = (f"infer them first with `evalkit run --resume {state.run_dir}` without --mode score"
               if cfg.mode == "score" else f"continue the run with --resume {state.run_dir}")
        raise EvalkitError(
            f"{len(missing)} of the {len(ids)} selected samples have no prediction in {state.store.dir} "
            f"(first: {missing[0]}); {how}"
        )
    return Collected([i for i in ids if i in index.done],
                     {i: index.failed[i] for i in ids if i in index.failed}, index)


def write_results(bench: Any, store: PredictionStore, ids: Sequence[str], results_dir: Path,
                  index: StoreIndex | None = None) -> list[Path]:
    """Write the official results of the samples ``ids`` (those with a prediction) into
    ``results_dir``: the store's records are streamed to ``bench.write_stream`` one sample at a
    time, in the order the writer's format lists them (``bench.result_key``)."""
    index = store.index() if index is None else index
    ordered = sorted((i for i in ids if i in index.done), key=bench.result_key)
    Path(results_dir).mkdir(parents=True, exist_ok=True)
    return bench.write_stream(store.iter_predictions(ordered, index), Path(results_dir))


def score(state: RunState, collected: Collected) -> tuple[dict[str, float] | None, str, float]:
    """(metrics, status, seconds) of the written results: ``server-pending`` for a
    server-scored split, ``inferred`` under ``--mode infer``, else the benchmark's metric on
    the selection (``partial`` when it is a subset or some samples failed)."""
    t0 = time.perf_counter()
    bench, sel = state.bench, state.selection
    if bench.server:
        return None, "server-pending", time.perf_counter() - t0
    if state.cfg.mode == "infer":
        return None, "inferred", time.perf_counter() - t0
    try:
        metrics = score_with_breakdown(bench, state.results_dir, sel, state.run_dir, state.cfg.model)
    except EvalkitError as e:
        raise EvalkitError(
            f"scoring failed ({e}); the predictions are kept in {state.store.dir}: once the cause is "
            f"fixed, re-score the same samples with `evalkit run --mode score --resume {state.run_dir}`"
        ) from e
    status = "partial" if (sel.partial or collected.failed) else "complete"
    return metrics, status, time.perf_counter() - t0


def metric_scale(metric: str | None) -> str:
    """The scale ``metrics.json`` records: the metric-key table's (:func:`evalkit.metrics.keys.metric_scale`);
    for a plug-in metric the table does not list, the ``scale`` it registered with."""
    if not metric:
        return "fraction"
    from .metrics.keys import metric_scale as table_scale

    scale = table_scale(metric)
    if scale is None:
        from .registry import METRICS

        scale = METRICS.get(metric).meta.get("scale") if metric in METRICS else None
    return scale or "fraction"


def sample_counts(state: RunState, collected: Collected) -> dict[str, int]:
    # total: the split's samples (a partial run's record says how many it covers of them)
    return {"total": state.selection.total, "selected": len(state.ids), "done": len(collected.done),
            "failed": len(collected.failed)}


def metrics_record(state: RunState, collected: Collected, metrics: dict | None, status: str) -> dict:
    """The content of ``metrics.json``."""
    cfg, bench = state.cfg, state.bench
    return {
        "schema": 1,
        "benchmark": cfg.benchmark,
        "model": cfg.model,
        "task": bench.task,
        "metric": bench.metric,
        "metrics": _json_safe(metrics),
        "scale": metric_scale(bench.metric),
        "status": status,
        "limit": cfg.limit,
        "samples": sample_counts(state, collected),
        "selection": state.selection.record(),
        "weights_sha256": state.weights_sha256(),
        "created": _now_iso(),
    }


def run_record(state: RunState, collected: Collected, scoring_s: float) -> dict:
    """The content of ``run.json``: configuration, versions, hardware, provenance, timings."""
    from . import __version__
    from .provenance import git_hash, hardware, versions

    cfg, stats, failed = state.cfg, state.stats, collected.failed
    failed_ids = list(failed)
    total_s = time.perf_counter() - state.t_start
    inf_s = stats.inference_s
    return {
        "evalkit_version": __version__,
        "git_hash": git_hash(),
        "argv": state.argv if state.argv is not None else sys.argv,
        "config": {**asdict(cfg), "world_size": state.ctx.world},
        "torch_threads": stats.threads,
        "resumed": state.resumed,
        "versions": versions(),
        "hardware": hardware(),
        "model": _model_record(state),
        "precision": _precision_record(state),
        "weights_sha256": state.weights_sha256(),
        "data_fingerprint": state.fingerprint,
        "selection": state.selection.record(),
        "store_key": state.store_key,
        "metric": _metric_record(state.bench, state.results_dir),
        "timings": {"data_s": round(stats.data_s, 4), "inference_s": round(inf_s, 4),
                    "scoring_s": round(scoring_s, 4), "total_s": round(total_s, 4),
                    "note": "data/inference of this invocation, rank 0 only"},
        "throughput": {
            "samples_per_s": round(stats.samples / inf_s, 4) if inf_s > 0 else None,
            "frames_per_s": round(stats.frames / inf_s, 4) if inf_s > 0 else None,
        },
        "failures": {"count": len(failed_ids), "samples": failed_ids[:1000],
                     "errors": {i: failed[i] for i in failed_ids[:50]}},
        "started": state.started,
        "finished": _now_iso(),
    }


def finalise(state: RunState) -> RunResult:
    """Collect, write the results, score, record (see the module docstring)."""
    collected = collect(state)
    t0 = time.perf_counter()
    write_results(state.bench, state.store, state.ids, state.results_dir, collected.index)
    write_s = time.perf_counter() - t0
    metrics, status, scoring_s = score(state, collected)
    atomic_write_json(state.run_dir / "metrics.json", metrics_record(state, collected, metrics, status))
    # scoring_s has always covered writing the official files too
    atomic_write_json(state.run_dir / "run.json", run_record(state, collected, write_s + scoring_s))
    log.info("finished: status %s, metrics %s", status, metrics)
    return RunResult(state.run_dir, metrics, status, sample_counts(state, collected))


def _metric_record(bench, results_dir: Path) -> dict | None:
    """The metric id and the options it ran with, defaults included (which variant ran)."""
    from .registry import METRICS

    if not bench.metric or bench.metric not in METRICS:
        return None
    from .metrics.resolved import resolved_options

    options = dict(bench.metric_options())
    try:
        if hasattr(bench, "results_options"):
            options.update(bench.results_options(results_dir))
    except (EvalkitError, OSError):  # nothing scorable was written: the static options still say the variant
        pass
    return {"id": bench.metric, "options": resolved_options(bench.metric, options)}


def _model_record(state: RunState) -> dict[str, Any]:
    """The adapter's ``describe()``; for a plugin's model with its ``source`` (provenance) added."""
    if state.adapter is None:
        return {"model_id": state.cfg.model}
    from .user_model import plugin_source

    record = state.adapter.describe()
    if "source" not in record and (source := plugin_source(state.cfg.model, state.adapter)) is not None:
        record = {**record, "source": source}
    return record


def _precision_record(state: RunState) -> dict:
    """The precision the predictions were made in: this run's, or (re-scoring) the store's."""
    from .precision import describe

    return describe(state.dtype(), state.cfg.device)


def _json_safe(metrics: dict | None) -> dict | None:
    """NaN/inf (e.g. a per-class value for a class absent from the GT) become ``null``: JSON
    has no NaN, and readers must see "undefined", not a number."""
    if metrics is None:
        return None
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}
