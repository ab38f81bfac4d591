"""Multi-object tracking in the MOTChallenge layout (the benchmarks package has no MOT17
reader yet; this one is generic and the shapes suite uses it).

Layout (official MOT17 ``train`` folder)::

    <root>/<split>/<seq>/img1/000001.jpg ...      <root>/<split>/<seq>/seqinfo.ini
    <root>/<split>/<seq>/gt/gt.txt                (frame, id, x, y, w, h, conf, class, visibility)

One sample per sequence, prompted with the dataset's categories. Results: the MOTChallenge
tracker files ``<seq>.txt`` (``frame, id, x, y, w, h, score, -1, -1, -1``, frames 1-based,
x/y the top-left corner in pixels), read by the ``mot-challenge`` metric (TrackEval).
"""
from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import DatasetError, ResultsError
from ...types import Categories, Sample, box_convert
from .._common import OfficialBenchmark
from .._io import atomic_write_text, list_frames, video_frames
from .._stream import in_order
from .._subset import link_children

__all__ = ["MotChallengeSequences"]


class MotChallengeSequences(OfficialBenchmark):
    """Sequences of ``<root>/<split>``; ``names``/``ids``: the category prompt;
    ``benchmark``/``do_preproc``: TrackEval options of the metric."""

    task = "mot"
    prompt = "categories"
    results_name = "tracker"

    def __init__(self, root: Path, id: str = "", split: str = "train", names: Sequence[str] = ("pedestrian",),
                 ids: Sequence[int] = (1,), benchmark: str = "MOT17", do_preproc: bool = True, **options: Any):
        super().__init__(root, id, **options)
        self.split, self.benchmark, self.do_preproc = split, benchmark, bool(do_preproc)
        self.prompt_categories = Categories(tuple(names), tuple(int(i) for i in ids))

    def annotation_files(self) -> list[Path]:
        return [self.root / self.split / s / "gt" / "gt.txt" for s in self.sample_ids()]

    def _build_index(self) -> dict[str, int]:
        """sequence → length (``seqinfo.ini`` ``seqLength``)."""
        base = self.root / self.split
        if not base.is_dir():
            raise DatasetError(f"missing MOTChallenge folder {base} (expected <seq>/img1, <seq>/gt/gt.txt)")
        out = {}
        for d in sorted(p for p in base.iterdir() if p.is_dir()):
            ini = d / "seqinfo.ini"
            cp = configparser.ConfigParser()
            if not ini.is_file() or not cp.read(ini):
                raise DatasetError(f"{ini} is missing (every MOTChallenge sequence has one)")
            try:
                out[d.name] = int(cp["Sequence"]["seqLength"])
            except (KeyError, ValueError):
                raise DatasetError(f"{ini}: [Sequence] seqLength missing or not an integer") from None
        if not out:
            raise DatasetError(f"{base} holds no sequences")
        return out

    def frames(self, seq: str) -> list[Path]:
        return list_frames(self.root / self.split / seq / "img1", f"frame folder of sequence {seq}")

    def validate(self) -> None:
        for seq, n in self.index.items():
            if len(self.frames(seq)) != n:
                raise DatasetError(f"sequence {seq}: seqinfo.ini says {n} frames, img1 holds {len(self.frames(seq))}")
            if not (self.root / self.split / seq / "gt" / "gt.txt").is_file():
                raise DatasetError(f"missing ground truth {self.root / self.split / seq / 'gt' / 'gt.txt'}")

    def sample_ids(self) -> list[str]:
        return list(self.index)

    def load_sample(self, sample_id: str) -> Sample:
        if sample_id not in self.index:
            raise DatasetError(f"{self.id}: no sequence {sample_id!r} in {self.root / self.split}")
        return Sample(sample_id, video_frames(self.frames(sample_id)), self.prompt_categories,
                      {"length": self.index[sample_id]})

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        out_dir = self.results_path(results_dir)
        written = []
        for seq, preds, _ in in_order(stream, self.result_key, self.id):
            rows = []
            for t, inst in enumerate(preds, start=1):
                if len(inst) == 0:
                    continue
                if inst.boxes is None or inst.track_ids is None:
                    raise ResultsError(f"sequence {seq} frame {t}: MOT predictions need boxes and track_ids")
                xywh = box_convert(inst.boxes, "xyxy", "xywh")
                scores = inst.scores if inst.scores is not None else np.ones(len(inst), np.float32)
                for tid, b, s in zip(inst.track_ids, xywh, scores):
                    rows.append(f"{t},{int(tid)},{b[0]:.2f},{b[1]:.2f},{b[2]:.2f},{b[3]:.2f},{float(s):.4f},-1,-1,-1")
            written.append(atomic_write_text(out_dir / f"{seq}.txt", "".join(r + "\n" for r in rows)))
        return written

    def gt_path(self) -> Path:
        return self.root / self.split

    def metric_options(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "do_preproc": self.do_preproc}

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """A split folder with just the sequences run (linked): TrackEval's
        ``MotChallenge2DBox`` evaluates every sequence of its GT folder and needs a results
        file for each."""
        return link_children(Path(gt), sample_ids, Path(results_dir) / "gt_subset"), {}
