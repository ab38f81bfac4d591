"""Breakdowns of the COCOeval family (COCO, LVIS, YouTube-VIS): per-category AP, per-image counts.

Per category, AP / AP50 / AP75 are read from the evaluation's ``precision`` array
(``T x R x K x A x M`` for COCOeval and ytvoseval, ``T x R x K x A`` for LVISEval) exactly as
the official ``summarize`` reads the headline: area range ``all``, the last ``maxDets``, the mean
of the entries above -1 (pycocotools ``COCOeval.summarize._summarize``, lvis
``LVISEval._summarize``). A category without a regular GT keeps -1 everywhere and gets
``null``; one with a GT has every entry set (``accumulate`` fills its rows, 0 where a recall
threshold is not reached), so the headline AP is exactly the mean of the per-category APs over
the categories with GT, which the ``mean`` aggregates state.

Per image (COCO) or video (YouTube-VIS), the matching at IoU 0.5 over the kept detections
(:func:`evalkit.metrics._apeval.image_counts`): ``n_gt``, ``tp@0.5``, ``fp@0.5`` and
``recall@0.5`` = tp / n_gt (null without GT). These are not official numbers (COCO defines AP
over the whole set only) but they sort the images by how much of their ground truth was found.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._breakdown import Breakdown, mean

__all__ = ["per_category_ap", "ap_breakdown"]

_AP_FIELDS = {"AP": "AP@[.5:.95], area all, last maxDets (fraction)", "AP50": "AP at IoU 0.5", "AP75": "AP at IoU 0.75"}


def _ap(s: np.ndarray) -> float | None:
    v = s[s > -1]
    return float(np.mean(v)) if v.size else None


def per_category_ap(precision: np.ndarray, iou_thrs: np.ndarray, cat_ids: Sequence[int],
                    names: dict[int, str]) -> dict[str, dict[str, Any]]:
    """``{category id: {"name", "AP", "AP50", "AP75"}}`` from ``precision`` (``T x R x K x A
    [x M]``; area index 0 = all, the last M = the largest maxDets)."""
    p = precision[..., -1] if precision.ndim == 5 else precision
    p = p[:, :, :, 0]  # T x R x K
    t50, t75 = (int(np.flatnonzero(np.isclose(iou_thrs, t))[0]) for t in (0.5, 0.75))
    return {str(c): {"name": names.get(c, str(c)), "AP": _ap(p[:, :, k]), "AP50": _ap(p[t50, :, k]),
                     "AP75": _ap(p[t75, :, k])} for k, c in enumerate(cat_ids)}


def ap_breakdown(unit: str, precision: np.ndarray, iou_thrs: np.ndarray, cat_ids: Sequence[int],
                 names: dict[int, str], unit_ids: Sequence[Any] = (),
                 counts: dict[str, np.ndarray] | None = None, ev: dict | None = None, p: Any = None) -> Breakdown:
    """The breakdown of one AP evaluation: per-category AP (aggregates ``AP``, ``AP50``,
    ``AP75`` over categories) and, with ``counts`` (:func:`image_counts`, indexed like
    ``unit_ids``), per-image/video match counts; with the evaluation ``ev`` of
    :func:`evalkit.metrics._apeval.evaluate` and its params ``p``, the matching state that
    re-accumulates AP over resampled images (:mod:`evalkit.metrics.ap_resample`)."""
    samples: dict[str, dict[str, Any]] = {}
    fields = dict(_AP_FIELDS)
    if counts is not None:
        fields.update({"n_gt": "regular (non-crowd, any area) ground-truth objects",
                       "tp@0.5": "detections matched at IoU 0.5 (top maxDets per category)",
                       "fp@0.5": "unmatched, not ignored detections at IoU 0.5",
                       "recall@0.5": "tp@0.5 / n_gt (null without ground truth)"})
        n = len(counts["gt"])
        for i, uid in enumerate(unit_ids):
            tp, fp, g = (int(counts[k][i]) if i < n else 0 for k in ("tp", "fp", "gt"))
            samples[str(uid)] = {"n_gt": g, "tp@0.5": tp, "fp@0.5": fp, "recall@0.5": tp / g if g else None}
    cats = per_category_ap(precision, iou_thrs, cat_ids, names)
    bd = Breakdown(unit, "recall@0.5" if counts is not None else None, True, samples, cats, fields,
                   {k: mean(k, over="categories") for k in _AP_FIELDS})
    if ev is not None:
        from .ap_resample import build_state

        bd.arrays = {**build_state(ev, p, len(unit_ids), len(cat_ids)), "units": np.array([str(u) for u in unit_ids])}
    return bd
