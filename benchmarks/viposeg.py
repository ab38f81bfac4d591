"""VIPOSeg val (panoptic VOS: first-appearance masks of things and stuff), scored with G.

Layout (``datasets/VIPOSeg``, the official release, YouTube-VOS style)::

    VIPOSeg/valid/JPEGImages/<video>/<frame>.jpg
    VIPOSeg/valid/Annotations/<video>/<frame>.png      (first-appearance masks: the prompts)
    VIPOSeg/valid/Annotations_gt/<video>/<frame>.png   (every frame: the ground truth)
    VIPOSeg/valid/obj_class.json                       ({video: {object id: class id}})

The prompt is the YouTube-VOS one (each object's mask on its first appearance) plus each
object's category: ``Reference.category_ids`` from ``obj_class.json`` (the VIPSeg class index,
0..123, "VIPOSeg keeps the class index from VIPSeg", VIPOSeg-Benchmark ``README.md``) and
``Reference.thing`` from VIPSeg's thing/stuff split of those classes (the release ships no
category file; the split is the one of the official evaluator's ``eval_utils_viposeg.py`` class
lists, which equals the ``isthing`` flags of UniVS's ``VIPseg_CATEGORIES``, ``vps.py``, at
``class index = id - 1``). UniVS's PVOS inference needs both (``use_semseg_pvos``).

Results: ``Annotations/<video>/<frame>.png`` indexed PNGs of object ids (as for YouTube-VOS),
scored by the ``viposeg`` metric (G over thing/stuff x seen/unseen).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..metrics.viposeg import STUFF_CLASSES, STUFF_UNSEEN, THING_CLASSES, THING_UNSEEN
from ..types import Sample
from ._io import read_json
from ._vos import VosVideos

__all__ = ["VipOSeg", "VIPSEG_THING", "VIPSEG_STUFF"]

#: VIPSeg class indices (0..123) of things and of stuff (seen and unseen together)
VIPSEG_THING = THING_CLASSES | THING_UNSEEN
VIPSEG_STUFF = STUFF_CLASSES | STUFF_UNSEEN
_VIPSEG_CLASSES = VIPSEG_THING | VIPSEG_STUFF


class VipOSeg(VosVideos):
    task = "pvos"

    def __init__(self, root: Path, id: str = "", split: str = "valid", **options: Any):
        options.setdefault("images", f"{split}/JPEGImages")
        options.setdefault("annotations", f"{split}/Annotations")
        super().__init__(root, id, **options)
        self.split = split
        self._obj_class: dict | None = None  # obj_class.json, read on first use

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

    def object_classes(self, video: str, object_ids: list[int]) -> tuple[tuple[int, ...], tuple[bool, ...]]:
        """``(class index, thing flag)`` of each object of ``video`` from ``obj_class.json``
        (``{video: {object id: class index}}``)."""
        path = self.root / self.split / "obj_class.json"
        if self._obj_class is None:
            table = read_json(path, "VIPOSeg object classes")
            if not isinstance(table, dict):
                raise DatasetError(f"{path}: expected {{video: {{object id: class index}}}}, got {type(table).__name__}")
            self._obj_class = table
        per_video = self._obj_class.get(video)
        if not isinstance(per_video, dict):
            raise DatasetError(f"{path}: no object classes for video {video!r} (expected {{object id: class index}})")
        classes, thing = [], []
        for o in object_ids:
            raw = per_video.get(str(o))
            try:  # the official evaluator reads ``int(obj_class[video][str(id)])``
                c = int(raw)
            except (TypeError, ValueError):
                c = None
            if c not in _VIPSEG_CLASSES:
                raise DatasetError(f"{path}: video {video!r}, object {o}: expected a VIPSeg class index 0..123, "
                                   f"got {raw!r}")
            classes.append(c)
            thing.append(c in VIPSEG_THING)
        return tuple(classes), tuple(thing)

    def load_sample(self, sample_id: str) -> Sample:
        sample = super().load_sample(sample_id)
        ref = sample.prompt
        classes, thing = self.object_classes(sample_id, list(ref.object_ids))
        return replace(sample, prompt=replace(ref, category_ids=classes, thing=thing))

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
