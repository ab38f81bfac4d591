"""The leaderboard model: paper-style tables built from run records, format-independent.

One :class:`Table` per benchmark family (detection, REC, VOS, ...), in the order the papers present
them. Columns are (benchmark, metric) pairs with a multi-level header ``dataset › split › metric``
(a level is dropped when it says nothing: one split per dataset, or one metric for the whole
table); with ``paper=True`` each metric gets three leaf columns, ``Ours | Paper | Δ``. Rows are one
per (model, weights sha256): the same model id with different weights is a different row.

Marks, as the papers print them: the best value of a column in bold, the second best underlined
(only among complete runs; second best only when at least three rows compete). Footnotes:

- ``†`` server-pending: the split is scored by an evaluation server; the upload file is in the
  run's ``results/``.
- ``‡`` partial: ``--limit`` or skipped failed samples; the number is not comparable and never
  ranked or flagged.
- ``*`` Δ beyond the tolerance: ``|ours − paper| > tolerance`` percent points for scores, compared
  at the printed precision
  (default :data:`DEFAULT_TOLERANCE` = 0.5: papers print one decimal, so 0.05 is rounding, and
  re-evaluations of the released checkpoints in the papers' own repositories typically land within
  a few tenths); for counts (IDSw) the relative difference beyond ``count_tolerance`` (default 5 %).
- ``§`` the published cell is flagged ambiguous in the extraction (see its notes).
- ``°`` inferred only (``--mode infer``): predictions written, not scored yet.
- ``≈`` within noise (``--ci BASELINE`` columns, ``reports/ci_column.py``): the paired bootstrap
  95% interval of the difference to the baseline run contains 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .mapping import (BenchmarkInfo, all_models, benchmark_info, families, family, fallback_benchmarks,
                      metric_info, model_info, resolve_metric_key)
from .paper import PaperValue, load_paper_results, lookup, row_to_value
from .rundirs import RunRecord, select_latest

__all__ = ["Cell", "Column", "Row", "Table", "Footnote", "build_tables", "DEFAULT_TOLERANCE",
           "DEFAULT_COUNT_TOLERANCE", "FOOTNOTE_SYMBOLS"]

DEFAULT_TOLERANCE = 0.5
DEFAULT_COUNT_TOLERANCE = 0.05
FOOTNOTE_SYMBOLS = {"pending": "†", "partial": "‡", "flag": "*", "ambiguous": "§", "unscored": "°", "noise": "≈"}
MARK_ORDER = ("pending", "unscored", "partial", "flag", "ambiguous", "noise")


@dataclass(frozen=True)
class Column:
    """A leaf column. ``levels``: header path, top first. ``kind``: ours | paper | delta | ci
    (Δ against a baseline run with its bootstrap interval: ``reports/ci_column.py``)."""

    benchmark: str
    key: str
    kind: str
    levels: tuple[str, ...]
    count: bool = False  # counts and sizes: printed as integers, never rescaled
    higher_is_better: bool | None = True  # None: no direction, never ranked (sizes such as GT_Dets)
    number: bool = False  # a real shown as is (FP per frame): decimals, not percent points
    baseline: str = ""  # ci columns: the baseline run's directory


@dataclass
class Cell:
    """``value`` in display scale (percent points / counts); None when absent. ``marks`` ⊆
    {best, second, partial, pending, flag, ambiguous, noise, baseline, no-ci}."""

    value: float | None = None
    marks: set[str] = field(default_factory=set)
    source: str = ""  # "UNINEXT Table 6" for paper cells; the run path for ours
    interval: tuple[float, float] | None = None  # ci cells: the 95% interval (low, high) of ``value``


@dataclass
class Row:
    model: str
    method: str
    backbone: str
    weights_sha256: str
    cells: list[Cell]
    runs: dict[str, RunRecord] = field(default_factory=dict)  # benchmark → run
    extra_cells: list[Cell] = field(default_factory=list)  # cells of Table.extra_columns

    @property
    def sha_short(self) -> str:
        return self.weights_sha256[:8] if self.weights_sha256 else "—"


@dataclass(frozen=True)
class Footnote:
    symbol: str
    text: str


@dataclass
class Table:
    family: str
    title: str
    source: str  # the papers' table(s) this one follows
    columns: list[Column]
    rows: list[Row]
    footnotes: list[Footnote]
    caption_metric: str = ""  # the metric when the metric level was dropped
    # every other leaderboard key of the runs (raw counts, recalls, ...): the csv export only.
    # ``extra_columns[i]`` is an "ours" column; ``Row.extra_cells[i]`` its cell, ranked alike.
    extra_columns: list[Column] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return len(self.columns[0].levels) if self.columns else 0

    def header_spans(self, level: int) -> list[tuple[str, int]]:
        """(label, colspan) runs of equal header prefixes at ``level`` (0 = top)."""
        spans: list[tuple[str, int]] = []
        prev = None
        for c in self.columns:
            pre = c.levels[: level + 1]
            if spans and pre == prev:
                spans[-1] = (spans[-1][0], spans[-1][1] + 1)
            else:
                spans.append((c.levels[level], 1))
            prev = pre
        return spans


def _bench_order() -> dict[str, int]:
    return {b: i for i, b in enumerate(fallback_benchmarks())}


def _model_order(model: str) -> tuple[int, str]:
    """Rows follow models.csv (families, then backbones, as the papers group them)."""
    ids = [m.id for m in all_models()]
    return (ids.index(model) if model in ids else len(ids), model)


def _paper_value(model: str, info: BenchmarkInfo, key: str) -> PaperValue | None:
    pv = lookup(model, info.id, key)
    if pv is not None or not info.paper_refs:
        return pv
    # The benchmark registry names the paper cells (paper, table, benchmark, metric) itself.
    df = load_paper_results()
    for ref in info.paper_refs:
        m = df[(df.model_id == model) & (df.metric_key == key)]
        if ref.get("paper"):
            m = m[m.paper.str.lower() == str(ref["paper"]).lower()]
        if ref.get("table"):
            m = m[m.table == str(ref["table"])]
        if ref.get("benchmark"):
            name = str(ref["benchmark"])
            m = m[(m.paper_benchmark == name) | ((m.paper_benchmark + " " + m.paper_split) == name)
                  | ((m.paper_benchmark + "/" + m.paper_split) == name)]
        if not m.empty:
            m = m.assign(_r=(m.role != "main").astype(int)).sort_values(["_r", "ambiguous"], kind="stable")
            return row_to_value(m.iloc[0])
    return None


def _metric_keys(info: BenchmarkInfo, runs: list[RunRecord], models: Iterable[str], paper: bool) -> list[str]:
    have = {k for r in runs for k in r.values}
    keys = [k for k in info.metrics if k in have or (paper and any(_paper_value(m, info, k) for m in models))]
    if not keys:
        listed_in_runs = list(dict.fromkeys(k for r in runs for k in r.values))
        # a benchmark without a paper layout: the task's headline keys (evalkit/metrics/keys.csv),
        # in their rank order; raw counts and the rest stay in the csv export
        declared = _declared_keys(runs)
        keys = [k for k in declared if k in listed_in_runs] or listed_in_runs or list(info.metrics[:1])
    return list(dict.fromkeys(keys))


def _declared_keys(runs: list[RunRecord]) -> list[str]:
    """Canonical headline keys of the runs' metric: the key table's, else the registry's
    ``reports`` list for a metric the table does not know (empty when neither knows it)."""
    from evalkit.metrics import keys as metric_keys
    from evalkit.registry import METRICS

    for r in runs:
        metric = r.metric_id
        if not metric:
            continue
        if metric_keys.keys_of(metric):
            return list(dict.fromkeys(row.canonical for row in metric_keys.headline(metric)))
        if metric in METRICS:
            return [resolve_metric_key(k, metric) or k for k in METRICS.get(metric).meta.get("reports", [])]
    return []


def all_keys(runs: Iterable[RunRecord], shown: list[str]) -> list[str]:
    """Every leaderboard key of ``runs``: the shown columns first, then the rest in the metric's
    table order (the csv export carries all of them, raw counts included)."""
    out = list(shown)
    for r in runs:
        out += [k for k in r.values if k not in out]
    return out


LOWER_MARK = " ↓"  # after the header of a lower-is-better key, as UNINEXT Tables 7-8 print ID Sw. ↓


def header_label(info: BenchmarkInfo, key: str) -> str:
    """The printed header of ``key`` on a benchmark: its label, with ``↓`` when lower is better."""
    return info.label(key) + (LOWER_MARK if metric_info(key).higher_is_better is False else "")


def _build_columns(benches: list[BenchmarkInfo], keys: dict[str, list[str]], paper: bool,
                   published: set[tuple[str, str]] = frozenset()) -> tuple[list[Column], str]:
    """Leaf columns; with ``paper`` the Paper and Δ leaves are added only to the (benchmark, key)
    pairs in ``published`` (a number printed in a paper for some row of the table)."""
    by_dataset: dict[str, set[str]] = {}
    for b in benches:
        by_dataset.setdefault(b.dataset, set()).add(b.split)
    show_split = any(len(s) > 1 for s in by_dataset.values())
    all_keys = {k for b in benches for k in keys[b.id]}
    show_metric = len(all_keys) > 1 or any(len(keys[b.id]) > 1 for b in benches)
    caption = "" if show_metric else header_label(benches[0], next(iter(all_keys)))
    cols = []
    for b in benches:
        for k in keys[b.id]:
            mi = metric_info(k)
            base = (b.dataset,) + ((b.split,) if show_split else ()) + ((header_label(b, k),) if show_metric else ())
            kinds = ("ours", "paper", "delta") if paper and (b.id, k) in published else ("ours",)
            for kind in kinds:
                levels = base + ({"ours": "Ours", "paper": "Paper", "delta": "Δ"}[kind],) if paper else base
                cols.append(Column(b.id, k, kind, levels, mi.kind == "count", mi.higher_is_better,
                                   mi.kind == "number"))
    return cols, caption


def _rank(table: Table) -> None:
    """Bold/underline the best and second-best 'ours' value per column among complete runs, on
    the side the key's direction says (keys without a direction are never marked)."""
    _rank_cells(table.columns, [r.cells for r in table.rows])
    _rank_cells(table.extra_columns, [r.extra_cells for r in table.rows])


