"""Radar chart of task-level scores across models (the style of UNINEXT's Figure 3).

One axis per evaluated task family (Det, Seg, REC, RES, SOT, VOS, MOT, MOTS, VIS, R-VOS, ...: every
table of the report), one outline per (model, weights). A task's score is the mean over the
family's benchmarks of each run's first headline key (``evalkit/metrics/keys.csv``: AP for
detection, P@0.5 for REC, J&F or G for VOS, HOTA for MOTChallenge, AUC or AO for SOT), from
complete runs only: partial and server-pending runs have no comparable number. Axes are on the
absolute 0-100 scale (percent points), so figures of different reports compare directly.

Missing values are marked, never guessed: a model without a score on an axis is drawn with a
dashed line through the centre there and an open marker; an axis no model has a score on is
labelled "(no score)". Value labels never overlap: with one model they sit on its spokes inside the outline;
with several, the values go into a table under the chart. With fewer than three axes a radar says
nothing a bar chart does not, so a grouped horizontal bar chart is drawn instead.

Written as PNG (300 dpi), SVG and PDF (text kept as text, fixed metadata for reproducible files).
"""
from __future__ import annotations

import io
import math
from pathlib import Path

from ..metrics import keys as metric_keys
from .mapping import family
from .table import Table

__all__ = ["task_scores", "radar_figure", "write_radar", "radar_svg", "FORMATS"]

FORMATS = ("png", "svg", "pdf")
_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]


def _headline_value(run, fam) -> float | None:
    """The run's first headline key present (the metric's ranks), else the family's primary."""
    keys = [r.canonical for r in metric_keys.headline(run.metric_id)] if run.metric_id else []
    for k in [*keys, *fam.primary]:
        v = run.values.get(k)
        if v is not None and math.isfinite(v):
            return v
    return None


def task_scores(tables: list[Table]) -> dict[str, dict[str, float]]:
    """``{row label: {task short name: score}}`` in table order; labels are ``model`` or
    ``model@sha8`` when one model has several weights. Every row of every table is listed, with
    an empty dict when it has no complete run with a headline value."""
    per_model_shas: dict[str, set[str]] = {}
    for t in tables:
        for r in t.rows:
            per_model_shas.setdefault(r.model, set()).add(r.weights_sha256)
    out: dict[str, dict[str, float]] = {}
    for t in tables:
        fam = family(t.family)
        for r in t.rows:
            label = r.model if len(per_model_shas[r.model]) == 1 else f"{r.model}@{r.sha_short}"
            vals = [v for run in r.runs.values() if run.status == "complete"
                    for v in [_headline_value(run, fam)] if v is not None]
            out.setdefault(label, {})
            if vals:
                out[label][fam.short] = sum(vals) / len(vals)
    return out


def _axis_order(tables: list[Table]) -> list[str]:
    return list(dict.fromkeys(family(t.family).short for t in tables))


def radar_figure(scores: dict[str, dict[str, float]], axes: list[str] | None = None, title: str = "Task-level scores"):
    """A matplotlib Figure (Agg canvas, no pyplot state). ``axes``: every evaluated task, in
    order (default: those with a score, first seen). Needs at least one score."""
    from matplotlib.figure import Figure

    seen = list(dict.fromkeys(a for s in scores.values() for a in s))
    if not seen:
        raise ValueError("no complete runs with a headline metric: nothing to draw")
    names = list(axes or []) + [a for a in seen if a not in (axes or [])]
    models = list(scores)
    if len(names) < 3:
        return _bars(scores, names, title)
    n = len(names)
    angles = [2 * math.pi * i / n for i in range(n)]
    multi = len(models) > 1
    # layout in inches, top to bottom: title, axis labels, the chart, axis labels, legend, table
    W, S, lab, top, leg = 7.2, 5.0, 0.5, 0.45 if title else 0.1, 0.4
    tab = 0.24 * (len(models) + 1) + 0.15 if multi else 0.0
    H = top + lab + S + lab + leg + tab
    fig = Figure(figsize=(W, H), dpi=100)
    ax = fig.add_axes(((W - S) / 2 / W, (tab + leg + lab) / H, S / W, S / H), projection="polar")
    ax.set_theta_offset(math.pi / 2)  # first axis at the top, then clockwise as in the paper
    ax.set_theta_direction(-1)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80, 100])
    ax.set_yticklabels(["20", "40", "60", "80", "100"], fontsize=7, color="#777777")
    ax.set_rlabel_position(180 / n)  # ring labels between the first two axes, clear of the spokes
    ax.set_xticks(angles)
    ax.set_xticklabels([a if a in seen else f"{a}\n(no score)" for a in names], fontsize=11)
    ax.tick_params(axis="x", pad=10)
    ax.grid(True, color="#cccccc", linewidth=0.6)
    ax.spines["polar"].set_color("#999999")
    for i, label in enumerate(models):
        s, c = scores[label], _COLORS[i % len(_COLORS)]
        vals = [s.get(a) for a in names]
        present = [v is not None for v in vals]
        r0 = [v if v is not None else 0.0 for v in vals]
        th, rr = angles + angles[:1], r0 + r0[:1]
        if not all(present):  # the whole outline dashed through the centre where a task is missing
            ax.plot(th, rr, color=c, linewidth=1.0, linestyle=(0, (3, 3)), alpha=0.7)
        for j in range(n):  # solid between consecutive tasks the model has a score on
            k = (j + 1) % n
            if present[j] and present[k]:
                ax.plot([angles[j], angles[k] if k else 2 * math.pi], [r0[j], r0[k]], color=c, linewidth=1.8)
        ax.fill(th, rr, color=c, alpha=0.07)
        ax.plot([a for a, p in zip(angles, present) if p], [v for v, p in zip(r0, present) if p],
                linestyle="none", marker="o", markersize=4, color=c, label=label)
        missing = [a for a, p in zip(angles, present) if not p]
        if missing:
            ax.plot(missing, [0] * len(missing), linestyle="none", marker="o", markersize=5,
                    markerfacecolor="white", markeredgecolor=c)
        if not multi:  # one model: values on its spokes, inside the outline (clear of the task
            # labels outside the ring), outside it only near the centre
            for a, v in zip(angles, vals):
                if v is not None:
                    ax.text(a, v - 12 if v > 25 else v + 12, f"{v:.1f}", ha="center", va="center", fontsize=8,
                            color=c, bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                                           "alpha": 0.85})
    if title:
        fig.suptitle(title, fontsize=13, y=1 - 0.12 / H, va="top")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=_COLORS[i % len(_COLORS)], linewidth=1.8, marker="o", markersize=4)
               for i in range(len(models))]
    labels = list(models)
    if any(len(scores[m]) < len(names) for m in models):
        handles.append(Line2D([], [], color="#777777", linewidth=1.0, linestyle=(0, (3, 3)), marker="o",
                              markersize=5, markerfacecolor="white"))
        labels.append("not evaluated")
    fig.legend(handles, labels, loc="center", ncol=min(len(labels), 4), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, (tab + leg / 2) / H))
    if multi:
        _value_table(fig, scores, models, names, (0.05, 0.05 / H, 0.9, (tab - 0.1) / H))
    return fig


