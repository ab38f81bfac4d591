"""VIPOSeg val (panoptic VOS: first-appearance masks of things and stuff), scored with G.

Layout (``datasets/VIPOSeg``, the official release, YouTube-VOS style)::

    VIPOSeg/valid/JPEGImages/<video>/<frame>.jpg
    VIPOSeg/valid/Annotations/<video>/<frame>.png      (first-appearance masks: the prompts)
    VIPOSeg/valid/Annotations_gt/<video>/<frame>.png   (every frame: the ground truth)
    VIPOSeg/valid/obj_class.json                       ({video: {object id: class id}})

Results: ``Annotations/<video>/<frame>.png`` indexed PNGs of object ids (as for YouTube-VOS),
scored by the ``viposeg`` metric (G over thing/stuff x seen/unseen).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ._vos import VosVideos

__all__ = ["VipOSeg"]


class VipOSeg(VosVideos):
    task = "pvos"

    def __init__(self, root: Path, id: str = "", split: str = "valid", **options: Any):
        options.setdefault("images", f"{split}/JPEGImages")
        options.setdefault("annotations", f"{split}/Annotations")
        super().__init__(root, id, **options)
        self.split = split

    def validate(self) -> None:
        super().validate()
        base = self.root / self.split
        for need in (base / "Annotations_gt", base / "obj_class.json"):
            if not need.exists():
                raise DatasetError(f"{self.id}: missing {need} (VIPOSeg {self.split}/ needs Annotations/, "
                                   f"Annotations_gt/ and obj_class.json for local scoring)")
        for v in self.sample_ids():
            if not (base / "Annotations_gt" / v).is_dir():
                raise DatasetError(f"{self.id}: video {v} has no ground truth folder {base / 'Annotations_gt' / v}")

    def gt_path(self) -> Path:
        return self.root / self.split

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        # the official VIPOSeg evaluator (``eval_pvos.py``) keeps the videos of its reference
        # list that have results, and the results folder holds exactly the samples predicted
        res = self.results_path(results_dir)
        extra = sorted(p.name for p in res.iterdir() if p.is_dir() and p.name not in set(sample_ids)) if res.is_dir() else []
        if extra:
            raise DatasetError(f"{self.id}: results folder {res} holds videos outside the selection: {extra[:5]}")
        return gt, {}
