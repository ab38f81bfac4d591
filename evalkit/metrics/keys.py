"""The metric-key table: every key a metric returns, what it is called in the papers, which way
is better, in what scale it comes, and which keys are a task's headline.

The table is data, ``evalkit/metrics/keys.csv``, one row per (metric id, key as the metric
returns it: the official toolkit's name). Columns:

- ``metric``: a metric id of :data:`evalkit.registry.METRICS`, or ``paper`` for a name printed
  in the papers (``reports/data/paper_results.csv``) that no metric returns (``Js``, ``PNorm``).
- ``key``: the key exactly as returned. A per-class / per-dataset / per-annotator breakdown is a
  template with one ``{placeholder}`` (``{class}/MOTA``, ``AP/{dataset}``), matched as a whole
  name with the placeholder standing for one or more characters other than ``/``
  (``{object}``: any characters).
- ``canonical``: our name of the quantity, shared by every metric that returns it (TrackEval's
  ``IDSW`` and BDD100K's ``IDSw`` are ``IDSw``; TrackEval's ``IDs``, the number of tracker
  identities, is ``IDs`` and no alias of it).
- ``label`` / ``latex``: display name in the papers' notation (text, and LaTeX for booktabs).
- ``direction``: ``higher`` | ``lower`` is better, or ``none`` (sizes such as ``GT_Dets``).
- ``scale``: how the value comes: ``fraction`` (0..1, shown ×100 as the papers print it),
  ``percent`` (0..100), ``count`` (a tally: FP, IDSw; TrackEval's HOTA_TP is a mean over α and
  may be fractional), ``integer`` (a size: frames, identities, datasets) or ``number`` (a real
  that is neither, shown as is: FP per frame, a decay slope).
- ``headline``: rank (1 = first) of the key among the task's headline metrics, the columns the
  paper tables and the run summary show; empty for the rest.
- ``missing``: a sentinel value meaning "undefined", shown as no cell (COCO's ``-1`` for an
  area range without ground truth).

No matching by similarity anywhere: a name is either in the table (exactly, case included) or
unknown. Tests (``tests/reports/test_metric_keys.py``) score every registered metric on a
generated case and fail on any key the table lacks.
"""
from __future__ import annotations

import csv
import functools
import math
import re
from dataclasses import dataclass
from importlib import resources

from ..errors import EvalkitError

__all__ = ["MetricKey", "Canonical", "SCALES", "DIRECTIONS", "table", "lookup", "require", "keys_of",
           "headline", "metric_scale", "canonical", "resolve", "to_display", "PAPER"]

SCALES = ("fraction", "percent", "count", "integer", "number")
DIRECTIONS = ("higher", "lower", "none")
PAPER = "paper"  # the pseudo metric id of names printed in the papers
_FIELDS = ("metric", "key", "canonical", "label", "latex", "direction", "scale", "headline", "missing")


@dataclass(frozen=True)
class MetricKey:
    """One row of ``keys.csv`` (see the module docstring for the fields)."""

    metric: str
    key: str
    canonical: str
    label: str
    latex: str
    direction: str
    scale: str
    headline: int | None
    missing: float | None

    @property
    def higher_is_better(self) -> bool | None:
        return None if self.direction == "none" else self.direction == "higher"

    @property
    def is_count(self) -> bool:
        """Counts and sizes: never rescaled, printed as integers when integral."""
        return self.scale in ("count", "integer")

    @property
    def is_breakdown(self) -> bool:
        return "{" in self.key


@dataclass(frozen=True)
class Canonical:
    """What every row of one canonical key agrees on (checked by the tests)."""

    key: str
    label: str
    latex: str
    direction: str
    count: bool  # count or integer scale: never rescaled
    number: bool = False  # scale "number": never rescaled, printed with decimals

    @property
    def higher_is_better(self) -> bool | None:
        return None if self.direction == "none" else self.direction == "higher"


def _where(i: int) -> str:
    return f"evalkit/metrics/keys.csv line {i + 2}"


