"""TAO val: open-vocabulary multi-object tracking over the LVIS vocabulary, scored with TETA.

Layout (``datasets/TAO``, the official release)::

    TAO/frames/val/<source>/<video>/frame0001.jpg ...
    TAO/annotations/validation.json     (videos, images, tracks, annotations, categories)

``images`` lists the annotated frames (1 fps); ``file_name`` is relative to ``frames/``. One
sample per video, made of its annotated frames in ``frame_index`` order, prompted with every
category. Results: ``tao_results.json``, a list of ``{"image_id", "video_id", "category_id",
"bbox": [x, y, w, h], "score", "track_id"}`` (the TAO / TETA results format).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DatasetError, ResultsError
from ..types import Categories, Sample
from ._common import OfficialBenchmark, check_frames, coco_records
from ._io import read_json, video_frames
from ._stream import StreamedJson, in_order
from ._subset import filter_json

__all__ = ["TaoVideos"]


class TaoVideos(OfficialBenchmark):
    task = "ow-track"
    prompt = "categories"
    results_name = "tao_results.json"

    def __init__(self, root: Path, id: str = "", annotations: str = "annotations/validation.json",
                 images: str = "frames", **options: Any):
        super().__init__(root, id, **options)
        self.ann_file = self.root / annotations
        self.image_dir = self.root / images

    def annotation_files(self) -> list[Path]:
        return [self.ann_file]

    def _build_index(self) -> dict:
        data = read_json(self.ann_file, "TAO annotation file")
        for k in ("videos", "images", "categories"):
            if not isinstance(data, dict) or k not in data:
                raise DatasetError(f"{self.ann_file}: missing top-level key {k!r} of the TAO format")
        videos = {int(v["id"]): v for v in data["videos"]}
        frames: dict[int, list[dict]] = {v: [] for v in videos}
        for i, im in enumerate(data["images"]):
            if not all(k in im for k in ("id", "video_id", "file_name", "frame_index")):
                raise DatasetError(f"{self.ann_file}: images[{i}] needs 'id', 'video_id', 'file_name', 'frame_index'")
            if int(im["video_id"]) not in frames:
                raise DatasetError(f"{self.ann_file}: images[{i}] points to video_id {im['video_id']}, "
                                   f"which is not in 'videos'")
            frames[int(im["video_id"])].append(im)
        image_ids = {int(im["id"]) for im in data["images"]}
        for i, a in enumerate(data.get("annotations") or []):
            if int(a.get("image_id", -1)) not in image_ids:
                raise DatasetError(f"{self.ann_file}: annotations[{i}] points to image_id {a.get('image_id')}, "
                                   f"which is not in 'images'")
        for v in frames:
            frames[v].sort(key=lambda im: im["frame_index"])
        cats = sorted(data["categories"], key=lambda c: c["id"])
        return {"videos": videos, "frames": {v: f for v, f in frames.items() if f}, "categories": cats}

    def validate(self) -> None:
        for v, ims in sorted(self.index["frames"].items()):
            check_frames([self.image_dir / im["file_name"] for im in ims], f"frame of video {v}",
                         sizes=[(im["height"], im["width"]) for im in ims]
                         if all("height" in im for im in ims) else None)

    def sample_ids(self) -> list[str]:
        return [str(v) for v in sorted(self.index["frames"])]

    def load_sample(self, sample_id: str) -> Sample:
        try:
            ims = self.index["frames"][int(sample_id)]
        except (KeyError, ValueError):
            raise DatasetError(f"{self.id}: no video with id {sample_id!r} in {self.ann_file}") from None
        cats = self.index["categories"]
        sizes = [(im["height"], im["width"]) for im in ims] if all("height" in im for im in ims) else None
        return Sample(
            sample_id,
            video_frames([self.image_dir / im["file_name"] for im in ims], [int(im["id"]) for im in ims], sizes),
            Categories(tuple(c["name"] for c in cats), tuple(c["id"] for c in cats)),
            {"video_id": int(sample_id), "image_ids": [int(im["id"]) for im in ims]},
        )

    def result_key(self, sample_id: str) -> Any:
        return int(sample_id)  # video ids in numeric order

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        with StreamedJson(self.results_path(results_dir)) as js:
            for sid, preds, _ in in_order(stream, self.result_key, self.id):
                ims = self.index["frames"].get(int(sid))
                if ims is None:
                    raise ResultsError(f"predictions for unknown video id {sid!r}")
                if len(preds) != len(ims):
                    raise ResultsError(f"video {sid}: {len(preds)} per-frame predictions for {len(ims)} frames")
                for im, inst in zip(ims, preds):
                    if len(inst) and inst.track_ids is None:
                        raise ResultsError(f"video {sid}: tracking predictions need track_ids")
                    for r, tid in zip(coco_records(inst, int(im["id"]), sample=sid),
                                      inst.track_ids if len(inst) else []):
                        r["video_id"] = int(sid)
                        r["track_id"] = int(tid)
                        js.add(r)
        return [js.path]

    def gt_path(self) -> Path:
        return self.ann_file

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """The annotation file with just the videos run (their images, tracks and
        annotations): TETA evaluates every image of the GT file."""
        keep = {int(s) for s in sample_ids}
        images = {int(im["id"]) for v in keep for im in self.index["frames"].get(v, [])}
        return filter_json(gt, Path(results_dir) / "gt_subset.json", {
            "videos": lambda v: int(v["id"]) in keep,
            "images": lambda im: int(im["id"]) in images,
            "tracks": lambda t: int(t["video_id"]) in keep,
            "annotations": lambda a: int(a["image_id"]) in images,
        }), {}
