"""``evalkit report --ci BASELINE``: the paired bootstrap interval against a baseline run as a
column of the leaderboard itself, in every format (md, html, latex, csv; model-index carries
published-style numbers only and leaves it out).

For each benchmark of a table that has a baseline run, one leaf column ``Δ vs <baseline model>
[95% CI]`` is inserted right after the leaves of the headline metric (the first key of the
metric's headline list, ``evalkit/metrics/keys.csv``, that the breakdown rebuilds). A row's cell
is ``run − baseline`` with its paired bootstrap 95% percentile interval, computed by
:func:`evalkit.reports.compare.compare_runs` (``evalkit compare BASELINE RUN``, same seed and
resamples: one bootstrap in the code base), converted to the key's display scale (fractions
×100, as the leaderboard prints them). ``≈`` marks an interval that contains 0 (within noise).
The baseline's own row reads ``baseline``; a run that cannot be compared (no ``breakdown.json``,
other samples) gets ``–`` and a footnote saying why.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import EvalkitError
from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from .rundirs import RunRecord
from .table import Cell, Column, Footnote, Table

__all__ = ["load_baselines", "add_ci_columns", "CI_MARK"]

CI_MARK = "≈"  # within noise: the interval contains 0 (FOOTNOTE_SYMBOLS["noise"])


def load_baselines(paths: list[str]) -> dict[str, RunRecord]:
    """``{benchmark: baseline run}`` from run directories or folders holding one run per benchmark.

    Raises:
        EvalkitError: two baseline runs of one benchmark.
    """
    from .rundirs import load_runs

    base: dict[str, RunRecord] = {}
    for r in load_runs(paths):
        if r.benchmark in base:
            raise EvalkitError(f"--ci: two baseline runs of {r.benchmark} ({base[r.benchmark].path} and {r.path}); "
                               f"give one run directory per benchmark")
        base[r.benchmark] = r
    return base


def _headline_key(base: RunRecord) -> tuple[str, str] | None:
    """(key as in ``metrics.json`` / the breakdown, canonical leaderboard key) of the baseline's
    headline metric with an aggregate, or None when the baseline has no breakdown aggregate."""
    from ..breakdown import load_breakdown
    from ..metrics.keys import headline, lookup

    try:
        aggs = load_breakdown(base.path)["aggregates"]
    except EvalkitError:
        return None
    metric = base.metric_id or ""
    for row in headline(metric):
        if row.key in aggs:
            return row.key, row.canonical
    if not aggs:
        return None
    key = next(iter(aggs))  # a metric the key table does not rank: its first aggregate
    row = lookup(metric, key)
    return key, (row.canonical if row is not None else key)


def _factor(metric: str | None, key: str) -> float:
    """metrics.json scale → display scale of a *difference* (never the sentinel handling of
    :func:`evalkit.metrics.keys.to_display`: a Δ of −1 is a number, not "undefined")."""
    from ..metrics.keys import lookup

    row = lookup(metric or "", key)
    return 100.0 if row is not None and row.scale == "fraction" else 1.0


def _interval_cell(base: RunRecord, run: RunRecord, key: str, seed: int, resamples: int,
                   why: list[str]) -> tuple[Cell, dict[str, Any] | None]:
    from .compare import compare_runs

    if Path(base.path).resolve() == Path(run.path).resolve():
        return Cell(marks={"baseline"}, source=str(run.path)), None
    try:
        c = compare_runs(base.path, run.path, seed=seed, resamples=resamples, top=0)
    except EvalkitError as e:  # an old run without breakdown.json, other samples: say why in a footnote
        msg = str(e)
        why.append(f"{run.model} on {run.benchmark}: {msg.split(' (')[0] if ' (' in msg else msg.split(';')[0]}")
        return Cell(marks={"no-ci"}, source=str(run.path)), None
    m = next((x for x in c["metrics"] if x["key"] == key), None)
    if m is None or m["delta"] is None or m["low"] is None or m["high"] is None:
        why.append(f"{run.model} on {run.benchmark}: no paired {key} units")
        return Cell(marks={"no-ci"}, source=str(run.path)), None
    f = _factor(c["metric"], key)
    cell = Cell(value=m["delta"] * f, source=str(run.path), interval=(m["low"] * f, m["high"] * f))
    if m["within_noise"]:
        cell.marks.add("noise")
    return cell, m


def add_ci_columns(tables: list[Table], baselines: dict[str, RunRecord], *, seed: int = DEFAULT_SEED,
                   resamples: int = DEFAULT_RESAMPLES) -> None:
    """Insert, in place, one ``ci`` column per benchmark with a baseline into ``tables``
    (:class:`~.table.Column` ``kind="ci"``, its cells' ``value`` = Δ, ``interval`` = (low, high),
    both in display scale) and a footnote per table that got one."""
    from .compare import unit_count
    from .mapping import benchmark_info
    from .table import header_label

    for t in tables:
        why: list[str] = []
        units: dict[str, str] = {}
        for bench in list(dict.fromkeys(c.benchmark for c in t.columns)):
            base = baselines.get(bench)
            if base is None:
                continue
            hk = _headline_key(base)
            if hk is None:
                raise EvalkitError(f"--ci: the baseline run {base.path} of {bench} has no breakdown.json with an "
                                   f"aggregate (rescore it with `evalkit run --mode score --resume {base.path}`)")
            key, canon = hk
            idx = [j for j, c in enumerate(t.columns) if c.benchmark == bench]
            at_key = [j for j in idx if t.columns[j].key == canon]
            after = (at_key or idx)[-1]
            proto = t.columns[(at_key or idx)[0]]
            label = header_label(benchmark_info(bench), canon)
            name = f"Δ vs {base.model} [95% CI]"
            # the metric's name is in the header already when its level sits above this leaf
            leaf = name if label in proto.levels[:-1] else f"{label} {name}"
            col = Column(bench, canon, "ci", proto.levels[:-1] + (leaf,), proto.count, proto.higher_is_better,
                         proto.number, str(base.path))
            t.columns.insert(after + 1, col)
            for r in t.rows:
                run = r.runs.get(bench)
                if run is None:
                    cell = Cell()
                else:
                    cell, m = _interval_cell(base, run, key, seed, resamples, why)
                    if m is not None:
                        units[bench] = unit_count(m)
                r.cells.insert(after + 1, cell)
        if any(c.kind == "ci" for c in t.columns):
            per = "; ".join(f"{b}: {u}" for b, u in units.items())
            t.footnotes.append(Footnote(CI_MARK, (
                f"Within noise: the paired bootstrap 95% interval of Δ = run - baseline contains 0 "
                f"({resamples} resamples, seed {seed}, as `evalkit compare BASELINE RUN`"
                + (f"; resampled units: {per}" if per else "") + ").")))
            if why:
                t.footnotes.append(Footnote("–", "No interval: " + "; ".join(dict.fromkeys(why)) + "."))