def _rank_cells(columns: list[Column], rows: list[list[Cell]]) -> None:
    """``rows[i][j]``: row i's cell of ``columns[j]``."""
    for j, c in enumerate(columns):
        if c.kind != "ours" or c.higher_is_better is None:
            continue
        ranked = [r[j] for r in rows if r[j].value is not None and "partial" not in r[j].marks]
        if len(ranked) < 2:
            continue
        uniq = sorted({cell.value for cell in ranked}, reverse=c.higher_is_better)
        best = uniq[0]
        second = uniq[1] if len(uniq) > 1 and len(ranked) >= 3 else None
        for cell in ranked:
            if cell.value == best:
                cell.marks.add("best")
            elif second is not None and cell.value == second:
                cell.marks.add("second")


def build_tables(
    runs: Iterable[RunRecord],
    *,
    paper: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
    count_tolerance: float = DEFAULT_COUNT_TOLERANCE,
    benchmarks: Iterable[str] | None = None,
    decimals: int = 1,
) -> list[Table]:
    """Group runs into paper-style tables (see module docstring).

    ``runs``: any run records; for each (model, sha256, benchmark) the best run is kept
    (:func:`~.rundirs.select_latest`). ``benchmarks``: restrict to these ids. ``decimals``:
    the printed precision, at which Δ is compared with the tolerance.
    """
    chosen = select_latest(runs)
    if benchmarks is not None:
        keep = set(benchmarks)
        chosen = {k: v for k, v in chosen.items() if v.benchmark in keep}
    order = _bench_order()
    fam_order = {f: i for i, f in enumerate(families())}
    by_family: dict[str, dict[str, list[RunRecord]]] = {}
    for r in chosen.values():
        info = benchmark_info(r.benchmark, r.task)
        by_family.setdefault(info.family, {}).setdefault(r.benchmark, []).append(r)
    tables = []
    for fam in sorted(by_family, key=lambda f: (fam_order.get(f, len(fam_order)), f)):
        bench_runs = by_family[fam]
        benches = [benchmark_info(b, bench_runs[b][0].task)
                   for b in sorted(bench_runs, key=lambda b: (order.get(b, len(order)), b))]
        row_keys = sorted({r.row_key for rs in bench_runs.values() for r in rs}, key=lambda k: (_model_order(k[0]), k[1]))
        models = {m for m, _ in row_keys}
        keys = {b.id: _metric_keys(b, bench_runs[b.id], models, paper) for b in benches}
        published = {(b.id, k) for b in benches for k in keys[b.id]
                     if paper and any(_paper_value(m, b, k) is not None for m in models)}
        # no published number for any cell: no Paper/Δ columns at all (and no "Ours" level)
        cols, caption = _build_columns(benches, keys, paper and bool(published), published)
        extra = [Column(b.id, k, "ours", (b.dataset, b.split, b.label(k)), metric_info(k).kind == "count",
                        metric_info(k).higher_is_better, metric_info(k).kind == "number")
                 for b in benches for k in all_keys(bench_runs[b.id], keys[b.id])[len(keys[b.id]):]]
        used: dict[str, list[str]] = {}
        rows = []
        for model, sha in row_keys:
            mi = model_info(model)
            row = Row(model, mi.method, mi.backbone, sha, [])
            for b in benches:
                run = chosen.get((model, sha, b.id))
                if run is not None:
                    row.runs[b.id] = run
            for c in cols:
                row.cells.append(_cell(c, row, benchmark_info(c.benchmark), paper, tolerance, count_tolerance, decimals, used))
            row.extra_cells = [_cell(c, row, benchmark_info(c.benchmark), False, tolerance, count_tolerance,
                                     decimals, {}) for c in extra]
            rows.append(row)
        f = family(fam)
        # "Layout as in <paper table>" only where a benchmark of the table has that paper layout
        source = f.paper_table if any(b.known for b in benches) else ""
        table = Table(fam, f.title, source, cols, rows, [], caption, extra)
        _rank(table)
        table.footnotes = _footnotes(used, tolerance, count_tolerance)
        tables.append(table)
    return tables


