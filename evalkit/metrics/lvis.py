"""LVIS box and mask AP (Gupta et al., "LVIS: A Dataset for Large Vocabulary Instance
Segmentation", CVPR 2019).

Oracle and implementation: lvis-api ``LVISEval`` (the ``lvis`` package), run on validated inputs.
lvis 0.5.3 calls the alias ``np.float`` that numpy >= 1.24 removed; :func:`_np_float_alias`
restores it only for the duration of the evaluation and removes it again afterwards.

Ground truth: an LVIS ``lvis_v*_val.json`` (path or loaded dict): COCO layout plus, per image,
``neg_category_ids`` and ``not_exhaustive_category_ids`` and, per category, ``frequency`` in
``{"r", "c", "f"}``.

Results: the LVIS results JSON, a list of detections exactly as for COCO::

    [{"image_id": int, "category_id": int, "score": float,
      "bbox": [x, y, w, h],                               # lvis-bbox
      "segmentation": {"size": [H, W], "counts": str}},   # lvis-segm
     ...]

validated as in :mod:`evalkit.metrics.coco` (unknown ids, bad boxes, bad RLE ->
:class:`~evalkit.errors.ResultsError`).

Semantics (``reference/metrics.md`` §2): at most 300 detections per image over all categories
(top scores, lvis-api's ``limit_dets_per_image``); detections of a category neither annotated
in the image nor in its ``neg_category_ids`` are dropped (federated evaluation); unmatched
detections of a ``not_exhaustive`` category are ignored; no crowd handling. For ``lvis-segm``
any ``bbox`` in the results is dropped so the mask area decides the area range (as detectron2
does; lvis-api would use the box area otherwise).
"""
from __future__ import annotations

import contextlib
import copy
import logging
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import emit, wanted
from ._coco_io import is_path, load_gt, prepare_results
from .ap_breakdown import ap_breakdown

__all__ = ["LVIS_STATS", "lvis_bbox", "lvis_segm", "evaluate_lvis"]

LVIS_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf", "AR@300", "ARs@300", "ARm@300", "ARl@300")


def lvis_bbox(gt: Any, results: Any) -> dict[str, float]:
    """LVIS box AP (the :data:`LVIS_STATS`, fractions, -1 when undefined)."""
    return evaluate_lvis(gt, results, "bbox")


def lvis_segm(gt: Any, results: Any) -> dict[str, float]:
    """LVIS mask AP (the :data:`LVIS_STATS`, fractions, -1 when undefined)."""
    return evaluate_lvis(gt, results, "segm")


@contextlib.contextmanager
def _np_float_alias():
    """Provide ``np.float`` (= ``float``) for lvis 0.5.3 while it runs, then remove it."""
    had = "float" in np.__dict__
    if not had:
        np.float = float  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if not had:
            del np.float


def evaluate_lvis(gt: Any, results: Any, iou_type: str) -> dict[str, float]:
    """Score LVIS-format ``results`` against ``gt`` (paths or loaded objects) with lvis-api."""
    from lvis import LVIS

    if iou_type not in ("bbox", "segm"):
        raise ResultsError(f"lvis: iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    gt_data, name = load_gt(gt, need_bbox=iou_type == "bbox")
    for i, im in enumerate(gt_data["images"]):
        for k in ("neg_category_ids", "not_exhaustive_category_ids"):
            if k not in im:
                raise ResultsError(f"{name}: images[{i}] lacks '{k}' (not an LVIS ground truth?)")
    for i, c in enumerate(gt_data["categories"]):
        if c.get("frequency") not in ("r", "c", "f"):
            raise ResultsError(f"{name}: categories[{i}] needs 'frequency' in r/c/f, got {c.get('frequency')!r}")
    dets = prepare_results(gt_data, results, iou_type).dicts()
    gt_data = gt_data if is_path(gt) else copy.deepcopy(gt_data)

    lvis_gt = LVIS.__new__(LVIS)  # LVIS() only reads paths; index the loaded dict instead
    lvis_gt.logger = logging.getLogger("lvis.lvis")
    lvis_gt.dataset = gt_data
    lvis_gt._create_index()
    lvis_log = logging.getLogger("lvis")
    level = lvis_log.level
    lvis_log.setLevel(logging.ERROR)  # lvis warns "assuming correct format" on every list input
    try:
        stats = _run(lvis_gt, gt_data, dets, iou_type)
    finally:
        lvis_log.setLevel(level)
    return stats


def _run(lvis_gt, gt_data: dict, dets: list[dict], iou_type: str) -> dict[str, float]:
    from lvis import LVISEval, LVISResults

    if dets:
        lvis_dt = LVISResults(lvis_gt, dets, max_dets=300)
    else:  # LVISResults indexes results[0]; an empty result set is legal
        lvis_dt = LVISResults.__new__(LVISResults)
        lvis_dt.logger = lvis_gt.logger
        lvis_dt.dataset = {**gt_data, "annotations": []}
        lvis_dt._create_index()
    with _np_float_alias():
        ev = LVISEval(lvis_gt, lvis_dt, iou_type)
        ev.run()
    if wanted():  # per-category AP from LVISEval.eval["precision"] (T x R x K x A), as _summarize reads it
        names = {c["id"]: c.get("name", str(c["id"])) for c in gt_data["categories"]}
        emit(ap_breakdown("image", np.asarray(ev.eval["precision"]), np.asarray(ev.params.iou_thrs),
                          list(ev.params.cat_ids), names))
    res = ev.get_results()
    return {k: float(res[k]) for k in LVIS_STATS}
