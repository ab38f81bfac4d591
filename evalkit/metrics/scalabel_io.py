"""Readers for the BDD100K tracking formats: Scalabel JSON (boxes or RLE) and RGBA bitmask PNGs.

Scalabel JSON (``bdd100k`` / ``scalabel`` toolkits): a list of frames, or ``{"frames": [...]}``,
or a folder of such ``.json`` files (its top level, read in sorted order). A frame is
``{"name", "videoName", "frameIndex", "labels": [...]}``; a label is
``{"id", "category", "attributes": {"crowd", "ignored", ...}, "box2d": {"x1","y1","x2","y2"}}``
(pixel corners, inclusive) or ``{..., "rle": {"counts": str, "size": [H, W]}}`` (COCO RLE,
column-major).

Bitmask PNG (``bdd100k.eval.mots``): ``<root>/<video>/<frame>.png``, ``H x W x 4`` uint8 RGBA:
R = category id (1-based, in the config's leaf order), G = attributes bit-packed
``truncated << 3 | occluded << 2 | crowd << 1 | ignored``, ``B << 8 | A`` = instance id
(0 = background).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._files import read_json_file

__all__ = [
    "BDD100K_CLASSES",
    "NAME_MAPPING",
    "IGNORED_MAPPING",
    "CategoryMap",
    "Label",
    "load_videos",
    "rle_checked",
    "read_bitmask",
    "list_bitmasks",
]

#: leaf categories of ``configs/box_track.toml`` / ``seg_track.toml``, in config order
BDD100K_CLASSES = ("pedestrian", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
#: bdd100k ``name_mapping``: renamed categories
NAME_MAPPING = {"bike": "bicycle", "caravan": "car", "motor": "motorcycle", "person": "pedestrian", "van": "car"}
#: bdd100k ``ignored_mapping``: categories kept as ignore regions of the given class
IGNORED_MAPPING = {"other person": "pedestrian", "other vehicle": "car", "trailer": "truck"}


@dataclass(frozen=True)
class CategoryMap:
    """How label categories become class indices (``bdd100k_to_scalabel`` + scalabel parsing).

    Attributes:
        classes: leaf class names; a label's class index is its position here.
        bdd100k: apply ``NAME_MAPPING`` and ``IGNORED_MAPPING`` (the ``bdd100k.eval.run`` path);
            False is plain scalabel evaluation.
        ignore_unknown: drop labels of unknown categories instead of failing.
    """

    classes: tuple[str, ...] = BDD100K_CLASSES
    bdd100k: bool = True
    ignore_unknown: bool = False

    def resolve(self, category: Any, where: str) -> tuple[int, bool] | None:
        """``(class index, forced_ignored)`` or None for a dropped unknown category."""
        name = category
        forced = False
        if self.bdd100k:
            name = NAME_MAPPING.get(name, name)
            if name not in self.classes and name in IGNORED_MAPPING:
                name, forced = IGNORED_MAPPING[name], True
        if name in self.classes:
            return self.classes.index(name), forced
        if self.ignore_unknown:
            return None
        raise ResultsError(
            f"{where}: unknown category {category!r}; expected one of {list(self.classes)}"
            + (f" or {sorted(NAME_MAPPING) + sorted(IGNORED_MAPPING)}" if self.bdd100k else "")
            + " (set ignore_unknown_cats=True to skip such labels)"
        )


@dataclass
class Label:
    """One parsed label: class index, track id (str as written), ignore flag, geometry."""

    cls: int
    id: str
    ignore: bool
    box: tuple[float, float, float, float] | None = None  # xywh, w = x2 - x1 + 1
    rle: dict | None = None


@dataclass
class Frame:
    name: str
    index: int | None
    where: str
    labels: list[Label] = field(default_factory=list)


def _read_frames(src: Any, what: str) -> list[tuple[dict, str]]:
    """Raw frame dicts with a location string ``file:frame`` for error messages."""
    if isinstance(src, (str, Path)):
        p = Path(src)
        if p.is_dir():
            files = sorted(p.glob("*.json"))  # scalabel ``load``: not recursive
            if not files:
                raise ResultsError(f"{what}: no .json files in folder {p}")
        elif p.is_file():
            files = [p]
        else:
            raise ResultsError(f"{what}: {p} does not exist")
        out: list[tuple[dict, str]] = []
        for f in files:
            out += _frames_of(read_json_file(f, what), str(f))
        return out
    return _frames_of(src, f"<{what}>")


def _frames_of(data: Any, where: str) -> list[tuple[dict, str]]:
    if isinstance(data, dict) and "frames" in data:
        data = data["frames"]
    if not isinstance(data, list):
        raise ResultsError(f"{where}: expected a list of Scalabel frames or {{'frames': [...]}}")
    out = []
    for k, fr in enumerate(data):
        if not isinstance(fr, dict):
            raise ResultsError(f"{where}: frame #{k} is not an object")
        out.append((fr, f"{where}: frame #{k} ({fr.get('name', '?')!r})"))
    return out


def _box(label: dict, where: str) -> tuple[float, float, float, float] | None:
    b = label.get("box2d")
    if b is None:
        return None
    try:
        x1, y1, x2, y2 = (float(b[k]) for k in ("x1", "y1", "x2", "y2"))
    except (KeyError, TypeError, ValueError):
        raise ResultsError(f"{where}: box2d must have numeric x1, y1, x2, y2, got {b!r}") from None
    # scalabel box2d_to_bbox: inclusive pixel corners, so w = x2 - x1 + 1
    return (x1, y1, x2 - x1 + 1, y2 - y1 + 1)


def load_videos(
    src: Any, what: str, cats: CategoryMap, geometry: str, is_gt: bool
) -> dict[str, list[Frame]]:
    """Parse Scalabel frames, grouped by ``videoName`` and sorted by ``frameIndex``.

    ``geometry`` is ``"box"`` or ``"rle"``; labels without that geometry are skipped (as the
    official parsers do). Labels whose attributes say ``crowd`` or ``ignored`` (or whose
    category is re-mapped by ``IGNORED_MAPPING``) get ``ignore=True``.
    """
    videos: dict[str, list[Frame]] = {}
    for fr, where in _read_frames(src, what):
        video = fr.get("videoName")
        if video is None:
            raise ResultsError(f"{where}: missing 'videoName' (tracking results are grouped by video)")
        idx = fr.get("frameIndex")
        frame = Frame(str(fr.get("name", "")), None if idx is None else int(idx), where)
        labels = fr.get("labels") or []
        if not isinstance(labels, list):
            raise ResultsError(f"{where}: 'labels' must be a list")
        for li, lab in enumerate(labels):
            lw = f"{where}, label #{li}"
            if not isinstance(lab, dict) or "category" not in lab:
                raise ResultsError(f"{lw}: expected an object with 'category' and 'id'")
            if geometry == "box":
                box, rle = _box(lab, lw), None
                if box is None:
                    continue
            else:
                box, rle = None, lab.get("rle")
                if rle is None:
                    if lab.get("poly2d") is not None:
                        # the toolkit rasterises ground-truth polygons (not supported here) and
                        # rejects predicted ones
                        raise ResultsError(
                            f"{lw}: segmentation tracking needs RLE masks, found a poly2d "
                            + ("(convert the ground truth with bdd100k.label.to_rle)" if is_gt
                               else "(polygons are not accepted in predictions)")
                        )
                    continue
                rle = rle_checked(rle, lw)
            res = cats.resolve(lab["category"], lw)
            if res is None:
                continue
            cls, forced = res
            attrs = lab.get("attributes") or {}
            ignore = forced or bool(attrs.get("crowd", False)) or bool(attrs.get("ignored", False))
            if "id" not in lab:
                raise ResultsError(f"{lw}: missing track 'id'")
            frame.labels.append(Label(cls, str(lab["id"]), ignore, box, rle))
        videos.setdefault(str(video), []).append(frame)
    for frames in videos.values():
        frames.sort(key=lambda f: f.index if f.index else 0)
    return videos


def _rle_length(counts: str) -> tuple[int, bool]:
    """Total run length of a compressed COCO RLE string and whether all runs are >= 0."""
    runs: list[int] = []
    p, n = 0, len(counts)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                return -1, False
            c = ord(counts[p]) - 48
            if c < 0 or c > 63:
                return -1, False
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    return sum(runs), all(r >= 0 for r in runs)


def rle_checked(rle: Any, where: str) -> dict:
    """A pycocotools RLE dict ``{"size": [H, W], "counts": bytes}`` after validating it."""
    if not isinstance(rle, dict) or "counts" not in rle or "size" not in rle:
        raise ResultsError(f"{where}: rle must be {{'counts': str, 'size': [H, W]}}, got {str(rle)[:80]!r}")
    try:
        h, w = (int(v) for v in rle["size"])
    except (TypeError, ValueError):
        raise ResultsError(f"{where}: rle size must be [H, W], got {rle['size']!r}") from None
    counts = rle["counts"]
    if isinstance(counts, list):
        from pycocotools import mask as mask_utils

        if sum(counts) != h * w or any(c < 0 for c in counts):
            raise ResultsError(f"{where}: malformed RLE: runs sum to {sum(counts)}, expected H*W = {h * w}")
        return mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    if isinstance(counts, bytes):
        counts = counts.decode("ascii", errors="replace")
    if not isinstance(counts, str):
        raise ResultsError(f"{where}: rle counts must be a string, got {type(counts).__name__}")
    total, ok = _rle_length(counts)
    if not ok or total != h * w:
        raise ResultsError(
            f"{where}: malformed RLE counts (decodes to {total} pixels, expected H*W = {h}*{w} = {h * w})"
        )
    return {"size": [h, w], "counts": counts.encode("ascii")}


def list_bitmasks(root: Path) -> dict[str, dict[str, Path]]:
    """``{video: {frame stem: path}}`` for ``root/<video>/<frame>.png``."""
    out: dict[str, dict[str, Path]] = {}
    for p in sorted(root.rglob("*.png")):
        video = str(p.parent.relative_to(root))
        out.setdefault(video, {})[p.stem] = p
    return out


def read_bitmask(path: Path, max_det: int | None = None):
    """Parse one RGBA bitmask PNG.

    Returns ``(index_map, instance_ids, attributes, categories)``: ``index_map`` ``H x W``
    int64 with 0 = background and ``k + 1`` for the ``k``-th instance in increasing instance-id
    order; the other three are ``(K,)`` int64. ``max_det`` (bdd100k ``MAX_DET = 100``) bounds
    the instances a prediction frame may hold.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im, dtype=np.uint8)
    except OSError as e:
        raise ResultsError(f"{path}: cannot read bitmask PNG ({e})") from None
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ResultsError(f"{path}: expected an RGBA bitmask (H x W x 4), got shape {arr.shape}")
    arr = arr.astype(np.int64)
    inst = (arr[..., 2] << 8) + arr[..., 3]
    ids, index_map = np.unique(inst, return_inverse=True)
    index_map = index_map.reshape(inst.shape)
    if ids.size and ids[0] == 0:
        ids = ids[1:]
    else:
        index_map = index_map + 1  # no background pixel: every pixel is an instance
    if max_det is not None and len(ids) > max_det:
        raise ResultsError(
            f"{path}: {len(ids)} instances in one frame; the official bdd100k evaluator handles at "
            f"most {max_det} (MAX_DET) and fails beyond that"
        )
    flat = index_map.ravel()
    k = len(ids)
    attrs = np.zeros(k, dtype=np.int64)
    cats = np.zeros(k, dtype=np.int64)
    for plane, out, name in ((arr[..., 1].ravel(), attrs, "attribute"), (arr[..., 0].ravel(), cats, "category")):
        lo = np.full(k + 1, 256, dtype=np.int64)
        hi = np.full(k + 1, -1, dtype=np.int64)
        np.minimum.at(lo, flat, plane)
        np.maximum.at(hi, flat, plane)
        bad = np.nonzero(lo[1:] != hi[1:])[0]
        if bad.size:
            raise ResultsError(
                f"{path}: instance {int(ids[bad[0]])} has more than one {name} value "
                "(each instance must have a single category and attribute byte)"
            )
        out[:] = lo[1:]
    return index_map, ids, attrs, cats