def _cell(c: Column, row: Row, info: BenchmarkInfo, paper: bool, tol: float, count_tol: float,
          decimals: int, used: dict[str, list[str]]) -> Cell:
    run = row.runs.get(c.benchmark)
    ours = run.values.get(c.key) if run is not None else None
    pv = _paper_value(row.model, info, c.key) if paper else None
    cell = Cell()
    if c.kind == "ours":
        cell.value, cell.source = ours, (str(run.path) if run is not None else "")
        if run is not None and run.status == "server-pending":
            cell.marks.add("pending")
            used.setdefault("pending", []).append(f"{row.model} on {run.benchmark}")
        elif run is not None and run.status == "inferred":
            cell.marks.add("unscored")
            used.setdefault("unscored", []).append(f"{row.model} on {run.benchmark}")
        elif run is not None and run.status == "partial" and ours is not None:
            cell.marks.add("partial")
            used.setdefault("partial", []).append(_partial_note(run))
    elif c.kind == "paper":
        if pv is not None:
            cell.value, cell.source = pv.value, pv.source
            if pv.ambiguous:
                cell.marks.add("ambiguous")
                used.setdefault("ambiguous", []).append(f"{pv.source}, {pv.method} {pv.paper_benchmark} {pv.paper_metric}")
    else:  # delta
        if pv is not None and ours is not None:
            cell.value = ours - pv.value
            if run.status == "partial":
                cell.marks.add("partial")
            elif _beyond(cell.value, pv.value, c.count, tol, count_tol, decimals):
                cell.marks.add("flag")
                used.setdefault("flag", []).append(f"{row.model} {c.benchmark} {c.key}")
    return cell


