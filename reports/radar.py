"""Radar chart of task-level scores across models (the style of UNINEXT's Figure 3).

One axis per task family (Det, Seg, REC, RES, SOT, VOS, MOT, MOTS, VIS, R-VOS, ...), one polygon
per (model, weights). A task's score is the mean over the family's benchmarks of the family's
headline metric (``families.csv``: AP for detection, P@0.5 for REC, J&F or G for VOS, ...), from
complete runs only: partial and server-pending runs have no comparable number. Axes are on the
absolute 0-100 scale (percent points), so polygons of different reports compare directly. A model
without a score on an axis has a gap in its outline there.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

from .mapping import family
from .table import Table

__all__ = ["task_scores", "radar_figure", "write_radar", "radar_svg"]


def task_scores(tables: list[Table]) -> dict[str, dict[str, float]]:
    """``{row label: {task short name: score}}`` in table order; labels are ``model`` or
    ``model@sha8`` when one model has several weights."""
    per_model_shas: dict[str, set[str]] = {}
    for t in tables:
        for r in t.rows:
            per_model_shas.setdefault(r.model, set()).add(r.weights_sha256)
    out: dict[str, dict[str, float]] = {}
    for t in tables:
        fam = family(t.family)
        for r in t.rows:
            label = r.model if len(per_model_shas[r.model]) == 1 else f"{r.model}@{r.sha_short}"
            vals = []
            for bench, run in r.runs.items():
                if run.status != "complete":
                    continue
                key = next((k for k in fam.primary if k in run.values), None)
                if key is None and not fam.primary:
                    key = next(iter(run.values), None)
                if key is not None and math.isfinite(run.values[key]):
                    vals.append(run.values[key])
            out.setdefault(label, {})
            if vals:
                out[label][fam.short] = sum(vals) / len(vals)
    return {k: v for k, v in out.items() if v}


def radar_figure(scores: dict[str, dict[str, float]], axes: list[str] | None = None, title: str = "Task-level scores"):
    """A matplotlib Figure (Agg canvas, no pyplot state). ``axes``: axis order (default: first
    seen). Needs at least one axis with a score."""
    from matplotlib.figure import Figure

    seen = list(dict.fromkeys(a for s in scores.values() for a in s))
    axes_names = [a for a in (axes or []) if a in seen] + [a for a in seen if a not in (axes or [])]
    if not axes_names:
        raise ValueError("no complete runs with a headline metric: nothing to draw")
    n = len(axes_names)
    angles = [2 * math.pi * i / n for i in range(n)]
    fig = Figure(figsize=(7, 7), dpi=100)
    ax = fig.add_subplot(111, projection="polar")
    ax.set_theta_offset(math.pi / 2)  # first axis at the top, then clockwise as in the paper
    ax.set_theta_direction(-1)
    ax.set_thetalim(0, 2 * math.pi)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80, 100])
    ax.set_yticklabels(["20", "40", "60", "80", "100"], fontsize=7, color="#777777")
    ax.set_xticks(angles)
    ax.set_xticklabels(axes_names, fontsize=11)
    ax.grid(True, color="#cccccc", linewidth=0.6)
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]
    for i, (label, s) in enumerate(scores.items()):
        vals = [s.get(a, float("nan")) for a in axes_names]
        th = angles + angles[:1]
        rr = vals + vals[:1]
        c = colors[i % len(colors)]
        ax.plot(th, rr, color=c, linewidth=1.8, label=label, marker="o", markersize=3)
        if all(math.isfinite(v) for v in vals):
            ax.fill(th, rr, color=c, alpha=0.08)
        for a, v in zip(angles, vals):
            if math.isfinite(v):
                ax.annotate(f"{v:.1f}", (a, v), textcoords="offset points", xytext=(4, 4 - 9 * i), fontsize=7, color=c)
    if title:
        ax.set_title(title, pad=24, fontsize=13)
    ax.legend(loc="upper right", bbox_to_anchor=(1.28, 1.12), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def _axis_order(tables: list[Table]) -> list[str]:
    return [family(t.family).short for t in tables]


def _save(fig, target, fmt: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    meta = {"Date": None} if fmt == "svg" else {}
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "evalkit", "svg.fonttype": "none"}):
        fig.savefig(target, format=fmt, metadata=meta or None, bbox_inches="tight")


def write_radar(tables: list[Table], out_stem: str | Path) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg``; returns the paths."""
    fig = radar_figure(task_scores(tables), _axis_order(tables))
    stem = Path(out_stem)
    if stem.suffix.lower() in (".png", ".svg"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in ("png", "svg"):
        p = stem.with_suffix(f".{fmt}")
        _save(fig, p, fmt)
        paths.append(p)
    return paths


def radar_svg(tables: list[Table], title: str = "Task-level scores") -> str | None:
    """The radar as an inline ``<svg>`` element (XML prologue stripped); None with no scores."""
    scores = task_scores(tables)
    if not scores:
        return None
    buf = io.StringIO()
    _save(radar_figure(scores, _axis_order(tables), title=title), buf, "svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]
