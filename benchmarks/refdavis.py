"""Ref-DAVIS17 val (referring VOS), scored locally: J&F of each of the 4 annotators'
expression sets (DAVIS toolkit on the merged object masks), averaged.

Layout (``datasets/ref-davis``, the ReferFormer/UNINEXT preparation of DAVIS-17 val)::

    ref-davis/valid/JPEGImages/<video>/00000.jpg ...
    ref-davis/meta_expressions/valid/meta_expressions.json
        {"videos": {<video>: {"expressions": {"0": {"exp": ..., "obj_id": "1"}, ...},
                              "frames": [...]}}}
    ref-davis/DAVIS/Annotations_unsupervised/480p/<video>/*.png   (ground truth)
    ref-davis/DAVIS/ImageSets/2017/val.txt

Each video lists 4 expressions per object: the ``i``-th expression (in file order) belongs to
object ``i // 4`` and annotator ``i % 4`` (the ordering ReferFormer's Ref-DAVIS inference
relies on). One sample per expression: id ``<video>/<exp_id>``. Results: per annotator ``k``,
``anno_<k>/<video>/<frame>.png`` indexed PNGs where object ``j`` (0-based, file order) is
painted with value ``j + 1`` (higher score on top where masks overlap).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Instances, Sample
from ._common import single_instance
from ._io import davis_palette, write_indexed_png
from ._stream import in_order
from ._subset import fresh_dir
from .refytvos import RefYouTubeVOS

__all__ = ["RefDavis17"]

ANNOTATORS = 4


class RefDavis17(RefYouTubeVOS):
    """Ref-YouTube-VOS's layout and reader; local scoring per annotator on the DAVIS masks."""

    server = False
    results_name = "."

    def _build_index(self) -> dict[str, dict]:
        videos = super()._build_index()
        for v, d in videos.items():
            if len(d["expressions"]) % ANNOTATORS:
                raise DatasetError(
                    f"{self.meta_file}: video {v!r} has {len(d['expressions'])} expressions; Ref-DAVIS "
                    f"lists {ANNOTATORS} per object (one per annotator)"
                )
        return videos

    def validate(self) -> None:
        super().validate()
        gt = self.gt_path()
        for v in self.index:
            if not (gt / v).is_dir():
                raise DatasetError(f"missing Ref-DAVIS ground truth of video {v}: expected {gt / v}/<frame>.png")

    def sample_ids(self) -> list[str]:
        return [f"{v}/{e}" for v in sorted(self.index) for e in self.index[v]["expressions"]]

    def slot(self, video: str, exp_id: str) -> tuple[int, int]:
        """(annotator, object index) of an expression."""
        i = list(self.index[video]["expressions"]).index(exp_id)
        return i % ANNOTATORS, i // ANNOTATORS

    def load_sample(self, sample_id: str) -> Sample:
        sample = super().load_sample(sample_id)
        anno, obj = self.slot(sample.meta["video"], sample.meta["exp_id"])
        sample.meta.update(annotator=anno, object=obj)
        return sample

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        # the expressions of one video (ids "<video>/<exp>", so adjacent in the stream) are
        # merged per annotator into one PNG per frame: one video is held at a time
        written: list[Path] = []
        video, objs, finished = None, [], set()
        for sid, preds, _ in in_order(stream, self.result_key, self.id):
            v, _, e = sid.rpartition("/")
            if v not in self.index or e not in self.index[v]["expressions"]:
                raise ResultsError(f"predictions for unknown expression {sid!r}")
            if len(preds) != len(self.index[v]["frames"]):
                raise ResultsError(f"sample {sid}: {len(preds)} per-frame predictions for {len(self.index[v]['frames'])} frames")
            if v != video:
                if v in finished:  # its PNGs are written: a later expression would overwrite them
                    raise ResultsError(f"expression {sid!r} comes after other videos' expressions; the "
                                       f"stream must hold each video's expressions together")
                written += self._write_video(video, objs, Path(results_dir))
                finished.add(video)
                video, objs = v, []
            objs.append((*self.slot(v, e), preds))
        written += self._write_video(video, objs, Path(results_dir))
        return written

    def _write_video(self, v: str | None, objs: list[tuple[int, int, list[Instances]]], out_dir: Path) -> list[Path]:
        """The PNGs of video ``v`` from its expressions' ``(annotator, object, predictions)``:
        per annotator and frame, objects painted in ascending (score, object) order."""
        if not objs:
            return []
        written, pal = [], davis_palette()
        for anno in sorted({a for a, _, _ in objs}):
            mine = [(obj, preds) for a, obj, preds in objs if a == anno]
            for t, stem in enumerate(self.index[v]["frames"]):
                size = mine[0][1][t].image_size
                lab = np.zeros(size, np.uint8)
                order = []
                for obj, preds in mine:
                    top = single_instance(preds[t], v)
                    if len(top) and top.masks is not None:
                        s = float(top.scores[0]) if top.scores is not None else 1.0
                        order.append((s, obj, top.dense_masks()[0]))
                for s, obj, m in sorted(order, key=lambda x: (x[0], x[1])):
                    lab[m] = obj + 1
                written.append(write_indexed_png(out_dir / f"anno_{anno}" / v / f"{stem}.png", lab, pal))
        return written

    def gt_path(self) -> Path:
        """The object masks the expressions refer to (DAVIS-17 "unsupervised" annotations)."""
        return self.root / "DAVIS" / "Annotations_unsupervised" / "480p"

    def results_options(self, results_dir: Path) -> dict[str, Any]:
        # the GT folder holds all DAVIS-17 videos: score the val videos that have results
        res = Path(results_dir) / "anno_0"
        return {"sequences": [v for v in sorted(self.index) if (res / v).is_dir()]}

    def results_path(self, results_dir: Path) -> Path:
        return Path(results_dir)

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """Per annotator ``k``, a GT mask folder ``gt_subset/anno_<k>/<video>/<frame>.png``
        holding only the objects whose ``k``-th expression was run, relabelled ``1..n`` in
        object order (the DAVIS unsupervised evaluation counts every GT label of a video as an
        object and matches proposals to them; ``davis2017-evaluation``
        ``evaluation_method.py``), for the videos with such an object. Annotators with no
        expression run are left out of the mean."""
        from ._io import read_png

        chosen: dict[int, dict[str, set[int]]] = {}
        for sid in sample_ids:
            v, _, e = sid.rpartition("/")
            anno, obj = self.slot(v, e)
            chosen.setdefault(anno, {}).setdefault(v, set()).add(obj)
        base = fresh_dir(Path(results_dir) / "gt_subset")
        split_gt = {}
        for anno, videos in sorted(chosen.items()):
            for v, objs in sorted(videos.items()):
                lut = np.zeros(256, np.uint8)
                lut[255] = 255  # void stays void
                for rank, obj in enumerate(sorted(objs), start=1):
                    lut[obj + 1] = rank  # object j is painted j + 1, in the GT as in the results
                for png in sorted((Path(gt) / v).glob("*.png")):
                    lab = read_png(png, "Ref-DAVIS ground truth PNG", modes=("P", "L"))
                    write_indexed_png(base / f"anno_{anno}" / v / png.name, lut[lab], davis_palette())
            split_gt[f"anno_{anno}"] = str(base / f"anno_{anno}")
        return gt, {"split_gt": split_gt, "splits": list(split_gt), "sequences": None}
