"""DAVIS-2017 J&F speed: evalkit's ``davis-semi`` vs a per-frame implementation of the official
algorithm (``davis2017-evaluation``: full-frame seg2bmap and two full-frame ``cv2.dilate`` per
object and frame), on synthetic 480x854 data written as indexed PNGs.

    python bench/metrics_davis.py                       # 30 sequences x 80 frames x 3 objects
    python bench/metrics_davis.py --seqs 6 --frames 40  # reduced scale

Both sides read the PNGs themselves (timed); a third measurement scores the same frames
already decoded in memory (metric computation only). The printed ratios are measured in this one run:
wall-clock, and CPU time (this process plus its worker processes), which is the fairer
comparison on a machine shared with other jobs. The global numbers of both sides must be
identical, and the script fails otherwise.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from evalkit.benchmarks._io import indexed_png

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "metrics_vos"))


_PALETTE = bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [128] * (252 * 3))


def _png(arr, path):
    path.write_bytes(indexed_png(arr, _PALETTE))


def _ellipse(img, k, cy, cx, ry, rx):
    """Draw label k: pixels with ((y - cy)/ry)² + ((x - cx)/rx)² <= 1 (on their bounding box)."""
    H, W = img.shape
    y0, y1 = max(int(cy - ry) - 1, 0), min(int(cy + ry) + 2, H)
    x0, x1 = max(int(cx - rx) - 1, 0), min(int(cx + rx) + 2, W)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    img[y0:y1, x0:x1][((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = k


def make_data(root: Path, n_seq: int, n_frames: int, n_obj: int, H=480, W=854, seed=0):
    rng = np.random.default_rng(seed)
    seqs = []
    for s in range(n_seq):
        name = f"seq{s:02d}"
        (root / "gt" / name).mkdir(parents=True)
        (root / "res" / name).mkdir(parents=True)
        objs = [(rng.uniform(100, H - 100), rng.uniform(100, W - 100), rng.normal(0, 2, 2), rng.uniform(30, 120, 2))
                for _ in range(n_obj)]
        for t in range(n_frames):
            gt = np.zeros((H, W), np.uint8)
            res = np.zeros((H, W), np.uint8)
            for k, (cy, cx, v, r) in enumerate(objs, 1):
                y, x = cy + v[0] * t, cx + v[1] * t
                wob = 1 + 0.1 * np.sin(t / 5 + k)
                _ellipse(gt, k, y, x, r[0] * wob, r[1])
                _ellipse(res, k, y + 4, x - 3, r[0] * wob, r[1] * 1.05)
            _png(gt, root / "gt" / name / f"{t:05d}.png")
            _png(res, root / "res" / name / f"{t:05d}.png")
        seqs.append(name)
    return seqs


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seqs", type=int, default=30)
    ap.add_argument("--frames", type=int, default=80)
    ap.add_argument("--objects", type=int, default=3)
    ap.add_argument("--workers", type=int, default=0, help="0 = one per core")
    args = ap.parse_args()

    from evalkit.metrics.davis import davis_semi
    import vos_official as official

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        seqs = make_data(root, args.seqs, args.frames, args.objects)
        print(f"data: {args.seqs} seq x {args.frames} frames x {args.objects} objects at 480x854 "
              f"({time.perf_counter() - t0:.1f} s to write)")

        t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
        ours = davis_semi(root / "gt", root / "res", workers=args.workers)
        t_ours = time.perf_counter() - t0
        c_ours = time.process_time() - c0 + _children_cpu() - k0

        t0, c0 = time.perf_counter(), time.process_time()
        ref, _ = official.davis_semi_official(str(root / "gt"), str(root / "res"), seqs)
        t_ref = time.perf_counter() - t0
        c_ref = time.process_time() - c0

        # metric computation only: the same frames already decoded, in memory, one process
        mem = {side: {s: np.stack([np.asarray(Image.open(p)) for p in sorted((root / side / s).glob("*.png"))])
                      for s in seqs} for side in ("gt", "res")}
        c0 = time.process_time()
        ours_mem = davis_semi(mem["gt"], mem["res"], workers=1)
        c_ours_mem = time.process_time() - c0
        c0 = time.process_time()
        ref_mem, _ = official.davis_semi_official(mem["gt"], mem["res"], seqs)
        c_ref_mem = time.process_time() - c0

    same = all(ours[k] == float(ref[k]) == ours_mem[k] == float(ref_mem[k]) for k in ref)
    for k in ref:
        print(f"  {k:9s} ours {ours[k]:.15f}  official-algorithm {float(ref[k]):.15f}")
    print(f"wall: per-frame official algorithm {t_ref:.2f} s, evalkit davis-semi "
          f"(workers={args.workers or os.cpu_count()}) {t_ours:.2f} s, ratio {t_ref / t_ours:.1f}x")
    print(f"cpu:  per-frame official algorithm {c_ref:.2f} s, evalkit davis-semi {c_ours:.2f} s, "
          f"ratio {c_ref / c_ours:.1f}x")
    print(f"compute only (frames in memory, 1 process, cpu): official algorithm {c_ref_mem:.2f} s, "
          f"evalkit {c_ours_mem:.2f} s, ratio {c_ref_mem / c_ours_mem:.1f}x   identical: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
