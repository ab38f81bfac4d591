"""The predict contract: the only types that cross folder boundaries.

Coordinate frame everywhere: **original-image pixels**, x to the right, y down, continuous
coordinates (a pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``), boxes ``xyxy`` ``float32``.
Category ids are the *dataset's* ids (e.g. COCO's 1..90), never contiguous model indices.
Masks are at the original resolution, either boolean ``H x W`` arrays or COCO RLE dicts
(``{"size": [H, W], "counts": str}``, column-major, as pycocotools writes them).

Nothing here imports torch: benchmarks, metrics and the CLI use these types without it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, Union

import numpy as np

from .errors import EvalkitError

__all__ = [
    "Frames",
    "Categories",
    "Expression",
    "Reference",
    "Prompt",
    "Instances",
    "Sample",
    "box_convert",
    "mask_to_rle",
    "rle_to_mask",
    "rle_area",
    "rle_to_bbox",
    "ContractError",
]


class ContractError(EvalkitError, ValueError):
    """A value that does not follow the predict contract (wrong shape, dtype, frame...)."""


# --------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------
FrameSource = Union[np.ndarray, str, Path, Callable[[], np.ndarray]]


def _load_rgb(path: str | Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


class Frames(Sequence[np.ndarray]):
    """One image or a video clip, loaded lazily.

    ``frames[i]`` is an RGB ``uint8`` array of shape ``H_i x W_i x 3``. Each source is either
    an array (kept as is), an image path (decoded on access) or a zero-argument callable
    returning the array; nothing is cached, so iterating a 600-frame video keeps one frame in
    memory at a time.

    Attributes:
        ids: one id per frame (file stem for videos, image id for images). Results are keyed
            by these ids.
        sizes: ``(H, W)`` of every frame at its original resolution. When not given they are
            read lazily (image headers only for paths).
    """

    def __init__(
        self,
        sources: Sequence[FrameSource],
        ids: Sequence[str | int] | None = None,
        sizes: Sequence[tuple[int, int]] | None = None,
    ):
        self._sources = list(sources)
        self.ids = list(ids) if ids is not None else list(range(len(self._sources)))
        if len(self.ids) != len(self._sources):
            raise ContractError(
                f"Frames: {len(self._sources)} sources but {len(self.ids)} ids"
            )
        self._sizes = [tuple(map(int, s)) for s in sizes] if sizes is not None else None
        if self._sizes is not None and len(self._sizes) != len(self._sources):
            raise ContractError(
                f"Frames: {len(self._sources)} sources but {len(self._sizes)} sizes"
            )

    @classmethod
    def from_image(cls, image: FrameSource, image_id: str | int = 0, size=None) -> "Frames":
        return cls([image], [image_id], None if size is None else [size])

    def __len__(self) -> int:
        return len(self._sources)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            idx = range(len(self))[i]
            return Frames(
                [self._sources[k] for k in idx],
                [self.ids[k] for k in idx],
                None if self._sizes is None else [self._sizes[k] for k in idx],
            )
        src = self._sources[i]
        if isinstance(src, np.ndarray):
            arr = src
        elif isinstance(src, (str, Path)):
            arr = _load_rgb(src)
        elif callable(src):
            arr = src()
        else:
            raise ContractError(f"Frames: unsupported frame source {type(src).__name__}")
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise ContractError(
                f"frame {self.ids[i]!r}: expected an RGB uint8 HxWx3 array, got "
                f"{arr.dtype} {tuple(arr.shape)}"
            )
        if isinstance(src, (str, Path)) and self._sizes is not None \
                and tuple(arr.shape[:2]) != self._sizes[i]:
            from .errors import DatasetError

            # the declared size comes from the annotations; predictions are mapped back to it,
            # so a mismatch is the dataset's (found here, not blamed on the adapter later)
            raise DatasetError(f"frame {src} is {arr.shape[0]}x{arr.shape[1]} (HxW) but the "
                               f"annotations say {self._sizes[i][0]}x{self._sizes[i][1]}")
        return arr

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    @property
    def sizes(self) -> list[tuple[int, int]]:
        if self._sizes is None:
            sizes = []
            for src in self._sources:
                if isinstance(src, np.ndarray):
                    sizes.append(tuple(src.shape[:2]))
                elif isinstance(src, (str, Path)):
                    from PIL import Image

                    with Image.open(src) as im:
                        sizes.append((im.height, im.width))
                else:
                    sizes.append(tuple(src().shape[:2]))
            self._sizes = sizes
        return list(self._sizes)


# --------------------------------------------------------------------------------------------
# Prompts
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Categories:
    """Category-specified prompt (detection, instance seg, MOT/MOTS, VIS, VSS/VPS).

    ``names[k]`` is the display name of dataset category ``ids[k]``; predictions carry these
    ids in ``Instances.labels``. ``thing`` optionally flags thing (True) vs stuff (False)
    categories for panoptic tasks.
    """

    names: tuple[str, ...]
    ids: tuple[int, ...]
    thing: tuple[bool, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "ids", tuple(int(i) for i in self.ids))
        if len(self.names) != len(self.ids):
            raise ContractError(
                f"Categories: {len(self.names)} names but {len(self.ids)} ids"
            )
        if self.thing is not None:
            object.__setattr__(self, "thing", tuple(bool(t) for t in self.thing))
            if len(self.thing) != len(self.ids):
                raise ContractError("Categories: `thing` must have one flag per category")


@dataclass(frozen=True)
class Expression:
    """Referring expression (REC, RES, R-VOS): free text naming one target."""

    text: str

    def __post_init__(self):
        if not isinstance(self.text, str) or not self.text.strip():
            raise ContractError("Expression: text must be a non-empty string")


@dataclass
class Reference:
    """Visual reference prompt for one or several targets.

    Exactly one of ``boxes``, ``masks``, ``points``, ``scribbles`` is usually given; all are in
    the original-image pixel frame of ``frame`` (an index into the ``Frames`` passed to
    ``predict``), or of the support images for few-shot segmentation.

    Attributes:
        frame: index of the frame the references are drawn on (0 for first-frame VOS/SOT).
        object_ids: one id per target (VOS object ids, SOT uses ``(1,)``). Predictions carry
            them in ``Instances.track_ids``.
        boxes: ``K x 4`` float32 xyxy (SOT, interactive box).
        masks: ``K x H x W`` bool (VOS first-frame masks, FSS support masks).
        points: list of K arrays ``P_k x 2`` float32 ``(x, y)`` with optional
            ``point_labels`` (1 positive, 0 negative).
        scribbles: list of K arrays ``P_k x 2`` float32 polyline vertices.
        support: for few-shot segmentation, ``Frames`` of support images; ``masks`` then holds
            one mask per support image (in that image's frame) and ``frame`` is unused.
        frames_of_objects: for VOS where objects appear later than frame 0, the frame index on
            which each object's mask is given (one per object); ``None`` means all on ``frame``.
        category_ids: panoptic VOS: each object's dataset category id (one per object; VIPOSeg:
            the class index of ``obj_class.json``, 0..123); ``None`` elsewhere.
        thing: with ``category_ids``: thing (True) or stuff (False), one flag per object.
    """

    object_ids: tuple[int, ...] = (1,)
    frame: int = 0
    boxes: np.ndarray | None = None
    masks: np.ndarray | None = None
    points: list[np.ndarray] | None = None
    point_labels: list[np.ndarray] | None = None
    scribbles: list[np.ndarray] | None = None
    support: Frames | None = None
    frames_of_objects: tuple[int, ...] | None = None
    category_ids: tuple[int, ...] | None = None
    thing: tuple[bool, ...] | None = None

    def __post_init__(self):
        self.object_ids = tuple(int(i) for i in self.object_ids)
        given = [
            n for n in ("boxes", "masks", "points", "scribbles") if getattr(self, n) is not None
        ]
        if not given:
            raise ContractError(
                "Reference: give at least one of boxes, masks, points or scribbles"
            )
        k = len(self.object_ids)
        if self.boxes is not None:
            self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
            if self.support is None and len(self.boxes) != k:
                raise ContractError(f"Reference: {len(self.boxes)} boxes for {k} object ids")
        if self.masks is not None:
            self.masks = np.asarray(self.masks).astype(bool, copy=False)
            if self.masks.ndim != 3:
                raise ContractError("Reference: masks must be K x H x W")
            if self.support is None and len(self.masks) != k:
                raise ContractError(f"Reference: {len(self.masks)} masks for {k} object ids")
        if self.frames_of_objects is not None:
            self.frames_of_objects = tuple(int(f) for f in self.frames_of_objects)
            if len(self.frames_of_objects) != k:
                raise ContractError("Reference: frames_of_objects needs one frame per object")
        if self.category_ids is not None:
            self.category_ids = tuple(int(c) for c in self.category_ids)
            if len(self.category_ids) != k:
                raise ContractError(f"Reference: {len(self.category_ids)} category_ids for {k} object ids")
        if self.thing is not None:
            if self.category_ids is None:
                raise ContractError("Reference: `thing` flags need category_ids (one category per object)")
            self.thing = tuple(bool(t) for t in self.thing)
            if len(self.thing) != k:
                raise ContractError(f"Reference: {len(self.thing)} thing flags for {k} object ids")

    @property
    def kind(self) -> str:
        for n in ("masks", "boxes", "points", "scribbles"):
            if getattr(self, n) is not None:
                return n[:-1] if n != "boxes" else "box"
        raise AssertionError


Prompt = Union[Categories, Expression, Reference]

PROMPT_KINDS = {"categories": Categories, "expression": Expression, "reference": Reference}


def prompt_kind(prompt: Prompt) -> str:
    for name, cls in PROMPT_KINDS.items():
        if isinstance(prompt, cls):
            return name
    raise ContractError(f"not a prompt: {type(prompt).__name__}")


# --------------------------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------------------------
@dataclass
class Instances:
    """Predictions for one frame, in the original-image frame.

    Attributes:
        image_size: ``(H, W)`` of the original frame.
        boxes: ``N x 4`` float32 xyxy pixels (may be ``None`` for mask-only tasks).
        masks: ``None``, an ``N x H x W`` bool array, or a list of N COCO RLE dicts.
        scores: ``N`` float32 in [0, 1].
        labels: ``N`` int64 dataset category ids (``None`` when class-agnostic).
        track_ids: ``N`` int64 track / object ids (``None`` for single images).
        extra: per-instance extras a writer may need (e.g. ``{"embeddings": N x D}``); not
            stored by the prediction store unless JSON-serialisable.
    """

    image_size: tuple[int, int]
    boxes: np.ndarray | None = None
    masks: np.ndarray | list[dict] | None = None
    scores: np.ndarray | None = None
    labels: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        n = None
        if self.boxes is not None:
            boxes = _as_array(self.boxes, np.float32, "boxes")
            # an N x 5 array (boxes with scores) would otherwise be re-cut into wrong boxes
            if boxes.ndim > 2 or (boxes.ndim == 2 and boxes.shape[1] != 4 and boxes.size):
                raise ContractError(f"Instances: boxes must be N x 4 (xyxy), got shape {boxes.shape}")
            self.boxes = boxes.reshape(-1, 4)
            n = len(self.boxes)
        if self.masks is not None:
            if isinstance(self.masks, np.ndarray):
                if self.masks.ndim == 2 and self.masks.size == 0:
                    self.masks = self.masks.reshape(0, *self.image_size)
                if self.masks.ndim != 3 or tuple(self.masks.shape[1:]) != self.image_size:
                    raise ContractError(
                        f"Instances: masks must be N x {self.image_size[0]} x "
                        f"{self.image_size[1]} (the original frame), got {self.masks.shape}"
                    )
                _check_binary(self.masks)
                self.masks = self.masks.astype(bool, copy=False)
            else:
                if not isinstance(self.masks, (list, tuple)) or not all(isinstance(r, dict) for r in self.masks):
                    kind = type(self.masks).__name__ if not isinstance(self.masks, (list, tuple)) else \
                        f"{type(self.masks).__name__} of {type(next(r for r in self.masks if not isinstance(r, dict))).__name__}"
                    raise ContractError(f"Instances: masks must be an N x H x W bool numpy array or a list of "
                                        f"RLE dicts, got {kind}{' (call .cpu().numpy())' if kind == 'Tensor' else ''}")
                self.masks = list(self.masks)
                for r in self.masks:
                    if tuple(r["size"]) != self.image_size:
                        raise ContractError(
                            f"Instances: RLE of size {r['size']} for a frame of size "
                            f"{list(self.image_size)}"
                        )
            n = _check_n(n, len(self.masks), "masks")
        for name, dt in (("scores", np.float32), ("labels", np.int64), ("track_ids", np.int64)):
            v = getattr(self, name)
            if v is not None:
                v = _as_array(v, dt, name).reshape(-1)
                setattr(self, name, v)
                n = _check_n(n, len(v), name)
        if self.boxes is not None and len(self.boxes) and not np.isfinite(self.boxes).all():
            raise ContractError("Instances: boxes contain NaN or infinity")
        # a NaN score sorts arbitrarily in every AP ranking and cannot be written to JSON
        if self.scores is not None and len(self.scores) and not np.isfinite(self.scores).all():
            raise ContractError("Instances: scores contain NaN or infinity")

    def __len__(self) -> int:
        for v in (self.scores, self.boxes, self.masks, self.labels, self.track_ids):
            if v is not None:
                return len(v)
        return 0

    @classmethod
    def empty(cls, image_size: tuple[int, int]) -> "Instances":
        return cls(image_size, boxes=np.zeros((0, 4), np.float32), scores=np.zeros(0, np.float32))

    def rles(self) -> list[dict] | None:
        """Masks as COCO RLE dicts (``counts`` decoded to ``str``)."""
        if self.masks is None:
            return None
        if isinstance(self.masks, np.ndarray):
            return [mask_to_rle(m) for m in self.masks]
        return self.masks

    def dense_masks(self) -> np.ndarray | None:
        """Masks as an ``N x H x W`` bool array."""
        if self.masks is None:
            return None
        if isinstance(self.masks, np.ndarray):
            return self.masks
        if not self.masks:
            return np.zeros((0, *self.image_size), bool)
        return np.stack([rle_to_mask(r) for r in self.masks])

    def select(self, keep) -> "Instances":
        keep = np.asarray(keep)
        masks = self.masks
        if masks is not None:
            if isinstance(masks, np.ndarray):
                masks = masks[keep]
            else:
                idx = np.arange(len(masks))[keep]
                masks = [masks[i] for i in idx]
        return Instances(
            self.image_size,
            None if self.boxes is None else self.boxes[keep],
            masks,
            None if self.scores is None else self.scores[keep],
            None if self.labels is None else self.labels[keep],
            None if self.track_ids is None else self.track_ids[keep],
            {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in self.extra.items()},
        )

    # -- serialisation (prediction store) ----------------------------------------------------
    def to_json(self) -> dict:
        """JSON-safe dict; masks become RLE with ``str`` counts."""
        out: dict[str, Any] = {"image_size": list(self.image_size)}
        if self.boxes is not None:
            out["boxes"] = self.boxes.tolist()
        if self.masks is not None:
            out["masks"] = self.rles()
        for name in ("scores", "labels", "track_ids"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v.tolist()
        extra = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.extra.items()}
        if extra:
            out["extra"] = extra
        return out

    @classmethod
    def from_json(cls, d: dict) -> "Instances":
        return cls(
            tuple(d["image_size"]),
            None if d.get("boxes") is None else np.asarray(d["boxes"], np.float32).reshape(-1, 4),
            d.get("masks"),
            d.get("scores"),
            d.get("labels"),
            d.get("track_ids"),
            dict(d.get("extra", {})),
        )


def _as_array(v, dtype, name: str) -> np.ndarray:
    """``v`` as a numpy array; a GPU tensor (which numpy cannot read) is one line naming the field."""
    try:
        return np.asarray(v, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise ContractError(f"Instances: {name} must be a numpy array (or a CPU tensor: call .cpu()), "
                            f"got {type(v).__name__} ({e})") from None


def _check_binary(masks: np.ndarray) -> None:
    """Masks become bool by ``!= 0``: right for 0/1 and 0/255, silently wrong for probabilities
    (every pixel above 0 would be foreground) or a label map (all labels merged)."""
    if masks.dtype == bool or not masks.size:
        return
    if masks.dtype.kind == "f":
        bad = (masks != 0) & (masks != 1)
        if bad.any():
            raise ContractError(f"Instances: masks must be bool (or 0/1), got {masks.dtype} with values in "
                                f"[{masks.min():.3g}, {masks.max():.3g}]: threshold them (e.g. masks > 0.5)")
    elif masks.dtype.kind in "iu":
        nonzero = masks[masks != 0]
        if nonzero.size and (nonzero != nonzero.flat[0]).any():
            raise ContractError(f"Instances: masks must be bool (one binary mask per instance), got {masks.dtype} "
                                f"with the values {sorted(np.unique(masks).tolist())[:6]}: a label map? "
                                f"split it into one mask per instance")
    else:
        raise ContractError(f"Instances: masks must be bool, got dtype {masks.dtype}")


def _check_n(n, m, name):
    if n is not None and n != m:
        raise ContractError(f"Instances: {name} has {m} entries, expected {n}")
    return m


# --------------------------------------------------------------------------------------------
# Sample (benchmark -> runner)
# --------------------------------------------------------------------------------------------
@dataclass
class Sample:
    """One unit of inference: frames + prompt, with a benchmark-unique string id.

    ``meta`` carries what the results writer needs (e.g. the COCO image id, the video name,
    the expression id); it never contains ground truth an adapter could peek at.
    """

    id: str
    frames: Frames
    prompt: Prompt
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Box formats and RLE helpers
# --------------------------------------------------------------------------------------------
BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def box_convert(boxes, src: str, dst: str) -> np.ndarray:
    """Convert ``N x 4`` boxes between ``xyxy``, ``xywh`` (COCO) and ``cxcywh``."""
    if src not in BOX_FORMATS or dst not in BOX_FORMATS:
        raise ContractError(f"box format must be one of {BOX_FORMATS}, got {src!r} -> {dst!r}")
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if src == "xywh":
        b = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1)
    elif src == "cxcywh":
        b = np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1)
    if dst == "xywh":
        b = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], 1)
    elif dst == "cxcywh":
        b = np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], 1)
    return b.astype(np.float32)


def mask_to_rle(mask: np.ndarray) -> dict:
    """``H x W`` bool mask -> COCO RLE dict with ``str`` counts (pycocotools encoding)."""
    from pycocotools import mask as mask_utils

    m = np.asarray(mask)
    if m.ndim != 2:
        raise ContractError(f"mask_to_rle: expected an H x W mask, got shape {m.shape}")
    rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def _as_coco_rle(rle: dict) -> dict:
    from pycocotools import mask as mask_utils

    if "size" not in rle or "counts" not in rle:
        raise ContractError(f"RLE must have 'size' and 'counts', got keys {sorted(rle)}")
    counts = rle["counts"]
    h, w = (int(x) for x in rle["size"])
    if isinstance(counts, list):  # uncompressed RLE
        return mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [h, w], "counts": counts}


def rle_to_mask(rle: dict) -> np.ndarray:
    """COCO RLE (compressed or uncompressed) -> ``H x W`` bool mask."""
    from pycocotools import mask as mask_utils

    return mask_utils.decode(_as_coco_rle(rle)).astype(bool)


def rle_area(rle: dict) -> float:
    from pycocotools import mask as mask_utils

    return float(mask_utils.area(_as_coco_rle(rle)))


def rle_to_bbox(rle: dict) -> np.ndarray:
    """Bounding box of an RLE as ``xywh`` float32 (pycocotools ``toBbox``)."""
    from pycocotools import mask as mask_utils

    return np.asarray(mask_utils.toBbox(_as_coco_rle(rle)), dtype=np.float32)
