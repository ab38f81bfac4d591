"""Valid inputs of every metric, in their official on-disk formats, for the fault tests.

:func:`build_valid_inputs` writes, for each metric id of ``evalkit ls metrics``, one folder
``<base>/<metric>/`` holding ``gt/`` and ``res/`` (self-contained: a case copies the folder and
damages its copy) and returns metric id → :class:`ValidInput`. Most come from the generated
benchmark datasets (``tests/benchmarks/gen.py``) and their oracle predictions written by the
benchmark's own results writer; the four metrics no generated split is scored with
(MOTChallenge, MOTS, DAVIS unsupervised, YouTube-VOS) are written here by hand.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

#: metric id -> the generated benchmark split it is taken from
FROM_BENCHMARK = {
    "bdd100k-box-track": "bdd100k-box-track-val",
    "bdd100k-seg-track": "bdd100k-seg-track-val",
    "burst": "burst-val",
    "coco-bbox": "coco-val2017-det",
    "coco-segm": "coco-val2017-seg",
    "davis-semi": "davis17-val",
    "fss": "fss1000-test-1shot",
    "lvis-bbox": "lvis-v1-val-det",
    "lvis-segm": "lvis-v1-val-seg",
    "lvos": "lvos-val",
    "odinw": "odinw13-val",
    "ref-davis": "ref-davis17-val",
    "refcoco-rec": "refcoco+-testA-rec",
    "refcoco-res": "refcoco-val-res",
    "sot": "got10k-val",
    "tao-teta": "tao-val",
    "viposeg": "viposeg-val",
    "vipseg": "vipseg-val",
    "vspw": "vspw-val",
    "ytvis": "ovis-dev",
}


@dataclass
class ValidInput:
    """``gt`` / ``res``: paths relative to the metric's folder; ``options``: ``--set`` values."""

    metric: str
    gt: str
    res: str
    options: dict = field(default_factory=dict)

    def argv(self, folder: Path) -> list[str]:
        out = ["score", "--metric", self.metric, "--gt", str(folder / self.gt),
               "--results", str(folder / self.res), "--json"]
        for k, v in self.options.items():
            out += ["--set", f"{k}={v}"]
        return out


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def _from_benchmark(metric: str, bid: str, data_root: Path, oracle: dict, folder: Path) -> ValidInput:
    from evalkit.benchmarks.base import build_benchmark

    bench = build_benchmark(bid, data_root)
    metas = {sid: {**bench.load_sample(sid).meta, "time_s": 0.5} for sid in bench.sample_ids()}
    res_dir = folder / "res"
    bench.write_results(oracle[bid], metas, res_dir)
    res_rel = Path(bench.results_path(res_dir)).relative_to(folder)
    if metric == "fss":  # the writer derives the query GT (RLE) beside the results
        (folder / "gt").mkdir()
        shutil.move(str(res_dir / bench.derived_gt), str(folder / "gt" / bench.derived_gt))
        return ValidInput(metric, f"gt/{bench.derived_gt}", res_rel.as_posix())
    # the dataset's top folder (GT files refer to siblings: masks beside a JSON, ImageSets)
    gt_rel = Path(bench.gt_path()).relative_to(data_root)
    _copy(data_root / gt_rel.parts[0], folder / "gt" / gt_rel.parts[0])
    gt = f"gt/{gt_rel.as_posix()}"
    if metric == "odinw":  # dataset name -> file manifests (paths relative to the manifest)
        from evalkit.benchmarks.odinw import ODINW13

        (folder / "gt" / "manifest.json").write_text(json.dumps(
            {n: f"{gt_rel.as_posix()}/{ODINW13[n][0]}" for n in bench.names}))
        (folder / "res" / "manifest.json").write_text(json.dumps(
            {n: f"{res_rel.relative_to('res').as_posix()}/{n}.json" for n in bench.names}))
        return ValidInput(metric, "gt/manifest.json", "res/manifest.json")
    return ValidInput(metric, gt, res_rel.as_posix(), {k: v for k, v in bench.metric_options().items()})


