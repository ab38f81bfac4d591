"""COCO box and mask AP (Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014).

Oracle: pycocotools ``COCOeval`` (``backend="official"``). Backends, all fed the same validated
inputs:

* ``"fast"`` (default): evalkit's vectorised COCOeval (:mod:`evalkit.metrics.coco_vectorised`),
  the default because it returns the same 12 numbers as pycocotools (parity tests: seeded
  random cases with crowd regions, empty images, tied scores and IoUs exactly at a threshold,
  the COCO val2014 fixture) and is faster than faster-coco-eval (``bench/metrics_coco.py``);
* ``"faster-coco-eval"``: faster-coco-eval's C++ ``COCOeval_faster`` (also identical);
* ``"official"``: pycocotools itself, results loaded with its ``loadRes``.

Ground truth: a COCO ``instances_*.json`` (path or loaded dict) with ``images`` (``id``,
``height``, ``width``), ``categories`` (``id``) and ``annotations`` (``id``, ``image_id``,
``category_id``, ``bbox`` = ``[x, y, w, h]`` pixels, ``area``, ``iscrowd``, ``segmentation``
as polygons or RLE).

Results: the official COCO results JSON (path or loaded list), one object per detection::

    [{"image_id": int, "category_id": int, "score": float,
      "bbox": [x, y, w, h],                               # coco-bbox: original pixels, w, h >= 0
      "segmentation": {"size": [H, W], "counts": str}},   # coco-segm: compressed RLE of the image
     ...]

Every entry is validated first (:func:`evalkit.metrics._coco_io.prepare_results`): unknown
image or category ids, non-finite or negative-size boxes, non-finite scores, masks of the wrong
size and malformed RLE raise :class:`~evalkit.errors.ResultsError` naming the entry.

Semantics kept from pycocotools (see ``reference/metrics.md`` §1): ``maxDets`` 1/10/100 apply per
(image, category); the GT ``area`` field (not the box/mask) decides the area range; crowd GTs
are ignored regions matched by any number of detections with IoU = intersection / detection
area; area ranges are inclusive at both ends. For ``coco-segm`` the results' ``bbox`` is
dropped before loading so the mask area decides the detection's area range (pycocotools would
use the box area when a ``bbox`` is present; detectron2 drops it the same way).
"""
from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import emit, wanted
from ._coco_io import gc_paused, is_path, load_gt, prepare_results
from ._rle import areas
from .ap_breakdown import ap_breakdown

__all__ = ["COCO_STATS", "coco_bbox", "coco_segm", "evaluate_coco"]

#: The 12 ``COCOeval.summarize`` statistics, in order.
COCO_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

BACKENDS = ("fast", "faster-coco-eval", "official")


def coco_bbox(gt: Any, results: Any, backend: str = "fast") -> dict[str, float]:
    """COCO box AP/AR: the 12 ``COCOeval`` stats (fractions in [0, 1], -1 when undefined)."""
    return evaluate_coco(gt, results, "bbox", backend=backend)


def coco_segm(gt: Any, results: Any, backend: str = "fast") -> dict[str, float]:
    """COCO mask AP/AR: the 12 ``COCOeval`` stats (fractions in [0, 1], -1 when undefined)."""
    return evaluate_coco(gt, results, "segm", backend=backend)


