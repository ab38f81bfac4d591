"""VIPSeg val (video panoptic segmentation, 124 classes: 58 things, 66 stuff), scored locally
with VPQ and STQ.

Layout (``datasets/VIPSeg``, the official release after its 720p conversion)::

    VIPSeg/VIPSeg_720P/images/<video>/<frame>.jpg
    VIPSeg/VIPSeg_720P/panomasks/<video>/<frame>.png
    VIPSeg/VIPSeg_720P/panoptic_gt_VIPSeg_val.json   (per-video segments + "categories")
    VIPSeg/val.txt

Prompt: every category, with the thing/stuff flags. Results (the layout the official
``eval_vpq_vspw.py`` / ``eval_stq_vspw.py`` read): ``pan_pred/<video>/<frame>.png`` RGB PNGs
whose segment id is ``R + 256 G + 256^2 B`` and ``pred.json`` ``{"annotations": [{"video_id",
"annotations": [{"image_id", "file_name", "segments_info": [{"id", "category_id"}]}]}]}``.
A segment id is ``(category_id + 1) * 1000 + track_id + 1`` for things (one tube per track)
and ``(category_id + 1) * 1000`` for stuff (VIPSeg category ids start at 0 and id 0 is void),
so ids are stable across the frames of a video.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Categories, Sample
from ._common import OfficialBenchmark
from ._io import atomic_write_json, atomic_write_png, list_frames, read_json, read_lines, video_frames

__all__ = ["VipSeg"]


class VipSeg(OfficialBenchmark):
    task = "vps"
    prompt = "categories"
    results_name = "pred.json"

    def __init__(self, root: Path, id: str = "", split: str = "val", **options: Any):
        super().__init__(root, id, **options)
        self.split = split
        self.base = self.root / "VIPSeg_720P"
        self.list_file = self.root / f"{split}.txt"
        self.ann_file = self.base / f"panoptic_gt_VIPSeg_{split}.json"

    def annotation_files(self) -> list[Path]:
        return [self.list_file, self.ann_file]

    def _build_index(self) -> dict:
        videos = read_lines(self.list_file, f"VIPSeg {self.split} video list")
        data = read_json(self.ann_file, "VIPSeg panoptic annotation file")
        if not isinstance(data, dict) or "categories" not in data:
            raise DatasetError(f"{self.ann_file}: expected a JSON object with 'categories'")
        cats = sorted(data["categories"], key=lambda c: c["id"])
        for c in cats:
            if not all(k in c for k in ("id", "name", "isthing")):
                raise DatasetError(f"{self.ann_file}: category {c!r:.100} needs 'id', 'name', 'isthing'")
        return {"videos": videos, "categories": cats}

    def frames(self, video: str) -> list[Path]:
        return list_frames(self.base / "images" / video, f"frame folder of video {video}")

    def validate(self) -> None:
        for v in self.index["videos"]:
            for f in self.frames(v):
                p = self.base / "panomasks" / v / f"{f.stem}.png"
                if not p.is_file():
                    raise DatasetError(f"missing VIPSeg panoptic mask {p} (for frame {f})")

    def sample_ids(self) -> list[str]:
        return list(self.index["videos"])

    def load_sample(self, sample_id: str) -> Sample:
        if sample_id not in self.index["videos"]:
            raise DatasetError(f"{self.id}: no video {sample_id!r} in {self.list_file}")
        frames = self.frames(sample_id)
        cats = self.index["categories"]
        return Sample(sample_id, video_frames(frames),
                      Categories(tuple(c["name"] for c in cats), tuple(c["id"] for c in cats),
                                 tuple(bool(c["isthing"]) for c in cats)),
                      {"video": sample_id, "frames": [p.stem for p in frames]})

    def write_results(self, predictions, samples_meta, results_dir: Path) -> list[Path]:
        from PIL import Image

        results_dir = Path(results_dir)
        thing = {c["id"]: bool(c["isthing"]) for c in self.index["categories"]}
        written, videos = [], []
        for sid in sorted(predictions):
            stems = (samples_meta.get(sid) or {}).get("frames") or [p.stem for p in self.frames(sid)]
            preds = predictions[sid]
            if len(preds) != len(stems):
                raise ResultsError(f"video {sid}: {len(preds)} per-frame predictions for {len(stems)} frames")
            anns = []
            for stem, inst in zip(stems, preds):
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
                        sid_k = (lab + 1) * 1000 + tid + 1
                        pan[masks[k]] = sid_k
                        segs[sid_k] = lab
                present = set(np.unique(pan).tolist()) - {0}
                rgb = np.stack([pan % 256, pan // 256 % 256, pan // 65536], -1).astype(np.uint8)
                written.append(atomic_write_png(results_dir / "pan_pred" / sid / f"{stem}.png",
                                                Image.fromarray(rgb, mode="RGB")))
                anns.append({"image_id": stem, "file_name": f"{stem}.png",
                             "segments_info": [{"id": i, "category_id": segs[i]} for i in sorted(present)]})
            videos.append({"video_id": sid, "annotations": anns})
        written.append(atomic_write_json(results_dir / "pred.json", {"annotations": videos}))
        return written

    def gt_path(self) -> Path:
        return self.base

    def results_path(self, results_dir: Path) -> Path:
        return Path(results_dir)

    def metric_options(self) -> dict[str, Any]:
        return {"split": self.split}
