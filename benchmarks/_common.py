"""Pieces shared by the dataset families: a base class with caching and fingerprints, COCO
annotation indexing with clear errors, and conversions of ``Instances`` to result records."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Instances, box_convert
from .base import Benchmark, check_sample_ids, file_fingerprint

__all__ = ["OfficialBenchmark", "CocoIndex", "coco_records", "single_instance", "check_frames", "check_sample_ids"]


class OfficialBenchmark(Benchmark):
    """Benchmark with a lazily built, thread-safe index (built once, by :meth:`_build_index`)
    and a fingerprint over :meth:`annotation_files` + the sample ids."""

    #: file or folder name of the results inside the results folder
    results_name = "results.json"

    def __init__(self, root: Path, id: str = "", **options: Any):
        super().__init__(root, id, **options)
        self._index_lock = threading.Lock()
        self._index_cache: Any = None

    @property
    def index(self) -> Any:
        if self._index_cache is None:
            with self._index_lock:
                if self._index_cache is None:
                    self._index_cache = self._build_index()
        return self._index_cache

    def _build_index(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def annotation_files(self) -> list[Path]:
        """Files whose content defines the split (hashed by :meth:`fingerprint`)."""
        return []

    def fingerprint(self) -> str:
        return file_fingerprint(self.annotation_files(), "\n".join(self.sample_ids()))

    def results_path(self, results_dir: Path) -> Path:
        return Path(results_dir) / self.results_name


def _int_id(x: Any) -> bool:
    """An id COCO readers can index by: an int (or an integral string, as some exports write)."""
    if isinstance(x, bool):
        return False
    if isinstance(x, (int, np.integer)):
        return True
    return isinstance(x, str) and x.strip().lstrip("-").isdigit()


def _repeated(ids: Iterable[Any]) -> list:
    """Ids that occur more than once, in order of first repetition (unhashable ids skipped:
    the per-entry checks name them)."""
    seen: set = set()
    out: list = []
    for i in ids:
        try:
            if i in seen and i not in out:
                out.append(i)
            seen.add(i)
        except TypeError:
            continue
    return out


class CocoIndex:
    """Index of a COCO-format annotation file (``images``, ``annotations``, ``categories``).

    Checks the schema while indexing and raises DatasetError naming the file and the first bad
    entry (an image without ``file_name``, an annotation whose ``image_id`` is not an image...).
    """

    def __init__(self, data: Any, path: Path, need_annotations: bool = True):
        where = str(path)
        if not isinstance(data, dict):
            raise DatasetError(f"{where}: expected a COCO JSON object, got {type(data).__name__}")
        keys = ["images", "categories"] + (["annotations"] if need_annotations else [])
        missing = [k for k in keys if k not in data]
        if missing:
            raise DatasetError(f"{where}: missing top-level key(s) {missing} of the COCO format")
        self.path = path
        self.images: dict[int, dict] = {}
        for i, im in enumerate(data["images"]):
            if not isinstance(im, dict) or "id" not in im or "height" not in im or "width" not in im:
                raise DatasetError(
                    f"{where}: images[{i}] must have 'id', 'height', 'width' (got {im!r:.200})"
                )
            if not _int_id(im["id"]):
                raise DatasetError(f"{where}: images[{i}]: id must be an integer, got {im['id']!r:.80}")
            if int(im["id"]) in self.images:
                raise DatasetError(f"{where}: images[{i}]: duplicate image id {im['id']!r} "
                                   f"(each image id must appear once)")
            self.images[int(im["id"])] = im
        for i, c in enumerate(data["categories"]):
            if not isinstance(c, dict) or "id" not in c or "name" not in c:
                raise DatasetError(f"{where}: categories entry {c!r:.200} lacks 'id' or 'name'")
            if not _int_id(c["id"]):
                raise DatasetError(f"{where}: categories[{i}]: id must be an integer, got {c['id']!r:.80}")
        dup = _repeated(c["id"] for c in data["categories"])
        if dup:
            raise DatasetError(f"{where}: duplicate category id(s) {dup[:10]} (each must appear once)")
        dup = _repeated(a["id"] for a in data.get("annotations", []) if isinstance(a, dict) and "id" in a)
        if dup:
            raise DatasetError(f"{where}: duplicate annotation id(s) {dup[:10]} (each must appear once)")
        self.categories = sorted(data["categories"], key=lambda c: c["id"])
        cat_ids = {c["id"] for c in self.categories}
        self.anns_by_image: dict[int, list[dict]] = {}
        for i, a in enumerate(data.get("annotations", [])):
            if not isinstance(a, dict) or "image_id" not in a:
                raise DatasetError(f"{where}: annotations[{i}] has no 'image_id'")
            if not _int_id(a["image_id"]) or int(a["image_id"]) not in self.images:
                raise DatasetError(
                    f"{where}: annotations[{i}] (id {a.get('id')}) points to image_id "
                    f"{a['image_id']}, which is not in 'images'"
                )
            if "category_id" in a and (not _int_id(a["category_id"]) or a["category_id"] not in cat_ids):
                raise DatasetError(
                    f"{where}: annotations[{i}] (id {a.get('id')}) has category_id "
                    f"{a['category_id']}, which is not in 'categories'"
                )
            self.anns_by_image.setdefault(int(a["image_id"]), []).append(a)
        self.extra = {k: v for k, v in data.items() if k not in ("images", "annotations")}

    def image_ids(self) -> list[int]:
        return sorted(self.images)


#: Set by :func:`thorough_validation` (``evalkit validate``): compare every frame's size with
#: the annotations, not only the first one (header reads: about 0.1 ms per image).
_THOROUGH: ContextVar[bool] = ContextVar("evalkit_thorough_validation", default=False)


@contextmanager
def thorough_validation():
    """Within the block, :func:`check_frames` checks the size of every frame against the
    annotations (``evalkit validate``); runs keep the cheap first-frame check."""
    token = _THOROUGH.set(True)
    try:
        yield
    finally:
        _THOROUGH.reset(token)


def check_frames(paths: Iterable[Path], what: str, check_first_size: tuple[int, int] | None = None,
                 *, sizes: Iterable[tuple[int, int]] | None = None) -> None:
    """DatasetError for the first path in ``paths`` that does not exist; check the first
    frame's size against the annotation (header read only), every frame's under
    :func:`thorough_validation`.

    ``check_first_size``: the one ``(H, W)`` of all the frames (a video); ``sizes``: one
    ``(H, W)`` per path instead (images of different sizes)."""
    from ._io import image_size

    thorough = _THOROUGH.get()
    sizes = list(sizes) if sizes is not None else None
    for k, p in enumerate(paths):
        if not Path(p).is_file():
            raise DatasetError(f"missing {what}: expected the file {p}")
        want = sizes[k] if sizes is not None else check_first_size
        if want is not None and (k == 0 or thorough):
            hw = image_size(p)
            if tuple(hw) != tuple(want):
                raise DatasetError(
                    f"{what} {p}: image is {hw[0]}x{hw[1]} (HxW) but the annotation says "
                    f"{want[0]}x{want[1]}"
                )


def coco_records(inst: Instances, image_id: Any, boxes: bool = True, masks: bool = False,
                 sample: str = "", default_label: int | None = None) -> list[dict]:
    """COCO results records (``bbox`` xywh, ``segmentation`` RLE with str counts, ``score``,
    ``category_id``) of one frame's predictions."""
    n = len(inst)
    if n == 0:
        return []
    if inst.labels is None and default_label is None:
        raise ResultsError(f"sample {sample}: predictions carry no labels (category ids)")
    labels = inst.labels if inst.labels is not None else np.full(n, default_label)
    scores = inst.scores if inst.scores is not None else np.ones(n, np.float32)
    recs = [{"image_id": image_id, "category_id": int(labels[k]), "score": float(scores[k])} for k in range(n)]
    if boxes:
        b = inst.boxes
        if b is None:
            if inst.masks is None:
                raise ResultsError(f"sample {sample}: predictions have neither boxes nor masks")
            from ..types import rle_to_bbox

            xywh = np.stack([rle_to_bbox(r) for r in inst.rles()])
        else:
            xywh = box_convert(b, "xyxy", "xywh")
        for r, bb in zip(recs, xywh):
            r["bbox"] = [round(float(v), 3) for v in bb]
    if masks:
        if inst.masks is None:
            raise ResultsError(f"sample {sample}: the segmentation task needs masks, got none")
        for r, rle in zip(recs, inst.rles()):
            r["segmentation"] = {"size": list(rle["size"]), "counts": rle["counts"]}
    return recs


def single_instance(inst: Instances, sample: str) -> Instances:
    """The top-scoring instance of a frame (REC/RES/SOT take one prediction per frame)."""
    if len(inst) == 0:
        return inst
    if inst.scores is None or len(inst) == 1:
        return inst.select([0])
    return inst.select([int(np.argmax(inst.scores))])
