"""BURST val (class-guided segmentation tracking over TAO videos), scored with HOTA.

Layout (``datasets/burst``, the official BURST release with the TAO frames)::

    burst/frames/val/<dataset>/<seq_name>/frame0001.jpg ...
    burst/annotations/val/all_classes.json
        {"split": "val", "categories": [{"id", "name", ...}],
         "sequences": [{"id", "dataset", "seq_name", "width", "height", "fps",
                        "all_image_paths": [...], "annotated_image_paths": [...],
                        "segmentations": [{<track_id>: {"rle": <counts>}} per annotated frame],
                        "track_category_ids": {<track_id>: <category id>}, ...}]}

One sample per sequence, made of its annotated frames, prompted with every category.
Results: ``burst_results.json``, the ground-truth file with every sequence's ``segmentations``
(per annotated frame ``{<track_id>: {"rle": <COCO RLE counts of a height x width mask>,
"score": <float>}}``) and ``track_category_ids`` replaced by the predictions, which is what the
BURST evaluation code reads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Categories, Sample
from ._common import OfficialBenchmark, check_frames
from ._io import read_json, video_frames
from ._stream import StreamedJson, in_order
from ._subset import filter_json

__all__ = ["BurstVideos"]


class BurstVideos(OfficialBenchmark):
    task = "ow-track"
    prompt = "categories"
    results_name = "burst_results.json"

    def __init__(self, root: Path, id: str = "", split: str = "val",
                 annotations: str = "annotations/val/all_classes.json", **options: Any):
        super().__init__(root, id, **options)
        self.split = split
        self.ann_file = self.root / annotations
        self.image_dir = self.root / "frames" / split

    def annotation_files(self) -> list[Path]:
        return [self.ann_file]

    def _build_index(self) -> dict:
        data = read_json(self.ann_file, "BURST annotation file")
        if not isinstance(data, dict) or "sequences" not in data or "categories" not in data:
            raise DatasetError(f"{self.ann_file}: expected a JSON object with 'sequences' and 'categories'")
        seqs = {}
        for i, s in enumerate(data["sequences"]):
            need = ("dataset", "seq_name", "width", "height", "annotated_image_paths")
            if not isinstance(s, dict) or not all(k in s for k in need):
                raise DatasetError(f"{self.ann_file}: sequences[{i}] needs {list(need)}")
            seqs[f"{s['dataset']}/{s['seq_name']}"] = s
        cats = data["categories"]
        if isinstance(cats, dict):
            cats = [{"id": int(k), "name": v} for k, v in cats.items()]
        header = {k: v for k, v in data.items() if k != "sequences"}
        return {"sequences": dict(sorted(seqs.items())), "categories": sorted(cats, key=lambda c: c["id"]),
                "header": header}

    def frame_paths(self, s: dict) -> list[Path]:
        return [self.image_dir / s["dataset"] / s["seq_name"] / p for p in s["annotated_image_paths"]]

    def validate(self) -> None:
        for name, s in self.index["sequences"].items():
            check_frames(self.frame_paths(s), f"frame of sequence {name}", (s["height"], s["width"]))

    def sample_ids(self) -> list[str]:
        return list(self.index["sequences"])

    def load_sample(self, sample_id: str) -> Sample:
        s = self.index["sequences"].get(sample_id)
        if s is None:
            raise DatasetError(f"{self.id}: no sequence {sample_id!r} (expected '<dataset>/<seq_name>')")
        cats = self.index["categories"]
        paths = self.frame_paths(s)
        return Sample(sample_id, video_frames(paths, sizes=[(s["height"], s["width"])] * len(paths)),
                      Categories(tuple(c["name"] for c in cats), tuple(c["id"] for c in cats)),
                      {"sequence": sample_id})

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        with StreamedJson(self.results_path(results_dir), ("sequences",), head=self.index["header"]) as js:
            for sid, preds, _ in in_order(stream, self.result_key, self.id):
                s = self.index["sequences"].get(sid)
                if s is None:
                    raise ResultsError(f"predictions for unknown sequence {sid!r}")
                if len(preds) != len(s["annotated_image_paths"]):
                    raise ResultsError(f"sequence {sid}: {len(preds)} per-frame predictions for "
                                       f"{len(s['annotated_image_paths'])} annotated frames")
                segs, cats = [], {}
                for inst in preds:
                    frame = {}
                    if len(inst):
                        if inst.masks is None or inst.labels is None or inst.track_ids is None:
                            raise ResultsError(f"sequence {sid}: predictions need masks, labels and track_ids")
                        sc = inst.scores if inst.scores is not None else np.ones(len(inst))
                        for k, rle in enumerate(inst.rles()):
                            tid = str(int(inst.track_ids[k]))
                            frame[tid] = {"rle": rle["counts"], "score": float(sc[k])}
                            cats.setdefault(tid, int(inst.labels[k]))
                    segs.append(frame)
                js.add({**s, "segmentations": segs, "track_category_ids": cats}, "sequences")
        return [js.path]

    def gt_path(self) -> Path:
        return self.ann_file

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """The annotation file with just the sequences run: the BURST evaluation
        (TrackEval's ``BURST`` dataset) scores every sequence of the GT file."""
        keep = set(sample_ids)
        return filter_json(gt, Path(results_dir) / "gt_subset.json",
                           {"sequences": lambda s: f"{s['dataset']}/{s['seq_name']}" in keep}), {}
