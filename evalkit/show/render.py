"""``evalkit show``'s core: a run's predictions drawn over the frames, beside or over the truth.

A run directory names its benchmark in ``run.json`` (``config.benchmark``, ``config.data_root``);
the frames are read through that benchmark's own reader (:meth:`Benchmark.load_sample`), the
predictions from the run's :class:`~evalkit.store.PredictionStore`, the ground truth through
:mod:`evalkit.show.gt`. Each frame becomes one picture::

    ┌ caption: benchmark · sample · prompt · what was drawn ───────────────┐
    │ prediction panel                  │ ground-truth panel (--gt beside) │
    └───────────────────────────────────┴──────────────────────────────────┘

(``--gt overlay``: one panel, the truth as white dashed outlines; ``--gt none``: predictions
only). Images are written as PNG, videos as an animated WebP (or MP4) plus a frame-strip PNG.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EvalkitError
from ..types import Categories, Expression, Instances, Reference
from .draw import Style, caption_bar, display_scale, draw_instances, hstack, label_panel

__all__ = ["RunView", "open_run", "Rendered", "render_sample", "write_sample", "safe_name", "GT_MODES"]

GT_MODES = ("beside", "overlay", "none")
STRIP_HEIGHT = 160  # pixels of a frame in the frame strip


@dataclass
class RunView:
    """A run opened for drawing: its benchmark (reader built) and its prediction store.

    Attributes:
        index: where each successfully predicted sample's record lies in the store (records are
            read one at a time, when drawn: a 5,000-image store is never all in memory).
        order: the predicted sample ids in the split's order.
    """

    run_dir: Path
    benchmark_id: str
    bench: object
    store: object
    index: object
    order: list[str] = field(default_factory=list)

    def has(self, sid: str) -> bool:
        return sid in self.index.done

    def instances(self, sid: str) -> list[Instances]:
        """Per-frame predictions of sample ``sid`` (original frame, as the store holds them)."""
        for _, preds, _meta in self.store.iter_predictions([sid], self.index):
            return preds
        raise EvalkitError(f"{self.run_dir}: sample {sid!r} has no prediction in this run")


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalkitError(f"{path.parent} is not a run directory: {path.name} is missing "
                           f"(expected runs/<benchmark>/<model>/<time>/ from `evalkit run`)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EvalkitError(f"{path}: the {what} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise EvalkitError(f"{path}: the {what} must be a JSON object")
    return data


def open_run(run_dir, data_root=None) -> RunView:
    """Open ``run_dir``: its benchmark from ``run.json`` (``data_root`` overrides the recorded
    ``config.data_root``) and its prediction store. Raises :class:`EvalkitError` naming the
    file when the folder is not a run or holds no prediction."""
    from ..benchmarks.base import build_benchmark
    from ..store import PredictionStore

    run_dir = Path(run_dir)
    cfg = _read_json(run_dir / "run.json", "run record").get("config") or {}
    bid = cfg.get("benchmark")
    if not isinstance(bid, str) or not bid:
        raise EvalkitError(f"{run_dir / 'run.json'}: 'config.benchmark' is missing; cannot tell which "
                           f"dataset reader draws its frames")
    bench = build_benchmark(bid, data_root if data_root is not None else cfg.get("data_root"))
    store = PredictionStore(run_dir / "predictions")
    index = store.index()
    if not index.done:
        raise EvalkitError(f"{run_dir / 'predictions'}: the run holds no prediction to draw")
    position = {s: k for k, s in enumerate(bench.sample_ids())}
    order = sorted(index.done, key=lambda s: (position.get(s, len(position)), s))
    return RunView(run_dir, bid, bench, store, index, order)


def safe_name(sample_id: str) -> str:
    """A file name for a sample id (ids such as ``video/expr`` or ``a b`` stay readable)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(sample_id)).strip("._") or "sample"


def _names(prompt) -> dict[int, str]:
    if isinstance(prompt, Categories):
        return {int(i): n for i, n in zip(prompt.ids, prompt.names)}
    return {}


def prompt_caption(prompt) -> str:
    """One line describing the prompt the model was given."""
    if isinstance(prompt, Expression):
        return f'expression: "{prompt.text}"'
    if isinstance(prompt, Categories):
        shown = ", ".join(prompt.names[:12]) + (", …" if len(prompt.names) > 12 else "")
        return f"categories ({len(prompt.names)}): {shown}"
    if isinstance(prompt, Reference):
        ids = ", ".join(str(i) for i in prompt.object_ids)
        return f"reference {prompt.kind} of object(s) {ids} on frame {prompt.frame}"
    return type(prompt).__name__


