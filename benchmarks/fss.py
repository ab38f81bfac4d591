"""FSS-1000 few-shot segmentation (1-shot / 5-shot), test split of 240 classes.

Layout (the official release, with the HSNet split lists)::

    fss-1000/<class>/1.jpg, 1.png, ..., 10.jpg, 10.png     (image and its binary mask)
    fss-1000/splits/test.txt                               (one class name per line)

Episodes (UniRef protocol): every test image is a query once; its supports are the first
``shot`` images of the class's other images sorted by number (deterministic, no sampling).
Masks are binarised at 128. Results: ``fss_results.json``, a list of ``{"query_id":
"<class>/<image>", "segmentation": RLE}`` at the query's original resolution, and beside it
``fss_gt.json``, ``{"queries": [{"query_id", "class_id" (index in the split list),
"segmentation"}]}`` with the ground-truth masks of the same queries: the two files the ``fss``
metric reads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Frames, Reference, Sample
from ._common import OfficialBenchmark, single_instance
from ._io import read_lines
from ._stream import StreamedJson, in_order
from ._subset import filter_json

__all__ = ["Fss1000", "read_fss_mask"]


def read_fss_mask(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """``H x W`` bool mask from an FSS-1000 mask PNG (grey or RGB, foreground >= 128)."""
    from PIL import Image

    if not Path(path).is_file():
        raise DatasetError(f"missing FSS-1000 mask: expected the file {path}")
    with Image.open(path) as im:
        m = np.asarray(im.convert("L")) >= 128
    if size is not None and m.shape != tuple(size):
        raise DatasetError(f"FSS-1000 mask {path}: size {m.shape[0]}x{m.shape[1]}, expected {size[0]}x{size[1]} (its image)")
    return m


class Fss1000(OfficialBenchmark):
    task = "fss"
    prompt = "reference"
    results_name = "fss_results.json"
    derived_gt = "fss_gt.json"

    def __init__(self, root: Path, id: str = "", split: str = "test", shot: int = 1, **options: Any):
        super().__init__(root, id, **options)
        self.split, self.shot = split, int(shot)
        self.split_file = self.root / "splits" / f"{split}.txt"

    def annotation_files(self) -> list[Path]:
        return [self.split_file]

    def _build_index(self) -> dict[str, list[str]]:
        out = {}
        for c in read_lines(self.split_file, f"FSS-1000 {self.split} class list"):
            d = self.root / c
            if not d.is_dir():
                raise DatasetError(f"missing FSS-1000 class folder {d} (listed in {self.split_file})")
            stems = sorted((p.stem for p in d.glob("*.jpg")), key=lambda s: (len(s), s))
            if len(stems) <= self.shot:
                raise DatasetError(f"FSS-1000 class {d}: {len(stems)} images, need more than {self.shot} for {self.shot}-shot")
            out[c] = stems
        return out

    def validate(self) -> None:
        for c, stems in self.index.items():
            for s in stems:
                if not (self.root / c / f"{s}.png").is_file():
                    raise DatasetError(f"missing FSS-1000 mask: expected {self.root / c / s}.png beside its image")

    def sample_ids(self) -> list[str]:
        return [f"{c}/{s}" for c, stems in self.index.items() for s in stems]

    def supports(self, cls: str, query: str) -> list[str]:
        return [s for s in self.index[cls] if s != query][: self.shot]

    def load_sample(self, sample_id: str) -> Sample:
        cls, _, q = sample_id.rpartition("/")
        if cls not in self.index or q not in self.index[cls]:
            raise DatasetError(f"{self.id}: no query {sample_id!r} (expected '<class>/<image>')")
        sup = self.supports(cls, q)
        d = self.root / cls
        support = Frames([d / f"{s}.jpg" for s in sup], sup)
        masks = [read_fss_mask(d / f"{s}.png") for s in sup]
        if len({m.shape for m in masks}) != 1:
            raise DatasetError(f"FSS-1000 class {d}: support masks of different sizes {[m.shape for m in masks]}")
        return Sample(
            sample_id,
            Frames.from_image(d / f"{q}.jpg", q),
            Reference(object_ids=(1,), masks=np.stack(masks), support=support),
            {"class": cls, "image": q, "supports": sup},
        )

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """The derived per-query GT (written for the predicted queries) with just
        ``sample_ids``: the ``fss`` metric averages the IoU over every class of its GT, so a
        class must come in only with the queries run."""
        keep = set(sample_ids)
        return filter_json(gt, Path(results_dir) / "fss_gt_subset.json",
                           {"queries": lambda q: q["query_id"] in keep}), {}

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        from ..types import mask_to_rle

        classes = list(self.index)
        results_dir = Path(results_dir)
        with StreamedJson(results_dir / self.derived_gt, ("queries",)) as gt, \
                StreamedJson(self.results_path(results_dir)) as res:
            for sid, preds, _ in in_order(stream, self.result_key, self.id):
                cls, _, q = sid.rpartition("/")
                if cls not in self.index or q not in self.index[cls]:
                    raise ResultsError(f"predictions for unknown FSS-1000 query {sid!r}")
                if len(preds) != 1:
                    raise ResultsError(f"sample {sid}: an image takes 1 Instances, got {len(preds)}")
                inst = single_instance(preds[0], sid)
                if len(inst) == 0 or inst.masks is None:
                    raise ResultsError(f"sample {sid}: few-shot segmentation needs a mask, got none")
                rle = inst.rles()[0]
                res.add({"query_id": sid, "segmentation": {"size": rle["size"], "counts": rle["counts"]}})
                mask = mask_to_rle(read_fss_mask(self.root / cls / f"{q}.png", tuple(rle["size"])))
                gt.add({"query_id": sid, "class_id": classes.index(cls), "segmentation": mask}, "queries")
        return [gt.path, res.path]
