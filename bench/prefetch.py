"""Sample loading: ``load_sample`` + decode in the loop vs ``benchmarks._io.prefetch`` threads.

Workload: a COCO-layout split of ``--images`` JPEGs of ``--size`` (default 480 x 640, random
smooth content so JPEG decoding costs what it does on photos), generated in a temporary data
root. Each variant iterates every sample and touches its decoded frame, and a fixed amount of
``--work-ms`` of simulated model time per sample (a sleep, which releases the GIL as GPU
inference does): the prefetcher overlaps decoding with it. Reported as ratios measured in one
run; outputs are checked equal.

    python bench/prefetch.py [--images 200] [--size 480 640] [--workers 4] [--work-ms 5]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from evalkit.benchmarks._io import prefetch
from evalkit.benchmarks.base import build_benchmark


def make_split(root: Path, n: int, h: int, w: int) -> None:
    rng = np.random.default_rng(0)
    d = root / "coco"
    (d / "val2017").mkdir(parents=True)
    images = []
    for i in range(1, n + 1):
        small = rng.integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8)
        Image.fromarray(small).resize((w, h), Image.BILINEAR).save(d / "val2017" / f"{i:012d}.jpg", quality=90)
        images.append({"id": i, "file_name": f"{i:012d}.jpg", "height": h, "width": w})
    (d / "annotations").mkdir()
    (d / "annotations/instances_val2017.json").write_text(
        json.dumps({"images": images, "annotations": [], "categories": [{"id": 1, "name": "thing"}]}))


def run(samples, work_s: float) -> tuple[float, int]:
    t0 = time.perf_counter()
    checksum = 0
    for s in samples:
        checksum += int(s.frames[0][::97, ::89].sum())
        time.sleep(work_s)
    return time.perf_counter() - t0, checksum


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--size", type=int, nargs=2, default=(480, 640))
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--work-ms", type=float, default=5.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make_split(Path(tmp), args.images, *args.size)
        bench = build_benchmark("coco-val2017-det", tmp)
        ids = bench.sample_ids()
        work = args.work_ms / 1000
        t_seq, c_seq = run((bench.load_sample(i) for i in ids), work)
        t_pre, c_pre = run(prefetch(bench, ids, num_workers=args.workers), work)
        assert c_seq == c_pre, "prefetched frames differ from sequential loading"
        print(f"{args.images} images {args.size[0]}x{args.size[1]}, {args.work_ms} ms model time each")
        print(f"sequential load+decode : {t_seq:.3f} s ({args.images / t_seq:.1f} samples/s)")
        print(f"prefetch ({args.workers} threads)   : {t_pre:.3f} s ({args.images / t_pre:.1f} samples/s)")
        print(f"speed-up               : {t_seq / t_pre:.2f}x")


if __name__ == "__main__":
    main()
