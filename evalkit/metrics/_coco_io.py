"""Loading and validation of COCO-style ground truth and results for the image metrics.

The official tools accept broken results quietly: pycocotools drops detections of unknown
categories, asserts (with no entry named) on unknown image ids and decodes a corrupt RLE into
some other mask. Here every result entry is checked first and a :class:`ResultsError` names
the file, the entry index and the field.

Shapes and frames: COCO ``bbox`` is ``[x, y, width, height]`` in original-image pixels
(continuous coordinates, no +1); segmentations are RLE of the image's ``[height, width]``.
"""
from __future__ import annotations

import contextlib
import gc
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._files import read_json_file, warn_if_empty
from ._rle import check_compressed, normalise_rle

__all__ = ["Detections", "check_gt", "gc_paused", "is_path", "load_json", "load_gt", "prepare_results"]


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector for the block (restored after it).

    A COCO-scale evaluation builds hundreds of thousands of small dicts and lists next to a
    loaded results file of as many; every so often the collector then walks all of them,
    which measured 3x the cost of validating the entries. Nothing here makes reference
    cycles, so reference counting frees everything anyway.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@dataclass
class Detections:
    """Validated COCO results as columns.

    Attributes:
        image_id, category_id: ``N`` ids as in the files.
        score: ``N`` float64.
        bbox: ``N x 4`` float64 ``[x, y, w, h]`` (box results) or ``None``.
        segmentation: ``N`` compressed RLE dicts (``bytes`` counts; mask results) or ``None``.
        area: ``N`` int64 mask pixel counts (mask results, from the RLE check) or ``None``.
    """

    image_id: list
    category_id: list
    score: np.ndarray
    bbox: np.ndarray | None = None
    segmentation: list[dict] | None = None
    area: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.score)

    def dicts(self) -> list[dict]:
        """One new dict per detection, as the official tools take them."""
        cols = [self.image_id, self.category_id, self.score.tolist()]
        if self.bbox is not None:
            return [{"image_id": i, "category_id": c, "score": s, "bbox": b}
                    for i, c, s, b in zip(*cols, self.bbox.tolist())]
        return [{"image_id": i, "category_id": c, "score": s, "segmentation": r}
                for i, c, s, r in zip(*cols, self.segmentation)]


def is_path(obj: Any) -> bool:
    """True for a file path (which is read fresh), False for an in-memory object (which the
    official tools would modify in place, so callers copy it)."""
    return isinstance(obj, (str, Path))


def load_json(obj: Any, what: str) -> tuple[Any, str]:
    """``obj`` (a path or an already-loaded object) as a Python object, and its name for
    error messages."""
    if isinstance(obj, (str, Path)):
        path = Path(obj)
        if not path.exists():
            raise ResultsError(f"{what} file not found: {path}")
        return read_json_file(path, what), str(path)
    return obj, f"{what} (in-memory object)"


def load_gt(gt: Any, *, require: tuple[str, ...] = ("images", "annotations", "categories"),
            need_bbox: bool = False) -> tuple[dict, str]:
    """A COCO-format ground-truth dict (``images``, ``annotations``, ``categories``), validated
    by :func:`check_gt` (``need_bbox``: every annotation must have a box)."""
    data, name = load_json(gt, "ground truth")
    if not isinstance(data, dict):
        raise ResultsError(f"{name}: ground truth must be a JSON object, got {type(data).__name__}")
    missing = [k for k in require if k not in data]
    if missing:
        raise ResultsError(f"{name}: ground truth lacks the field(s) {missing}")
    check_gt(data, name, need_bbox=need_bbox)
    return data, name


def _id_ok(x) -> bool:
    """A usable COCO id: an int or a str (not a bool, list or dict, which pycocotools would
    either crash on, ``unhashable type``, or silently match by value)."""
    return isinstance(x, (int, str, np.integer)) and not isinstance(x, (bool, np.bool_))


def _duplicates(ids: list) -> list:
    seen: set = set()
    dup = []
    for i in ids:
        if i in seen and i not in dup:
            dup.append(i)
        seen.add(i)
    return dup


