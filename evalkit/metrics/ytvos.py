"""YouTube-VOS overall score G and J/F on seen and unseen categories, for splits with local GT.

The official scorer runs only on the CodaLab server and its code is not public, so there is no
oracle to match: this implements the published definition with DAVIS-style per-object
averaging (documented assumptions, see below). For the hidden-GT ``valid``/``test`` splits the
runner writes the submission instead.

Inputs: ``gt`` — a split folder with ``Annotations/<video>/<frame>.png`` (fully annotated
frames, usually every 5th) and ``meta.json`` (``videos → <video> → objects → <id> →
{category, frames}``), or ``{video: {frame_id: HxW}}`` with ``meta`` given as an option.
``results`` — ``<video>/<frame>.png`` indexed PNGs for every annotated frame.
``unseen_categories``: category names not seen in training (a list, a comma-separated string
or a text file, one per line); every other category is *seen*.

Definition (assumptions marked *): per object, J and F (``jf.py``, as DAVIS) on every annotated
frame **after** the frame of its first appearance (*the given reference frame is not scored;
the last frame is*); per-object mean; ``J_s``/``F_s`` = mean over objects of seen categories
(*object-weighted*), ``J_u``/``F_u`` over unseen ones; ``G`` = (J_s + F_s + J_u + F_u) / 4.
Objects with no annotated frame after their first appearance are not scored.
"""
from __future__ import annotations

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

__all__ = ["ytvos"]


def _names(x) -> set[str]:
    if x is None:
        return set()
    if isinstance(x, (str, os.PathLike)) and Path(x).is_file():
        return {s.strip() for s in read_text_file(x, "unseen-categories list").splitlines() if s.strip()}
    if isinstance(x, str):
        return {s.strip() for s in x.split(",") if s.strip()}
    return set(x)


def ytvos(gt: Any, results: Any, *, meta=None, unseen_categories=None, bound_th: float = 0.008) -> dict[str, float]:
    """YouTube-VOS G, J_s, F_s, J_u, F_u (fractions) on a split with local ground truth."""
    if isinstance(gt, (str, os.PathLike)):
        root = Path(gt)
        if not root.is_dir():
            raise ResultsError(folder_error(root, "ground truth"))
        if meta is None:
            if not (root / "meta.json").is_file():
                raise ResultsError(f"ground truth: {root / 'meta.json'} is missing")
            meta = read_json_file(root / "meta.json", "ground truth meta")
        gt_src = MaskSource(root / "Annotations", "ground truth")
    else:
        gt_src = MaskSource(gt, "ground truth")
    if meta is None:
        raise ResultsError("ytvos: meta (videos -> objects -> category) is required")
    unseen = _names(unseen_categories)
    res_src = MaskSource(results, "results")
    per = {("J", "s"): [], ("F", "s"): [], ("J", "u"): [], ("F", "u"): []}
    per_video: dict[str, dict[str, tuple[int, int]]] = {}  # video -> split -> (first, end) into per[.., split]
    for video in sorted(meta["videos"]):
        objects = {int(k): v for k, v in meta["videos"][video]["objects"].items()}
        if not objects:
            continue
        frames = gt_src.frame_ids(video)
        n_obj = max(objects)
        vals = {k: ([], []) for k in objects}
        started: set[int] = set()
        for fid in frames:
            g = gt_src.read(video, fid)
            present = set(np.unique(g).tolist())
            score = [k for k in objects if k in started]
            started |= {k for k in objects if k in present}
            if not score:
                continue
            r = res_src.read(video, fid, g.shape)
            r = np.where(r <= n_obj, r, 0).astype(np.uint8)  # ids outside the meta are not objects
            g = np.where(g <= n_obj, g, 0).astype(np.uint8)
            radius = bound_pixels(g.shape, bound_th)
            J, F = jf_frame(g, r, n_obj, disk(radius), radius)
            for k in score:
                vals[k][0].append(J[k - 1])
                vals[k][1].append(F[k - 1])
        first = {sp: len(per["J", sp]) for sp in "su"}
        for k, (j, f) in vals.items():
            if not j:
                continue
            split = "u" if objects[k].get("category") in unseen else "s"
            per[("J", split)].append(float(np.mean(j)))
            per[("F", split)].append(float(np.mean(f)))
        per_video[video] = {sp: (first[sp], len(per["J", sp])) for sp in "su"}
    if wanted():
        emit(per_sequence(per_video, per))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        m = {key: float(np.mean(v)) if v else float("nan") for key, v in per.items()}
    return {
        "G": (m["J", "s"] + m["F", "s"] + m["J", "u"] + m["F", "u"]) / 4,
        "J_s": m["J", "s"],
        "F_s": m["F", "s"],
        "J_u": m["J", "u"],
        "F_u": m["F", "u"],
    }


def per_sequence(per_video: dict[str, dict[str, tuple[int, int]]], per: dict) -> Breakdown:
    """Per video: the means over its seen (``_s``) and unseen (``_u``) objects of J and F and
    their counts (null where the video has none of that kind); ``J_s`` .. ``F_u`` are
    object-weighted means of these and G their average, so every key is rebuilt."""
    samples = {}
    for video, spans in per_video.items():
        row: dict[str, Any] = {}
        for sp, (a, b) in spans.items():
            row[f"n_{sp}"] = b - a
            for m in "JF":
                row[f"{m}_{sp}"] = float(np.mean(per[m, sp][a:b])) if b > a else None
        vals = [v for k, v in row.items() if k[0] in "JF" and v is not None]
        row["J&F"] = float(np.mean(vals)) if vals else None
        samples[video] = row
    w = {f"{m}_{sp}": weighted(f"{m}_{sp}", f"n_{sp}") for m in "JF" for sp in "su"}
    fields = {"J&F": "mean of the video's J and F fields", **{f"n_{sp}": f"{name} objects scored"
                                                              for sp, name in (("s", "seen"), ("u", "unseen"))},
              **{f"{m}_{sp}": f"mean {m} over the video's {name} objects" for m in "JF"
                 for sp, name in (("s", "seen"), ("u", "unseen"))}}
    return Breakdown("sequence", "J&F", True, samples, {}, fields,
                     {**w, "G": average(w["J_s"], w["F_s"], w["J_u"], w["F_u"])})
