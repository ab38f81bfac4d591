"""Mapping between our names and the papers' names: benchmarks, metrics, models, task families.

The tables are package data in ``reports/data/`` (CSV, one row per name):

- ``benchmarks.csv``: benchmark id (``dataset-split[-task]``) → family, the dataset/split labels
  printed in the column headers, the paper's benchmark/split names (as normalised in
  ``paper_results.csv``) and the ordered metric columns. A metric column may carry a
  benchmark-specific label as ``key:label`` (BDD100K MOTS prints ``mMOTA`` as ``mMOTSA``).
- metric keys are not here: :mod:`evalkit.metrics.keys` (``evalkit/metrics/keys.csv``) is the
  one table of keys, names, directions and scales, shared with the metrics and the run summary.
- ``models.csv``: model id → family, the paper it is published in, the method name and backbone
  as printed, other printed names, and optionally the tables where a mapping applies only
  (``GLEE-Lite`` in GLEE Table 4 is the VOS fine-tuned checkpoint).
- ``families.csv``: task families in the order the papers present them, with titles, short
  names for the radar chart and the headline metric(s).

The benchmark registry (:data:`evalkit.registry.BENCHMARKS`) wins where it knows a benchmark: its
``task`` and ``meta["paper"]`` entries (``[{"paper", "table", "benchmark", "metric"}]``) are merged
over these tables. The CSVs keep reports working when the registry has no such entry.
"""
from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..errors import EvalkitError
from ..metrics import keys as metric_keys

__all__ = [
    "BenchmarkInfo",
    "MetricInfo",
    "ModelInfo",
    "Family",
    "benchmark_info",
    "metric_info",
    "model_info",
    "families",
    "resolve_metric_key",
    "read_data_csv",
]


