"""ODinW-13: object detection in the wild, 13 datasets with their own category sets (GLIP
``configs/odinw_13``). The reported number is the mean of the 13 box APs.

Layout (GLIP / GLEE ``datasets/odinw``), one COCO-format file per dataset with the images
beside it::

    odinw/AerialMaritimeDrone/large/valid/annotations_without_background.json
    odinw/EgoHands/generic/mini_val/annotations_without_background.json
    odinw/pistols/export/val_annotations_without_background.json
    ...

Sample ids are ``<dataset>/<image_id>``. Results: one COCO box results JSON per dataset,
``odinw/<dataset>.json`` inside the results folder; the ``odinw`` metric is given the mappings
dataset name → annotation file and dataset name → results file.
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ..errors import DatasetError, ResultsError
from ..types import Categories, Frames, Sample
from ._common import CocoIndex, OfficialBenchmark, check_frames, check_sample_ids, coco_records
from ._io import read_json
from ._stream import StreamedJson, in_order
from ._subset import filter_json

__all__ = ["ODINW13", "OdinW"]

#: name → (annotation file, image folder), relative to ``odinw/`` (GLIP odinw_13 val splits)
ODINW13: dict[str, tuple[str, str]] = {
    "AerialMaritimeDrone": ("AerialMaritimeDrone/large/valid/annotations_without_background.json",
                            "AerialMaritimeDrone/large/valid"),
    "Aquarium": ("Aquarium/Aquarium Combined.v2-raw-1024.coco/valid/annotations_without_background.json",
                 "Aquarium/Aquarium Combined.v2-raw-1024.coco/valid"),
    "CottontailRabbits": ("CottontailRabbits/valid/annotations_without_background.json", "CottontailRabbits/valid"),
    "EgoHands": ("EgoHands/generic/mini_val/annotations_without_background.json", "EgoHands/generic/mini_val"),
    "NorthAmericaMushrooms": (
        "NorthAmericaMushrooms/North American Mushrooms.v1-416x416.coco/valid/annotations_without_background.json",
        "NorthAmericaMushrooms/North American Mushrooms.v1-416x416.coco/valid"),
    "Packages": ("Packages/Raw/valid/annotations_without_background.json", "Packages/Raw/valid"),
    "PascalVOC": ("PascalVOC/valid/annotations_without_background.json", "PascalVOC/valid"),
    "pistols": ("pistols/export/val_annotations_without_background.json", "pistols/export"),
    "pothole": ("pothole/valid/annotations_without_background.json", "pothole/valid"),
    "Raccoon": ("Raccoon/Raccoon.v2-raw.coco/valid/annotations_without_background.json", "Raccoon/Raccoon.v2-raw.coco/valid"),
    "ShellfishOpenImages": ("ShellfishOpenImages/raw/valid/annotations_without_background.json",
                            "ShellfishOpenImages/raw/valid"),
    "thermalDogsAndPeople": ("thermalDogsAndPeople/valid/annotations_without_background.json", "thermalDogsAndPeople/valid"),
    "VehiclesOpenImages": ("VehiclesOpenImages/416x416/mini_val/annotations_without_background.json",
                           "VehiclesOpenImages/416x416/mini_val"),
}


class OdinW(OfficialBenchmark):
    """The 13 ODinW datasets as one split (``datasets`` restricts it to a subset)."""

    task = "det"
    prompt = "categories"
    results_name = "odinw"

    def __init__(self, root: Path, id: str = "", datasets: list[str] | None = None, **options: Any):
        super().__init__(root, id, **options)
        names = list(datasets) if datasets else sorted(ODINW13)
        unknown = [n for n in names if n not in ODINW13]
        if unknown:
            raise DatasetError(f"unknown ODinW dataset(s) {unknown}; known: {sorted(ODINW13)}")
        self.names = sorted(names)

    def annotation_files(self) -> list[Path]:
        return [self.root / ODINW13[n][0] for n in self.names]

    def _build_index(self) -> dict[str, CocoIndex]:
        out = {}
        for n in self.names:
            p = self.root / ODINW13[n][0]
            out[n] = CocoIndex(read_json(p, f"ODinW {n} annotation file"), p)
        return out

    def validate(self) -> None:
        for n, idx in self.index.items():
            d = self.root / ODINW13[n][1]
            ims = [idx.images[i] for i in idx.image_ids()]
            if not ims:
                raise DatasetError(f"{idx.path}: 'images' is empty")
            check_frames([d / im["file_name"] for im in ims], f"ODinW {n} image",
                         sizes=[(im["height"], im["width"]) for im in ims])

    def sample_ids(self) -> list[str]:
        return [f"{n}/{i}" for n in self.names for i in self.index[n].image_ids()]

    def load_sample(self, sample_id: str) -> Sample:
        name, _, img = sample_id.partition("/")
        try:
            idx = self.index[name]
            im = idx.images[int(img)]
        except (KeyError, ValueError):
            raise DatasetError(f"{self.id}: no sample {sample_id!r} (expected '<dataset>/<image_id>')") from None
        cats = idx.categories
        return Sample(
            sample_id,
            Frames.from_image(self.root / ODINW13[name][1] / im["file_name"], int(im["id"]), (im["height"], im["width"])),
            Categories(tuple(c["name"] for c in cats), tuple(c["id"] for c in cats)),
            {"dataset": name, "image_id": int(im["id"])},
        )

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        out_dir = self.results_path(results_dir)
        with ExitStack() as files:  # one results array per dataset, every one written (empty too)
            per = {n: files.enter_context(StreamedJson(out_dir / f"{n}.json")) for n in self.names}
            for sid, preds, _ in in_order(stream, self.result_key, self.id):
                name, _, img = sid.partition("/")
                if name not in per:
                    raise ResultsError(f"sample {sid}: unknown ODinW dataset {name!r}")
                if len(preds) != 1:
                    raise ResultsError(f"sample {sid}: an image takes 1 Instances, got {len(preds)}")
                per[name].extend(coco_records(preds[0], int(img), sample=sid))
        return [js.path for js in per.values()]

    def gt_path(self) -> Path:
        return self.root

    def score(self, results_dir: Path, samples=None) -> dict[str, float]:
        """The ``odinw`` metric takes mappings dataset name → COCO GT / results file. With
        ``samples``: each dataset's GT cut to the images run (``gt_subset/<name>.json``), over
        the datasets with an image run (the mean of those, as ``require_all=False``)."""
        from ..metrics import compute

        res = self.results_path(results_dir)
        gt = {n: self.root / ODINW13[n][0] for n in self.names}
        options = self.metric_options()
        if samples is not None:
            per: dict[str, set[int]] = {}
            for sid in check_sample_ids(self, samples):
                name, _, img = sid.partition("/")
                per.setdefault(name, set()).add(int(img))
            gt = {n: filter_json(gt[n], Path(results_dir) / "gt_subset" / f"{n}.json",
                                 {"images": lambda im, k=per[n]: int(im["id"]) in k,
                                  "annotations": lambda a, k=per[n]: int(a["image_id"]) in k})
                  for n in self.names if n in per}
            options = {**options, "require_all": False}
        return compute(self.metric, gt, {n: res / f"{n}.json" for n in gt}, **options)
