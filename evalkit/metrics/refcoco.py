"""Referring expression comprehension (REC) and segmentation (RES) on RefCOCO/+/g.

Semantics of UNINEXT / UniRef (``detectron2/evaluation/refcocoeval.py`` and
``COCOEvaluator._derive_refcoco_results``; see ``reference/metrics.md`` §4):

* every referring expression is one "image" entry of a COCO-format ground truth with exactly
  one annotation (the referred object);
* the prediction scored for an expression is its **highest-scoring** result (a stable sort, so
  the first one in the file on ties) -- the official code takes ``d[0]`` after sorting by score;
* per-expression IoU is pycocotools' ``maskUtils.iou`` (boxes ``[x, y, w, h]`` without +1, masks
  as RLE; a crowd GT would use intersection / prediction area; an empty pair gives 0);
* **P@X counts IoU > X strictly** and is reported in percent (count / N x 100);
* RES **oIoU** = sum of intersections / sum of unions (pixel counts at the original
  resolution) x 100; **mIoU** = mean per-expression IoU x 100.

Options: ``compare=">="`` counts IoU >= X (LAVT); ``iou="giou"`` (REC only) uses the generalised
IoU of MDETR (xyxy, no +1) instead of IoU.

Ground truth (path or dict): COCO layout, one image entry per expression::

    {"images": [{"id": int, "height": H, "width": W, "file_name": str, "expressions": [str]?}, ...],
     "annotations": [{"id": int, "image_id": int, "category_id": int, "bbox": [x, y, w, h],
                      "segmentation": polygons | RLE, "iscrowd": 0, "area": float}, ...],
     "categories": [{"id": 1, "name": "object"}]}

Results (path or list), COCO results keyed by the expression's image id (what UNINEXT/UniRef
write as ``<dataset>_instances_results.json``)::

    [{"image_id": int, "category_id": int, "score": float,
      "bbox": [x, y, w, h],                                # refcoco-rec
      "segmentation": {"size": [H, W], "counts": str}},    # refcoco-res
     ...]

``category_id`` in results is not used (RefCOCO has a single category). Every expression must
have at least one result: the official evaluator crashes without one, here it is a
:class:`~evalkit.errors.ResultsError` naming the expression.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, emit, mean, ratio, wanted
from ._files import require_id, warn_if_empty
from ._coco_io import load_gt, load_json
from ._iou import box_giou, box_iou_coco
from ._rle import check_compressed, gt_to_rle, normalise_rle

__all__ = ["refcoco_rec", "refcoco_res"]

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def _precisions(ious: np.ndarray, compare: str) -> dict[str, float]:
    if compare not in (">", ">="):
        raise ResultsError(f"refcoco: compare must be '>' or '>=', got {compare!r}")
    out = {}
    for t in THRESHOLDS:
        hit = ious > t if compare == ">" else ious >= t
        out[f"P@{t}"] = float(np.sum(hit) / len(ious) * 100)
    return out


def _hits(ious: np.ndarray, compare: str) -> dict[str, np.ndarray]:
    return {f"hit@{t}": (ious > t if compare == ">" else ious >= t).astype(np.int64) for t in THRESHOLDS}


def per_expression(pairs, ious: np.ndarray, compare: str, extra: dict[str, np.ndarray] | None = None) -> Breakdown:
    """The per-expression breakdown of an evaluation: ``IoU`` (fraction), ``hit@X`` (0/1, the
    same comparison as ``P@X``) and any ``extra`` per-expression arrays, keyed by expression
    (image) id; ``P@X`` is rebuilt as 100 x the mean hit."""
    hits = _hits(ious, compare)
    cols = {"IoU": ious, **hits, **(extra or {})}
    samples = {str(im["id"]): {k: v[i].item() for k, v in cols.items()} for i, (im, *_) in enumerate(pairs)}
    op = ">" if compare == ">" else ">="
    fields = {"IoU": "IoU of the top-scoring prediction with the referred object (fraction)",
              **{f"hit@{t}": f"1 if IoU {op} {t} else 0" for t in THRESHOLDS}}
    return Breakdown("expression", "IoU", True, samples, {}, fields,
                     {f"P@{t}": mean(f"hit@{t}", scale=100.0) for t in THRESHOLDS})


def _pairs(gt: Any, results: Any, field: str):
    """GT annotation and top-scoring result per expression, in sorted expression-id order."""
    gt_data, gname = load_gt(gt, require=("images", "annotations"))
    data, rname = load_json(results, "results")
    if not isinstance(data, list):
        raise ResultsError(f"{rname}: results must be a JSON list, got {type(data).__name__}")
    warn_if_empty(data, rname)
    images = {im["id"]: im for im in gt_data["images"]}
    ann_of: dict = {}
    for i, a in enumerate(gt_data["annotations"]):
        if a["image_id"] in ann_of:
            raise ResultsError(f"{gname}: expression (image) {a['image_id']!r} has more than one annotation (annotations[{i}])")
        ann_of[a["image_id"]] = a
    best: dict = {}
    for i, r in enumerate(data):
        at = f"{rname}: entry {i}"
        if not isinstance(r, dict) or "image_id" not in r or "score" not in r or field not in r:
            raise ResultsError(f"{at}: needs 'image_id', 'score' and '{field}'")
        if require_id(r["image_id"], at, "image_id") not in images:
            raise ResultsError(f"{at}: image_id {r['image_id']!r} is not an expression of the ground truth")
        s = r["score"]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not np.isfinite(s):
            raise ResultsError(f"{at}: score must be a finite number, got {s!r}")
        cur = best.get(r["image_id"])
        if cur is None or s > cur[0]:  # strictly greater: the first one wins ties
            best[r["image_id"]] = (s, i, r)
    ids = sorted(images)
    missing = [e for e in ids if e not in best]
    if missing:
        raise ResultsError(f"{rname}: no prediction for {len(missing)} expression(s), e.g. image_id {missing[0]!r}")
    no_gt = [e for e in ids if e not in ann_of]
    if no_gt:
        raise ResultsError(f"{gname}: expression (image) {no_gt[0]!r} has no annotation")
    return [(images[e], ann_of[e], best[e][2], f"{rname}: entry {best[e][1]}") for e in ids]


def refcoco_rec(gt: Any, results: Any, compare: str = ">", iou: str = "iou") -> dict[str, float]:
    """REC precision ``P@0.5 .. P@0.9`` in percent (see module docstring)."""
    if iou not in ("iou", "giou"):
        raise ResultsError(f"refcoco-rec: iou must be 'iou' or 'giou', got {iou!r}")
    pairs = _pairs(gt, results, "bbox")
    d = np.zeros((len(pairs), 4))
    g = np.zeros((len(pairs), 4))
    crowd = np.zeros(len(pairs), bool)
    for k, (_, a, r, at) in enumerate(pairs):
        b = r["bbox"]
        if not (isinstance(b, (list, tuple)) and len(b) == 4 and all(isinstance(v, (int, float)) and np.isfinite(v) for v in b)):
            raise ResultsError(f"{at}: bbox must be 4 finite numbers [x, y, w, h], got {b!r}")
        if b[2] < 0 or b[3] < 0:
            raise ResultsError(f"{at}: bbox has a negative width or height: {list(b)}")
        d[k], g[k], crowd[k] = b, a["bbox"], bool(a.get("iscrowd", 0))
    ious = box_iou_coco(d, g, crowd) if iou == "iou" else box_giou(d, g)
    out = _precisions(ious, compare)
    if wanted():
        emit(per_expression(pairs, ious, compare))
    return out


def refcoco_res(gt: Any, results: Any, compare: str = ">") -> dict[str, float]:
    """RES ``oIoU``, ``mIoU`` and ``P@0.5 .. P@0.9``, all in percent (see module docstring)."""
    from pycocotools import mask as mask_utils

    pairs = _pairs(gt, results, "segmentation")
    drs, grs, where = [], [], []
    for im, a, r, at in pairs:
        h, w = int(im["height"]), int(im["width"])
        drs.append(normalise_rle(r["segmentation"], h, w, at))
        g = gt_to_rle(a["segmentation"], h, w, f"ground-truth annotation {a.get('id')!r}")
        if list(g["size"]) != [h, w]:
            raise ResultsError(f"ground-truth annotation {a.get('id')!r}: mask of size {list(g['size'])} for an image of size [{h}, {w}]")
        grs.append(g)
        where.append(at)
    check_compressed(drs, where)
    ious = np.empty(len(pairs))
    inter = np.empty(len(pairs))
    union = np.empty(len(pairs))
    for k, ((_, a, _, _), dr, gr) in enumerate(zip(pairs, drs, grs)):
        ious[k] = mask_utils.iou([dr], [gr], [int(bool(a.get("iscrowd", 0)))])[0][0]
        inter[k] = mask_utils.area(mask_utils.merge([dr, gr], intersect=True))
        union[k] = mask_utils.area(mask_utils.merge([dr, gr], intersect=False))
    with np.errstate(invalid="ignore"):  # every mask empty: NaN (the official code divides by 0)
        o_iou = inter.sum() / union.sum()
    out = {
        "oIoU": float(o_iou * 100),
        "mIoU": float(np.mean(ious) * 100),
    }
    out.update(_precisions(ious, compare))
    if wanted():
        bd = per_expression(pairs, ious, compare, {"I": inter, "U": union})
        bd.fields.update(I="intersection, pixels at the original resolution", U="union, pixels")
        bd.aggregates.update(oIoU=ratio("I", "U", scale=100.0), mIoU=mean("IoU", scale=100.0))
        emit(bd)
    return out
