"""VIPOSeg val (panoptic VOS: first-frame masks of things and stuff), G score.

Layout (``datasets/VIPOSeg``, the official release, YouTube-VOS style)::

    VIPOSeg/valid/JPEGImages/<video>/<frame>.jpg
    VIPOSeg/valid/Annotations/<video>/<frame>.png    (first-appearance masks, indexed PNGs)

Results: ``Annotations/<video>/<frame>.png`` indexed PNGs of object ids (as for YouTube-VOS).
No local metric is registered for VIPOSeg's G (seen/unseen thing/stuff J&F) yet: the split
reads and writes, and :meth:`score` says the metric is missing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import EvalkitError
from ._vos import VosVideos

__all__ = ["VipOSeg"]


class VipOSeg(VosVideos):
    task = "pvos"

    def __init__(self, root: Path, id: str = "", split: str = "valid", **options: Any):
        options.setdefault("images", f"{split}/JPEGImages")
        options.setdefault("annotations", f"{split}/Annotations")
        super().__init__(root, id, **options)

    def score(self, results_dir: Path) -> dict[str, float]:
        if self.metric is None:
            raise EvalkitError(f"{self.id}: no VIPOSeg metric is implemented yet; the result PNGs are in "
                               f"{self.results_path(results_dir)}")
        return super().score(results_dir)
