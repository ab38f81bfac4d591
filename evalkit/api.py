"""The Python API: :func:`evaluate` (``evalkit run``) and :func:`score` (``evalkit score``).

    import evalkit

    results = evalkit.evaluate("uninext-tiny", "shapes-davis", limit=3, threads=1)
    results[0].metrics["J&F"], results[0].run_dir
    evalkit.evaluate(MyAdapter(), "shapes-coco-det")                    # a user's adapter object
    evalkit.evaluate("examples/my_model/shapes_detector.py:make_adapter", "shapes")  # a factory

    evalkit.score("coco-bbox", gt="instances_val2017.json", results="bbox.json")
    evalkit.score(run="runs/shapes-davis/uninext-tiny/20260101-120000")

Both are quiet by default: no progress bar, no banner; the run's log goes to its ``log.txt``
and warnings to the ``logging`` module (``logging.basicConfig(level="INFO")`` shows them).
Nothing here imports torch until a model is built.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .errors import EvalkitError

__all__ = ["evaluate", "score"]

log = logging.getLogger("evalkit.api")


def _run_fields() -> dict[str, dataclasses.Field]:
    from .runner import RunConfig

    return {f.name: f for f in dataclasses.fields(RunConfig) if f.name not in ("model", "benchmark")}


def evaluate(model: Any, benchmark: str, **options: Any) -> list:
    """Evaluate models on benchmarks; one :class:`~evalkit.runner.RunResult` per pair run.

    Args:
        model: a model id, tag, group, comma list or fnmatch pattern (``"uninext-r50"``,
            ``"uninext-tiny,uniref-pp-tiny"``, ``"glee-*"``; see ``evalkit ls models``); a
            factory spec ``"path/to/file.py:make_adapter"`` / ``"package.module:factory"``;
            or an adapter object: an :class:`~evalkit.adapters.base.Adapter`, or any object
            with ``tasks``, ``prepare(task, benchmark)`` and ``predict(frames, prompt)``
            (``docs/your-model.md``). An object is used as it is: ``model_options`` and
            ``weights`` cannot be applied to it (configure it before), and ``device`` defaults
            to its ``device`` attribute.
        benchmark: a benchmark id, group, comma list or pattern (``"davis17-val"``, ``"shapes"``,
            ``"refcoco*-res"``); see ``evalkit ls benchmarks``.
        **options: fields of :class:`~evalkit.runner.RunConfig`, as the ``run`` flags name them
            (``data_root``, ``limit``, ``device``, ``threads``, ``seed``, ``resume``,
            ``model_options`` ...). ``quiet`` defaults to True here.

    Returns:
        ``list[RunResult]`` in selection order (model-major). With several pairs, those whose
        task the model does not have are skipped (logged on ``evalkit.api``); one explicit pair
        that cannot run raises the adapter's error instead.

    Raises:
        EvalkitError: unknown names (with close matches), unknown options, missing data or
            weights: the same one-line messages as the command line.
    """
    from .registry import task_pairs
    from .runner import RunConfig, run_evaluation

    fields = _run_fields()
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise EvalkitError(f"evalkit.evaluate: unknown option(s) {', '.join(unknown)}; "
                           f"expected some of: {', '.join(fields)}")
    options.setdefault("quiet", True)
    if not isinstance(model, str):
        return _evaluate_object(model, benchmark, options)
    pairs, skipped = task_pairs(model, benchmark)
    if len(pairs) + len(skipped) == 1:
        pairs = pairs + skipped  # one explicit pair: the adapter says why it cannot run it
    else:
        for m, b in skipped:
            log.info("skip %s on %s: %s has no %s task", m.id, b.id, m.id, b.task)
        if not pairs:
            raise EvalkitError(f"none of the models {model!r} has a task of the benchmarks {benchmark!r}")
    if options.get("output_dir") and len(pairs) > 1:
        raise EvalkitError("output_dir names one run; it cannot be used with several models/benchmarks")
    results = []
    for m, b in pairs:
        res = run_evaluation(RunConfig(model=m.id, benchmark=b.id, **options), argv=list(sys.argv))
        results.append(res)
    return results


def _evaluate_object(obj: Any, benchmark: str, options: dict[str, Any]) -> list:
    """:func:`evaluate` of an adapter object: registered under a hidden id for the runs, then
    unregistered (the registry must not keep a user's model alive)."""
    from .registry import MODELS
    from .user_model import register_object

    for name in ("model_options", "weights"):
        if options.get(name):
            raise EvalkitError(f"evalkit.evaluate: {name} cannot be applied to an adapter object "
                               f"({type(obj).__name__}); configure the object itself, or pass a factory "
                               f"spec 'path/to/file.py:factory' to have evalkit build it")
    if "device" not in options and getattr(obj, "device", None) is not None:
        options["device"] = str(obj.device)  # a torch.device too
    entry = register_object(MODELS, obj)
    try:
        return evaluate(entry.id, benchmark, **options)
    finally:
        MODELS.unregister(entry.id)


def score(metric: str | None = None, gt: str | os.PathLike | None = None,
          results: str | os.PathLike | None = None, *, run: str | os.PathLike | None = None,
          **metric_options: Any) -> dict[str, Any]:
    """Score official-format results: ``score(metric, gt, results, **options)`` or
    ``score(run=RUN_DIR)`` (re-score a run directory from its ``results/``).

    Returns the metric's dict (``{"AP": 0.41, ...}``; fractions unless the metric says
    otherwise). Raises :class:`EvalkitError` naming the missing argument or file.
    """
    if run is not None:
        return _score_run(Path(run))
    missing = [name for name, v in (("metric", metric), ("gt", gt), ("results", results)) if not v]
    if missing:
        raise EvalkitError("evalkit score needs --metric, --gt and --results (or --run RUN_DIR); "
                           f"missing: {', '.join('--' + m for m in missing)}")
    for flag, value in (("gt", gt), ("results", results)):
        if not Path(value).exists():
            raise EvalkitError(f"--{flag} {value}: no such file or folder")
    from .metrics import compute

    return compute(metric, str(gt), str(results), **metric_options)


def _score_run(run: Path) -> dict[str, Any]:
    from .benchmarks.base import build_benchmark

    cfg_path = run / "run.json"
    if not cfg_path.exists():
        raise EvalkitError(f"--run {run}: not a finished run directory (no run.json)")
    cfg = json.loads(cfg_path.read_text())["config"]
    bench = build_benchmark(cfg["benchmark"], cfg.get("data_root"))
    if not (run / "results").is_dir():
        raise EvalkitError(f"--run {run}: no results/ folder")
    from .selection import recorded_selection, score_selection, select_samples

    # a partial run is scored on the samples it covers, as the run itself was
    split_ids = bench.sample_ids()
    selection = recorded_selection(run, split_ids) or select_samples(split_ids, cfg["benchmark"])
    return score_selection(bench, run / "results", selection)
