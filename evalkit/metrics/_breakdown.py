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

A multi-part metric (one official evaluation per part: ODinW per dataset, Ref-DAVIS per
annotator) collects its parts' breakdowns and emits one, built by :func:`combine_parts`.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Iterator

__all__ = ["Breakdown", "collecting", "emit", "wanted", "mean", "weighted", "ratio", "average", "UNITS",
           "combine_parts"]

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


def _in_part(spec: dict[str, Any], part: str) -> dict[str, Any]:
    return dict(spec, of=[dict(p, part=part) for p in spec["of"]]) if spec["reduce"] == "average" else dict(spec, part=part)


def _prefixed(spec: dict[str, Any], part: str) -> dict[str, Any]:
    """``spec`` reading the fields ``<part>/<field>`` instead of ``<field>``."""
    if spec["reduce"] == "average":
        return dict(spec, of=[_prefixed(p, part) for p in spec["of"]])
    return {k: (f"{part}/{v}" if k in ("key", "weight", "num", "den") else v) for k, v in spec.items()}


def combine_parts(parts: dict[str, "Breakdown"], *, shared_units: bool, rename: dict[str, str],
                  combined: dict[str, str] | None = None, score_key: str | None = None) -> "Breakdown":
    """One breakdown of a metric evaluated once per part (``docs/breakdown.md``, "Multi-part
    metrics").

    Args:
        parts: ``{part name: the breakdown its evaluation emitted}``, all of one unit.
        shared_units: True where every part scores the same units (Ref-DAVIS: the same
            sequences under each annotator): a unit keeps its id and its row holds each part's
            fields as ``<part>/<field>``, so a resampled unit counts in every part (paired).
            False where the parts' units are disjoint (ODinW: each dataset's own images and
            categories): ids become ``<part>/<id>``, fields keep their names, each row gets
            ``"part"`` and an aggregate of a part is restricted to it (``"part"`` in its spec).
        rename: ``{headline template: part aggregate}``; ``"{part}"`` in the template is the part
            name (``{"AP/{part}": "AP"}``: ODinW's ``AP/Aquarium`` is the ``AP`` of that part).
        combined: ``{headline key: part aggregate}`` for a headline that is the plain mean over
            the parts of a part value (Ref-DAVIS ``J&F``: the mean of the 4 annotators'
            ``J&F-Mean``): an ``average`` of the parts' specs, with their scale; left out unless
            every part has that aggregate as a simple spec (not itself an ``average``).
        score_key: the per-sample sorting field of the result (shared units: a field the caller
            adds to every row; disjoint units: default the parts' common score key).
    """
    first = next(iter(parts.values()))
    samples: dict[str, dict[str, Any]] = {}
    categories: dict[str, dict[str, Any]] = {}
    fields: dict[str, str] = {}
    aggregates: dict[str, dict[str, Any]] = {}
    for name, bd in parts.items():
        if bd.unit != first.unit:
            raise ValueError(f"combine_parts: part {name!r} has unit {bd.unit!r}, not {first.unit!r}")
        if shared_units:
            for table, out in ((bd.samples, samples), (bd.categories, categories)):
                for uid, row in table.items():
                    dest = out.setdefault(uid, {})
                    for f, v in row.items():
                        if f == "name":
                            dest["name"] = v
                        else:
                            dest[f"{name}/{f}"] = v
            fields.update({f"{name}/{f}": f"{text} ({name})" for f, text in bd.fields.items()})
            adapt = _prefixed
        else:
            for table, out in ((bd.samples, samples), (bd.categories, categories)):
                for uid, row in table.items():
                    out[f"{name}/{uid}"] = {**row, "part": name}
            fields.update(bd.fields)
            adapt = _in_part
        for template, key in rename.items():
            if key in bd.aggregates:
                aggregates[template.format(part=name)] = adapt(bd.aggregates[key], name)
    if not shared_units:
        fields["part"] = "the part (sub-evaluation) the unit belongs to"
        score_key = score_key or first.score_key
    for headline, key in (combined or {}).items():
        specs = [parts[n].aggregates.get(key) for n in parts]
        if all(s is not None and s["reduce"] != "average" for s in specs):
            adapt = _prefixed if shared_units else _in_part
            aggregates[headline] = average(*(adapt(s, n) for s, n in zip(specs, parts)),
                                           scale=float(specs[0].get("scale", 1.0)))
    return Breakdown(first.unit, score_key, first.higher_is_better, samples, categories, fields, aggregates)


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
