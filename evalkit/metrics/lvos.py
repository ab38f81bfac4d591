"""LVOS semi-supervised J&F, seen/unseen, and the V (J&F variance) score (``lvos-evaluation``).

Inputs: ``gt`` — the LVOS split root holding ``<subset>_meta.json`` (``videos → <video> →
objects → <id> → frame_range {start, end, frame_nums}``), ``Annotations/<video>/<8-digit
frame>.png`` and optionally ``unseen_videos.txt`` (also accepted as the ``unseen`` option: a
path or a list of names). ``results`` — ``<video>/<8-digit frame>.png`` indexed PNGs.

Official semantics reproduced:

* Object ``o`` is evaluated on frames ``range(start, end, 5)`` of its ``frame_range``; the
  first of those and the one at position ``frame_nums − 1`` (the last when the range holds
  ``frame_nums`` frames) are skipped, so ``frame_nums − 2`` values are kept.
* GT mask = ``GT == o``, result mask = ``result == o`` (other result ids are simply ignored);
  J and F exactly as DAVIS (``jf.py``), no void handling.
* Per object, M = mean of the values. The official code keeps the values in a ``1 x n`` row,
  so its decay/recall bins see a single element: only the means are used.
* V per object = sqrt(round(Σ (mean(JF) − JF)² / n, 4)) with JF = (J + F)/2 per frame
  (quirk: the variance is rounded to 4 decimals before the square root).
* Objects are split seen/unseen by video name (``unseen_videos.txt``). Reported:
  ``J&F-Mean`` = (J_seen + F_seen + J_unseen + F_unseen)/4, ``J-Mean`` = (J_seen + J_unseen)/2,
  likewise ``F-Mean`` and ``V-Mean``, plus the ``-seen-``/``-unseen-`` means (object-weighted).
  With no unseen (or no seen) object the official means are NaN, and so are ours.
"""
from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, average, emit, wanted, weighted
from ._files import folder_error, read_json_file, read_text_file
from ._masks_io import MaskSource
from .jf import bound_pixels, disk, jf_frame

__all__ = ["lvos"]


