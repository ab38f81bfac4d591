"""MOSE val (complex-scene VOS), scored by the CodaLab server (J&F).

Layout (``datasets/mose``, the official release, DAVIS/YouTube-VOS style)::

    mose/valid/JPEGImages/<video>/00000.jpg ...
    mose/valid/Annotations/<video>/00000.png          (first-frame masks only)

Results: ``Annotations/<video>/<frame>.png`` indexed PNGs for every frame, zipped as
``submission.zip`` with ``Annotations/`` at the archive root.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ._vos import VosVideos

__all__ = ["Mose"]


class Mose(VosVideos):
    server = True

    def __init__(self, root: Path, id: str = "", split: str = "valid", **options: Any):
        options.setdefault("images", f"{split}/JPEGImages")
        options.setdefault("annotations", f"{split}/Annotations")
        super().__init__(root, id, **options)
