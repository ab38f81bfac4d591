"""YouTube-VOS 2018 / 2019 val, scored by the CodaLab server (G = mean of J/F seen/unseen).

Layout (``datasets/ytbvos18``, ``datasets/ytbvos19``: the official ``valid`` release)::

    ytbvos18/valid/JPEGImages/<video>/00000.jpg ...   (every 5th frame)
    ytbvos18/valid/Annotations/<video>/<frame>.png    (each object's first-appearance mask)
    ytbvos18/valid/meta.json                          ({"videos": {video: {"objects": ...}}})

(``val/`` instead of ``valid/``, as UNINEXT names it, is accepted.)

Objects may first appear after frame 0; each is prompted on its own first-appearance frame.
Results: ``Annotations/<video>/<frame>.png`` indexed PNGs (palette of the first annotation)
for every frame of ``JPEGImages``, zipped as ``submission.zip`` with the ``Annotations/``
folder at the archive root, as the server expects.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ._io import read_json
from ._vos import VosVideos

__all__ = ["YouTubeVOS"]


class YouTubeVOS(VosVideos):
    server = True

    def __init__(self, root: Path, id: str = "", split: str = "valid", **options: Any):
        if split == "valid" and not (Path(root) / "valid").exists() and (Path(root) / "val").is_dir():
            split = "val"  # the UNINEXT copy of the layout renames valid/ to val/
        options.setdefault("images", f"{split}/JPEGImages")
        options.setdefault("annotations", f"{split}/Annotations")
        super().__init__(root, id, **options)
        self.meta_file = self.root / split / "meta.json"

    def _build_index(self) -> list[str]:
        meta = read_json(self.meta_file, "YouTube-VOS meta file")
        videos = meta.get("videos") if isinstance(meta, dict) else None
        if not isinstance(videos, dict) or not videos:
            raise DatasetError(f"{self.meta_file}: expected {{\"videos\": {{<video>: {{\"objects\": ...}}}}}}")
        return sorted(videos)

    def annotation_files(self) -> list[Path]:
        return [self.meta_file] + super().annotation_files()
