"""The published numbers of the four papers, as package data, with lookups.

``load_paper_results()`` returns the normalised table built by :mod:`evalkit.reports.paper_build`
(columns documented there). :func:`lookup` answers "what did the paper print for this model on
this benchmark and metric", accepting our ids or the papers' names:

>>> lookup("uninext-r50", "davis17-val", "J&F").value
74.5
>>> lookup("UNINEXT-R50", "DAVIS-2017", "J").value   # printed names work too
71.3

Only ``main`` rows answer by default (the headline tables, not ablations or variants); among
several main rows the model's own paper wins (``primary``). ``include_ablations=True`` searches
every row, and :func:`lookup_rows` returns all matches for inspection.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from ..errors import EvalkitError
from .mapping import all_models, fallback_benchmarks, resolve_metric_key

__all__ = ["PaperValue", "load_paper_results", "lookup", "lookup_rows", "row_to_value"]


@dataclass(frozen=True)
class PaperValue:
    """One published cell. ``value`` is in the paper's unit (percent points for scores)."""

    value: float
    paper: str
    table: str
    method: str
    backbone: str
    paper_benchmark: str
    paper_split: str
    paper_metric: str
    unit: str
    ambiguous: bool
    notes: str

    @property
    def source(self) -> str:
        return f"{self.paper} {self.table}"


@functools.lru_cache(maxsize=1)
def _load() -> pd.DataFrame:
    path = resources.files("evalkit.reports").joinpath("data", "paper_results.csv")
    try:
        with path.open("r", encoding="utf-8") as f:
            df = pd.read_csv(f, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise EvalkitError("package data reports/data/paper_results.csv is missing from the install") from None
    df["value"] = df["value"].astype(float)
    for col in ("primary", "ambiguous"):
        df[col] = df[col].astype(int).astype(bool)
    return df


@functools.lru_cache(maxsize=1)
def _primary_index() -> dict[tuple[str, str, str], int]:
    """(model_id, benchmark_id, metric_key) → row position of the primary row (fast path)."""
    df = _load()
    prim = df[df.primary]
    return {k: i for k, i in zip(zip(prim.model_id, prim.benchmark_id, prim.metric_key), prim.index)}


def row_to_value(r) -> PaperValue:
    """A PaperValue from one row of the table (a pandas Series)."""
    return PaperValue(
        float(r.value), r.paper, r.table, r.method, r.backbone, r.paper_benchmark, r.paper_split,
        r.paper_metric, r.unit, bool(r.ambiguous), r.notes,
    )


def load_paper_results() -> pd.DataFrame:
    """All published cells (a copy; safe to modify). Columns: see :mod:`paper_build`."""
    return _load().copy()


def _model_mask(df: pd.DataFrame, model: str, backbone: str | None) -> pd.Series:
    """Rows of ``model``: our id, or a printed method name (optionally with its backbone)."""
    if (df.model_id == model).any():
        return df.model_id == model
    mask = df.method.str.lower() == model.lower()
    if backbone:
        mask &= df.backbone.str.lower() == backbone.lower()
    if not mask.any():
        # A printed alias (``UNINEXT-R50``) of one of our models that the table prints otherwise.
        ids = [m.id for m in all_models() if model in (m.method, *m.aliases) and (not backbone or m.backbone == backbone)]
        if len(ids) == 1:
            return df.model_id == ids[0]
    return mask


def _benchmark_mask(df: pd.DataFrame, benchmark: str, split: str | None) -> pd.Series:
    """Rows of ``benchmark``: our id, or the paper's name (``DAVIS-2017``, ``RefCOCO/testA``)."""
    if benchmark in fallback_benchmarks() or (df.benchmark_id == benchmark).any():
        return df.benchmark_id == benchmark
    name, _, sp = benchmark.partition("/")
    mask = df.paper_benchmark.str.lower() == name.lower()
    sp = split if split is not None else sp
    if sp:
        mask &= df.paper_split == sp
    return mask


def lookup_rows(
    model: str,
    benchmark: str,
    metric: str | None = None,
    *,
    backbone: str | None = None,
    split: str | None = None,
    include_ablations: bool = False,
) -> pd.DataFrame:
    """Every published row matching the model, benchmark and (optionally) metric."""
    df = _load()
    mask = _model_mask(df, model, backbone) & _benchmark_mask(df, benchmark, split)
    if metric is not None:
        key = resolve_metric_key(metric)
        mask &= (df.metric_key == key) if key else (df.paper_metric == metric)
    if not include_ablations:
        mask &= df.role == "main"
    return df[mask].copy()


def lookup(
    model: str,
    benchmark: str,
    metric: str,
    *,
    backbone: str | None = None,
    split: str | None = None,
    include_ablations: bool = False,
) -> PaperValue | None:
    """The published value for (model, benchmark, metric), or None when no paper prints it.

    ``model``: our model id or the method as printed (``UNINEXT``; pass ``backbone`` when the
    name alone is ambiguous). ``benchmark``: our id or the paper's benchmark name (with
    ``/split`` or ``split=``). ``metric``: our key, the paper's name or an alias.
    """
    key = resolve_metric_key(metric)
    hit = _primary_index().get((model, benchmark, key or metric))
    if hit is not None and backbone is None and split is None:
        return row_to_value(_load().loc[hit])
    rows = lookup_rows(model, benchmark, metric, backbone=backbone, split=split, include_ablations=include_ablations)
    if rows.empty:
        return None
    prim = rows[rows.primary]
    if not prim.empty:
        rows = prim
    else:
        # Not a primary lookup (printed names, ablations): prefer unambiguous main rows.
        rows = rows.assign(_r=(rows.role != "main").astype(int)).sort_values(["_r", "ambiguous"], kind="stable")
    return row_to_value(rows.iloc[0])