@functools.lru_cache(maxsize=None)
def table() -> tuple[MetricKey, ...]:
    """Every row of ``keys.csv``, in file order; malformed rows raise naming the line."""
    path = resources.files("evalkit.metrics").joinpath("keys.csv")
    try:
        with path.open("r", encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != _FIELDS:
                raise EvalkitError(f"evalkit/metrics/keys.csv: expected columns {','.join(_FIELDS)}, "
                                   f"got {','.join(reader.fieldnames or ())}")
            raw = list(reader)
    except FileNotFoundError:
        raise EvalkitError("package data file evalkit/metrics/keys.csv is missing from the install") from None
    rows = []
    for i, r in enumerate(raw):
        if r["direction"] not in DIRECTIONS:
            raise EvalkitError(f"{_where(i)}: direction {r['direction']!r}; expected one of {', '.join(DIRECTIONS)}")
        if r["scale"] not in SCALES:
            raise EvalkitError(f"{_where(i)}: scale {r['scale']!r}; expected one of {', '.join(SCALES)}")
        try:
            head = int(r["headline"]) if r["headline"] else None
            missing = float(r["missing"]) if r["missing"] else None
        except ValueError:
            raise EvalkitError(f"{_where(i)}: headline must be an integer and missing a number") from None
        rows.append(MetricKey(r["metric"], r["key"], r["canonical"], r["label"], r["latex"], r["direction"],
                              r["scale"], head, missing))
    return tuple(rows)


@functools.lru_cache(maxsize=None)
def _index() -> tuple[dict[tuple[str, str], MetricKey], dict[str, list[tuple[re.Pattern, MetricKey]]]]:
    exact: dict[tuple[str, str], MetricKey] = {}
    templates: dict[str, list[tuple[re.Pattern, MetricKey]]] = {}
    for i, row in enumerate(table()):
        if (row.metric, row.key) in exact:
            raise EvalkitError(f"{_where(i)}: key {row.key!r} of metric {row.metric!r} is listed twice")
        exact[(row.metric, row.key)] = row
        if row.is_breakdown:
            pre, _, rest = row.key.partition("{")
            name, _, post = rest.partition("}")
            body = ".+" if name == "object" else "[^/]+"
            templates.setdefault(row.metric, []).append((re.compile(re.escape(pre) + body + re.escape(post)), row))
    return exact, templates


def lookup(metric: str, key: str) -> MetricKey | None:
    """The row of ``key`` as returned by ``metric`` (exact name, or a breakdown template); None
    when the table does not list it."""
    exact, templates = _index()
    row = exact.get((metric, key))
    if row is not None:
        return row
    for pat, row in templates.get(metric, ()):
        if pat.fullmatch(key):
            return row
    return None


def require(metric: str, key: str) -> MetricKey:
    """As :func:`lookup`, but an unlisted key is an error naming the metric, the key and the table."""
    row = lookup(metric, key)
    if row is None:
        raise EvalkitError(f"metric {metric!r} returned key {key!r}, which evalkit/metrics/keys.csv does not list "
                           f"(add a row: metric,key,canonical,label,latex,direction,scale,headline,missing)")
    return row


def keys_of(metric: str) -> list[MetricKey]:
    """The rows of one metric id, in table order."""
    return [r for r in table() if r.metric == metric]


def headline(metric: str) -> list[MetricKey]:
    """The headline rows of one metric id, by rank."""
    return sorted((r for r in keys_of(metric) if r.headline is not None), key=lambda r: r.headline)


def metric_scale(metric: str) -> str | None:
    """How a metric's scores come, ``fraction`` or ``percent``: the one scale of its score rows
    (counts and sizes aside). None when the table lists no score row of ``metric`` (a plug-in
    metric); a metric whose rows mix the two is an error of the table, named here."""
    scales = {r.scale for r in keys_of(metric) if r.scale in ("fraction", "percent")}
    if len(scales) > 1:
        raise EvalkitError(f"evalkit/metrics/keys.csv: the score keys of metric {metric!r} mix the scales "
                           f"{' and '.join(sorted(scales))}; one metric returns one scale")
    return next(iter(scales), None)


@functools.lru_cache(maxsize=None)
def _canonicals() -> dict[str, Canonical]:
    out: dict[str, Canonical] = {}
    for r in table():
        if r.canonical in out:
            continue
        # the label of a canonical key is the one of its own-named row when there is one
        own = next((x for x in table() if x.canonical == r.canonical and x.key == r.canonical), r)
        out[r.canonical] = Canonical(r.canonical, own.label, own.latex, own.direction, own.is_count,
                                     own.scale == "number")
    return out


def canonical(name: str) -> Canonical | None:
    """Display information of a canonical key (exact name); None when unknown."""
    return _canonicals().get(name)


def resolve(name: str, metric: str | None = None) -> str | None:
    """Canonical key of ``name``: a key of ``metric`` when given, else a canonical key itself, a
    name printed in the papers (``metric`` = ``paper`` rows) or a key that every metric returning
    it maps to the same canonical key. Exact names only; None if unknown or ambiguous."""
    if metric is not None:
        row = lookup(metric, name)
        if row is not None:
            return row.canonical
    if name in _canonicals():
        return name
    row = lookup(PAPER, name)
    if row is not None:
        return row.canonical
    # a key some metric returns, when every metric returning it means the same quantity
    # (``Norm Precision`` is always P_Norm; TrackEval's ``sMOTA`` is sMOTSA for MOTS: None)
    return _unique_keys().get(name)


@functools.lru_cache(maxsize=None)
def _unique_keys() -> dict[str, str]:
    by_key: dict[str, set[str]] = {}
    for r in table():
        if not r.is_breakdown:
            by_key.setdefault(r.key, set()).add(r.canonical)
    return {k: next(iter(c)) for k, c in by_key.items() if len(c) == 1}


def to_display(row: MetricKey, value: float) -> float | None:
    """``value`` as returned → the papers' scale (fractions ×100; the rest unchanged); None for
    the row's "undefined" sentinel and for NaN (no cell)."""
    v = float(value)
    if math.isnan(v) or (row.missing is not None and v == row.missing):
        return None
    return v * 100.0 if row.scale == "fraction" else v
