"""Benchmark splits of the shapes suite: the official-layout readers/writers, pointed at a
generated copy of the data.

The suite lives in ``<cache>/shapes/v<VERSION>/`` (``$EVALKIT_CACHE`` or ``~/.cache/evalkit``)
and each dataset is written there the first time one of its splits is built (a marker file
``.complete-<split>`` records a finished write, so an interrupted generation is redone). A data
root that already holds a finished copy (``--data-root``, ``EVALKIT_DATA_SHAPES_COCO`` ...) is
used as is.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..coco import CocoInstances, CocoStyleImages
from ..davis import Davis17
from ..refcoco import RefCoco
from ..sot import SotSequences
from ..ytvis import YouTubeVIS
from .mot import MotChallengeSequences

__all__ = ["VERSION", "suite_root", "ensure_split", "ShapesCoco", "ShapesRefCoco", "ShapesDavis",
           "ShapesYtvis", "ShapesSot", "ShapesMot"]

#: bump when the generator's output changes (a new folder is generated beside the old one)
VERSION = 4


def suite_root() -> Path:
    from ...hub import cache_root

    return cache_root() / "shapes" / f"v{VERSION}"


def _complete(folder: Path, split: str) -> bool:
    return (folder / f".complete-{split}").is_file()


def ensure_split(dataset: str, split: str, root: Path | None = None) -> Path:
    """The folder of ``dataset`` holding a finished ``split``; generated (atomically: into a
    temporary folder, then moved) when missing. ``root``: a candidate folder used when it is
    already complete."""
    if root is not None and _complete(Path(root), split):
        return Path(root)
    folder = suite_root() / dataset
    if _complete(folder, split):
        return folder
    from .layouts import write_dataset

    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{split}-", dir=folder))
    try:
        write_dataset(tmp, dataset, split)
        src = tmp / dataset
        for path in sorted(src.rglob("*")):
            if path.is_file():
                dst = folder / path.relative_to(src)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, dst)
        (folder / f".complete-{split}").write_text(f"shapes suite v{VERSION}\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


class ShapesCoco(CocoInstances):
    """shapes-coco: detection / instance segmentation, 9 categories (colour × shape)."""

    def __init__(self, root: Path, id: str = "", split: str = "val", masks: bool = False, **options: Any):
        root = ensure_split("shapes-coco", split, root)
        super().__init__(root, id, annotations=f"annotations/instances_{split}.json", images=split,
                         masks=masks, **options)
        self.split = split


class ShapesRefCoco(RefCoco):
    """shapes-refcoco: REC / RES; expressions name a shape and its relation to another."""

    def __init__(self, root: Path, id: str = "", split: str = "val", masks: bool = False, **options: Any):
        root = ensure_split("shapes-refcoco", split, root)
        # RefCoco.__init__ checks the official variant/split names; the layout is RefCOCO's
        CocoStyleImages.__init__(self, root, id, f"refs/instances_{split}.json", "images", masks=masks,
                                 **options)
        self.variant, self.split = "shapes-refcoco", split


class ShapesDavis(Davis17):
    """shapes-davis: semi-supervised VOS of moving, occluding shapes (DAVIS-2017 layout)."""

    def __init__(self, root: Path, id: str = "", split: str = "val", **options: Any):
        root = ensure_split("shapes-davis", split, root)
        super().__init__(root, id, split=split, **options)


class ShapesYtvis(YouTubeVIS):
    """shapes-ytvis: video instance segmentation with local ground truth (YouTube-VIS layout)."""

    def __init__(self, root: Path, id: str = "", split: str = "val", **options: Any):
        root = ensure_split("shapes-ytvis", split, root)
        folder = {"train": "train", "val": "valid"}[split]
        super().__init__(root, id, annotations=f"{folder}.json", images=f"{folder}/JPEGImages", **options)
        self.split = split


class ShapesMot(MotChallengeSequences):
    """shapes-mot: class-agnostic multi-object tracking of all shapes (MOTChallenge layout)."""

    def __init__(self, root: Path, id: str = "", split: str = "val", **options: Any):
        from .scenes import CATEGORIES

        root = ensure_split("shapes-mot", split, root)
        # every shape is a "pedestrian" (class 1) of the ground truth; the prompt names them all
        super().__init__(root, id, split=split, names=[c["name"] for c in CATEGORIES],
                         ids=[c["id"] for c in CATEGORIES], benchmark="MOT17", do_preproc=False, **options)


class ShapesSot(SotSequences):
    """shapes-sot: single-object tracking of one shape among distractors (GOT-10k layout)."""

    def __init__(self, root: Path, id: str = "", split: str = "val", **options: Any):
        root = ensure_split("shapes-sot", split, root)
        super().__init__(root, id, layout="got10k", split=split, **options)
