"""Metric engine: official-toolkit-equal metrics over official-format files.

A metric is a function ``fn(gt, results, **options) -> dict[str, float]`` registered in
:data:`evalkit.registry.METRICS` with its id (``coco-bbox``, ``davis-semi``, ...). ``gt`` and
``results`` are paths in the official formats (files or folders) or already-loaded objects;
the returned dict is keyed by the official metric names (``AP``, ``J&F``, ``HOTA`` ...).

Metric entries carry metadata: ``inputs`` (what gt/results are), ``reports`` (the keys
returned), ``primary`` (the headline key) and ``oracle`` (the official tool it equals). Every key a
metric returns is a row of the metric-key table :mod:`evalkit.metrics.keys` (``keys.csv``: the
canonical key, the papers' label, direction, scale, headline rank); the tests fail on a key the
table lacks, and on a ``scale``/``count_keys``/``primary`` here that disagrees with it.
"""
from __future__ import annotations

from typing import Any

from ..registry import METRICS
from ..tasks import check_task

__all__ = ["compute", "METRICS", "register_metric"]


def register_metric(
    id: str,
    target: str,
    *,
    task: str,
    description: str,
    inputs: str,
    reports: list[str],
    primary: str,
    oracle: str,
    tags: tuple[str, ...] = (),
    scale: str = "fraction",
    count_keys: tuple[str, ...] = (),
    options: dict[str, str] | None = None,
) -> None:
    """Declare a metric (called from ``catalog_<family>.py`` modules).

    ``scale`` says how the returned values are expressed, as the official tool prints them:
    ``"fraction"`` (0..1, e.g. COCO AP) or ``"percent"`` (0..100, e.g. TrackEval); keys in
    ``count_keys`` are counts (FP, FN, IDSw...) and never rescaled. ``options`` documents the
    ``--set key=value`` options the metric accepts (name → one-line help).
    ``task`` is one of :data:`evalkit.tasks.TASKS`.
    """
    check_task(task, f"metric {id}")
    METRICS.register(
        id,
        target,
        task=task,
        tags=tags,
        description=description,
        inputs=inputs,
        reports=list(reports),
        primary=primary,
        oracle=oracle,
        scale=scale,
        count_keys=list(count_keys),
        options=dict(options or {}),
    )


def compute(metric_id: str, gt: Any, results: Any, **options: Any) -> dict[str, float]:
    """Score ``results`` against ``gt`` with metric ``metric_id``.

    Raises:
        UnknownNameError: unknown metric id (with close matches).
        ResultsError: malformed or inconsistent inputs, naming the offending entry.
    """
    fn = METRICS.load(metric_id)
    _check_options(metric_id, fn, options)
    out = fn(gt, results, **options)
    return {k: (float(v) if isinstance(v, (int, float)) or hasattr(v, "__float__") else v) for k, v in out.items()}


def _check_options(metric_id: str, fn: Any, options: dict[str, Any]) -> None:
    """Refuse ``--set`` options the metric function does not take, and values whose type
    differs from the option's default (``maxDets=abc`` where a number is expected), naming the
    accepted options: a misspelt option must not be ignored or crash deep in the metric."""
    import inspect

    from ..errors import ResultsError

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = {n: p for i, (n, p) in enumerate(params.items())
                if i >= 2 and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for key, value in options.items():
        if key not in accepted:
            listing = ", ".join(f"{n}={p.default!r}" for n, p in accepted.items()) or "none"
            raise ResultsError(f"metric {metric_id!r} has no option {key!r} (options: {listing})")
        default = accepted[key].default
        if default is inspect.Parameter.empty or default is None:
            continue
        expected = (int, float) if type(default) is float else type(default)
        if isinstance(value, bool) and type(default) is not bool or not isinstance(value, expected):
            raise ResultsError(f"metric {metric_id!r}: option {key} expects a "
                               f"{type(default).__name__} (default {default!r}), got {value!r}")
