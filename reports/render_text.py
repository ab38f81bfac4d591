"""Markdown and CSV renderings of the leaderboard tables, and the value formatting they share.

Markdown has one header row, so a column's header is its levels joined by spaces
(``RefCOCO testA Ours``); best values are ``**bold**``, second best ``<u>underlined</u>`` (GitHub
renders the tag). CSV is *long* (one line per model × benchmark × metric, full precision), the
form to load into pandas; the paper-style layout is for the other formats.
"""
from __future__ import annotations

import csv
import io

from .table import FOOTNOTE_SYMBOLS, MARK_ORDER, Cell, Column, Table

__all__ = ["format_value", "cell_text", "render_markdown", "render_csv", "CSV_FIELDS", "CI_FIELDS"]

# the left block, in the same order in every format (Markdown, LaTeX, HTML)
_LEFT = ("Method", "Backbone", "Model", "Weights")


def format_value(value: float | None, column: Column, decimals: int = 1) -> str:
    """Display text of a number: counts as integers (a count that is a mean, such as TrackEval's
    HOTA_TP, with ``decimals``), scores with ``decimals``, Δ signed."""
    if value is None:
        return "–"
    whole = column.count and float(value).is_integer()
    if column.kind == "delta":
        s = f"{value:+.0f}" if whole else f"{value:+.{decimals}f}"
        return s.lstrip("+-") if float(s) == 0 else s
    return f"{value:.0f}" if whole else f"{value:.{decimals}f}"


def cell_text(cell: Cell, column: Column, decimals: int = 1) -> str:
    """A cell's text in every format: :func:`format_value`, except the ``ci`` column
    (``--ci BASELINE``), ``+1.2 [-0.3, +2.7]``: Δ to the baseline and its 95% interval, signed,
    in the key's decimals; ``baseline`` on the baseline's own row."""
    if column.kind != "ci":
        return format_value(cell.value, column, decimals)
    if "baseline" in cell.marks:
        return "baseline"
    if cell.value is None or cell.interval is None:
        return "–"
    low, high = cell.interval
    return f"{cell.value:+.{decimals}f} [{low:+.{decimals}f}, {high:+.{decimals}f}]"


def _suffix(cell: Cell) -> str:
    return "".join(FOOTNOTE_SYMBOLS[m] for m in MARK_ORDER if m in cell.marks
                   and not (m == "partial" and cell.value is None))


def _md_cell(cell: Cell, col: Column, decimals: int) -> str:
    text = cell_text(cell, col, decimals)
    if "best" in cell.marks:
        text = f"**{text}**"
    elif "second" in cell.marks:
        text = f"<u>{text}</u>"
    return text + _suffix(cell)


def render_markdown(tables: list[Table], decimals: int = 1) -> str:
    out = []
    for t in tables:
        title = f"### {t.title}" + (f" ({t.caption_metric})" if t.caption_metric and t.caption_metric not in t.title else "")
        out.append(title)
        if t.source:
            out.append(f"\nLayout as in {t.source}.")
        head = list(_LEFT) + [" ".join(c.levels) for c in t.columns]
        out.append("")
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join([":---"] * len(_LEFT) + ["---:"] * len(t.columns)) + "|")
        for r in t.rows:
            cells = [r.method, r.backbone or "–", r.model, f"`{r.sha_short}`"]
            cells += [_md_cell(cell, c, decimals) for cell, c in zip(r.cells, t.columns)]
            out.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
        if t.footnotes:
            out.append("")
            out.extend(f"{f.symbol} {f.text}  " for f in t.footnotes)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


CSV_FIELDS = [
    "family", "benchmark", "dataset", "split", "metric", "model", "method", "backbone",
    "weights_sha256", "status", "limit", "samples_done", "samples_total", "ours", "paper",
    "delta", "flagged", "mark", "paper_source", "paper_ambiguous", "run",
]
#: appended to CSV_FIELDS when a table has a ``--ci BASELINE`` column (full precision, display
#: scale; ``ci_within_noise`` 1 when the interval contains 0): the export stays as it was without
CI_FIELDS = ["ci_baseline", "ci_delta", "ci_low", "ci_high", "ci_within_noise"]


