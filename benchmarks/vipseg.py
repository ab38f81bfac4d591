"""VIPSeg val (video panoptic segmentation, 124 classes: 58 things, 66 stuff), scored locally
with VPQ and STQ.

Layout (``datasets/VIPSeg``, the official release after its 720p conversion and
``create_panoptic_video_labels.py``)::

    VIPSeg/VIPSeg_720P/images/<video>/<frame>.jpg
    VIPSeg/VIPSeg_720P/panomasksRGB/<video>/<frame>.png      (RGB, id = R + 256 G + 256^2 B)
    VIPSeg/VIPSeg_720P/panoptic_gt_VIPSeg_val.json
        {"videos": [{"video_id", "images": [{"file_name": "<frame>.png"}, ...]}],
         "annotations": [{"video_id", "annotations": [{"segments_info": [...]}, ...]}],
         "categories": [{"id", "name", "isthing"}]}

One sample per video (the frames listed in ``images``), prompted with every category and the
thing/stuff flags. Results (what the official ``eval_vpq_vspw.py`` / ``eval_stq_vspw.py``
read): ``pan_pred/<video>/<file_name>`` RGB PNGs and ``pred.json`` ``{"annotations":
[{"video_id", "annotations": [{"file_name", "segments_info": [{"id", "category_id"}]}]}]}``
listing, per frame, the segments present in its PNG. A segment id is ``(category_id + 1) *
1000 + track_id + 1`` for things (one tube per track) and ``(category_id + 1) * 1000`` for
stuff (VIPSeg category ids start at 0 and id 0 is void), so ids are stable across frames.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Categories, Sample
from ._common import OfficialBenchmark, check_frames
from ._io import atomic_write_png, check_png, image_size, read_json, video_frames
from ._stream import StreamedJson, in_order
from ._subset import filter_json

__all__ = ["VipSeg"]


class VipSeg(OfficialBenchmark):
    task = "vps"
    prompt = "categories"
    results_name = "."

    def __init__(self, root: Path, id: str = "", split: str = "val", **options: Any):
        super().__init__(root, id, **options)
        self.split = split
        self.base = self.root / "VIPSeg_720P"
        self.ann_file = self.base / f"panoptic_gt_VIPSeg_{split}.json"

    def annotation_files(self) -> list[Path]:
        return [self.ann_file]

    def _build_index(self) -> dict:
        data = read_json(self.ann_file, "VIPSeg panoptic annotation file")
        if not isinstance(data, dict) or "videos" not in data or "categories" not in data:
            raise DatasetError(f"{self.ann_file}: expected a JSON object with 'videos' and 'categories'")
        videos = {}
        for i, v in enumerate(data["videos"]):
            if not isinstance(v, dict) or "video_id" not in v or not v.get("images"):
                raise DatasetError(f"{self.ann_file}: videos[{i}] needs 'video_id' and a non-empty 'images' list")
            videos[str(v["video_id"])] = [Path(im["file_name"]).stem for im in v["images"]]
        cats = sorted(data["categories"], key=lambda c: c["id"])
        for c in cats:
            if not all(k in c for k in ("id", "name", "isthing")):
                raise DatasetError(f"{self.ann_file}: category {c!r:.100} needs 'id', 'name', 'isthing'")
        return {"videos": dict(sorted(videos.items())), "categories": cats}

    def frames(self, video: str) -> list[Path]:
        return [self.base / "images" / video / f"{s}.jpg" for s in self.index["videos"][video]]

    def validate(self) -> None:
        for v, stems in self.index["videos"].items():
            frames = self.frames(v)
            check_frames(frames, f"frame of video {v}")
            size = image_size(frames[0])
            for s in stems:
                check_png(self.base / "panomasksRGB" / v / f"{s}.png", "VIPSeg panoptic mask", ("RGB",), size)

    def sample_ids(self) -> list[str]:
        return list(self.index["videos"])

    def load_sample(self, sample_id: str) -> Sample:
        if sample_id not in self.index["videos"]:
            raise DatasetError(f"{self.id}: no video {sample_id!r} in {self.ann_file}")
        cats = self.index["categories"]
        return Sample(sample_id, video_frames(self.frames(sample_id)),
                      Categories(tuple(c["name"] for c in cats), tuple(c["id"] for c in cats),
                                 tuple(bool(c["isthing"]) for c in cats)),
                      {"video": sample_id, "frames": self.index["videos"][sample_id]})

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        from PIL import Image

        results_dir = Path(results_dir)
        thing = {c["id"]: bool(c["isthing"]) for c in self.index["categories"]}
        written = []
        with StreamedJson(results_dir / "pred.json", ("annotations",)) as js:
            for sid, preds, _ in in_order(stream, self.result_key, self.id):
                stems = self.index["videos"].get(sid)
                if stems is None:
                    raise ResultsError(f"predictions for unknown video {sid!r}")
                if len(preds) != len(stems):
                    raise ResultsError(f"video {sid}: {len(preds)} per-frame predictions for {len(stems)} frames")
                anns = []
                for stem, inst in zip(stems, preds):
                    pan, segs = self._panoptic(inst, thing, sid)
                    present = sorted(set(np.unique(pan).tolist()) - {0})
                    rgb = np.stack([pan % 256, pan // 256 % 256, pan // 65536], -1).astype(np.uint8)
                    written.append(atomic_write_png(results_dir / "pan_pred" / sid / f"{stem}.png",
                                                    Image.fromarray(rgb, mode="RGB")))
                    anns.append({"file_name": f"{stem}.png",
                                 "segments_info": [{"id": i, "category_id": segs[i]} for i in present]})
                js.add({"video_id": sid, "annotations": anns}, "annotations")
        written.append(js.path)
        return written

    @staticmethod
    def _panoptic(inst, thing: dict[int, bool], sid: str) -> tuple[np.ndarray, dict[int, int]]:
        """(``H x W`` int64 segment ids ``(label + 1) * 1000 + track id + 1`` (stuff: track
        -1), segment id → category id) of one frame, instances painted in ascending score."""
        h, w = inst.image_size
        pan = np.zeros((h, w), np.int64)
        segs: dict[int, int] = {}
        if len(inst):
            if inst.masks is None or inst.labels is None:
                raise ResultsError(f"video {sid}: panoptic predictions need masks and labels")
            masks = inst.dense_masks()
            scores = inst.scores if inst.scores is not None else np.ones(len(inst))
            for k in np.argsort(scores, kind="stable"):
                lab = int(inst.labels[k])
                if lab not in thing:
                    raise ResultsError(f"video {sid}: unknown VIPSeg category id {lab}")
                tid = int(inst.track_ids[k]) if (thing[lab] and inst.track_ids is not None) else -1
                seg_id = (lab + 1) * 1000 + tid + 1
                pan[masks[k]] = seg_id
                segs[seg_id] = lab
        return pan, segs

    def gt_path(self) -> Path:
        return self.ann_file

    def results_path(self, results_dir: Path) -> Path:
        return Path(results_dir)

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """The panoptic GT JSON with just the videos run (the PNGs stay where they are: the
        ``gt_masks`` option): VPQ/STQ go over every video of the GT JSON."""
        keep = set(sample_ids)
        out = filter_json(gt, Path(results_dir) / "gt_subset.json",
                          {"videos": lambda v: str(v["video_id"]) in keep,
                           "annotations": lambda a: str(a["video_id"]) in keep})
        return out, {"gt_masks": str(self.base / "panomasksRGB")}
