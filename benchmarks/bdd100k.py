"""BDD100K multiple object tracking (box-track) and segmentation tracking (seg-track), val.

Layout (``datasets/bdd100k``, the official BDD100K release)::

    bdd100k/images/track/val/<video>/<video>-0000001.jpg ...
    bdd100k/labels/box_track_20/val/<video>.json          (scalabel frames list)
    bdd100k/images/seg_track_20/val/<video>/<video>-0000001.jpg ...
    bdd100k/labels/seg_track_20/bitmasks/val/<video>/<video>-0000001.png

Prompt: the 8 evaluated classes with the bitmask category ids 1..8 (pedestrian, rider, car,
truck, bus, train, motorcycle, bicycle). Results:

* box-track: one scalabel JSON (``box_track_results.json``): a list of frames ``{"name",
  "videoName", "frameIndex", "labels": [{"id", "category", "score", "box2d": {"x1", "y1",
  "x2", "y2"}}]}``, as ``bdd100k.eval.run -t box_track`` reads it. ``box2d`` is the predicted
  xyxy unchanged: the models learn BDD boxes through the BDD→COCO conversion ``w = x2 - x1``,
  so their right/bottom edges are already in the label files' convention;
* seg-track: bitmask PNGs ``seg_track/<video>/<frame>.png`` (RGBA: R = category id, G =
  attributes (0), B * 256 + A = instance id starting at 1), as ``-t seg_track`` reads them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Categories, Sample
from ._common import OfficialBenchmark
from ._io import atomic_write_png, check_png, image_size, list_frames, list_videos, read_json, video_frames
from ._stream import StreamedJson, in_order
from ._subset import link_children

__all__ = ["BDD_CLASSES", "BddBoxTrack", "BddSegTrack"]

BDD_CLASSES = ("pedestrian", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")


def _categories() -> Categories:
    return Categories(BDD_CLASSES, tuple(range(1, len(BDD_CLASSES) + 1)))


def _label_name(label: int, sid: str) -> str:
    if not 1 <= int(label) <= len(BDD_CLASSES):
        raise ResultsError(f"video {sid}: category id {int(label)} is not a BDD100K class id (1..8)")
    return BDD_CLASSES[int(label) - 1]


class BddBoxTrack(OfficialBenchmark):
    task = "mot"
    prompt = "categories"
    results_name = "box_track_results.json"

    def __init__(self, root: Path, id: str = "", split: str = "val", **options: Any):
        super().__init__(root, id, **options)
        self.image_dir = self.root / "images" / "track" / split
        self.label_dir = self.root / "labels" / "box_track_20" / split

    def annotation_files(self) -> list[Path]:
        return [self.label_dir / f"{v}.json" for v in self.sample_ids()]

    def _build_index(self) -> dict[str, list[str]]:
        """video → frame file names, from the label files."""
        if not self.label_dir.is_dir():
            raise DatasetError(f"missing BDD100K box-track labels: expected {self.label_dir}/<video>.json")
        out = {}
        for p in sorted(self.label_dir.glob("*.json")):
            frames = read_json(p, "BDD100K box-track label file")
            if not isinstance(frames, list) or not frames:
                raise DatasetError(f"{p}: expected a non-empty list of scalabel frames")
            for i, f in enumerate(frames):
                if not isinstance(f, dict) or "name" not in f:
                    raise DatasetError(f"{p}: frame [{i}] has no 'name'")
            out[p.stem] = [f["name"] for f in sorted(frames, key=lambda f: f.get("frameIndex", 0))]
        if not out:
            raise DatasetError(f"{self.label_dir} holds no <video>.json label files")
        return out

    def validate(self) -> None:
        for v, names in self.index.items():
            for n in names:
                if not (self.image_dir / v / n).is_file():
                    raise DatasetError(f"missing frame {self.image_dir / v / n} (listed in {self.label_dir / v}.json)")

    def sample_ids(self) -> list[str]:
        return list(self.index)

    def load_sample(self, sample_id: str) -> Sample:
        if sample_id not in self.index:
            raise DatasetError(f"{self.id}: no video {sample_id!r}")
        names = self.index[sample_id]
        return Sample(sample_id, video_frames([self.image_dir / sample_id / n for n in names]), _categories(),
                      {"video": sample_id, "frames": names})

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        with StreamedJson(self.results_path(results_dir)) as js:
            for sid, preds, _ in in_order(stream, self.result_key, self.id):
                names = self.index.get(sid)
                if names is None:
                    raise ResultsError(f"predictions for unknown video {sid!r}")
                if len(preds) != len(names):
                    raise ResultsError(f"video {sid}: {len(preds)} per-frame predictions for {len(names)} frames")
                for t, (name, inst) in enumerate(zip(names, preds)):
                    labels = []
                    if len(inst):
                        if inst.boxes is None or inst.labels is None or inst.track_ids is None:
                            raise ResultsError(f"video {sid}: MOT predictions need boxes, labels and track_ids")
                        scores = inst.scores if inst.scores is not None else np.ones(len(inst))
                        for k in range(len(inst)):
                            x1, y1, x2, y2 = (float(c) for c in inst.boxes[k])
                            labels.append({"id": str(int(inst.track_ids[k])), "category": _label_name(inst.labels[k], sid),
                                           "score": float(scores[k]),
                                           "box2d": {"x1": x1, "y1": y1, "x2": x2, "y2": y2}})
                    js.add({"name": name, "videoName": sid, "frameIndex": t, "labels": labels})
        return [js.path]

    def gt_path(self) -> Path:
        return self.label_dir

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """A label folder with just the videos run (linked): the BDD100K toolkit
        (``bdd100k.eval.mot``) scores every video of its GT folder."""
        return link_children(Path(gt), [f"{v}.json" for v in sample_ids], Path(results_dir) / "gt_subset"), {}


def bitmask_png(inst, size: tuple[int, int], sid: str):
    """RGBA bitmask of one frame (R category, G attributes = 0, B/A instance id high/low byte).
    Overlaps: the higher-scoring instance wins."""
    from PIL import Image

    out = np.zeros((*size, 4), np.uint8)
    if len(inst):
        if inst.masks is None or inst.labels is None or inst.track_ids is None:
            raise ResultsError(f"video {sid}: MOTS predictions need masks, labels and track_ids")
        if tuple(inst.image_size) != tuple(size):
            raise ResultsError(f"video {sid}: prediction of size {inst.image_size} for a frame of size {size}")
        masks = inst.dense_masks()
        scores = inst.scores if inst.scores is not None else np.ones(len(inst))
        for k in np.argsort(scores, kind="stable"):
            _label_name(inst.labels[k], sid)
            iid = int(inst.track_ids[k]) + 1  # instance id 0 means background
            if iid >= 1 << 16:
                raise ResultsError(f"video {sid}: track id {iid - 1} does not fit the 16-bit bitmask instance id")
            m = masks[k]
            out[m, 0] = int(inst.labels[k])
            out[m, 1] = 0
            out[m, 2] = iid >> 8
            out[m, 3] = iid & 255
    return Image.fromarray(out, mode="RGBA")


class BddSegTrack(OfficialBenchmark):
    task = "mots"
    prompt = "categories"
    results_name = "seg_track"

    def __init__(self, root: Path, id: str = "", split: str = "val", **options: Any):
        super().__init__(root, id, **options)
        self.image_dir = self.root / "images" / "seg_track_20" / split
        self.label_dir = self.root / "labels" / "seg_track_20" / "bitmasks" / split

    def _build_index(self) -> list[str]:
        return list_videos(self.image_dir, "BDD100K seg-track frames")

    def annotation_files(self) -> list[Path]:
        return [p for v in self.sample_ids() for p in sorted((self.label_dir / v).glob("*.png"))]

    def validate(self) -> None:
        for v in self.sample_ids():
            frames = list_frames(self.image_dir / v, f"frame folder of video {v}")
            size = image_size(frames[0])
            for f in frames:  # every frame has its bitmask; headers only (val has ~40k of them)
                check_png(self.label_dir / v / f"{f.stem}.png", "BDD100K bitmask", modes=("RGBA",), size=size)

    def sample_ids(self) -> list[str]:
        return list(self.index)

    def load_sample(self, sample_id: str) -> Sample:
        if sample_id not in self.index:
            raise DatasetError(f"{self.id}: no video {sample_id!r}")
        frames = list_frames(self.image_dir / sample_id, f"frame folder of video {sample_id}")
        return Sample(sample_id, video_frames(frames), _categories(),
                      {"video": sample_id, "frames": [p.stem for p in frames]})

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        out_dir = self.results_path(results_dir)
        written = []
        for sid, preds, meta in in_order(stream, self.result_key, self.id):
            stems = meta.get("frames") or [p.stem for p in list_frames(self.image_dir / sid, "frame folder")]
            if len(preds) != len(stems):
                raise ResultsError(f"video {sid}: {len(preds)} per-frame predictions for {len(stems)} frames")
            for stem, inst in zip(stems, preds):
                written.append(atomic_write_png(out_dir / sid / f"{stem}.png",
                                                bitmask_png(inst, inst.image_size, sid)))
        return written

    def gt_path(self) -> Path:
        return self.label_dir

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """A bitmask folder with just the videos run (linked): the BDD100K toolkit
        (``bdd100k.eval.seg``/``mots``) scores every video folder of its GT."""
        return link_children(Path(gt), sample_ids, Path(results_dir) / "gt_subset"), {}
