"""``evalkit report RUN --gallery``: one HTML page of a run's samples, worst first.

Layout written (the page is self-contained apart from the pictures, which lie beside it; no
network, no CDN, a few lines of inline JavaScript)::

    <out>/index.html
    <out>/thumbs/<id>.jpg        reduced prediction overlay (longer side --thumb pixels)
    <out>/overlays/<id>.jpg      the full overlay: caption, prediction, ground truth beside
    <out>/overlays/<id>.webp     (videos: the animated overlay; the thumbnail is the middle frame)

The order is worst-first by the per-sample score of the run's ``breakdown.json``
(:mod:`evalkit.show.breakdown`, read through :func:`evalkit.breakdown.load_breakdown`); without one, the split's order, and the page says so. Each
card lists the categories drawn on it (predicted and ground truth); a category menu and a
text filter (sample id / sequence name) hide the other cards.

Speed: overlays are JPEG (quality 90; encoding a PNG of the same picture takes several times
longer, measured by ``bench/gallery_speed.py``). The thumbnail is the middle frame's prediction
panel drawn a second time, with tags and lines enlarged by the reduction to ``--thumb`` pixels
(:func:`~evalkit.show.render.reduced_style`; reduced from the overlay's panel, a 12-pixel tag
would shrink to 4-6 unreadable pixels); the sample is read once. ``<img loading="lazy">`` makes the browser
fetch only the thumbnails in view, so a 5,000-card page opens at once.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .breakdown import sample_scores, worst_first
from .render import open_run, render_sample, safe_name

__all__ = ["write_gallery", "Card"]


@dataclass
class Card:
    """One sample of the page: its id, rank (1 = worst), value, categories, picture paths
    (relative to the page)."""

    sample_id: str
    rank: int
    value: float | None
    categories: list[str]
    thumb: str
    overlay: str


def _draw_card(view, sid: str, rank: int, value, name: str, out: Path, opts: dict) -> Card:
    """Render one sample: its thumbnail (the prediction panel, reduced) and full overlay."""
    from .video import common_size, write_webp

    r = render_sample(view, sid, gt_mode=opts["gt_mode"], score_thresh=opts["score_thresh"],
                      max_instances=opts["max_instances"], thumb_side=opts["thumb"])
    n = len(r.pred)
    small = Image.fromarray(r.thumb)  # a video's thumbnail: its middle frame, tags sized for the reduction
    small.thumbnail((opts["thumb"], opts["thumb"]), Image.BILINEAR)
    small.save(out / "thumbs" / f"{name}.jpg", quality=85)
    if n > 1:
        overlay = f"overlays/{name}.webp"
        write_webp(out / overlay, common_size([r.frame(k) for k in range(n)]))
    else:
        overlay = f"overlays/{name}.jpg"
        Image.fromarray(r.frame(0)).save(out / overlay, quality=opts["quality"])
    return Card(sid, rank, value, r.categories, f"thumbs/{name}.jpg", overlay)


#: (view, output folder, options) for the worker processes, inherited through fork
_SHARED: tuple | None = None


def _draw_chunk(jobs: list[tuple[str, int, float | None, str]]) -> list[Card]:
    view, out, opts = _SHARED
    return [_draw_card(view, sid, rank, value, name, out, opts) for sid, rank, value, name in jobs]


def _unique_names(ids: list[str]) -> list[str]:
    """File names for the sample ids, distinct even where two ids map to one safe name."""
    seen: set[str] = set()
    names = []
    for sid in ids:
        base = name = safe_name(sid)
        k = 1
        while name in seen:
            k += 1
            name = f"{base}-{k}"
        seen.add(name)
        names.append(name)
    return names


def write_gallery(run_dir, out_dir=None, *, data_root=None, thumb: int = 200, score_thresh: float = 0.3,
                  gt_mode: str = "beside", max_instances: int = 30, limit: int | None = None,
                  quality: int = 90, workers: int = 1) -> Path:
    """Write the gallery of ``run_dir`` into ``out_dir`` (default ``RUN/gallery``); returns the
    page's path. ``limit``: only the ``limit`` worst samples (default all). ``workers``: processes
    drawing the samples (forked, Linux/macOS; each sample is independent, the page lists them in
    the same order whatever the number)."""
    global _SHARED
    view = open_run(run_dir, data_root)
    out = Path(out_dir) if out_dir else Path(run_dir) / "gallery"
    (out / "thumbs").mkdir(parents=True, exist_ok=True)
    (out / "overlays").mkdir(parents=True, exist_ok=True)
    scores = sample_scores(run_dir)
    order = worst_first(view.order, scores)
    if limit is not None:
        order = order[:limit]
    jobs = [(sid, rank, (scores.values or {}).get(sid), name)
            for rank, (sid, name) in enumerate(zip(order, _unique_names(order)), 1)]
    opts = {"gt_mode": gt_mode, "score_thresh": score_thresh, "max_instances": max_instances, "thumb": thumb,
            "quality": quality}
    import multiprocessing as mp

    if workers > 1 and len(jobs) > 1 and "fork" in mp.get_all_start_methods():
        from concurrent.futures import ProcessPoolExecutor

        _SHARED = (view, out, opts)
        chunks = [jobs[k::workers] for k in range(workers)]
        try:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                drawn = [c for part in pool.map(_draw_chunk, chunks) for c in part]
        finally:
            _SHARED = None
        cards = sorted(drawn, key=lambda c: c.rank)
    else:
        cards = [_draw_card(view, sid, rank, value, name, out, opts) for sid, rank, value, name in jobs]
    page = out / "index.html"
    page.write_text(_html(view, cards, scores, len(view.order)), encoding="utf-8")
    return page


_CSS = """
body{font-family:system-ui,sans-serif;margin:16px;color:#222}
header p{margin:4px 0;color:#555}
#controls{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #ddd;z-index:1}
#controls select,#controls input{font-size:14px;padding:3px 6px;margin-right:8px}
#grid{display:flex;flex-wrap:wrap;gap:10px;margin-top:10px}
.card{width:WIDTHpx;border:1px solid #ddd;border-radius:4px;padding:4px;font-size:12px;background:#fafafa}
.card img{width:WIDTHpx;height:WIDTHpx;object-fit:contain;background:#eee;display:block}
.card .id{font-weight:600;word-break:break-all}
.card .v{float:right;font-variant-numeric:tabular-nums}
.card .c{color:#666;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
"""

_JS = """
const cards=[...document.querySelectorAll('.card')];
const cat=document.getElementById('cat'), q=document.getElementById('q'), shown=document.getElementById('shown');
function apply(){
  const c=cat.value, t=q.value.trim().toLowerCase(); let n=0;
  for(const el of cards){
    const ok=(!c||el.dataset.cats.split('|').includes(c))&&(!t||el.dataset.id.toLowerCase().includes(t));
    el.style.display=ok?'':'none'; if(ok)n++;
  }
  shown.textContent=n+' of '+cards.length+' shown';
}
// a link may preselect the filters: index.html#cat=red%20circle&q=12
const h=new URLSearchParams(location.hash.slice(1));
if(h.has('cat'))cat.value=h.get('cat'); if(h.has('q'))q.value=h.get('q');
cat.addEventListener('change',apply); q.addEventListener('input',apply); apply();
"""


def _ties(cards: list[Card]) -> str:
    """A note when every card has the same value: the order is then the split's, not a ranking
    (COCO's per-image recall@0.5 of a good detector is 1 almost everywhere)."""
    values = {c.value for c in cards if c.value is not None}
    if len(cards) > 1 and len(values) == 1 and all(c.value is not None for c in cards):
        return f"; every sample scores {next(iter(values)):.3f}, so they stay in the split's order"
    return ""


def _html(view, cards: list[Card], scores, total: int) -> str:
    e = html.escape
    width = 200
    cats = sorted({c for card in cards for c in card.categories})
    options = "".join(f'<option value="{e(c)}">{e(c)}</option>' for c in cats)
    items = []
    for c in cards:
        value = "" if c.value is None else f'<span class="v">{e(scores.key or "")} {c.value:.3f}</span>'
        items.append(
            f'<div class="card" data-id="{e(c.sample_id)}" data-cats="{e("|".join(c.categories))}">'
            f'<a href="{e(c.overlay)}" target="_blank"><img loading="lazy" src="{e(c.thumb)}" '
            f'alt="sample {e(c.sample_id)}"></a>'
            f'<div><span class="id">#{c.rank} · {e(c.sample_id)}</span>{value}</div>'
            # no empty line where the samples have no category (VOS, SOT: the prompt is a reference)
            + (f'<div class="c" title="{e(", ".join(c.categories))}">{e(", ".join(c.categories))}</div>'
               if c.categories else "")
            + "</div>")
    shown = "" if len(cards) == total else f" (the {len(cards)} worst of {total})"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(view.benchmark_id)} · {e(view.run_dir.name)} · gallery</title>"
        f"<style>{_CSS.replace('WIDTH', str(width))}</style></head><body>\n"
        f"<header><h1>{e(view.benchmark_id)} — gallery</h1>"
        f"<p>run {e(str(view.run_dir))} · {len(cards)} samples{shown}</p>"
        f"<p>order: {e(scores.note)}{e(_ties(cards))}</p>"
        "<p>click a picture for its overlay (prediction beside the ground truth).</p></header>\n"
        # no category menu where the samples have none (VOS, SOT: the prompt is a reference)
        f'<div id="controls"><label{"" if cats else " hidden"}>category <select id="cat">'
        f'<option value="">all</option>{options}</select></label>'
        '<label>sample / sequence <input id="q" type="search" placeholder="id contains…"></label>'
        '<span id="shown"></span></div>\n'
        f'<div id="grid">\n{chr(10).join(items)}\n</div>\n<script>{_JS}</script>\n</body></html>\n'
    )