# -- hand-written inputs -----------------------------------------------------------------------
def _boxes(t: int) -> list[tuple[int, float, float, float, float]]:
    """Two pedestrians moving right: (id, x, y, w, h) at frame ``t`` (1-based)."""
    return [(1, 10.0 + 3 * t, 20.0, 30.0, 60.0), (2, 120.0 - 2 * t, 40.0, 25.0, 50.0)]


def _mot(folder: Path) -> ValidInput:
    for seq in ("MOT-a", "MOT-b"):
        gt = folder / "gt" / seq / "gt" / "gt.txt"
        gt.parent.mkdir(parents=True)
        gt.write_text("".join(f"{t},{i},{x},{y},{w},{h},1,1,1\n" for t in range(1, 6)
                              for i, x, y, w, h in _boxes(t)))
        res = folder / "res" / f"{seq}.txt"
        res.parent.mkdir(parents=True, exist_ok=True)
        res.write_text("".join(f"{t},{i},{x + 1},{y},{w},{h},0.9,-1,-1,-1\n" for t in range(1, 6)
                               for i, x, y, w, h in _boxes(t)))
    return ValidInput("mot-challenge", "gt", "res")


def _mots(folder: Path) -> ValidInput:
    from pycocotools import mask as mask_utils

    def line(t, tid, m):
        r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        return f"{t} {tid} 2 {m.shape[0]} {m.shape[1]} {r['counts'].decode()}\n"

    for seq in ("0001", "0002"):
        g, r = [], []
        for t in range(1, 5):
            for k, (i, x, y, w, h) in enumerate(_boxes(t)):
                m = np.zeros((96, 160), bool)
                m[int(y):int(y + h) // 2, int(x):int(x + w)] = True
                g.append(line(t, 2000 + i, m))
                r.append(line(t, 2000 + i, m))
        gt = folder / "gt" / seq / "gt" / "gt.txt"
        gt.parent.mkdir(parents=True)
        gt.write_text("".join(g))
        res = folder / "res" / f"{seq}.txt"
        res.parent.mkdir(parents=True, exist_ok=True)
        res.write_text("".join(r))
    return ValidInput("mots-challenge", "gt", "res")


def _label_video(T: int = 5, H: int = 24, W: int = 32) -> np.ndarray:
    v = np.zeros((T, H, W), np.uint8)
    for t in range(T):
        v[t, 2:10, 2 + t:12 + t] = 1
        v[t, 12:20, 18 - t:28 - t] = 2
    return v


def _write_pngs(folder: Path, video: np.ndarray, names=None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t, lab in enumerate(video):
        im = Image.fromarray(lab, mode="P")
        im.putpalette([0, 0, 0, 200, 0, 0, 0, 200, 0] + [0] * (256 * 3 - 9))
        im.save(folder / f"{(names[t] if names else f'{t:05d}')}.png")


def _davis_unsup(folder: Path) -> ValidInput:
    v = _label_video()
    for seq in ("bear", "cows"):
        _write_pngs(folder / "gt" / seq, v)
        _write_pngs(folder / "res" / seq, v)
    return ValidInput("davis-unsup", "gt", "res")


def _ytvos(folder: Path) -> ValidInput:
    v = _label_video()
    names = [f"{5 * t:05d}" for t in range(len(v))]
    _write_pngs(folder / "gt" / "Annotations" / "vid1", v, names)
    _write_pngs(folder / "res" / "vid1", v, names)
    (folder / "gt" / "meta.json").write_text(json.dumps(
        {"videos": {"vid1": {"objects": {"1": {"category": "cat"}, "2": {"category": "dog"}}}}}))
    return ValidInput("ytvos", "gt", "res", {"unseen_categories": "dog"})


BY_HAND = {"mot-challenge": _mot, "mots-challenge": _mots, "davis-unsup": _davis_unsup, "ytvos": _ytvos}


def build_valid_inputs(base: Path, data_root: Path, oracle: dict) -> dict[str, ValidInput]:
    """One valid (ground truth, results) pair per metric under ``base/<metric>/``."""
    out = {}
    for metric, bid in FROM_BENCHMARK.items():
        out[metric] = _from_benchmark(metric, bid, data_root, oracle, base / metric)
    for metric, make in BY_HAND.items():
        out[metric] = make(base / metric)
    return out