def filter_instances(inst: Instances, score_thresh: float, max_instances: int) -> Instances:
    """The instances worth drawing: score >= ``score_thresh`` (all when unscored), highest
    scores first, at most ``max_instances``."""
    if inst.scores is None or not len(inst):
        return inst
    order = np.argsort(-inst.scores, kind="stable")
    order = order[inst.scores[order] >= score_thresh][:max_instances]
    return inst.select(order)


@dataclass
class Rendered:
    """The pictures of one sample, per drawn frame: the prediction panel and the ground-truth
    panel (``None`` unless ``--gt beside`` found a ground truth), each ``H x W x 3`` uint8 at
    display scale, untitled; a label per frame (``frame <index> (<frame id>)``); how many
    instances were drawn and predicted per frame; the caption lines shared by all frames; the
    names of the categories drawn (predicted or ground truth, sorted)."""

    pred: list[np.ndarray]
    gt: list[np.ndarray] | None
    labels: list[str]
    drawn: list[int]
    predicted: list[int]
    head: list[str]
    categories: list[str] = field(default_factory=list)
    thumb: np.ndarray | None = None  # render_sample(thumb_side=...): the middle frame's panel for a thumbnail

    def frame(self, k: int) -> np.ndarray:
        """The full picture of the k-th drawn frame: caption, then the titled panels."""
        panels = [label_panel(self.pred[k], f"prediction · {self.drawn[k]} of {self.predicted[k]} drawn")]
        if self.gt is not None:
            panels.append(label_panel(self.gt[k], "ground truth"))
        body = hstack(panels)
        lines = [self.head[0] + (f" · {self.labels[k]}" if len(self.labels) > 1 else "")] + self.head[1:]
        return np.concatenate([caption_bar(lines, body.shape[1]), body], 0)

    def strip(self, columns: int = 8, height: int = STRIP_HEIGHT) -> np.ndarray:
        """Up to ``columns`` frames evenly spaced over the video: the prediction panels in a row,
        the ground-truth panels in a row below, under the caption."""
        from .video import frame_strip

        rows = [frame_strip(self.pred, self.labels, columns, height)]
        if self.gt is not None:
            rows.append(frame_strip(self.gt, [f"{lab} · ground truth" for lab in self.labels], columns, height))
        w = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 4), (0, w - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
        return np.concatenate([caption_bar(self.head, w)] + rows, 0)


def render_sample(view: RunView, sid: str, *, gt_mode: str = "beside", score_thresh: float = 0.3,
                  max_instances: int = 30, style: Style = Style(), frames: list[int] | None = None,
                  thumb_side: int | None = None) -> Rendered:
    """Draw sample ``sid`` of ``view`` frame by frame (``frames``: indices to draw, default all).

    ``thumb_side``: also draw the middle frame's prediction panel for a thumbnail of that longer
    side (``Rendered.thumb``, at display size): its tags and lines are enlarged by the reduction
    (:func:`reduced_style`), so they stay readable once it is made smaller.

    The prediction panel shows :func:`filter_instances` of each frame; ``gt_mode`` places the
    ground truth ``beside`` (second panel), ``overlay`` (dashed white outlines on the same
    panel) or ``none``. Raises :class:`EvalkitError` for a sample the run did not predict."""
    if gt_mode not in GT_MODES:
        raise EvalkitError(f"--gt must be one of {', '.join(GT_MODES)}, got {gt_mode!r}")
    if not view.has(sid):
        near = ", ".join(view.order[:5])
        raise EvalkitError(f"{view.run_dir}: sample {sid!r} has no prediction in this run "
                           f"({len(view.order)} predicted, e.g. {near})")
    sample = view.bench.load_sample(sid)
    preds = view.instances(sid)
    n = len(sample.frames)
    if len(preds) != n:
        raise EvalkitError(f"{view.run_dir}: sample {sid!r} has {len(preds)} predicted frames for {n} frames")
    notes: list[str] = []
    gts = None
    if gt_mode != "none":
        from .gt import ground_truth

        gts = ground_truth(view.bench, sample)
        if gts is None:
            notes.append(f"no ground-truth reader for {type(view.bench).__name__}: drawn without ground truth")
        elif len(gts) != n:
            notes.append(f"ground truth has {len(gts)} frames for {n}: drawn without it")
            gts = None
        elif not isinstance(sample.prompt, Categories):
            # the referred object of an expression / reference prompt: its category id would
            # print as a bare number and give it another colour than the prediction's
            for g in gts:
                g.labels = None
    names = _names(sample.prompt)
    idx = list(range(n)) if frames is None else [i for i in frames if 0 <= i < n]
    pred, gt_panels, labels, drawn = [], [], [], []
    seen: set[int] = set()
    thumb = None
    for k, t in enumerate(idx):
        image = sample.frames[t]
        scale = display_scale(image.shape[:2], style)
        keep = filter_instances(preds[t], score_thresh, max_instances)
        g = gts[t] if gts is not None else None
        for inst in (keep, g):
            if inst is not None and inst.labels is not None:
                seen.update(int(v) for v in inst.labels)
        pred.append(draw_instances(image, keep, names, scale=scale, gt=g if gt_mode == "overlay" else None,
                                   style=style))
        if thumb_side is not None and k == len(idx) // 2:
            small = reduced_style(style, max(pred[-1].shape[:2]) / thumb_side)
            thumb = pred[-1] if small is style else draw_instances(
                image, keep, names, scale=scale, gt=g if gt_mode == "overlay" else None, style=small)
        if gt_mode == "beside" and g is not None:
            gt_panels.append(draw_instances(image, g, names, scale=scale, style=style))
        labels.append(f"frame {t} ({sample.frames.ids[t]})" if n > 1 else str(sample.frames.ids[t]))
        drawn.append(len(keep))
    head = [f"{view.benchmark_id} · sample {sid}" + (f" · {n} frames" if n > 1 else ""),
            prompt_caption(sample.prompt),
            f"score >= {score_thresh:g}, at most {max_instances} per frame"
            + (" · ground truth: white dashed outlines" if gt_mode == "overlay" and gts is not None else "")] + notes
    cats = sorted(names.get(i, str(i)) for i in seen)
    return Rendered(pred, gt_panels if gt_panels else None, labels, drawn, [len(preds[t]) for t in idx], head, cats,
                    thumb)


def reduced_style(style: Style, factor: float) -> Style:
    """``style`` for a picture that will be reduced ``factor`` times: tags at about 9 pixels and
    lines of the same width after the reduction; ``style`` itself when it is hardly reduced."""
    import math
    from dataclasses import replace

    if factor <= 1.2:
        return style
    return replace(style, font=math.ceil(9 * factor), line=max(style.line, round(style.line * factor)))


def write_sample(view: RunView, sid: str, out_dir: Path, *, video: str = "webp", fps: float = 4.0,
                 **render_options) -> list[Path]:
    """Render sample ``sid`` and write it under ``out_dir``: ``<id>.png`` for an image;
    ``<id>.webp`` (or ``.mp4``) and ``<id>_strip.png`` for a video. Returns the paths."""
    from .video import common_size, write_mp4, write_png, write_webp

    if video not in ("webp", "mp4"):
        raise EvalkitError(f"--video must be webp or mp4, got {video!r}")
    r = render_sample(view, sid, **render_options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / safe_name(sid)
    if len(r.pred) == 1:
        return [write_png(stem.with_suffix(".png"), r.frame(0))]
    frames = common_size([r.frame(k) for k in range(len(r.pred))])
    movie = (write_webp(stem.with_suffix(".webp"), frames, fps) if video == "webp"
             else write_mp4(stem.with_suffix(".mp4"), frames, fps))
    strip = write_png(out_dir / f"{safe_name(sid)}_strip.png", _strip(view, sid, r, render_options))
    return [movie, strip]


def _strip(view: RunView, sid: str, r: Rendered, render_options: dict) -> np.ndarray:
    """The frame strip of a rendered video. Its frames are reduced to :data:`STRIP_HEIGHT`
    pixels, which would shrink 12-pixel tags to unreadable smudges: the frames it shows are
    drawn again with a font and line width enlarged by the reduction factor, so that the tags
    read at about 9 pixels in the strip."""
    from .video import strip_picks

    style = render_options.get("style", Style())
    big = reduced_style(style, r.pred[0].shape[0] / STRIP_HEIGHT)
    if big is style:
        return r.strip()
    picks = strip_picks(len(r.pred))
    return render_sample(view, sid, **{**render_options, "style": big, "frames": picks}).strip()
