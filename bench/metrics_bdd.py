"""Speed of the BDD100K box-tracking metric against TrackEval's CLEAR on the same data.

    python bench/metrics_bdd.py --videos 200 --frames 200

Synthetic BDD100K-like data (8 classes, ~10 objects per frame, misses, false positives, id
switches) is generated in memory as Scalabel frames. Timed, in one run:

- ours: ``evalkit.metrics.bdd100k.box_track`` on the frame lists (parsing, IoU, motmetrics-rule
  CLEAR/ID accumulation, per-class summary);
- TrackEval: per video and class, TrackEval's box IoU plus ``CLEAR.eval_sequence`` (and
  ``Identity.eval_sequence``, since ours computes IDF1 too), then ``combine_sequences``.

Prints both times and the ratio ours / TrackEval. With ``--reference-python`` (the interpreter of
an environment with bdd100k 1.0.1 installed), the official ``bdd100k.eval.run -t box_track``
is also timed on the same data written to JSON (process start and file loading included) and
its mMOTA / MOTA / IDF1 are printed beside ours.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

CLASSES = ("pedestrian", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")


def make_video(rng, name: str, n_frames: int, n_objects: int):
    """Scalabel ground-truth and prediction frames of one video."""
    cls = rng.integers(0, len(CLASSES), n_objects)
    pos = rng.uniform(0, 1200, (n_objects, 2))
    size = rng.uniform(20, 120, (n_objects, 2))
    pid = np.arange(n_objects) + 1
    gt, pred = [], []
    next_id = n_objects + 1
    for t in range(n_frames):
        pos += rng.normal(0, 3, pos.shape)
        g, p = [], []
        for o in range(n_objects):
            if rng.random() < 0.05:
                continue
            x, y = pos[o]
            w, h = size[o]
            g.append({"id": str(o + 1), "category": CLASSES[cls[o]],
                      "box2d": {"x1": x, "y1": y, "x2": x + w, "y2": y + h}})
            if rng.random() < 0.02:
                pid[o] = next_id
                next_id += 1
            if rng.random() < 0.85:
                j = rng.normal(0, 4, 4)
                p.append({"id": str(pid[o]), "category": CLASSES[cls[o]], "score": 0.9,
                          "box2d": {"x1": x + j[0], "y1": y + j[1], "x2": x + w + j[2], "y2": y + h + j[3]}})
        for i in range(rng.poisson(1.0)):
            x, y = rng.uniform(0, 1200, 2)
            p.append({"id": str(100000 + 10 * t + i), "category": CLASSES[int(rng.integers(8))], "score": 0.5,
                      "box2d": {"x1": x, "y1": y, "x2": x + 50, "y2": y + 50}})
        gt.append({"name": f"{name}-{t:07d}.jpg", "videoName": name, "frameIndex": t, "labels": g})
        pred.append({"name": f"{name}-{t:07d}.jpg", "videoName": name, "frameIndex": t, "labels": p})
    return gt, pred


def trackeval_clear(gt_frames, pred_frames):
    """TrackEval CLEAR + Identity per (video, class) on the same boxes (xywh, +1 convention)."""
    import trackeval
    from trackeval.datasets._base_dataset import _BaseDataset

    clear = trackeval.metrics.CLEAR({"PRINT_CONFIG": False})
    ident = trackeval.metrics.Identity({"PRINT_CONFIG": False})
    videos: dict = {}
    for fr_g, fr_p in zip(gt_frames, pred_frames):
        videos.setdefault(fr_g["videoName"], []).append((fr_g["labels"], fr_p["labels"]))
    res_c, res_i = {}, {}
    for v, frames in videos.items():
        for c in CLASSES:
            data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_timesteps": len(frames)}
            gmap, pmap = {}, {}
            for g, p in frames:
                g = [lab for lab in g if lab["category"] == c]
                p = [lab for lab in p if lab["category"] == c]
                data["gt_ids"].append(np.array([gmap.setdefault(lab["id"], len(gmap)) for lab in g], dtype=int))
                data["tracker_ids"].append(np.array([pmap.setdefault(lab["id"], len(pmap)) for lab in p], dtype=int))
                gb = np.array([[b["x1"], b["y1"], b["x2"] - b["x1"] + 1, b["y2"] - b["y1"] + 1]
                               for b in (lab["box2d"] for lab in g)], dtype=float).reshape(-1, 4)
                pb = np.array([[b["x1"], b["y1"], b["x2"] - b["x1"] + 1, b["y2"] - b["y1"] + 1]
                               for b in (lab["box2d"] for lab in p)], dtype=float).reshape(-1, 4)
                data["similarity_scores"].append(_BaseDataset._calculate_box_ious(gb, pb, box_format="xywh"))
            data.update(num_gt_ids=len(gmap), num_tracker_ids=len(pmap),
                        num_gt_dets=sum(map(len, data["gt_ids"])), num_tracker_dets=sum(map(len, data["tracker_ids"])))
            res_c[v, c] = clear.eval_sequence(data)
            res_i[v, c] = ident.eval_sequence(data)
    return {**clear.combine_sequences(res_c), **ident.combine_sequences(res_i)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=200)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--objects", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reference-python", help="python of an environment with the bdd100k toolkit")
    args = ap.parse_args()

    from evalkit.metrics.bdd100k import box_track

    rng = np.random.default_rng(args.seed)
    gt, pred = [], []
    for k in range(args.videos):
        g, p = make_video(rng, f"video{k:04d}", args.frames, args.objects)
        gt += g
        pred += p
    n_boxes = sum(len(f["labels"]) for f in gt)
    print(f"{args.videos} videos x {args.frames} frames, {n_boxes} ground-truth boxes")

    t0 = time.perf_counter()
    ours = box_track(gt, pred)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = trackeval_clear(gt, pred)
    t_ref = time.perf_counter() - t0
    print(f"ours      mMOTA {ours['mMOTA']:.4f}  MOTA {ours['MOTA']:.4f}  IDF1 {ours['IDF1']:.4f}: {t_ours:.2f} s")
    print(f"trackeval MOTA {100 * ref['MOTA']:.4f}  IDF1 {100 * ref['IDF1']:.4f} (CLEAR + Identity): {t_ref:.2f} s")
    print(f"ratio ours / trackeval = {t_ours / t_ref:.2f}")
    if args.reference_python:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "gt.json").write_text(json.dumps(gt))
            (tmp / "pred.json").write_text(json.dumps(pred))
            t0 = time.perf_counter()
            subprocess.run([args.reference_python, "-m", "bdd100k.eval.run", "-t", "box_track", "-g", str(tmp / "gt.json"),
                            "-r", str(tmp / "pred.json"), "--out-file", str(tmp / "out.json"), "--nproc", "1"],
                           check=True, capture_output=True)
            t_bdd = time.perf_counter() - t0
            out = json.loads((tmp / "out.json").read_text())
        print(f"bdd100k   mMOTA {out['mMOTA']:.4f}  MOTA {out['MOTA'][-1]['OVERALL']:.4f}  "
              f"IDF1 {out['IDF1'][-1]['OVERALL']:.4f}: {t_bdd:.2f} s")
        print(f"ratio ours / bdd100k toolkit = {t_ours / t_bdd:.2f}")


if __name__ == "__main__":
    main()
