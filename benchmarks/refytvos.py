"""Ref-YouTube-VOS val (referring VOS), scored by the CodaLab server (J, F, J&F).

Layout (``datasets/ref-youtube-vos``, the official release)::

    ref-youtube-vos/valid/JPEGImages/<video>/00000.jpg ...
    ref-youtube-vos/meta_expressions/valid/meta_expressions.json
        {"videos": {<video>: {"expressions": {"0": {"exp": "a person ..."}, ...},
                              "frames": ["00000", "00005", ...]}}}

One sample per (video, expression): id ``<video>/<exp_id>``, frames as listed in ``frames``.
Results: ``Annotations/<video>/<exp_id>/<frame>.png``, single-channel "L" PNGs holding 0 / 255
(the top-scoring mask of every frame), zipped as ``submission.zip`` with ``Annotations/`` at the
archive root.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Expression, Sample
from ._common import OfficialBenchmark, single_instance
from ._io import atomic_write_png, read_json, video_frames, zip_folder
from ._stream import in_order

__all__ = ["RefYouTubeVOS", "read_meta_expressions", "binary_png"]


def read_meta_expressions(path: Path) -> dict[str, dict]:
    """``meta_expressions.json`` → {video: {"expressions": {exp_id: {...}}, "frames": [...]}},
    checking the schema (DatasetError names the first bad video / expression)."""
    data = read_json(path, "meta_expressions file")
    videos = data.get("videos") if isinstance(data, dict) else None
    if not isinstance(videos, dict) or not videos:
        raise DatasetError(f"{path}: expected {{\"videos\": {{<video>: {{\"expressions\": ..., \"frames\": ...}}}}}}")
    for v, d in videos.items():
        if not isinstance(d, dict) or not isinstance(d.get("expressions"), dict) or not d.get("frames"):
            raise DatasetError(f"{path}: video {v!r} needs an 'expressions' object and a non-empty 'frames' list")
        for e, x in d["expressions"].items():
            if not isinstance(x, dict) or not isinstance(x.get("exp"), str) or not x["exp"].strip():
                raise DatasetError(f"{path}: video {v!r} expression {e!r} has no 'exp' text")
    return videos


def binary_png(mask: np.ndarray):
    """A PIL "L" image with 255 on ``mask`` and 0 elsewhere."""
    from PIL import Image

    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L")


class RefYouTubeVOS(OfficialBenchmark):
    task = "rvos"
    prompt = "expression"
    server = True
    results_name = "Annotations"

    def __init__(self, root: Path, id: str = "", split: str = "valid", **options: Any):
        super().__init__(root, id, **options)
        self.image_dir = self.root / split / "JPEGImages"
        self.meta_file = self.root / "meta_expressions" / split / "meta_expressions.json"

    def annotation_files(self) -> list[Path]:
        return [self.meta_file]

    def _build_index(self) -> dict[str, dict]:
        return read_meta_expressions(self.meta_file)

    def validate(self) -> None:
        for v, d in self.index.items():
            for f in d["frames"]:
                p = self.image_dir / v / f"{f}.jpg"
                if not p.is_file():
                    raise DatasetError(f"missing frame {p} (listed for video {v} in {self.meta_file})")

    def sample_ids(self) -> list[str]:
        return [f"{v}/{e}" for v in sorted(self.index)
                for e in sorted(self.index[v]["expressions"], key=lambda k: (len(k), k))]

    def load_sample(self, sample_id: str) -> Sample:
        v, _, e = sample_id.rpartition("/")
        try:
            d = self.index[v]
            text = d["expressions"][e]["exp"]
        except KeyError:
            raise DatasetError(f"{self.id}: no expression {sample_id!r} (expected '<video>/<exp_id>')") from None
        frames = [self.image_dir / v / f"{f}.jpg" for f in d["frames"]]
        return Sample(sample_id, video_frames(frames), Expression(text),
                      {"video": v, "exp_id": e, "frames": list(d["frames"])})

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        out_dir = self.results_path(results_dir)
        written = []
        for sid, preds, meta in in_order(stream, self.result_key, self.id):
            v, _, e = sid.rpartition("/")
            stems = meta.get("frames") or self.index[v]["frames"]
            if len(preds) != len(stems):
                raise ResultsError(f"sample {sid}: {len(preds)} per-frame predictions for {len(stems)} frames")
            for stem, inst in zip(stems, preds):
                top = single_instance(inst, sid)
                if len(top) and top.masks is not None:
                    mask = top.dense_masks()[0]
                else:
                    mask = np.zeros(inst.image_size, bool)
                written.append(atomic_write_png(out_dir / v / e / f"{stem}.png", binary_png(mask)))
        written.append(zip_folder(out_dir, Path(results_dir) / "submission.zip", "Annotations/"))
        return written
