"""Few-shot segmentation on FSS-1000 (Li et al., "FSS-1000: A 1000-Class Dataset for Few-Shot
Segmentation", CVPR 2020), scored under the two protocols in use (``reference/metrics.md`` §12):

* **UniRef** (RefCOCO-style evaluator, per query): ``mIoU`` = mean over queries of the
  pycocotools mask IoU (an empty prediction on an empty GT gives 0), ``oIoU`` = sum of
  intersections / sum of unions; both x 100.
* **HSNet** (Min et al., ICCV 2021; ``common/evaluation.py`` + ``common/logger.py``): per class
  c, ``IoU_c = sum I / max(sum U, 1)`` over the class's episodes; ``HSNet-mIoU`` = mean of the
  foreground ``IoU_c`` over the classes present x 100; ``FB-IoU`` = mean over {background,
  foreground} of (sum over classes of I) / (sum of U) x 100, where background I/U count the
  pixels where prediction and GT are both 0 / either is 0.

Quirk not reproduced bit-for-bit: HSNet accumulates the pixel counts in float32 buffers on the
GPU, so its sums round once they exceed 2^24; here they are exact (int64), which differs from a
float32 run by at most a few 1e-5 points. Evaluation resolution is the masks' own resolution:
HSNet scores at 400 x 400 (resized GT), UniRef at the original size; the benchmark writing the
files decides which.

Ground truth (path or dict), one entry per query episode::

    {"queries": [{"query_id": str | int, "class_id": int,
                  "segmentation": {"size": [H, W], "counts": str | [int]}}, ...]}

Results (path or list), one mask per query::

    [{"query_id": str | int, "segmentation": {"size": [H, W], "counts": str}}, ...]

Every query needs exactly one result of the GT's size; unknown or duplicate query ids and
malformed RLE raise :class:`~evalkit.errors.ResultsError` naming the entry.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, emit, mean, ratio, wanted
from ._files import require_id
from ._coco_io import load_json
from ._rle import check_compressed, normalise_rle

__all__ = ["fss"]


def _size(seg, where: str) -> tuple[int, int]:
    try:
        h, w = (int(x) for x in seg["size"])
    except (TypeError, KeyError, ValueError):
        raise ResultsError(f"{where}: segmentation must be an RLE dict with 'size' [H, W]") from None
    return h, w


def fss(gt: Any, results: Any) -> dict[str, float]:
    """UniRef ``mIoU``/``oIoU`` and HSNet ``HSNet-mIoU``/``FB-IoU``, all in percent."""
    from pycocotools import mask as mask_utils

    gdata, gname = load_json(gt, "ground truth")
    if not isinstance(gdata, dict) or not isinstance(gdata.get("queries"), list):
        raise ResultsError(f"{gname}: an FSS ground truth is an object with a 'queries' list")
    rdata, rname = load_json(results, "results")
    if not isinstance(rdata, list):
        raise ResultsError(f"{rname}: results must be a JSON list, got {type(rdata).__name__}")
    queries = {}
    for i, q in enumerate(gdata["queries"]):
        at = f"{gname}: queries[{i}]"
        if not isinstance(q, dict) or not all(k in q for k in ("query_id", "class_id", "segmentation")):
            raise ResultsError(f"{at}: needs 'query_id', 'class_id' and 'segmentation'")
        if require_id(q["query_id"], at, "query_id") in queries:
            raise ResultsError(f"{at}: duplicate query_id {q['query_id']!r}")
        h, w = _size(q["segmentation"], at)
        queries[q["query_id"]] = (int(q["class_id"]), normalise_rle(q["segmentation"], h, w, at), at)
    if not queries:
        raise ResultsError(f"{gname}: no queries")
    check_compressed([v[1] for v in queries.values()], [v[2] for v in queries.values()])
    pred: dict = {}
    for i, r in enumerate(rdata):
        at = f"{rname}: entry {i}"
        if not isinstance(r, dict) or "query_id" not in r or "segmentation" not in r:
            raise ResultsError(f"{at}: needs 'query_id' and 'segmentation'")
        qid = require_id(r["query_id"], at, "query_id")
        if qid not in queries:
            raise ResultsError(f"{at}: query_id {qid!r} is not a query of the ground truth")
        if qid in pred:
            raise ResultsError(f"{at}: a second result for query_id {qid!r}")
        g = queries[qid][1]
        pred[qid] = normalise_rle(r["segmentation"], g["size"][0], g["size"][1], at)
    missing = [q for q in queries if q not in pred]
    if missing:
        raise ResultsError(f"{rname}: no result for {len(missing)} query(ies), e.g. query_id {missing[0]!r}")
    ids = list(queries)
    check_compressed([pred[q] for q in ids], [f"{rname}: query_id {q!r}" for q in ids])

    n = len(ids)
    inter, union, hw = (np.zeros(n, np.int64) for _ in range(3))
    iou = np.zeros(n)
    cls = np.array([queries[q][0] for q in ids])
    for k, q in enumerate(ids):
        d, g = pred[q], queries[q][1]
        inter[k] = mask_utils.area(mask_utils.merge([d, g], intersect=True))
        union[k] = mask_utils.area(mask_utils.merge([d, g], intersect=False))
        hw[k] = g["size"][0] * g["size"][1]
        iou[k] = mask_utils.iou([d], [g], [0])[0][0]
    # HSNet: foreground and background I/U summed per class
    classes, inv = np.unique(cls, return_inverse=True)
    fg_i = np.bincount(inv, weights=inter).astype(np.int64)
    fg_u = np.bincount(inv, weights=union).astype(np.int64)
    bg_inter = hw - union  # both 0
    bg_union = hw - inter  # either 0
    bg_i = np.bincount(inv, weights=bg_inter).astype(np.int64)
    bg_u = np.bincount(inv, weights=bg_union).astype(np.int64)
    class_iou = fg_i / np.maximum(fg_u, 1)
    with np.errstate(invalid="ignore"):  # all-empty data: NaN, as the official 0/0
        fb = [bg_i.sum() / bg_u.sum(), fg_i.sum() / fg_u.sum()]
        o_iou = inter.sum() / union.sum()
    if wanted():
        emit(per_episode(ids, cls, iou, inter, union, bg_inter, bg_union))
    return {
        "mIoU": float(iou.mean() * 100),
        "oIoU": float(o_iou * 100),
        "HSNet-mIoU": float(class_iou.mean() * 100),
        "FB-IoU": float(np.mean(fb) * 100),
    }


def per_episode(ids: list, cls: np.ndarray, iou: np.ndarray, inter: np.ndarray, union: np.ndarray,
                bg_inter: np.ndarray, bg_union: np.ndarray) -> Breakdown:
    """Per query episode: ``IoU`` (UniRef's per-query mask IoU, fraction), foreground ``I`` /
    ``U`` and background ``bg_I`` / ``bg_U`` pixels; per class, HSNet's ``IoU`` = sum I /
    max(sum U, 1). ``mIoU`` (mean over episodes), ``oIoU`` (ratio of sums) and ``HSNet-mIoU``
    (mean over classes) are rebuilt exactly; FB-IoU is a mean of two ratios and has none."""
    samples = {str(q): {"IoU": float(iou[k]), "class_id": int(cls[k]), "I": int(inter[k]), "U": int(union[k]),
                        "bg_I": int(bg_inter[k]), "bg_U": int(bg_union[k])} for k, q in enumerate(ids)}
    categories = {}
    for c in np.unique(cls):
        sel = cls == c
        i, u = int(inter[sel].sum()), int(union[sel].sum())
        categories[str(int(c))] = {"name": str(int(c)), "IoU": i / max(u, 1), "I": i, "U": u,
                                   "episodes": int(sel.sum())}
    fields = {"IoU": "mask IoU of the query (pycocotools; empty on empty = 0)", "class_id": "the episode's class",
              "I": "foreground intersection, pixels", "U": "foreground union, pixels",
              "bg_I": "pixels where prediction and GT are both background", "bg_U": "pixels where either is",
              "episodes": "episodes of the class"}
    return Breakdown("episode", "IoU", True, samples, categories, fields,
                     {"mIoU": mean("IoU", scale=100.0), "oIoU": ratio("I", "U", scale=100.0),
                      "HSNet-mIoU": mean("IoU", over="categories", scale=100.0)})
