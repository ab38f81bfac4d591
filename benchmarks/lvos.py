"""LVOS val (long-term VOS), scored locally with the lvos-evaluation protocol.

Layout (``datasets/lvos``, the official LVOS v1 release)::

    lvos/valid/JPEGImages/<video>/00000001.jpg ...
    lvos/valid/Annotations/<video>/<frame>.png       (each object's first-appearance mask)
    lvos/valid/valid_meta.json                        (objects and their frame ranges)

Results: ``Annotations/<video>/<frame>.png`` indexed PNGs for every frame; the ``lvos`` metric
takes the ``valid`` folder as ground truth (it reads ``valid_meta.json`` for the 5-frame-stride
evaluation range and the seen/unseen split).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ._io import read_json
from ._vos import VosVideos

__all__ = ["Lvos"]


class Lvos(VosVideos):
    def __init__(self, root: Path, id: str = "", split: str = "valid", **options: Any):
        options.setdefault("images", f"{split}/JPEGImages")
        options.setdefault("annotations", f"{split}/Annotations")
        super().__init__(root, id, **options)
        self.split = split
        self.meta_file = self.root / split / f"{split}_meta.json"

    def _build_index(self) -> list[str]:
        meta = read_json(self.meta_file, "LVOS meta file")
        videos = meta.get("videos") if isinstance(meta, dict) else None
        if not isinstance(videos, dict) or not videos:
            raise DatasetError(f"{self.meta_file}: expected {{\"videos\": {{<video>: {{\"objects\": ...}}}}}}")
        return sorted(videos)

    def annotation_files(self) -> list[Path]:
        return [self.meta_file] + super().annotation_files()

    def gt_path(self) -> Path:
        return self.root / self.split