def render_csv(tables: list[Table]) -> str:
    """Long CSV: the table's columns, then every other key of the runs (raw counts included)."""
    from .mapping import benchmark_info

    buf = io.StringIO()
    ci = any(c.kind == "ci" for t in tables for c in t.columns)
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS + (CI_FIELDS if ci else []), lineterminator="\n")
    w.writeheader()
    for t in tables:
        # Group the leaf columns of one (benchmark, metric) together; extra columns after them.
        groups: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}
        for j, c in enumerate(t.columns):
            groups.setdefault((c.benchmark, c.key), {})[c.kind] = ("cells", j)
        for j, c in enumerate(t.extra_columns):
            groups.setdefault((c.benchmark, c.key), {})["ours"] = ("extra_cells", j)
        cols = {(c.benchmark, c.key): c for c in [*t.extra_columns, *t.columns] if c.kind == "ours"}
        cols_ci = {(c.benchmark, c.key): c for c in t.columns if c.kind == "ci"}
        for r in t.rows:
            for (bench, key), idx in groups.items():
                run = r.runs.get(bench)
                cell = {kind: getattr(r, where)[j] for kind, (where, j) in idx.items()}
                if "ours" not in cell:  # a ci column of a key the runs do not report: nothing to pair it with
                    continue
                ours, paper, delta = cell["ours"], cell.get("paper"), cell.get("delta")
                count = cols[(bench, key)].count
                if run is None and (paper is None or paper.value is None):
                    continue
                info = benchmark_info(bench)
                w.writerow({
                    "family": t.family, "benchmark": bench, "dataset": info.dataset, "split": info.split,
                    "metric": key, "model": r.model, "method": r.method, "backbone": r.backbone,
                    "weights_sha256": r.weights_sha256, "status": run.status if run else "",
                    "limit": (run.limit if run and run.limit is not None else ""),
                    "samples_done": run.samples.get("done", "") if run else "",
                    "samples_total": run.samples.get("total", "") if run else "",
                    "ours": _num(ours.value, count), "paper": _num(paper.value if paper else None, count),
                    "delta": _num(delta.value if delta else None, count),
                    "flagged": int("flag" in delta.marks) if delta is not None and delta.value is not None else "",
                    "mark": "best" if "best" in ours.marks else "second" if "second" in ours.marks else "",
                    "paper_source": paper.source if paper else "",
                    "paper_ambiguous": int("ambiguous" in paper.marks) if paper and paper.value is not None else "",
                    "run": str(run.path) if run else "",
                    **(_ci_fields(cell.get("ci"), cols_ci.get((bench, key))) if ci else {}),
                })
    return buf.getvalue()


def _ci_fields(cell: Cell | None, col: Column | None) -> dict[str, str]:
    """The ``CI_FIELDS`` of one csv line: empty unless it is the key of a ``ci`` column."""
    if cell is None or col is None:
        return {}
    base = col.baseline
    if "baseline" in cell.marks:
        return {"ci_baseline": base}
    if cell.value is None or cell.interval is None:
        return {"ci_baseline": base} if "no-ci" in cell.marks else {}
    return {"ci_baseline": base, "ci_delta": _num(cell.value), "ci_low": _num(cell.interval[0]),
            "ci_high": _num(cell.interval[1]), "ci_within_noise": str(int("noise" in cell.marks))}


def _num(v: float | None, count: bool = False) -> str:
    """Full precision; a count that is a whole number as an integer (``109``, not ``109.0``)."""
    if v is None:
        return ""
    if count and float(v).is_integer():
        return str(int(v))
    return repr(round(v, 10))
