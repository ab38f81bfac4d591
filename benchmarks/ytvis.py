"""Video instance segmentation: YouTube-VIS 2019 / 2021 and OVIS (val: server; dev: local).

Layouts (official releases; ``*_sub.json`` dev files as UniVS / UNINEXT make them, 10% of the
train videos, images in the train folder)::

    ytvis_2019/valid/JPEGImages/<video>/00000.jpg ...   ytvis_2019/valid.json
    ytvis_2021/valid/JPEGImages/<video>/00000.jpg ...   ytvis_2021/valid/instances.json
    ovis/valid/<video>/img_0000001.jpg ...              ovis/annotations_valid.json
    ytvis_2019/train/JPEGImages/...  ytvis_2019/valid_sub.json      (dev, with annotations)

The UNINEXT/GLEE copies (``<ds>/val/JPEGImages``, ``<ds>/annotations/instances_val_sub.json``,
the official val file renamed) are found too. The JSON lists ``videos`` (``id``, ``file_names`` relative to the image folder, ``height``,
``width``) and ``categories``. One sample per video, prompted with all categories.

Results: ``results.json``, a list of ``{"video_id", "category_id", "score", "segmentations":
[RLE per frame]}`` (an empty RLE where the track is absent), one entry per (track id, label);
score = mean of the track's per-frame scores. Val splits zip it as ``submission.zip`` holding
``results.json`` at the archive root (the CodaLab format).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Categories, Sample, mask_to_rle
from ._common import OfficialBenchmark, check_frames
from ._io import atomic_write_zip, first_existing, read_json, video_frames
from ._stream import StreamedJson, in_order
from ._subset import filter_json

__all__ = ["YouTubeVIS", "tracks_to_ytvis"]


def tracks_to_ytvis(preds, video_id: Any, sid: str) -> list[dict]:
    """Group per-frame instances by (track id, label) into YTVIS result entries."""
    if not preds:
        return []
    size = preds[0].image_size
    empty = mask_to_rle(np.zeros(size, bool))
    tracks: dict[tuple[int, int], dict] = {}
    for t, inst in enumerate(preds):
        if len(inst) == 0:
            continue
        if inst.track_ids is None or inst.labels is None or inst.masks is None:
            raise ResultsError(f"video {sid}: VIS predictions need masks, labels and track_ids")
        rles = inst.rles()
        scores = inst.scores if inst.scores is not None else np.ones(len(inst), np.float32)
        for k in range(len(inst)):
            key = (int(inst.track_ids[k]), int(inst.labels[k]))
            tr = tracks.setdefault(key, {"segs": [None] * len(preds), "scores": []})
            tr["segs"][t] = rles[k]
            tr["scores"].append(float(scores[k]))
    out = []
    for (tid, label), tr in sorted(tracks.items()):
        segs = [s if s is not None else empty for s in tr["segs"]]
        out.append({"video_id": video_id, "category_id": label, "score": float(np.mean(tr["scores"])),
                    "segmentations": [{"size": list(s["size"]), "counts": s["counts"]} for s in segs]})
    return out


class YouTubeVIS(OfficialBenchmark):
    task = "vis"
    prompt = "categories"
    results_name = "results.json"

    def __init__(self, root: Path, id: str = "", annotations: str | list[str] = "valid.json",
                 images: str | list[str] = "valid/JPEGImages", **options: Any):
        super().__init__(root, id, **options)
        # a list: the official name first, then the names other code bases rename it to
        self.ann_file = first_existing(self.root, [annotations] if isinstance(annotations, str) else annotations)
        self.image_dir = first_existing(self.root, [images] if isinstance(images, str) else images)

    def annotation_files(self) -> list[Path]:
        return [self.ann_file]

    def _build_index(self) -> dict:
        data = read_json(self.ann_file, "YouTube-VIS annotation file")
        if not isinstance(data, dict) or "videos" not in data or "categories" not in data:
            raise DatasetError(f"{self.ann_file}: expected a JSON object with 'videos' and 'categories'")
        videos = {}
        for i, v in enumerate(data["videos"]):
            if not isinstance(v, dict) or not all(k in v for k in ("id", "file_names", "height", "width")):
                raise DatasetError(f"{self.ann_file}: videos[{i}] must have 'id', 'file_names', 'height', 'width'")
            videos[int(v["id"])] = v
        for i, a in enumerate(data.get("annotations") or []):
            if int(a.get("video_id", -1)) not in videos:
                raise DatasetError(f"{self.ann_file}: annotations[{i}] points to video_id {a.get('video_id')}, "
                                   f"which is not in 'videos'")
        cats = sorted(data["categories"], key=lambda c: c["id"])
        return {"videos": videos, "categories": cats}

    def validate(self) -> None:
        if not self.image_dir.is_dir():
            raise DatasetError(f"missing frame folder {self.image_dir} (expected <video>/<frame>.jpg inside)")
        for vid, v in sorted(self.index["videos"].items()):
            check_frames([self.image_dir / f for f in v["file_names"]], f"frame of video {vid}", (v["height"], v["width"]))

    def sample_ids(self) -> list[str]:
        return [str(i) for i in sorted(self.index["videos"])]

    def load_sample(self, sample_id: str) -> Sample:
        try:
            v = self.index["videos"][int(sample_id)]
        except (KeyError, ValueError):
            raise DatasetError(f"{self.id}: no video with id {sample_id!r} in {self.ann_file}") from None
        paths = [self.image_dir / f for f in v["file_names"]]
        cats = self.index["categories"]
        return Sample(
            sample_id,
            video_frames(paths, sizes=[(v["height"], v["width"])] * len(paths)),
            Categories(tuple(c["name"] for c in cats), tuple(c["id"] for c in cats)),
            {"video_id": int(v["id"]), "length": len(paths)},
        )

    def result_key(self, sample_id: str) -> Any:
        return int(sample_id)  # video ids in numeric order

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        with StreamedJson(self.results_path(results_dir)) as js:
            for sid, preds, _ in in_order(stream, self.result_key, self.id):
                v = self.index["videos"].get(int(sid))
                if v is None:
                    raise ResultsError(f"predictions for unknown video id {sid!r}")
                if len(preds) != len(v["file_names"]):
                    raise ResultsError(f"video {sid}: {len(preds)} per-frame predictions for "
                                       f"{len(v['file_names'])} frames")
                js.extend(tracks_to_ytvis(preds, int(sid), sid))
        if self.server:
            return [js.path, atomic_write_zip(Path(results_dir) / "submission.zip", {"results.json": js.path})]
        return [js.path]

    def gt_path(self) -> Path:
        return self.ann_file

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """The annotation file with just the videos run and their annotations: the
        YouTube-VIS cocoapi fork (``YTVOSeval``) evaluates every video of the GT file."""
        keep = {int(s) for s in sample_ids}
        return filter_json(gt, Path(results_dir) / "gt_subset.json",
                           {"videos": lambda v: int(v["id"]) in keep,
                            "annotations": lambda a: int(a["video_id"]) in keep}), {}
