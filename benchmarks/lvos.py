"""LVOS val (long-term VOS), scored locally with the lvos-evaluation protocol.

Layout (``datasets/lvos``, the official LVOS v1 release)::

    lvos/valid/JPEGImages/<video>/00000000.jpg ...     (every frame)
    lvos/valid/Annotations/<video>/<frame>.png          (every 5th frame)
    lvos/valid/valid_meta.json   {"videos": {<video>: {"objects": {<id>: {"frame_range":
                                  {"start", "end", "frame_nums"}}}}}}
    lvos/valid/unseen_videos.txt                        (optional)

Each object is prompted with its mask on the ``start`` frame of its ``frame_range`` (the only
annotation PNG read). Results: ``Annotations/<video>/<frame>.png`` indexed PNGs for every
frame; the ``lvos`` metric takes the ``valid`` folder as ground truth (``valid_meta.json`` for
the 5-frame-stride evaluation range, ``unseen_videos.txt`` for the seen/unseen split).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ._io import read_json, read_png
from ._vos import VosVideos

__all__ = ["Lvos"]


class Lvos(VosVideos):
    def __init__(self, root: Path, id: str = "", split: str = "valid", **options: Any):
        options.setdefault("images", f"{split}/JPEGImages")
        options.setdefault("annotations", f"{split}/Annotations")
        super().__init__(root, id, **options)
        self.split = split
        self.meta_file = self.root / split / f"{split}_meta.json"

    def _build_index(self) -> dict[str, dict[int, int]]:
        """video → {object id: first annotated frame number}, from the meta file."""
        meta = read_json(self.meta_file, "LVOS meta file")
        videos = meta.get("videos") if isinstance(meta, dict) else None
        if not isinstance(videos, dict) or not videos:
            raise DatasetError(f"{self.meta_file}: expected {{\"videos\": {{<video>: {{\"objects\": ...}}}}}}")
        out = {}
        for v in sorted(videos):
            try:
                out[v] = {int(o): int(d["frame_range"]["start"]) for o, d in videos[v]["objects"].items()}
            except (KeyError, TypeError, ValueError):
                raise DatasetError(f"{self.meta_file}: video {v!r} needs 'objects' with "
                                   f"'frame_range': {{'start', 'end', 'frame_nums'}} per object") from None
        return out

    def _ann_files(self, video: str) -> list[Path]:
        starts = sorted(set(self.index[video].values()))
        files = [self.ann_dir / video / f"{s:08d}.png" for s in starts]
        for f in files:
            if not f.is_file():
                raise DatasetError(f"missing annotation {f} (the first frame of an object in {self.meta_file})")
        return files

    def first_appearances(self, video, frames):
        pos = {p.stem: i for i, p in enumerate(frames)}
        ids, where, masks = [], [], []
        for o, start in sorted(self.index[video].items()):
            f = self.ann_dir / video / f"{start:08d}.png"
            if f.stem not in pos:
                raise DatasetError(f"annotation {f} has no frame in {self.image_dir / video}")
            lab = read_png(f, "annotation PNG")
            if not (lab == o).any():
                raise DatasetError(f"annotation {f}: object {o} is absent from its first frame")
            ids.append(o)
            where.append(pos[f.stem])
            masks.append(lab == o)
        return ids, where, masks

    def annotation_files(self) -> list[Path]:
        return [self.meta_file] + super().annotation_files()

    def gt_path(self) -> Path:
        return self.root / self.split

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        # lvos-evaluation scores every video of ``<split>_meta.json``: the restricted copy is
        # the meta cut to the samples run, passed as the metric's ``meta``
        keep = set(sample_ids)
        meta = read_json(self.meta_file, "LVOS meta file")
        meta = {**meta, "videos": {v: d for v, d in meta["videos"].items() if v in keep}}
        return gt, {"meta": meta}
