"""Per-sample / per-sequence / per-category breakdowns, handed from a metric to the runner.

A metric function returns only its headline dict (``fn(gt, results) -> dict[str, float]``),
but the evaluation state it built (COCOeval's precision array, DAVIS's per-object J/F, the
per-expression IoUs of RefCOCO) holds the official breakdown. Recomputing that state would
evaluate twice, so the metric *emits* its breakdown while it runs, into whoever collects:

    with collecting() as found:          # evalkit.breakdown does this around scoring
        metrics = compute("davis-semi", gt, results)
    [bd] = found                          # one Breakdown per metric call

A metric checks :func:`wanted` first, so nothing is built when no one collects (``evalkit
score``, the Python API, the parity tests). :class:`Breakdown` is the in-memory form of
``breakdown.json``; the file's schema is documented in ``docs/breakdown.md`` and written by
:mod:`evalkit.breakdown`.

Aggregates tell a reader how a headline key is rebuilt from the units, so ``evalkit compare``
can resample units (paired bootstrap) and the tests can check that the breakdown reproduces
the headline number:

* ``mean(key)``: the plain mean of ``key`` over the units that have it (COCO AP over the
  categories with a ground truth, RefCOCO P@0.5 over expressions);
* ``weighted(key, weight)``: ``sum(key * weight) / sum(weight)`` (DAVIS J-Mean: the mean over
  *objects*, rebuilt from per-sequence means weighted by their object counts);
* ``ratio(num, den)``: ``sum(num) / sum(den)`` (RefCOCO oIoU: summed intersections over summed
  unions);
* ``average(spec, ...)``: the mean of several of the above (LVOS J&F-Mean = the mean of the
  seen and unseen J and F means; YouTube-VOS G).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Iterator

__all__ = ["Breakdown", "collecting", "emit", "wanted", "mean", "weighted", "ratio", "average", "UNITS"]

#: what one entry of ``samples`` (or ``categories``) stands for
UNITS = ("image", "expression", "sequence", "video", "episode", "category")

_SINK: ContextVar[list | None] = ContextVar("evalkit_breakdown_sink", default=None)


@contextmanager
def collecting() -> Iterator[list["Breakdown"]]:
    """Collect the breakdowns emitted by the metrics called inside the block (in call order)."""
    found: list[Breakdown] = []
    token = _SINK.set(found)
    try:
        yield found
    finally:
        _SINK.reset(token)


def wanted() -> bool:
    """True inside :func:`collecting`: a metric should build and :func:`emit` its breakdown."""
    return _SINK.get() is not None


def emit(breakdown: "Breakdown") -> None:
    """Hand ``breakdown`` to the collector (a no-op outside :func:`collecting`)."""
    sink = _SINK.get()
    if sink is not None:
        sink.append(breakdown)


def mean(key: str, over: str = "samples", scale: float = 1.0) -> dict[str, Any]:
    """Aggregate spec: the plain mean of ``key`` over the units that define it, times ``scale``."""
    return {"over": over, "reduce": "mean", "key": key, "scale": scale}


def weighted(key: str, weight: str, over: str = "samples", scale: float = 1.0) -> dict[str, Any]:
    """Aggregate spec: ``scale * sum(key * weight) / sum(weight)``."""
    return {"over": over, "reduce": "weighted", "key": key, "weight": weight, "scale": scale}


def ratio(num: str, den: str, over: str = "samples", scale: float = 1.0) -> dict[str, Any]:
    """Aggregate spec: ``scale * sum(num) / sum(den)``."""
    return {"over": over, "reduce": "ratio", "num": num, "den": den, "scale": scale}


def average(*parts: dict[str, Any], scale: float = 1.0) -> dict[str, Any]:
    """Aggregate spec: ``scale * mean(part values)``, each part a :func:`mean` / :func:`weighted` /
    :func:`ratio` spec over the same units (LVOS J&F-Mean: the mean of four object means)."""
    over = parts[0]["over"]
    return {"over": over, "reduce": "average", "of": [dict(p, scale=1.0) for p in parts], "scale": scale}


@dataclass
class Breakdown:
    """What a metric knows per unit (the body of ``breakdown.json``).

    Attributes:
        unit: what a key of ``samples`` is (one of :data:`UNITS` but ``category``); the keys are
            the metric's own ids as strings (COCO image id, RefCOCO expression id, DAVIS sequence
            name), which the benchmarks use as sample ids.
        score_key: the per-sample field that orders samples worst-first (``higher_is_better``
            says which end is worst); None when the metric has no per-sample value.
        samples: ``{unit id: {field: number | None}}``.
        categories: ``{category id: {"name": str, field: number | None}}`` (may be empty).
        fields: ``{field: one-line meaning}`` for every field used above.
        aggregates: ``{headline key: spec}`` (:func:`mean`, :func:`weighted`, :func:`ratio`,
            :func:`average`) for the headline keys that the units rebuild exactly.
    """

    unit: str
    score_key: str | None
    higher_is_better: bool = True
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    aggregates: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: AP metrics: the matching state for re-accumulating over resampled images
    #: (:func:`evalkit.metrics.ap_resample.build_state`, plus ``units``: the unit id of each image
    #: index), written as ``breakdown_ap.npz``
    arrays: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.unit not in UNITS or self.unit == "category":
            raise ValueError(f"breakdown unit must be one of {UNITS[:-1]}, got {self.unit!r}")
