"""The run summary printed by ``evalkit run`` and ``evalkit demo``: per run, the task's headline
metrics in the papers' scale and the full run directory.

The headline keys, their labels and scales come from the metric-key table
(:mod:`evalkit.metrics.keys`): ``HOTA 94.3 · MOTA 97.3 · IDF1 98.6 · IDSw 2`` for a MOTChallenge
run, never the first keys of the dict nor a fraction beside a percentage. Undefined values
(COCO's ``-1`` for an empty area range, NaN) are left out. A metric the table does not know
shows its registry ``primary`` key as returned.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from ..metrics import keys as metric_keys

__all__ = ["headline_items", "headline_text", "print_summary", "metric_of"]


def _fmt(row: metric_keys.MetricKey, value: float, decimals: int) -> str | None:
    v = metric_keys.to_display(row, value)
    if v is None:
        return None
    if row.is_count and float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.{decimals}f}"


def headline_items(metric_id: str | None, metrics: dict[str, Any] | None, decimals: int = 1) -> list[tuple[str, str]]:
    """``[(label, value text)]`` of the headline keys present in ``metrics``, by rank."""
    metrics = metrics or {}
    out: list[tuple[str, str]] = []
    if metric_id and metric_keys.keys_of(metric_id):
        seen: set[str] = set()
        for row in metric_keys.headline(metric_id):
            v = metrics.get(row.key)
            if row.canonical in seen or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            text = _fmt(row, v, decimals)
            if text is not None:
                seen.add(row.canonical)
                out.append((row.label, text))
        return out
    primary = _registry_primary(metric_id)
    v = metrics.get(primary) if primary else None
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        out.append((primary, f"{v:.4g}"))  # unknown scale: as returned
    return out


def _registry_primary(metric_id: str | None) -> str | None:
    if not metric_id:
        return None
    try:
        from ..registry import METRICS

        return METRICS.get(metric_id).meta.get("primary") if metric_id in METRICS else None
    except Exception:  # a broken plug-in must not hide the run directory
        return None


def headline_text(metric_id: str | None, metrics: dict[str, Any] | None, decimals: int = 1) -> str:
    """``HOTA 94.3 · MOTA 97.3 · IDF1 98.6 · IDSw 2`` (``-`` when nothing was scored)."""
    items = headline_items(metric_id, metrics, decimals)
    return " · ".join(f"{k} {v}" for k, v in items) or "-"


def print_summary(results: Iterable[tuple[str, str, Any]], file=None) -> None:
    """Print the summary table of ``(model, benchmark, RunResult)`` triples.

    On a terminal a table sized to it, with the full run directories on their own lines below
    (a path is never shortened with "…"); piped or redirected, the same table at its natural
    width, nothing wrapped or cut.
    """
    import sys

    from rich.console import Console
    from rich.table import Table

    file = file or sys.stdout
    results = list(results)
    probe = Console(file=file)
    tty = probe.is_terminal
    # not a terminal: rich would fall back to 80 columns and cut; give it all the width it needs
    console = probe if tty else Console(file=file, width=100_000, no_color=True, highlight=False)
    table = Table(title="evalkit results", title_justify="left")
    for col in ("model", "benchmark", "status", "headline metrics"):
        table.add_column(col, no_wrap=not tty, overflow="fold")
    if not tty:
        table.add_column("run dir", no_wrap=True)
    for model, bench, res in results:
        items = headline_items(metric_of(res.run_dir, bench), res.metrics)
        # on a terminal one metric per line of the cell (a name is never wrapped apart from its
        # value); piped, one line per run
        text = ("\n" if tty else " · ").join(f"{k} {v}" for k, v in items) or "-"
        cells = [model, bench, res.status, text]
        table.add_row(*cells, *([] if tty else [str(res.run_dir)]))
    console.print(table)
    if tty:
        for model, bench, res in results:
            console.print(f"run dir ({model} on {bench}): {res.run_dir}", soft_wrap=True, highlight=False)


def metric_of(run_dir, benchmark: str) -> str | None:
    """The metric id a run was scored with: its ``metrics.json`` says; else the benchmark's
    registry entry; None when neither knows."""
    import json
    from pathlib import Path

    try:
        m = json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))
        if isinstance(m, dict) and isinstance(m.get("metric"), str):
            return m["metric"]
    except (OSError, ValueError, TypeError):
        pass
    try:
        from ..registry import BENCHMARKS

        return BENCHMARKS.get(benchmark).meta.get("metric") if benchmark in BENCHMARKS else None
    except Exception:  # a broken plug-in must not hide the run directory
        return None