def evaluate_coco(
    gt: Any,
    results: Any,
    iou_type: str,
    *,
    backend: str = "fast",
    cat_ids: list[int] | None = None,
) -> dict[str, float]:
    """Score COCO-format ``results`` against ``gt`` (paths or loaded objects).

    Args:
        iou_type: ``"bbox"`` or ``"segm"``.
        backend: ``"fast"`` (vectorised, default), ``"faster-coco-eval"`` or ``"official"``
            (pycocotools).
        cat_ids: restrict evaluation to these categories (``params.catIds``); all by default.

    Returns:
        ``{name: value}`` for the 12 names of :data:`COCO_STATS`.
    """
    if backend not in BACKENDS:
        raise ResultsError(f"coco: unknown backend {backend!r}; expected one of {BACKENDS}")
    if iou_type not in ("bbox", "segm"):
        raise ResultsError(f"coco: iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    with gc_paused():
        gt_data, _ = load_gt(gt, need_bbox=iou_type == "bbox")
        dets = prepare_results(gt_data, results, iou_type)
        if not is_path(gt):  # the official tools set keys of the GT annotations (ignore, RLE)
            gt_data = {**gt_data, "annotations": [dict(a) for a in gt_data["annotations"]]}
        if backend == "official":
            stats = _run_pycocotools(gt_data, dets.dicts(), iou_type, cat_ids)
        elif backend == "faster-coco-eval":
            stats = _run_faster(gt_data, dets.dicts(), iou_type, cat_ids)
        else:
            from .coco_vectorised import run_vectorised

            stats = run_vectorised(gt_data, dets, iou_type, cat_ids)
    return {k: float(v) for k, v in zip(COCO_STATS, stats)}


def _run_pycocotools(gt_data: dict, dets: list[dict], iou_type: str, cat_ids) -> np.ndarray:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt_data
        coco_gt.createIndex()
        if dets:
            coco_dt = coco_gt.loadRes(dets)
        else:  # pycocotools.loadRes indexes results[0]; an empty result set is legal
            coco_dt = COCO()
            coco_dt.dataset = {"images": list(gt_data["images"]), "categories": copy.deepcopy(gt_data["categories"]), "annotations": []}
            coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        if cat_ids is not None:
            ev.params.catIds = list(cat_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    _emit_categories(ev, gt_data)
    return np.asarray(ev.stats[:12], dtype=np.float64)


def _run_faster(gt_data: dict, dets: list[dict], iou_type: str, cat_ids) -> np.ndarray:
    from faster_coco_eval import COCO, COCOeval_faster

    quiet = lambda *a, **k: None  # noqa: E731
    coco_gt = COCO(gt_data, print_function=quiet)
    coco_dt = COCO(print_function=quiet)
    coco_dt.dataset = {
        "images": list(gt_data["images"]),
        "categories": copy.deepcopy(gt_data["categories"]),
        "annotations": _loaded_results(dets, iou_type),
    }
    coco_dt.createIndex()
    ev = COCOeval_faster(coco_gt, coco_dt, iou_type, print_function=quiet)
    if cat_ids is not None:
        ev.params.catIds = list(cat_ids)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    _emit_categories(ev, gt_data)
    return np.asarray(ev.stats[:12], dtype=np.float64)


def _emit_categories(ev: Any, gt_data: dict) -> None:
    """The per-category breakdown of an official COCOeval (``ev.eval['precision']``, as its
    ``summarize`` reads it); per-image counts come with the default backend only."""
    if wanted():
        names = {c["id"]: c.get("name", str(c["id"])) for c in gt_data["categories"]}
        emit(ap_breakdown("image", np.asarray(ev.eval["precision"]), np.asarray(ev.params.iouThrs),
                          list(ev.params.catIds), names))


def _loaded_results(dets: list[dict], iou_type: str) -> list[dict]:
    """What ``COCO.loadRes`` makes of validated results, computed in bulk.

    loadRes numbers the detections 1..N in file order, sets ``iscrowd = 0`` and the area:
    ``w * h`` of the box for box results, the RLE's pixel count (and ``bbox = toBbox``) for
    mask results. It calls pycocotools' area once per detection; here it is one call for all.
    (loadRes also gives box results a 4-point polygon ``segmentation``, unused by box IoU.)
    """
    from pycocotools import mask as mask_utils

    if iou_type == "bbox":
        for i, d in enumerate(dets, 1):
            b = d["bbox"]
            d["area"], d["id"], d["iscrowd"] = b[2] * b[3], i, 0
        return dets
    rles = [d["segmentation"] for d in dets]
    pixel_counts = areas(rles).astype(np.float64).tolist()
    boxes = mask_utils.toBbox(rles).tolist() if rles else []
    for i, (d, a, b) in enumerate(zip(dets, pixel_counts, boxes), 1):
        d["area"], d["bbox"], d["id"], d["iscrowd"] = a, b, i, 0
    return dets
