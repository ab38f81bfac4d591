"""DAVIS 2017 semi-supervised VOS, val (30 videos), scored locally with J&F.

Layout (``datasets/DAVIS``, the official DAVIS-2017 trainval 480p release)::

    DAVIS/JPEGImages/480p/<video>/00000.jpg ...
    DAVIS/Annotations/480p/<video>/00000.png ...   (indexed PNGs; the first frame is the prompt)
    DAVIS/ImageSets/2017/val.txt

Results: ``Annotations/<video>/<frame>.png`` indexed PNGs with the DAVIS palette, the layout
the davis2017-evaluation toolkit reads (``--results_path``); the ``davis-semi`` metric takes
the DAVIS folder (``--davis_path``) as ground truth.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ._vos import VosVideos

__all__ = ["Davis17"]


class Davis17(VosVideos):
    def __init__(self, root: Path, id: str = "", split: str = "val", resolution: str = "480p", **options: Any):
        options.setdefault("images", f"JPEGImages/{resolution}")
        options.setdefault("annotations", f"Annotations/{resolution}")
        options.setdefault("videos", f"ImageSets/2017/{split}.txt")
        options.setdefault("first_frame_only", True)
        super().__init__(root, id, **options)
        self.split, self.resolution = split, resolution

    def metric_options(self) -> dict[str, Any]:
        return {"subset": self.split, "resolution": self.resolution}

    def results_options(self, results_dir: Path) -> dict[str, Any]:
        # the videos with results: all of the split unless the run was limited
        res = self.results_path(results_dir)
        return {"sequences": [v for v in self.sample_ids() if (res / v).is_dir()]}

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        # davis2017-evaluation scores the sequences of its ImageSets list (``DAVIS.__init__``,
        # ``sequences=``): a restricted copy is that list cut to the samples run, which is
        # the ``sequences`` option
        keep = set(sample_ids)
        return gt, {"sequences": [v for v in self.results_options(results_dir)["sequences"] if v in keep]}