def read_data_csv(name: str) -> list[dict[str, str]]:
    """Rows of ``reports/data/<name>`` as dicts (all values str, empty cells ``""``)."""
    path = resources.files("evalkit.reports").joinpath("data", name)
    try:
        with path.open("r", encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        raise EvalkitError(f"package data file reports/data/{name} is missing from the install") from None


@dataclass(frozen=True)
class MetricInfo:
    """Display information of one canonical metric key (from ``evalkit/metrics/keys.csv``).

    ``kind``: ``score`` (a percentage-like quantity, shown in percent points), ``count``
    (counts and sizes, shown as integers, never rescaled) or ``number`` (a real shown as is).
    ``higher_is_better``: None for keys without a direction (sizes such as ``GT_Dets``).
    """

    key: str
    label: str
    latex: str
    kind: str
    higher_is_better: bool | None
    known: bool = True


@dataclass(frozen=True)
class BenchmarkInfo:
    """How one benchmark id is shown and looked up in the papers.

    ``metrics``: ordered metric keys of the paper-style columns; ``labels``: key → header label
    when the papers print a benchmark-specific name.
    """

    id: str
    family: str
    dataset: str
    split: str
    paper_benchmark: str
    paper_split: str
    metrics: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    paper_refs: tuple[dict[str, Any], ...] = ()
    known: bool = True

    def label(self, key: str) -> str:
        return self.labels.get(key) or metric_info(key).label


@dataclass(frozen=True)
class ModelInfo:
    id: str
    family: str
    paper: str
    method: str
    backbone: str
    aliases: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Family:
    id: str
    title: str
    short: str
    primary: tuple[str, ...]
    paper_table: str
    hf_task: str = ""


def resolve_metric_key(name: str, metric: str | None = None) -> str | None:
    """Canonical metric key for ``name``: a key of metric id ``metric``, a canonical key or a name
    printed in the papers (exact names, see :mod:`evalkit.metrics.keys`); None if unknown."""
    return metric_keys.resolve(name, metric)


def metric_info(key: str) -> MetricInfo:
    """Display information for a canonical key; an unknown key is shown under its own name,
    as a score without a direction (never bold)."""
    c = metric_keys.canonical(key)
    if c is None:
        return MetricInfo(key, key, _latex_escape(key), "score", None, known=False)
    kind = "count" if c.count else "number" if c.number else "score"
    return MetricInfo(c.key, c.label, c.latex, kind, c.higher_is_better)


def _latex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        s = s.replace(a, b)
    return s


@functools.lru_cache(maxsize=None)
def _fallback_benchmarks() -> dict[str, BenchmarkInfo]:
    out = {}
    for r in read_data_csv("benchmarks.csv"):
        keys, labels = [], {}
        for item in r["metrics"].split("|"):
            key, _, label = item.partition(":")
            keys.append(key)
            if label:
                labels[key] = label
        out[r["benchmark_id"]] = BenchmarkInfo(
            r["benchmark_id"], r["family"], r["dataset"], r["split"], r["paper_benchmark"],
            r["paper_split"], tuple(keys), labels,
        )
    return out


def fallback_benchmarks() -> dict[str, BenchmarkInfo]:
    """The packaged benchmark table only (no registry), id → info."""
    return dict(_fallback_benchmarks())


# Registry tasks that name a family differently from ours.
_TASK_TO_FAMILY = {"detection": "det", "instance-seg": "seg", "inst-seg": "seg", "vss": "vps",
                   "vps": "vps", "mot": "mot", "mots": "mots", "r-vos": "rvos", "ref-vos": "rvos"}


def _registry_entry(benchmark_id: str):
    """The benchmark registry entry, or None when the registry does not know the id (or the
    registry's providers fail to import: a report must still render from the run records)."""
    try:
        from ..registry import BENCHMARKS

        if benchmark_id in BENCHMARKS:
            return BENCHMARKS.get(benchmark_id)
    except Exception:  # a broken provider must not take the report down with it
        return None
    return None


@functools.lru_cache(maxsize=None)
def benchmark_info(benchmark_id: str, task: str | None = None) -> BenchmarkInfo:
    """Display and lookup information for ``benchmark_id``.

    Registry metadata is merged over the packaged table; an id known to neither gets a generic
    entry whose family is the run's task (or ``other``) and whose metrics are those the runs
    report.
    """
    base = _fallback_benchmarks().get(benchmark_id)
    entry = _registry_entry(benchmark_id)
    refs: tuple[dict[str, Any], ...] = ()
    if entry is not None:
        refs = tuple(r for r in (entry.meta.get("paper") or []) if isinstance(r, dict))
    if base is None:
        fam = (entry.task if entry is not None and entry.task else task) or "other"
        fam = _TASK_TO_FAMILY.get(fam, fam)
        metrics: list[str] = []
        for r in refs:
            k = resolve_metric_key(str(r.get("metric", ""))) or str(r.get("metric", ""))
            if k and k not in metrics:
                metrics.append(k)
        dataset, _, split = benchmark_id.partition("-")
        return BenchmarkInfo(benchmark_id, fam, dataset, split, "", "", tuple(metrics), {}, refs, known=False)
    if refs:
        return BenchmarkInfo(base.id, base.family, base.dataset, base.split, base.paper_benchmark,
                             base.paper_split, base.metrics, base.labels, refs)
    return base


@functools.lru_cache(maxsize=None)
def _models() -> list[ModelInfo]:
    return [
        ModelInfo(r["model_id"], r["family"], r["paper"], r["method"], r["backbone"],
                  tuple(a for a in r["aliases"].split("|") if a),
                  tuple(t for t in r["tables"].split("|") if t))
        for r in read_data_csv("models.csv")
    ]


def all_models() -> list[ModelInfo]:
    return list(_models())


def model_info(model_id: str) -> ModelInfo:
    """Paper naming for one of our model ids; unknown ids are shown under their own name."""
    for m in _models():
        if m.id == model_id:
            return m
    return ModelInfo(model_id, "", "", model_id, "")


@functools.lru_cache(maxsize=None)
def _families() -> dict[str, Family]:
    return {
        r["family"]: Family(r["family"], r["title"], r["short"], tuple(r["primary"].split("|")), r["paper_table"], r["hf_task"])
        for r in read_data_csv("families.csv")
    }


def families() -> dict[str, Family]:
    """Family id → Family, in the papers' order of presentation."""
    return dict(_families())


def family(fid: str) -> Family:
    return _families().get(fid) or Family(fid, fid, fid, (), "", fid)