def check_gt(data: dict, name: str, *, need_bbox: bool = False) -> None:
    """Validate a COCO-style ground truth in place (no copy): every image, category and
    annotation is an object with an int/str ``id``, ids are unique within each list, each
    annotation has ``image_id``, ``category_id`` and ``area`` and a ``bbox`` of 4 finite numbers
    (required when ``need_bbox``: box AP matches on it).

    Why duplicates are refused: pycocotools ``COCO.createIndex`` (cocoapi
    ``PythonAPI/pycocotools/coco.py``) keys ``self.anns`` / ``self.imgs`` / ``self.cats`` by
    id, so a repeated annotation id keeps only the last one in ``anns`` while ``imgToAnns``
    keeps both, and COCOeval then scores something no one meant (a duplicated-annotation GT
    gives AP 0.91218 there, 0.92636 with the annotations kept apart): no number is right.

    Raises:
        ResultsError: naming the file, the list, the entry index and the field (or the ids).
    """
    for key in ("images", "annotations", "categories"):
        if key in data and not isinstance(data[key], list):
            raise ResultsError(f"{name}: ground truth field {key!r} must be a list, got "
                               f"{type(data[key]).__name__}")
    for key in ("images", "categories"):
        for i, e in enumerate(data.get(key, [])):
            if not isinstance(e, dict):
                raise ResultsError(f"{name}: {key}[{i}] must be an object, got {type(e).__name__}")
            if "id" not in e:
                raise ResultsError(f"{name}: {key}[{i}] lacks 'id'")
            if not _id_ok(e["id"]):
                raise ResultsError(f"{name}: {key}[{i}]: id must be an integer or a string, got {e['id']!r}")
    for i, a in enumerate(data.get("annotations", [])):
        if not isinstance(a, dict):
            raise ResultsError(f"{name}: annotations[{i}] must be an object, got {type(a).__name__}")
        for k in ("image_id", "category_id", "area", "id"):
            if k not in a:
                raise ResultsError(f"{name}: annotations[{i}] lacks '{k}'")
        for k in ("id", "image_id", "category_id"):
            if not _id_ok(a[k]):
                raise ResultsError(f"{name}: annotations[{i}]: {k} must be an integer or a string, "
                                   f"got {a[k]!r}")
        if "bbox" in a or need_bbox:
            b = a.get("bbox")
            if b is None:
                raise ResultsError(f"{name}: annotations[{i}] (id {a['id']!r}) lacks 'bbox' "
                                   f"([x, y, w, h], needed for box AP)")
            if not (isinstance(b, (list, tuple)) and len(b) == 4 and all(_finite(v) for v in b)):
                raise ResultsError(f"{name}: annotations[{i}] (id {a['id']!r}): bbox must be 4 "
                                   f"finite numbers [x, y, w, h], got {b!r}")
    for key in ("images", "categories", "annotations"):
        dup = _duplicates([e["id"] for e in data.get(key, [])])
        if dup:
            raise ResultsError(f"{name}: duplicate {key} id(s) {dup[:10]}"
                               f"{' ...' if len(dup) > 10 else ''}: each id must appear once")


_NUMBER_TYPES = (int, float, np.integer, np.floating)


def _is_number(x) -> bool:
    """A real number (Python or numpy), not a bool and not a numeric string."""
    return isinstance(x, _NUMBER_TYPES) and not isinstance(x, (bool, np.bool_))


def _finite(x) -> bool:
    return _is_number(x) and math.isfinite(x)


