"""COCO box/mask AP through the vectorised COCOeval engine (:mod:`evalkit.metrics._apeval`).

This is pycocotools' ``COCOeval`` (iouType bbox/segm, default ``Params``) with the per-pair
Python loops replaced by array code: detections and GTs are grouped into (image, category)
pairs with one sort each, box IoUs of all pairs are computed in one call (the float64
operations of pycocotools' C ``bbIou``, in the same order, so bit-identical), mask IoUs with
pycocotools' ``iou`` once per image (on large inputs half of the images in a forked second
process), and the greedy matching runs over chunks of pairs at once.

Inputs are the validated GT dict and result entries of :mod:`evalkit.metrics.coco`; the
semantics (and the parity tests) are those of that module.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ._apeval import EvalParams, FlatData, evaluate, summarize12
from ._breakdown import emit, wanted
from .ap_breakdown import ap_breakdown
from ._coco_io import Detections
from ._iou import box_iou_coco
from ._rle import gt_to_rle

#: IoU cells above which the mask IoUs are split over two processes (a fork costs ~0.1 s)
_PARALLEL_CELLS = 100_000

# the arrays of the evaluation in progress, seen by the forked worker without pickling
_WORK: tuple = ()

__all__ = ["COCO_PARAMS", "run_vectorised"]

COCO_PARAMS = EvalParams(area_rngs=[[0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]])


def run_vectorised(gt: dict, dets: Detections, iou_type: str, cat_ids=None, p: EvalParams = COCO_PARAMS) -> list[float]:
    """The 12 ``COCOeval`` stats for validated ``dets`` (see :func:`prepare_results`)."""
    from pycocotools import mask as mask_utils

    img_ids = sorted({im["id"] for im in gt["images"]})
    cat_list = sorted(set(cat_ids) if cat_ids is not None else {c["id"] for c in gt["categories"]})
    K = len(cat_list)
    iidx = {v: i for i, v in enumerate(img_ids)}
    cidx = {v: i for i, v in enumerate(cat_list)}
    images = {im["id"]: im for im in gt["images"]}

    anns = [a for a in gt["annotations"] if a["image_id"] in iidx and a["category_id"] in cidx]
    g_key = np.fromiter((iidx[a["image_id"]] * K + cidx[a["category_id"]] for a in anns), np.int64, len(anns))
    d_in = np.fromiter((c in cidx for c in dets.category_id), bool, len(dets))
    d_key = np.fromiter((iidx[i] * K + cidx.get(c, 0) for i, c in zip(dets.image_id, dets.category_id)), np.int64, len(dets))
    d_key = np.where(d_in, d_key, -1)  # categories left out of the evaluation
    d_score = dets.score

    # GTs by pair in file order; detections by pair, score descending (stable), top maxDet
    g_order = np.argsort(g_key, kind="stable")
    d_order = np.lexsort((np.arange(len(dets)), -d_score, d_key))
    d_order = d_order[d_key[d_order] >= 0]
    d_sorted_key = d_key[d_order]
    first = np.searchsorted(d_sorted_key, d_sorted_key, side="left")
    d_order = d_order[np.arange(len(d_order)) - first < p.max_dets[-1]]

    keys = np.union1d(g_key, d_key[d_key >= 0])
    gp = np.searchsorted(keys, g_key[g_order])
    dp = np.searchsorted(keys, d_key[d_order])
    P = len(keys)
    nd = np.bincount(dp, minlength=P)
    ng = np.bincount(gp, minlength=P)
    d0, g0 = np.cumsum(nd) - nd, np.cumsum(ng) - ng
    both = np.flatnonzero((nd > 0) & (ng > 0))
    sizes = np.zeros(P, np.int64)
    sizes[both] = nd[both] * ng[both]
    iou_off = np.cumsum(sizes) - sizes

    g_anns = [anns[i] for i in g_order]
    g_crowd = np.fromiter((bool(a.get("iscrowd", 0)) for a in g_anns), bool, len(g_anns))
    if iou_type == "bbox":
        g_box = np.array([a["bbox"] for a in g_anns], np.float64).reshape(-1, 4)
        d_box = dets.bbox[d_order]
        d_area = d_box[:, 2] * d_box[:, 3]
        cell_pair = np.repeat(np.arange(P), sizes)
        within = np.arange(int(sizes.sum())) - iou_off[cell_pair]
        di = d0[cell_pair] + within // ng[cell_pair]
        gi = g0[cell_pair] + within % ng[cell_pair]
        ious = box_iou_coco(d_box[di], g_box[gi], g_crowd[gi])
    else:
        d_rles = [dets.segmentation[i] for i in d_order]
        d_area = dets.area[d_order].astype(np.float64)  # pixel counts from the RLE check
        g_rles = [gt_to_rle(a["segmentation"], int(images[a["image_id"]]["height"]), int(images[a["image_id"]]["width"]),
                            f"ground-truth annotation id {a['id']!r}") for a in g_anns]
        # one pycocotools call per image (all its detections x GTs, the same C rleIou), then
        # the category blocks are cut out: far fewer Python calls than one per pair
        img_of = keys[both] // K
        cuts = np.flatnonzero(np.diff(img_of)) + 1
        groups = np.split(both, cuts) if len(both) else []
        blocks = _mask_blocks(groups, (d_rles, g_rles, g_crowd.astype(np.uint8).tolist(), d0, nd, g0, ng),
                              int(sizes.sum()))
        ious = np.concatenate(blocks) if blocks else np.zeros(0)
    flat = FlatData(
        pair_img=keys // K,
        pair_cat=keys % K,
        dt_pair=dp,
        dt_score=d_score[d_order],
        dt_area=d_area,
        gt_pair=gp,
        gt_crowd=g_crowd,
        gt_area=np.fromiter((a["area"] for a in g_anns), np.float64, len(g_anns)),
        gt_id_nonzero=np.fromiter((a["id"] != 0 for a in g_anns), bool, len(g_anns)),
        ious=ious,
        iou_off=iou_off,
    )
    ev = evaluate(flat, K, p)
    if wanted():
        names = {c["id"]: c.get("name", str(c["id"])) for c in gt["categories"]}
        emit(ap_breakdown("image", ev["precision"], p.iou_thrs, cat_list, names, img_ids, ev["per_image"], ev, p))
    return summarize12(ev, p)


def _mask_blocks(groups: list[np.ndarray], work: tuple, n_cells: int) -> list[np.ndarray]:
    """The flat ``nd x ng`` mask IoU blocks of every pair of ``groups`` (pairs of one image
    per group), in order, concatenated into one or two arrays. Large problems run the second half of the images in a forked
    process (where the platform forks and two CPUs exist); the blocks are the same."""
    global _WORK
    _WORK = work
    try:
        if n_cells < _PARALLEL_CELLS or len(groups) < 2 or (os.cpu_count() or 1) < 2 \
                or "fork" not in mp.get_all_start_methods():
            return [_image_blocks(groups)]
        # split where half the IoU cells are done
        d0, nd, g0, ng = work[3:]
        cells = np.array([int((nd[g] * ng[g]).sum()) for g in groups])
        half = int(np.searchsorted(np.cumsum(cells), cells.sum() / 2)) + 1
        with ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as pool:
            second = pool.submit(_image_blocks, groups[half:])
            first = _image_blocks(groups[:half])
            return [first, second.result()]
    finally:
        _WORK = ()


def _image_blocks(groups: list[np.ndarray]) -> np.ndarray:
    """:func:`_mask_blocks` for one run of images (reads :data:`_WORK`): its blocks, flat."""
    from pycocotools import mask as mask_utils

    d_rles, g_rles, crowd, d0, nd, g0, ng = _WORK
    blocks = []
    for group in groups:
        da, db = d0[group[0]], d0[group[-1]] + nd[group[-1]]
        ga, gb = g0[group[0]], g0[group[-1]] + ng[group[-1]]
        full = np.asarray(mask_utils.iou(d_rles[da:db], g_rles[ga:gb], crowd[ga:gb]), np.float64).reshape(db - da, gb - ga)
        for k in group:
            blocks.append(full[d0[k] - da : d0[k] - da + nd[k], g0[k] - ga : g0[k] - ga + ng[k]].ravel())
    return np.concatenate(blocks) if blocks else np.zeros(0)
