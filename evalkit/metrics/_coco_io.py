"""Loading and validation of COCO-style ground truth and results for the image metrics.

The official tools accept broken results quietly: pycocotools drops detections of unknown
categories, asserts (with no entry named) on unknown image ids and decodes a corrupt RLE into
some other mask. Here every result entry is checked first and a :class:`ResultsError` names
the file, the entry index and the field.

Shapes and frames: COCO ``bbox`` is ``[x, y, width, height]`` in original-image pixels
(continuous coordinates, no +1); segmentations are RLE of the image's ``[height, width]``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import ResultsError
from ._rle import check_compressed, normalise_rle

__all__ = ["is_path", "load_json", "load_gt", "prepare_results"]


def is_path(obj: Any) -> bool:
    """True for a file path (which is read fresh), False for an in-memory object (which the
    official tools would modify in place, so callers copy it)."""
    return isinstance(obj, (str, Path))


def load_json(obj: Any, what: str) -> tuple[Any, str]:
    """``obj`` (a path or an already-loaded object) as a Python object, and its name for
    error messages."""
    if isinstance(obj, (str, Path)):
        path = Path(obj)
        if not path.is_file():
            raise ResultsError(f"{what} file not found: {path}")
        try:
            with open(path) as f:
                return json.load(f), str(path)
        except json.JSONDecodeError as e:
            raise ResultsError(f"{what} file {path} is not valid JSON: {e}") from None
    return obj, f"{what} (in-memory object)"


def load_gt(gt: Any, *, require: tuple[str, ...] = ("images", "annotations", "categories")) -> tuple[dict, str]:
    """A COCO-format ground-truth dict (``images``, ``annotations``, ``categories``)."""
    data, name = load_json(gt, "ground truth")
    if not isinstance(data, dict):
        raise ResultsError(f"{name}: ground truth must be a JSON object, got {type(data).__name__}")
    missing = [k for k in require if k not in data]
    if missing:
        raise ResultsError(f"{name}: ground truth lacks the field(s) {missing}")
    for i, a in enumerate(data["annotations"]):
        for k in ("image_id", "category_id", "area", "id"):
            if k not in a:
                raise ResultsError(f"{name}: annotations[{i}] lacks '{k}'")
    return data, name


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def prepare_results(gt: dict, results: Any, iou_type: str) -> list[dict]:
    """Validated copies of COCO results entries (the caller's objects are never modified).

    Each entry needs ``image_id`` (an image of ``gt``), ``category_id`` (a category of
    ``gt``), a finite ``score`` and, for ``iou_type == "bbox"``, ``bbox`` = ``[x, y, w, h]``
    finite with ``w, h >= 0``; for ``"segm"``, ``segmentation`` = an RLE of the image's size
    (compressed, or uncompressed which is compressed here). For ``"segm"`` any ``bbox`` in the
    entry is dropped so the mask area decides the area range (as detectron2 does before
    calling pycocotools; pycocotools would otherwise take the box area).

    Raises:
        ResultsError: naming the entry index and field of the first bad entry.
    """
    data, name = load_json(results, "results")
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    if not isinstance(data, list):
        raise ResultsError(f"{name}: results must be a JSON list of detections, got {type(data).__name__}")
    images = {im["id"]: im for im in gt["images"]}
    cats = {c["id"] for c in gt["categories"]}
    out: list[dict] = []
    rles: list[dict] = []
    where: list[str] = []
    for i, r in enumerate(data):
        at = f"{name}: entry {i}"
        if not isinstance(r, dict):
            raise ResultsError(f"{at}: expected an object, got {type(r).__name__}")
        try:
            img, cat, score = r["image_id"], r["category_id"], r["score"]
        except KeyError as e:
            raise ResultsError(f"{at}: missing field {e.args[0]!r}") from None
        if img not in images:
            raise ResultsError(f"{at}: image_id {img!r} is not an image of the ground truth")
        if cat not in cats:
            raise ResultsError(f"{at}: category_id {cat!r} is not a category of the ground truth")
        if not _finite(score):
            raise ResultsError(f"{at}: score must be a finite number, got {score!r}")
        e = {"image_id": img, "category_id": cat, "score": float(score)}
        if iou_type == "bbox":
            b = r.get("bbox")
            if not (isinstance(b, (list, tuple)) and len(b) == 4 and all(_finite(v) for v in b)):
                raise ResultsError(f"{at}: bbox must be 4 finite numbers [x, y, w, h], got {b!r}")
            if b[2] < 0 or b[3] < 0:
                raise ResultsError(f"{at}: bbox has a negative width or height: {list(b)}")
            e["bbox"] = [float(v) for v in b]
        else:
            if "segmentation" not in r:
                raise ResultsError(f"{at}: missing field 'segmentation'")
            im = images[img]
            rle = normalise_rle(r["segmentation"], int(im["height"]), int(im["width"]), at)
            e["segmentation"] = rle
            rles.append(rle)
            where.append(at)
        out.append(e)
    check_compressed(rles, where)
    return out