def prepare_results(gt: dict, results: Any, iou_type: str) -> Detections:
    """Validated copies of COCO results entries (the caller's objects are never modified).

    Each entry needs ``image_id`` (an image of ``gt``), ``category_id`` (a category of
    ``gt``), a finite ``score`` and, for ``iou_type == "bbox"``, ``bbox`` = ``[x, y, w, h]``
    finite with ``w, h >= 0``; for ``"segm"``, ``segmentation`` = an RLE of the image's size
    (compressed; uncompressed RLE and polygons are compressed here). For ``"segm"`` any
    ``bbox`` in the entry is dropped so the mask area decides the area range (as detectron2
    does before calling pycocotools; pycocotools would otherwise take the box area).

    The checks run vectorised over all entries; the first bad entry is then re-checked alone
    to say what is wrong with it.

    Returns:
        the entries as :class:`Detections` columns (new objects).

    Raises:
        ResultsError: naming the entry index and field of the first bad entry.
    """
    data, name = load_json(results, "results")
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    if not isinstance(data, list):
        raise ResultsError(f"{name}: results must be a JSON list of detections, got {type(data).__name__}")
    warn_if_empty(data, name)
    images = {im["id"]: im for im in gt["images"]}
    cats = {c["id"] for c in gt["categories"]}
    field = "bbox" if iou_type == "bbox" else "segmentation"

    def explain(first: int = 0):
        for i in range(first, len(data)):
            _check_entry(f"{name}: entry {i}", data[i], images, cats, field)
        raise AssertionError("a results entry failed the bulk checks but not the single one")

    n = len(data)
    try:
        img = [r["image_id"] for r in data]
        cat = [r["category_id"] for r in data]
        score = np.array([r["score"] for r in data], dtype=np.float64).reshape(n)
        vals = [r[field] for r in data]
        if field == "bbox":
            box = np.array(vals, dtype=np.float64).reshape(n, 4)
    except (KeyError, TypeError, ValueError, IndexError):
        explain()
    try:
        bad = np.fromiter((i not in images for i in img), bool, n)
        bad |= np.fromiter((c not in cats for c in cat), bool, n)
    except TypeError:  # an unhashable id (a list, a dict)
        explain()
    bad |= ~np.isfinite(score)
    # numpy would also convert bools and numeric strings: check the types too (one set of the
    # types seen first; entry by entry only when something unusual is there)
    if not {type(r["score"]) for r in data} <= {int, float}:
        bad |= np.fromiter((not _is_number(r["score"]) for r in data), bool, n)
    if field == "bbox":
        bad |= ~np.isfinite(box).all(1) | (box[:, 2] < 0) | (box[:, 3] < 0)
        if not {type(v) for b in vals for v in b} <= {int, float}:
            bad |= np.fromiter((not all(map(_is_number, b)) for b in vals), bool, n)
        if bad.any():
            explain(int(np.argmax(bad)))
        return Detections(img, cat, score, bbox=box)
    if bad.any():
        explain(int(np.argmax(bad)))
    rles = []
    for i, (im_id, seg) in enumerate(zip(img, vals)):
        im = images[im_id]
        h, w = im["height"], im["width"]
        if type(seg) is dict and type(seg.get("counts")) is str and seg.get("size") == [h, w] and seg["counts"].isascii():
            rles.append({"size": [h, w], "counts": seg["counts"].encode("ascii")})
        else:  # other encodings, or a wrong size: the careful path names the problem
            rles.append(normalise_rle(seg, int(h), int(w), f"{name}: entry {i}"))
    area = check_compressed(rles, lambda i: f"{name}: entry {i}")
    return Detections(img, cat, score, segmentation=rles, area=area)


def _check_entry(at: str, r: Any, images: dict, cats: set, field: str) -> None:
    """Raise the ResultsError that describes what is wrong with one results entry."""
    if not isinstance(r, dict):
        raise ResultsError(f"{at}: expected an object, got {type(r).__name__}")
    for k in ("image_id", "category_id", "score", field):
        if k not in r:
            raise ResultsError(f"{at}: missing field {k!r}")
    for k in ("image_id", "category_id"):
        if not _id_ok(r[k]):
            raise ResultsError(f"{at}: {k} must be an integer or a string, got {r[k]!r}")
    if r["image_id"] not in images:
        raise ResultsError(f"{at}: image_id {r['image_id']!r} is not an image of the ground truth")
    if r["category_id"] not in cats:
        raise ResultsError(f"{at}: category_id {r['category_id']!r} is not a category of the ground truth")
    if not _finite(r["score"]):
        raise ResultsError(f"{at}: score must be a finite number, got {r['score']!r}")
    if field == "bbox":
        b = r["bbox"]
        if not (isinstance(b, (list, tuple)) and len(b) == 4 and all(_finite(v) for v in b)):
            raise ResultsError(f"{at}: bbox must be 4 finite numbers [x, y, w, h], got {b!r}")
        if b[2] < 0 or b[3] < 0:
            raise ResultsError(f"{at}: bbox has a negative width or height: {list(b)}")
