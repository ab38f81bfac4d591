"""Self-contained HTML report: the leaderboard tables, the radar chart and the run list.

No external assets: CSS and a few lines of JavaScript are inline, the radar is an inline SVG.
Each table has the papers' multi-level header (``colspan`` spans; the left block spans all header
rows); clicking a leaf header sorts the rows by that column (numbers compare numerically, missing
values sort last; a second click reverses). Best values are ``<b>``, second best ``<u>``; a Δ
beyond the tolerance has class ``flag``; footnote symbols are ``<sup>``.
"""
from __future__ import annotations

import html
from datetime import datetime, timezone

from .radar import radar_svg
from .render_text import _LEFT, cell_text  # one left block and one cell text for every format
from .rundirs import RunRecord
from .table import FOOTNOTE_SYMBOLS, MARK_ORDER, Cell, Column, Table

__all__ = ["render_html"]


_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}
.meta,.src{color:#666;font-size:12px}
.wrap{overflow-x:auto;max-width:100%}
table.lb{border-collapse:collapse;font-size:13px;margin-top:6px}
table.lb th,table.lb td{padding:3px 8px;text-align:center;white-space:nowrap}
table.lb thead tr:first-child th{border-top:2px solid #222}
table.lb thead tr:last-child th{border-bottom:1px solid #222}
table.lb tbody tr:last-child td{border-bottom:2px solid #222}
table.lb th.grp{border-bottom:1px solid #999}
table.lb .gs{border-left:1px solid #ddd}
table.lb th.leaf{cursor:pointer;user-select:none}
table.lb th.leaf:hover{background:#eef}
table.lb th.sorted-asc::after{content:" \\25B2";font-size:9px}
table.lb th.sorted-desc::after{content:" \\25BC";font-size:9px}
table.lb td.l,table.lb th.l{text-align:left}
table.lb td.paper{color:#555}table.lb td.delta{color:#555;font-size:12px}
table.lb td.flag{color:#b00020;font-weight:600}
table.lb td.ci{font-size:12px}table.lb td.ci.noise{color:#777}
table.lb tbody tr:hover{background:#f6f6f6}
code{font-size:12px}.foot{font-size:12px;color:#444;margin:4px 0 0;max-width:1100px}
.radar svg{max-width:780px;width:100%;height:auto}
table.runs{border-collapse:collapse;font-size:12px}table.runs td,table.runs th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
"""

# Sort a table by the clicked leaf column: the cell's data-v (empty = missing, sorted last).
_JS = """
document.querySelectorAll('table.lb').forEach(function(t){
  t.querySelectorAll('th.leaf').forEach(function(th){
    th.addEventListener('click',function(){
      var col=+th.dataset.col,desc=!th.classList.contains('sorted-desc');
      t.querySelectorAll('th.leaf').forEach(function(h){h.classList.remove('sorted-asc','sorted-desc')});
      th.classList.add(desc?'sorted-desc':'sorted-asc');
      var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[col].dataset.v,y=b.cells[col].dataset.v;
        if(x===''||x===undefined)return 1;if(y===''||y===undefined)return -1;
        var nx=parseFloat(x),ny=parseFloat(y),c=(isNaN(nx)||isNaN(ny))?x.localeCompare(y):nx-ny;
        return desc?-c:c;});
      rows.forEach(function(r){body.appendChild(r)});
    });
  });
});
"""


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _group_starts(t: Table) -> set[int]:
    """Leaf indices that open a group one level above the leaves (drawn with a left rule)."""
    if t.depth < 2:
        return set()
    starts, j = set(), 0
    for _, span in t.header_spans(t.depth - 2):
        starts.add(j)
        j += span
    return starts


def _cell(cell: Cell, col: Column, decimals: int, gs: bool = False) -> str:
    text = _e(cell_text(cell, col, decimals))
    if "best" in cell.marks:
        text = f"<b>{text}</b>"
    elif "second" in cell.marks:
        text = f"<u>{text}</u>"
    for m in MARK_ORDER:
        if m in cell.marks and not (m == "partial" and cell.value is None):
            text += f"<sup>{_e(FOOTNOTE_SYMBOLS[m])}</sup>"
    cls = [col.kind] + [m for m in ("flag", "noise") if m in cell.marks] + (["gs"] if gs else [])
    title = f' title="{_e(cell.source)}"' if cell.source and col.kind in ("paper", "ci") else ""
    v = "" if cell.value is None else repr(round(cell.value, 10))
    return f'<td class="{" ".join(cls)}" data-v="{v}"{title}>{text}</td>'


def _table(t: Table, decimals: int) -> str:
    out = [f'<h2 id="{_e(t.family)}">{_e(t.title)}' + (f" ({_e(t.caption_metric)})" if t.caption_metric and t.caption_metric not in t.title else "") + "</h2>"]
    if t.source:
        out.append(f'<div class="src">Layout as in {_e(t.source)}.</div>')
    out.append(f'<div class="wrap"><table class="lb" data-family="{_e(t.family)}"><thead>')
    nleft = len(_LEFT)
    starts = _group_starts(t)
    for level in range(t.depth):
        last = level == t.depth - 1
        cells = []
        if level == 0:
            cells += [f'<th class="l leaf" rowspan="{t.depth}" data-col="{i}">{_e(x)}</th>' for i, x in enumerate(_LEFT)]
        col = nleft
        for text, span in t.header_spans(level):
            if last:
                gs = " gs" if col - nleft in starts else ""
                cells.append(f'<th class="leaf{gs}" data-col="{col}">{_e(text)}</th>')
            else:
                cells.append(f'<th class="grp" colspan="{span}">{_e(text)}</th>')
            col += span
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</thead><tbody>")
    for r in t.rows:
        left = [
            f'<td class="l" data-v="{_e(r.method)}">{_e(r.method)}</td>',
            f'<td class="l" data-v="{_e(r.backbone)}">{_e(r.backbone or "–")}</td>',
            f'<td class="l" data-v="{_e(r.model)}">{_e(r.model)}</td>',
            f'<td class="l" data-v="{_e(r.weights_sha256)}" title="{_e(r.weights_sha256)}"><code>{_e(r.sha_short)}</code></td>',
        ]
        out.append("<tr>" + "".join(left) + "".join(_cell(c, col, decimals, j in starts) for j, (c, col) in enumerate(zip(r.cells, t.columns))) + "</tr>")
    out.append("</tbody></table></div>")
    for f in t.footnotes:
        out.append(f'<p class="foot"><sup>{_e(f.symbol)}</sup> {_e(f.text)}</p>')
    return "\n".join(out)


def _runs(runs: list[RunRecord]) -> str:
    rows = ["<tr><th>Benchmark</th><th>Model</th><th>Weights</th><th>Status</th><th>Samples</th><th>Created</th><th>Total time</th><th>Run directory</th></tr>"]
    for r in sorted(runs, key=lambda r: (r.benchmark, r.model, r.created)):
        s = r.samples
        samples = f"{s.get('done', '?')}/{s.get('total', '?')}" + (f" (limit {r.limit})" if r.limit else "")
        total = (r.run_json.get("timings") or {}).get("total_s")
        rows.append(
            f"<tr><td>{_e(r.benchmark)}</td><td>{_e(r.model)}</td><td><code>{_e(r.sha_short)}</code></td>"
            f"<td>{_e(r.status)}</td><td>{_e(samples)}</td><td>{_e(r.created)}</td>"
            f"<td>{'' if total is None else _e(f'{float(total):.1f} s')}</td><td><code>{_e(r.path)}</code></td></tr>"
        )
    return '<table class="runs">' + "".join(rows) + "</table>"


def render_html(tables: list[Table], runs: list[RunRecord], decimals: int = 1, title: str = "evalkit leaderboard",
                radar: bool = True) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"<h1>{_e(title)}</h1>",
            f'<div class="meta">{len(runs)} run(s), {len(tables)} table(s); generated {now}. '
            "Click a column header to sort.</div>"]
    if tables:
        body.append("<nav class=\"meta\">" + " · ".join(f'<a href="#{_e(t.family)}">{_e(t.title)}</a>' for t in tables) + "</nav>")
    body += [_table(t, decimals) for t in tables]
    svg = radar_svg(tables, title="") if radar else None
    if svg:
        body.append('<h2 id="radar">Task-level scores</h2><div class="radar">' + svg + "</div>")
    body.append('<h2 id="runs">Runs</h2>' + _runs(runs))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + f"\n<script>{_JS}</script>\n</body></html>\n"
    )
