"""VSPW val (video semantic segmentation, 124 classes), scored locally with mIoU and mVC.

Layout (``datasets/VSPW_480p``, the official 480p release)::

    VSPW_480p/data/<video>/origin/<frame>.jpg
    VSPW_480p/data/<video>/mask/<frame>.png      ("L"/"P" PNG of class ids, 255 = void)
    VSPW_480p/val.txt                            (one video per line)
    VSPW_480p/label_num_dic_final.json           ({class name: class id})

Prompt: the classes of ``label_num_dic_final.json`` except id 0 ("others") and 255.
Results: ``semantic/<video>/<frame>.png`` "L" PNGs in the models' label space, class id − 1
(0..123), as the official test script writes them for ``VC_perclip.py`` and the mIoU
evaluator; a pixel no prediction covers is 255 (every scored pixel needs a class, so a
semantic-segmentation adapter must label every pixel). The ``vspw`` metric takes the
``VSPW_480p`` folder as ground truth.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Categories, Sample
from ._common import OfficialBenchmark
from ._io import atomic_write_png, check_png, image_size, list_frames, read_json, read_lines, video_frames
from ._stream import in_order

__all__ = ["Vspw", "semantic_map"]


def semantic_map(inst, size: tuple[int, int], sid: str) -> np.ndarray:
    """``H x W`` uint8 map of train ids (category id − 1) from one frame's masks (higher score
    on top); 255 where no mask covers the pixel."""
    out = np.full(size, 255, np.uint8)
    if len(inst) == 0:
        return out
    if inst.masks is None or inst.labels is None:
        raise ResultsError(f"video {sid}: semantic predictions need masks and labels")
    if tuple(inst.image_size) != tuple(size):
        raise ResultsError(f"video {sid}: prediction of size {inst.image_size} for a frame of size {size}")
    masks = inst.dense_masks()
    scores = inst.scores if inst.scores is not None else np.ones(len(inst))
    for k in np.argsort(scores, kind="stable"):
        lab = int(inst.labels[k])
        if not 1 <= lab <= 255:
            raise ResultsError(f"video {sid}: class id {lab} is not a VSPW class id (1..124)")
        out[masks[k]] = lab - 1
    return out


class Vspw(OfficialBenchmark):
    task = "vss"
    prompt = "categories"
    results_name = "semantic"

    def __init__(self, root: Path, id: str = "", split: str = "val", **options: Any):
        super().__init__(root, id, **options)
        self.split = split
        self.list_file = self.root / f"{split}.txt"
        self.class_file = self.root / "label_num_dic_final.json"

    def annotation_files(self) -> list[Path]:
        return [self.list_file, self.class_file]

    def _build_index(self) -> dict:
        videos = read_lines(self.list_file, f"VSPW {self.split} video list")
        classes = read_json(self.class_file, "VSPW class file")
        if not isinstance(classes, dict) or not classes:
            raise DatasetError(f"{self.class_file}: expected {{class name: class id}}")
        cats = sorted((int(i), n) for n, i in classes.items() if 0 < int(i) < 255)
        return {"videos": videos, "categories": cats}

    def frames(self, video: str) -> list[Path]:
        return list_frames(self.root / "data" / video / "origin", f"frame folder of video {video}")

    def validate(self) -> None:
        for v in self.index["videos"]:
            frames = self.frames(v)
            size = image_size(frames[0])
            for f in frames:
                check_png(self.root / "data" / v / "mask" / f"{f.stem}.png", "VSPW mask", ("L", "P"), size)

    def sample_ids(self) -> list[str]:
        return list(self.index["videos"])

    def load_sample(self, sample_id: str) -> Sample:
        if sample_id not in self.index["videos"]:
            raise DatasetError(f"{self.id}: no video {sample_id!r} in {self.list_file}")
        frames = self.frames(sample_id)
        cats = self.index["categories"]
        return Sample(sample_id, video_frames(frames),
                      Categories(tuple(n for _, n in cats), tuple(i for i, _ in cats)),
                      {"video": sample_id, "frames": [p.stem for p in frames]})

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        from PIL import Image

        out_dir = self.results_path(results_dir)
        written = []
        for sid, preds, meta in in_order(stream, self.result_key, self.id):
            stems = meta.get("frames") or [p.stem for p in self.frames(sid)]
            if len(preds) != len(stems):
                raise ResultsError(f"video {sid}: {len(preds)} per-frame predictions for {len(stems)} frames")
            for stem, inst in zip(stems, preds):
                lab = semantic_map(inst, inst.image_size, sid)
                written.append(atomic_write_png(out_dir / sid / f"{stem}.png", Image.fromarray(lab, mode="L")))
        return written

    def gt_path(self) -> Path:
        return self.root

    def metric_options(self) -> dict[str, Any]:
        return {"split": self.split}

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        # the VSPW evaluation reads its videos from ``<split>.txt``: the restricted copy is
        # that list cut to the samples run, the metric's ``videos`` option
        keep = set(sample_ids)
        return gt, {"videos": [v for v in self.sample_ids() if v in keep]}