def _beyond(delta: float, ref: float, count: bool, tol: float, count_tol: float, decimals: int) -> bool:
    if count:
        return abs(delta) > count_tol * max(abs(ref), 1.0)
    # Compared at the printed precision: a Δ printed as 0.5 is never flagged at tolerance 0.5.
    return round(abs(delta), decimals) > tol


def _partial_note(run: RunRecord) -> str:
    # ``total`` counts the split's samples, ``selected`` those a --limit/--samples run covers
    s = run.samples
    done = f"{s.get('done', '?')} of {s.get('total', '?')} samples"
    if run.limit:
        why = f"--limit {run.limit}"
    elif s.get("selected", s.get("total")) != s.get("total"):
        why = "--samples"
    else:
        why = f"{s.get('failed', 0)} failed samples skipped"
    return f"{run.model} on {run.benchmark}: {why}, {done}"


def _footnotes(used: dict[str, list[str]], tol: float, count_tol: float) -> list[Footnote]:
    out = []
    if "pending" in used:
        out.append(Footnote(FOOTNOTE_SYMBOLS["pending"], "Awaiting server score (upload file in the run's results/): "
                            + "; ".join(dict.fromkeys(used["pending"])) + "."))
    if "unscored" in used:
        out.append(Footnote(FOOTNOTE_SYMBOLS["unscored"], "Predictions written but not scored yet (--mode infer): "
                            + "; ".join(dict.fromkeys(used["unscored"])) + "."))
    if "partial" in used:
        out.append(Footnote(FOOTNOTE_SYMBOLS["partial"], "Partial run, not comparable with full-split numbers: "
                            + "; ".join(dict.fromkeys(used["partial"])) + "."))
    if "flag" in used:
        out.append(Footnote(FOOTNOTE_SYMBOLS["flag"], f"|Δ| beyond tolerance ({tol:g} points; counts {count_tol:.0%} relative)."))
    if "ambiguous" in used:
        out.append(Footnote(FOOTNOTE_SYMBOLS["ambiguous"], "Published cell flagged ambiguous in the extraction: "
                            + "; ".join(dict.fromkeys(used["ambiguous"])) + "."))
    return out