def _nanmean(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return float(np.mean(x)) if len(x) else float("nan")


def lvos(gt: Any, results: Any, *, subset: str = "valid", meta=None, unseen=None, bound_th: float = 0.008) -> dict[str, float]:
    """LVOS J&F / V (see the module docstring). ``meta``: the parsed ``<subset>_meta.json``
    (``{"videos": ...}``) when ``gt`` is an in-memory mapping."""
    if isinstance(gt, (str, os.PathLike)):
        root = Path(gt)
        if not root.is_dir():
            raise ResultsError(folder_error(root, "ground truth"))
        mpath = root / f"{subset}_meta.json"
        if meta is None:
            if not mpath.is_file():
                raise ResultsError(f"ground truth: {mpath} is missing")
            meta = read_json_file(mpath, "ground truth meta")
        gt_src = MaskSource(root / "Annotations", "ground truth")
        if unseen is None and (root / "unseen_videos.txt").is_file():
            unseen = root / "unseen_videos.txt"
    else:
        gt_src = MaskSource(gt, "ground truth")
    if meta is None:
        raise ResultsError("lvos: the split's meta (videos -> objects -> frame_range) is required")
    if isinstance(unseen, (str, os.PathLike)):
        unseen = [x.strip() for x in read_text_file(unseen, "unseen-videos list").splitlines()]
    unseen = set(unseen or ())
    res_src = MaskSource(results, "results")
    videos = meta.get("videos", meta)
    stats = {(m, s): [] for m in "JFV" for s in ("seen", "unseen")}
    per_video: dict[str, tuple[str, int, int]] = {}  # video -> (split, first, end) index into stats[.., split]
    for video in sorted(videos):
        split = "unseen" if video in unseen else "seen"
        first = len(stats["J", split])
        for obj, info in videos[video]["objects"].items():
            fr = info["frame_range"]
            n = int(fr["frame_nums"])
            frames = list(range(int(fr["start"]), int(fr["end"]), 5))
            kept = [f for i, f in enumerate(frames) if i != 0 and i != n - 1]
            if n - 2 < 1 or len(kept) != n - 2:
                raise ResultsError(
                    f"ground truth meta: video {video!r} object {obj}: frame_range gives "
                    f"{len(frames)} frames for frame_nums {n}"
                )
            J = np.zeros(n - 2)
            F = np.zeros(n - 2)
            k = int(obj)
            for t, f in enumerate(kept):
                name = f"{f:08d}"
                g = gt_src.read(video, name)
                r = res_src.read(video, name, g.shape)
                radius = bound_pixels(g.shape, bound_th)
                # single-object view: object o becomes label 1 on both sides
                gk = (g == k).astype(np.uint8)
                rk = (r == k).astype(np.uint8)
                j, fm = jf_frame(gk, rk, 1, disk(radius), radius)
                J[t], F[t] = j[0], fm[0]
            jf = (J + F) / 2
            var = np.nansum((np.nanmean(jf) - jf) ** 2) / len(jf)
            stats[("J", split)].append(float(np.nanmean(J)))
            stats[("F", split)].append(float(np.nanmean(F)))
            stats[("V", split)].append(math.sqrt(round(var, 4)))
        per_video[video] = (split, first, len(stats["J", split]))
    if wanted():
        emit(per_sequence(per_video, stats))
    m = {key: _nanmean(v) for key, v in stats.items()}
    out = {
        "J&F-Mean": ((m["J", "seen"] + m["F", "seen"]) + (m["J", "unseen"] + m["F", "unseen"])) / 4.0,
        "J-Mean": (m["J", "seen"] + m["J", "unseen"]) / 2,
        "J-seen-Mean": m["J", "seen"],
        "J-unseen-Mean": m["J", "unseen"],
        "F-Mean": (m["F", "seen"] + m["F", "unseen"]) / 2,
        "F-seen-Mean": m["F", "seen"],
        "F-unseen-Mean": m["F", "unseen"],
        "V-Mean": (m["V", "seen"] + m["V", "unseen"]) / 2,
        "V-seen-Mean": m["V", "seen"],
        "V-unseen-Mean": m["V", "unseen"],
    }
    return {k: float(v) for k, v in out.items()}


def per_sequence(per_video: dict[str, tuple[str, int, int]], stats: dict) -> Breakdown:
    """Per video: its split, ``n_objects`` and the means over its objects of J, F, V, stored
    under the split (``J_seen`` ... ``V_unseen``; null in the other split). The seen/unseen
    means are object-weighted means of these, and J&F / J / F / V the averages of those: every
    reported key is rebuilt (``average``)."""
    samples = {}
    for video, (split, a, b) in per_video.items():
        row: dict[str, Any] = {"split": split, "n_objects": b - a}
        for m in "JFV":
            for s in ("seen", "unseen"):
                row[f"{m}_{s}"] = float(np.mean(stats[m, s][a:b])) if s == split and b > a else None
        if b > a:
            row["J&F"] = (row[f"J_{split}"] + row[f"F_{split}"]) / 2
        samples[video] = row
    w = {f"{m}_{s}": weighted(f"{m}_{s}", "n_objects") for m in "JFV" for s in ("seen", "unseen")}
    aggregates = {f"{m}-{s}-Mean": w[f"{m}_{s}"] for m in "JFV" for s in ("seen", "unseen")}
    aggregates.update({f"{m}-Mean": average(w[f"{m}_seen"], w[f"{m}_unseen"]) for m in "JFV"})
    aggregates["J&F-Mean"] = average(w["J_seen"], w["F_seen"], w["J_unseen"], w["F_unseen"])
    fields = {"split": "seen or unseen (unseen_videos.txt)", "n_objects": "evaluated objects of the video",
              "J&F": "(J + F) / 2 of the video (its split's fields)",
              **{f"{m}_{s}": f"mean over the video's objects of {m} (null unless the video is {s})"
                 for m in "JFV" for s in ("seen", "unseen")}}
    return Breakdown("sequence", "J&F", True, samples, {}, fields, aggregates)
