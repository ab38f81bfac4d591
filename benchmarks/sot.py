"""Single-object tracking: LaSOT, LaSOT-ext, TNL-2K, TrackingNet, GOT-10k.

Every sequence is one sample prompted with its first-frame box (``Reference(boxes=...)``,
xyxy pixels); the tracker returns one box per frame. Official layouts::

    LaSOT/<class>/<class>-<k>/{img/00000001.jpg, groundtruth.txt, full_occlusion.txt,
                               out_of_view.txt, nlp.txt};  LaSOT/testing_set.txt
    LaSOT_extension_subset/<class>/<class>-<k>/...  (same; every sequence is test)
    TNL-2K/test/<seq>/{imgs/*.jpg|png, groundtruth.txt, language.txt}
    TrackingNet/TEST/{frames/<seq>/<n>.jpg, anno/<seq>.txt (first frame only)}
    GOT10K/{val,test}/<seq>/{00000001.jpg, groundtruth.txt}; GOT10K/{val,test}/list.txt

``groundtruth.txt`` rows are ``x,y,w,h`` (1-based-pixel convention of each toolkit; passed
through untouched). Results:

* LaSOT / LaSOT-ext / TNL-2K (pytracking layout, read by the ``sot`` metric): ``<seq>.txt``,
  one ``x<TAB>y<TAB>w<TAB>h`` row per frame, written with ``%d`` as pytracking does;
* GOT-10k (toolkit layout): ``<seq>/<seq>_001.txt``, ``%.3f`` comma-separated, and
  ``<seq>/<seq>_time.txt`` (per-frame seconds) when the sample's meta carries its inference
  time ``time_s``; the test split is zipped (``submission.zip``) for the server;
* TrackingNet: ``<seq>.txt`` comma-separated, zipped at the archive root (``submission.zip``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Reference, Sample, box_convert
from ._common import OfficialBenchmark, single_instance
from ._io import atomic_write_text, list_frames, read_lines, video_frames, zip_folder
from ._stream import in_order

__all__ = ["SotSequences", "read_boxes"]


def read_boxes(path: Path, what: str = "ground-truth box file", first_only: bool = False) -> np.ndarray:
    """``N x 4`` float64 ``x, y, w, h`` rows of a comma/tab/space-separated box file."""
    lines = read_lines(path, what)
    if first_only:
        lines = lines[:1]
    rows = []
    for k, ln in enumerate(lines):
        parts = [p for p in re.split(r"[,\t ]+", ln) if p]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            vals = []
        if len(vals) != 4:
            raise DatasetError(f"{path}: line {k + 1} is {ln!r}; expected 4 numbers x,y,w,h")
        rows.append(vals)
    if not rows:
        raise DatasetError(f"{path}: no boxes (expected one x,y,w,h line per frame)")
    return np.asarray(rows, np.float64)


class SotSequences(OfficialBenchmark):
    """One SOT test set. ``layout`` in ``lasot``, ``lasot-ext``, ``tnl2k``, ``trackingnet``,
    ``got10k``; ``split`` is the GOT-10k split (``val`` | ``test``)."""

    task = "sot"
    prompt = "reference"
    results_name = "tracking_results"

    def __init__(self, root: Path, id: str = "", layout: str = "lasot", split: str = "test", **options: Any):
        super().__init__(root, id, **options)
        if layout not in ("lasot", "lasot-ext", "tnl2k", "trackingnet", "got10k"):
            raise DatasetError(f"unknown SOT layout {layout!r}")
        self.layout, self.split = layout, split

    # -- layout --------------------------------------------------------------------------------
    def split_root(self) -> Path:
        return {
            "lasot": self.root,
            "lasot-ext": self.root,
            "tnl2k": self.root / "test",
            "trackingnet": self.root / "TEST",
            "got10k": self.root / self.split,
        }[self.layout]

    def seq_list_file(self) -> Path | None:
        return {"lasot": self.root / "testing_set.txt", "got10k": self.root / self.split / "list.txt"}.get(self.layout)

    def annotation_files(self) -> list[Path]:
        f = self.seq_list_file()
        return [f] if f else []

    def _build_index(self) -> dict[str, Path]:
        """sequence name → sequence folder."""
        lst = self.seq_list_file()
        base = self.split_root()
        if lst is not None:
            names = read_lines(lst, "sequence list")
        elif self.layout == "lasot-ext":
            if not base.is_dir():
                raise DatasetError(f"missing LaSOT-ext folder {base}")
            names = sorted(s.name for c in base.iterdir() if c.is_dir() for s in c.iterdir() if s.is_dir())
        else:
            folder = base / "frames" if self.layout == "trackingnet" else base
            if not folder.is_dir():
                raise DatasetError(f"missing sequence folder {folder}")
            names = sorted(p.name for p in folder.iterdir() if p.is_dir())
        if not names:
            raise DatasetError(f"{self.id}: no sequences found under {base}")
        out = {}
        for n in names:
            if self.layout in ("lasot", "lasot-ext"):
                out[n] = base / n.rsplit("-", 1)[0] / n
            elif self.layout == "trackingnet":
                out[n] = base / "frames" / n
            else:
                out[n] = base / n
        return dict(sorted(out.items()))

    def gt_file(self, name: str) -> Path:
        if self.layout == "trackingnet":
            return self.split_root() / "anno" / f"{name}.txt"
        return self.index[name] / "groundtruth.txt"

    def frame_paths(self, name: str) -> list[Path]:
        d = self.index[name]
        if self.layout in ("lasot", "lasot-ext"):
            d = d / "img"
        elif self.layout == "tnl2k":
            d = d / "imgs"
        frames = list_frames(d, f"frame folder of sequence {name}")
        if self.layout == "trackingnet":  # 0.jpg, 1.jpg, ..., 10.jpg: numeric order
            frames.sort(key=lambda p: int(p.stem) if p.stem.isdigit() else p.stem)
        return frames

    def _first_only(self) -> bool:
        return self.layout == "trackingnet" or (self.layout == "got10k" and self.split == "test")

    def validate(self) -> None:
        for name, d in self.index.items():
            if not d.is_dir():
                raise DatasetError(f"missing sequence folder {d} (sequence {name})")
            frames = self.frame_paths(name)
            boxes = read_boxes(self.gt_file(name), first_only=self._first_only())
            if not self._first_only() and len(boxes) != len(frames):
                raise DatasetError(
                    f"{self.gt_file(name)}: {len(boxes)} boxes for {len(frames)} frames in {frames[0].parent}"
                )

    def sample_ids(self) -> list[str]:
        return list(self.index)

    def load_sample(self, sample_id: str) -> Sample:
        if sample_id not in self.index:
            raise DatasetError(f"{self.id}: no sequence {sample_id!r}")
        frames = self.frame_paths(sample_id)
        init = read_boxes(self.gt_file(sample_id), first_only=True)[0]
        meta: dict[str, Any] = {"sequence": sample_id, "init_box_xywh": init.tolist()}
        if self.layout == "tnl2k":
            lang = self.index[sample_id] / "language.txt"
            if lang.is_file():
                meta["language"] = lang.read_text().strip()
        elif self.layout in ("lasot", "lasot-ext"):
            nlp = self.index[sample_id] / "nlp.txt"
            if nlp.is_file():
                meta["language"] = nlp.read_text().strip()
        return Sample(
            sample_id,
            video_frames(frames),
            Reference(object_ids=(1,), frame=0, boxes=box_convert(init[None], "xywh", "xyxy")),
            meta,
        )

    # -- results -------------------------------------------------------------------------------
    def _track(self, sid: str, preds, meta: dict) -> np.ndarray:
        """``N x 4`` xywh per frame: the top box of every frame; frame 0 is the given box (the
        toolkits replace it by the ground truth anyway); a frame without a box repeats the
        previous one (a tracker always reports a box)."""
        init = np.asarray(meta.get("init_box_xywh") or read_boxes(self.gt_file(sid), first_only=True)[0])
        out = np.zeros((len(preds), 4))
        for k, inst in enumerate(preds):
            inst = single_instance(inst, sid)
            if k == 0:
                out[k] = init
            elif len(inst) and inst.boxes is not None:
                out[k] = box_convert(inst.boxes, "xyxy", "xywh")[0]
            else:
                out[k] = out[k - 1]
        return out

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        out_dir = self.results_path(results_dir)
        written = []
        for sid, preds, meta in in_order(stream, self.result_key, self.id):
            if sid not in self.index:
                raise ResultsError(f"predictions for unknown sequence {sid!r}")
            b = self._track(sid, preds, meta)
            if self.layout == "got10k":
                text = "\n".join(",".join(f"{v:.3f}" for v in r) for r in b) + "\n"
                written.append(atomic_write_text(out_dir / sid / f"{sid}_001.txt", text))
                t = meta.get("time_s")
                if t is not None:  # the toolkit's per-frame running times (speed statistics)
                    per = float(t) / max(len(b), 1)
                    written.append(atomic_write_text(out_dir / sid / f"{sid}_time.txt", f"{per:.8f}\n" * len(b)))
            elif self.layout == "trackingnet":
                text = "\n".join(",".join(f"{v:.4f}" for v in r) for r in b) + "\n"
                written.append(atomic_write_text(out_dir / f"{sid}.txt", text))
            else:
                text = "\n".join("\t".join("%d" % v for v in r) for r in b) + "\n"
                written.append(atomic_write_text(out_dir / f"{sid}.txt", text))
        if self.server:
            written.append(zip_folder(out_dir, Path(results_dir) / "submission.zip"))
        return written

    def gt_path(self) -> Path:
        return self.split_root()

    def metric_options(self) -> dict[str, Any]:
        return {"protocol": self.layout}

    def results_options(self, results_dir: Path) -> dict[str, Any]:
        # the GT folder may hold more sequences than the split (LaSOT: train and test); score
        # the split's sequences that have results (all of them unless the run was limited)
        res = self.results_path(results_dir)
        done = [s for s in self.sample_ids() if (res / s).is_dir() or (res / f"{s}.txt").is_file()]
        return {"sequences": done}

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        # pytracking / the GOT-10k toolkit score the sequences of the dataset they are given:
        # the restricted copy is the sequence list cut to the samples run
        keep = set(sample_ids)
        return gt, {"sequences": [s for s in self.results_options(results_dir)["sequences"] if s in keep]}
