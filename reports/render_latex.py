"""LaTeX (booktabs) rendering of the leaderboard tables, laid out like the papers' tables.

Every header level but the last becomes a row of ``\\multicolumn`` spans with ``\\cmidrule(lr)``
under each span; the left block (Method, Backbone, Model, Weights) carries its labels on the
last header row. Best values ``\\textbf``, second best ``\\underline``; footnote symbols are
``\\dagger`` (server-pending), ``\\ddagger`` (partial), ``*`` (Δ beyond tolerance) and ``\\S``
(ambiguous published cell). Tables with more than 12 metric columns are scaled to the line width
(``\\resizebox``). Needs ``\\usepackage{booktabs}`` and ``\\usepackage{graphicx}``.
"""
from __future__ import annotations

from .mapping import metric_info
from .render_text import _LEFT, cell_text  # one left block and one cell text for every format
from .table import LOWER_MARK, MARK_ORDER, Cell, Column, Table

__all__ = ["render_latex", "latex_escape"]

_SYM = {"pending": r"$^\dagger$", "partial": r"$^\ddagger$", "flag": r"$^{*}$", "ambiguous": r"$^\S$",
        "unscored": r"$^\circ$", "noise": r"$^{\approx}$"}
_FOOT = {"†": r"$^\dagger$", "‡": r"$^\ddagger$", "*": r"$^{*}$", "§": r"$^\S$", "°": r"$^\circ$",
         "≈": r"$^{\approx}$"}
_WIDE = 12  # more metric columns than this: \resizebox to the line width


def latex_escape(s: str) -> str:
    """Escape text for LaTeX (not for already-LaTeX labels such as ``$\\mathcal{J}$``)."""
    rep = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
           "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "Δ": r"$\Delta$",
           "–": "\0", "|": r"$|$", "›": ">", "↓": r"$\downarrow$"}
    # "--" in plain text (``--limit``) must not become an en dash; "–" must.
    return "".join(rep.get(ch, ch) for ch in s).replace("--", "-{}-").replace("\0", "--")


def _header_label(label: str, col: Column, level: int, depth: int, paper: bool) -> str:
    # The metric level uses the papers' symbols (J&F → $\mathcal{J}\&\mathcal{F}$).
    metric_level = depth - (2 if paper else 1)
    arrow = label.endswith(LOWER_MARK)
    base = label.removesuffix(LOWER_MARK)
    if level == metric_level and base == metric_info(col.key).label:
        return metric_info(col.key).latex + (r"$\downarrow$" if arrow else "")
    return latex_escape(base) + (r"$\downarrow$" if arrow else "")


def _cell(cell: Cell, col: Column, decimals: int) -> str:
    text = latex_escape(cell_text(cell, col, decimals))
    if col.kind == "ci":  # "+1.2 [-0.3, +2.7]": every sign a math sign
        text = text.replace("-", "$-$").replace("+", "$+$") if cell.interval is not None else text
    elif text.startswith("-") and text != "--":
        text = "$-$" + text[1:]
    if "best" in cell.marks:
        text = rf"\textbf{{{text}}}"
    elif "second" in cell.marks:
        text = rf"\underline{{{text}}}"
    for m in MARK_ORDER:
        if m in cell.marks and not (m == "partial" and cell.value is None):
            text += _SYM[m]
    return text


def render_table(t: Table, decimals: int = 1, label: str | None = None) -> str:
    nleft = len(_LEFT)
    paper = any(c.kind != "ours" for c in t.columns)
    lines = [r"\begin{table*}[t]", r"\centering", r"\small"]
    cap = latex_escape(t.title) + (f" ({latex_escape(t.caption_metric)})" if t.caption_metric and t.caption_metric not in t.title else "")
    if t.source:
        cap += f". Layout as in {latex_escape(t.source)}"
    lines.append(rf"\caption{{{cap}.}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    wide = len(t.columns) > _WIDE
    if wide:  # scale wide tables down to the text width, as the papers do
        lines.append(r"\resizebox{\linewidth}{!}{%")
    lines.append(r"\begin{tabular}{" + "l" * nleft + "c" * len(t.columns) + "}")
    lines.append(r"\toprule")
    for level in range(t.depth):
        last = level == t.depth - 1
        left = list(_LEFT) if last else [""] * nleft
        cells, rules, col = [], [], nleft + 1
        spans = t.header_spans(level)
        first_col_of_span = 0
        for text, span in spans:
            lab = _header_label(text, t.columns[first_col_of_span], level, t.depth, paper)
            cells.append(lab if span == 1 else rf"\multicolumn{{{span}}}{{c}}{{{lab}}}")
            if not last and span > 1:
                rules.append(rf"\cmidrule(lr){{{col}-{col + span - 1}}}")
            col += span
            first_col_of_span += span
        lines.append(" & ".join(left + cells) + r" \\")
        if rules:
            lines.append(" ".join(rules))
    lines.append(r"\midrule")
    for r in t.rows:
        left = [latex_escape(r.method), latex_escape(r.backbone or "–"), latex_escape(r.model),
                r"\texttt{" + latex_escape(r.sha_short) + "}"]
        lines.append(" & ".join(left + [_cell(c, col, decimals) for c, col in zip(r.cells, t.columns)]) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}" + ("}" if wide else ""))
    if t.footnotes:
        lines.append(r"\par\vspace{2pt}\footnotesize")
        for f in t.footnotes:
            lines.append(_FOOT.get(f.symbol, latex_escape(f.symbol)) + " " + latex_escape(f.text) + r"\\")
    lines.append(r"\end{table*}")
    return "\n".join(lines)


def render_latex(tables: list[Table], decimals: int = 1) -> str:
    head = "% Generated by evalkit report. Requires \\usepackage{booktabs} and \\usepackage{graphicx}.\n"
    return head + "\n\n".join(render_table(t, decimals, label=f"tab:{t.family}") for t in tables) + "\n"