def _value_table(fig, scores, models, names, rect) -> None:
    """Models × tasks values under the chart (one decimal, "–" where not evaluated)."""
    tax = fig.add_axes(rect)
    tax.axis("off")
    cells = [[f"{scores[m][a]:.1f}" if a in scores[m] else "–" for a in names] for m in models]
    tab = tax.table(cellText=cells, rowLabels=models, colLabels=names, loc="center", cellLoc="center",
                    rowColours=["white"] * len(models), edges="horizontal")
    tab.auto_set_font_size(False)
    tab.set_fontsize(7)
    for (r, c), cell in tab.get_celld().items():
        cell.set_edgecolor("#bbbbbb")
        if r > 0 and c == -1:
            cell.get_text().set_color(_COLORS[(r - 1) % len(_COLORS)])


def _bars(scores, names, title):
    """Grouped horizontal bars, for fewer than three tasks (a radar of two axes is a line)."""
    from matplotlib.figure import Figure

    models = list(scores)
    fig = Figure(figsize=(7.2, 1.2 + 0.45 * len(names) * max(len(models), 1)), dpi=100)
    ax = fig.add_subplot(111)
    h = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
        c = _COLORS[i % len(_COLORS)]
        for j, a in enumerate(names):
            y = j + (i - (len(models) - 1) / 2) * h
            v = scores[m].get(a)
            if v is None:
                ax.text(1, y, "not evaluated", va="center", fontsize=7, color=c)
                continue
            first = not any(scores[m].get(b) is not None for b in names[:j])  # one legend entry per model
            ax.barh(y, v, height=h * 0.9, color=c, label=m if first else None)
            ax.text(min(v + 1, 101), y, f"{v:.1f}", va="center", fontsize=7, color=c)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(0, 108)
    ax.set_xlabel("score (percent points)", fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=13)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def _save(fig, target, fmt: str) -> None:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    # reproducible files: no creation date, a fixed hash salt; text stays text in SVG and PDF
    meta = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}[fmt]
    with matplotlib.rc_context({"svg.hashsalt": "evalkit", "svg.fonttype": "none", "pdf.fonttype": 42}):
        fig.savefig(target, format=fmt, metadata=meta or None, bbox_inches="tight",
                    dpi=300 if fmt == "png" else None)


def write_radar(tables: list[Table], out_stem: str | Path) -> list[Path]:
    """Write ``<stem>.png``, ``<stem>.svg`` and ``<stem>.pdf``; returns the paths."""
    fig = radar_figure(task_scores(tables), _axis_order(tables))
    stem = Path(out_stem)
    if stem.suffix.lower() in tuple(f".{f}" for f in FORMATS):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        p = stem.with_suffix(f".{fmt}")
        _save(fig, p, fmt)
        paths.append(p)
    return paths


def radar_svg(tables: list[Table], title: str = "Task-level scores") -> str | None:
    """The radar as an inline ``<svg>`` element (XML prologue stripped); None with no scores."""
    scores = task_scores(tables)
    if not any(scores.values()):
        return None
    buf = io.StringIO()
    _save(radar_figure(scores, _axis_order(tables), title=title), buf, "svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]
