"""Shared reader/writer of the DAVIS / YouTube-VOS family of layouts (semi-supervised VOS).

A video is a folder of frames ``JPEGImages/<video>/<frame>.jpg`` and a folder of indexed
annotation PNGs ``Annotations/<video>/<frame>.png`` (pixel value = object id, 0 background,
255 void). For the evaluation splits the annotation folder holds the masks an algorithm may
see: the first frame (DAVIS, MOSE) or each object's first appearance (YouTube-VOS, LVOS).
The prompt is ``Reference(masks=...)`` with one mask per object, drawn on the frame of its
first appearance (``frames_of_objects``).

Results: one indexed ("P") PNG per frame, ``<video>/<frame>.png``, value = object id, with the
palette of the dataset's first annotation PNG (as UNINEXT and UniRef copy it), the size of the
frame. Server splits additionally zip them as ``Annotations/<video>/<frame>.png``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Instances, Reference, Sample
from ._common import OfficialBenchmark
from ._io import (
    check_png,
    davis_palette,
    image_size,
    list_frames,
    list_videos,
    read_lines,
    read_png,
    video_frames,
    write_indexed_png,
    zip_folder,
)
from ._stream import in_order

__all__ = ["VosVideos", "label_map"]


def label_map(inst: Instances, size: tuple[int, int], sid: str, ids: np.ndarray | None = None) -> np.ndarray:
    """Merge one frame's per-object masks into an ``H x W`` uint8 map of object ids.

    Where masks overlap the higher-scoring object wins (objects are painted in increasing
    score order; equal scores: increasing id). ``ids`` overrides ``inst.track_ids``."""
    out = np.zeros(size, np.uint8)
    if len(inst) == 0:
        return out
    if tuple(inst.image_size) != tuple(size):
        raise ResultsError(f"sample {sid}: prediction of size {inst.image_size} for a frame of size {size}")
    masks = inst.dense_masks()
    if masks is None:
        raise ResultsError(f"sample {sid}: VOS predictions need masks")
    ids = inst.track_ids if ids is None else ids
    if ids is None:
        raise ResultsError(f"sample {sid}: VOS predictions need track_ids (the object ids)")
    scores = inst.scores if inst.scores is not None else np.ones(len(inst), np.float32)
    for k in np.lexsort((ids, scores)):
        if not 0 < int(ids[k]) < 256:
            raise ResultsError(f"sample {sid}: object id {int(ids[k])} does not fit an indexed PNG (1..255)")
        out[masks[k]] = int(ids[k])
    return out


class VosVideos(OfficialBenchmark):
    """A split in the DAVIS / YouTube-VOS layout.

    Args:
        images: frame folder (``<images>/<video>/*.jpg``), relative to the dataset folder.
        annotations: annotation folder (``<annotations>/<video>/*.png``).
        videos: a video list file (one name per line) or ``None`` to take every folder of
            ``images``.
        first_frame_only: read only the first annotation PNG of a video (DAVIS: the full
            ground truth is in the folder, but semi-supervised VOS gives the first frame).
        results: results sub-folder name.
    """

    task = "vos"
    prompt = "reference"

    def __init__(self, root: Path, id: str = "", images: str = "JPEGImages", annotations: str = "Annotations",
                 videos: str | None = None, first_frame_only: bool = False, results: str = "Annotations",
                 **options: Any):
        super().__init__(root, id, **options)
        self.image_dir = self.root / images
        self.ann_dir = self.root / annotations
        self.video_list = self.root / videos if videos else None
        self.first_frame_only = first_frame_only
        self.results_name = results

    def annotation_files(self) -> list[Path]:
        files = [self.video_list] if self.video_list else []
        for v in self.sample_ids():
            files += self._ann_files(v)
        return files

    def _build_index(self) -> list[str]:
        if self.video_list is not None:
            return read_lines(self.video_list, "video list")
        return list_videos(self.image_dir, "frame folder")

    def _ann_files(self, video: str) -> list[Path]:
        d = self.ann_dir / video
        files = sorted(d.glob("*.png")) if d.is_dir() else []
        if not files:
            raise DatasetError(f"missing annotations of video {video}: expected indexed PNGs in {d}")
        return files[:1] if self.first_frame_only else files

    def frames(self, video: str) -> list[Path]:
        return list_frames(self.image_dir / video, f"frame folder of video {video}")

    def validate(self) -> None:
        for v in self.sample_ids():
            frames = self.frames(v)
            stems = {p.stem for p in frames}
            size = image_size(frames[0])
            # every annotation PNG on disk (DAVIS ships all frames) must have its frame
            for a in sorted((self.ann_dir / v).glob("*.png")):
                if a.stem not in stems:
                    raise DatasetError(f"missing frame {self.image_dir / v / a.stem}.jpg (annotated by {a})")
            for a in self._ann_files(v):
                check_png(a, "annotation PNG", modes=("P", "L"), size=size)

    def sample_ids(self) -> list[str]:
        return list(self.index)

    def first_appearances(self, video: str, frames: list[Path]) -> tuple[list[int], list[int], list[np.ndarray]]:
        """(object ids, frame index of first appearance, mask) from the annotation PNGs."""
        pos = {p.stem: i for i, p in enumerate(frames)}
        ids, where, masks = [], [], []
        size = None
        for a in self._ann_files(video):
            if a.stem not in pos:
                raise DatasetError(f"annotation {a} has no frame in {self.image_dir / video}")
            lab = read_png(a, "annotation PNG", modes=("P", "L"), size=size)
            size = lab.shape
            for o in np.unique(lab):
                o = int(o)
                if o in (0, 255) or o in ids:
                    continue
                ids.append(o)
                where.append(pos[a.stem])
                masks.append(lab == o)
        if not ids:
            raise DatasetError(f"annotations of video {video} in {self.ann_dir / video} contain no object")
        order = np.argsort(ids, kind="stable")
        return [ids[k] for k in order], [where[k] for k in order], [masks[k] for k in order]

    def load_sample(self, sample_id: str) -> Sample:
        if sample_id not in self.index:
            raise DatasetError(f"{self.id}: no video {sample_id!r}")
        frames = self.frames(sample_id)
        ids, where, masks = self.first_appearances(sample_id, frames)
        size = masks[0].shape
        return Sample(
            sample_id,
            video_frames(frames),
            Reference(object_ids=tuple(ids), frame=min(where), masks=np.stack(masks),
                      frames_of_objects=tuple(where)),
            {"video": sample_id, "frames": [p.stem for p in frames], "size": list(size)},
        )

    def palette(self) -> bytes:
        from PIL import Image

        for v in self.sample_ids()[:1]:
            with Image.open(self._ann_files(v)[0]) as im:
                if im.mode == "P" and im.getpalette():
                    return bytes(im.getpalette()[:768]).ljust(768, b"\0")
        return davis_palette()

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        out_dir = self.results_path(results_dir)
        pal = self.palette()
        written = []
        for sid, preds, meta in in_order(stream, self.result_key, self.id):
            stems = meta.get("frames") or [p.stem for p in self.frames(sid)]
            size = tuple(meta["size"]) if meta.get("size") else None
            if len(preds) != len(stems):
                raise ResultsError(f"video {sid}: {len(preds)} per-frame predictions for {len(stems)} frames")
            for stem, inst in zip(stems, preds):
                written.append(write_indexed_png(out_dir / sid / f"{stem}.png",
                                                 label_map(inst, size or inst.image_size, sid), pal))
        if self.server:
            written.append(zip_folder(out_dir, Path(results_dir) / "submission.zip", "Annotations/"))
        return written

    def gt_path(self) -> Path:
        return self.root
