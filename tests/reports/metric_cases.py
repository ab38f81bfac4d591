"""A generated case per registered metric id, scored three times: oracle predictions and two
degraded versions (boxes shifted, masks rolled by 1 and 2 pixels on every other frame), so the
leaderboard of a case has three different rows to rank.

Metric ids scored by a registered split use the split's generated data in the official layout
(``tests/benchmarks/gen.py``) through the benchmark's own writer and scorer; the others
(``mot-challenge``, ``mots-challenge``, ``ytvos``, ``davis-unsup``) get a small case written here
in their input format.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from evalkit.benchmarks.base import build_benchmark
from evalkit.metrics import compute
from evalkit.types import Instances

# metric id → the split whose generated data it is scored on (sot twice: two protocols, two key sets)
SPLITS = {
    "bdd100k-box-track": "bdd100k-box-track-val", "bdd100k-seg-track": "bdd100k-seg-track-val",
    "burst": "burst-val", "coco-bbox": "coco-val2017-det", "coco-segm": "coco-val2017-seg",
    "davis-semi": "davis17-val", "fss": "fss1000-test-1shot", "lvis-bbox": "lvis-v1-val-det",
    "lvis-segm": "lvis-v1-val-seg", "lvos": "lvos-val", "odinw": "odinw13-val", "ytvis": "ovis-dev",
    "ref-davis": "ref-davis17-val", "refcoco-rec": "refcoco+-testA-rec", "refcoco-res": "refcoco+-val-res",
    "sot": "got10k-val", "sot-lasot": "lasot-test", "tao-teta": "tao-val", "viposeg": "viposeg-val",
    "vipseg": "vipseg-val", "vspw": "vspw-val",
}
OWN = ("mot-challenge", "mots-challenge", "ytvos", "davis-unsup")
CASES = sorted([*SPLITS, *OWN])  # case names; a case's metric id is the name up to "-lasot"
VARIANTS = (0, 1, 2)


def metric_of(case: str) -> str:
    return "sot" if case == "sot-lasot" else case


def _degrade(preds: list[Instances], k: int) -> list[Instances]:
    """Shift boxes by k px and roll masks k px right on every other frame (k = 0: unchanged)."""
    if not k:
        return preds
    out = []
    for i, inst in enumerate(preds):
        if i % 2:
            out.append(inst)
            continue
        boxes = None if inst.boxes is None else inst.boxes + np.float32(k)
        masks = inst.masks
        if isinstance(masks, np.ndarray) and len(masks):
            masks = np.roll(masks, k, axis=2)
        out.append(Instances(inst.image_size, boxes=boxes, masks=masks, scores=inst.scores, labels=inst.labels,
                             track_ids=inst.track_ids, extra=inst.extra))
    return out


def _split_case(bid: str, root: Path, oracle: dict, out: Path, k: int) -> dict:
    bench = build_benchmark(bid, root)
    preds, metas = {}, {}
    for sid in bench.sample_ids():
        metas[sid] = bench.load_sample(sid).meta
        preds[sid] = _degrade(oracle[bid][sid], k)
    bench.write_results(preds, metas, out)
    return bench.score(out)


# -- cases in the metrics' own input formats -------------------------------------------------------
def _mot_files(out: Path, k: int):
    """Two MOT17-format sequences of three boxes moving right; variant k shifts the predictions of
    every other frame by 12k px (misses and false positives) and gives object 3 a new id mid-way."""
    gt_dir, res_dir = out / "gt", out / "res"
    res_dir.mkdir(parents=True, exist_ok=True)
    for s in range(2):
        seq = f"SEQ-{s:02d}"
        g, r = [], []
        for t in range(1, 9):
            for o in range(1, 4):
                x, y = 10 + 60 * o + 3 * t, 20 + 40 * s
                g.append(f"{t},{o},{x},{y},40,80,1,1,1.0")
                dx = 12 * k if (k and t % 2 == 0) else 0
                tid = o + (10 if (k == 2 and o == 3 and t > 4) else 0)
                r.append(f"{t},{tid},{x + dx},{y},40,80,0.9,-1,-1,-1")
        (gt_dir / seq / "gt").mkdir(parents=True, exist_ok=True)
        (gt_dir / seq / "gt" / "gt.txt").write_text("\n".join(g) + "\n")
        (gt_dir / seq / "seqinfo.ini").write_text("[Sequence]\nseqLength=8\n")
        (res_dir / f"{seq}.txt").write_text("\n".join(r) + "\n")
    return gt_dir, res_dir


def _mots_files(out: Path, k: int):
    from pycocotools import mask as mu

    def line(t, tid, cls, m):
        rle = mu.encode(np.asfortranarray(m.astype(np.uint8)))
        return f"{t} {tid} {cls} {m.shape[0]} {m.shape[1]} {rle['counts'].decode()}"

    out.mkdir(parents=True, exist_ok=True)
    gts, res = {}, {}
    for s in range(2):
        g, r = [], []
        for t in range(1, 6):
            for o in range(3):
                m = np.zeros((40, 60), bool)
                m[5 + 10 * s:15 + 10 * s, 2 + 18 * o:14 + 18 * o] = True
                g.append(line(t, 2000 + o, 2, m))
                p = np.roll(m, 4 * k, axis=1) if (k and t % 2) else m
                r.append(line(t, 2000 + o, 2, p & ~np.roll(m, 18, axis=1) if k else p))
        gp, rp = out / f"gt{s}.txt", out / f"res{s}.txt"
        gp.write_text("\n".join(g) + "\n")
        rp.write_text("\n".join(r) + "\n")
        gts[f"{s:04d}"], res[f"{s:04d}"] = gp, rp
    return gts, res


def _label_video(T=5, H=20, W=24) -> np.ndarray:
    lab = np.zeros((T, H, W), np.uint8)
    for t in range(T):
        lab[t, 2:10, 2 + t:9 + t] = 1
        lab[t, 11:18, 12:20 - t // 2] = 2
    return lab


def _own_case(metric: str, out: Path, k: int, root: Path, oracle: dict) -> dict:
    if metric == "mot-challenge":
        return compute(metric, *_mot_files(out, k))
    if metric == "mots-challenge":
        return compute(metric, *_mots_files(out, k))
    if metric == "ytvos":
        gt = _label_video()
        pred = gt.copy()
        if k:
            pred[1::2] = np.roll(gt[1::2], 2 * k, axis=2)
        meta = {"videos": {"a": {"objects": {"1": {"category": "cat"}, "2": {"category": "zebra"}}}}}
        return compute(metric, {"a": gt}, {"a": pred}, meta=meta, unseen_categories="zebra")
    if metric == "davis-unsup":
        bench = build_benchmark("davis17-val", root)
        preds, metas = {}, {}
        for sid in bench.sample_ids():
            metas[sid] = bench.load_sample(sid).meta
            preds[sid] = _degrade(oracle["davis17-val"][sid], k)
        bench.write_results(preds, metas, out)
        return compute(metric, root / "DAVIS" / "Annotations" / "480p", bench.results_path(out))
    raise KeyError(metric)


def score_case(case: str, variant: int, root: Path, oracle: dict, out: Path) -> dict:
    """The metrics dict (as the metric returns it) of one case's variant."""
    out.mkdir(parents=True, exist_ok=True)
    if case in SPLITS:
        return _split_case(SPLITS[case], root, oracle, out, variant)
    return _own_case(case, out, variant, root, oracle)


def benchmark_of(case: str) -> str:
    """The benchmark id the case's runs are recorded under."""
    return SPLITS.get(case) or {"mot-challenge": "motchallenge-gen", "mots-challenge": "motschallenge-gen",
                                "ytvos": "ytvos-gen", "davis-unsup": "davis17-unsup-gen"}[case]
