"""Peak memory of UniVS VOS streaming over a long video: the streaming state (encoder cache,
pending frames, prompt pools, embedding memory) must stay bounded, so the peak resident memory
of a 600-frame run should equal that of a short one.

Random tiny weights (memory does not depend on them), frames generated on access (the video is
never held in memory), the released VOS settings (clip 5, memory 5, 256 prompt points) unless
overridden. Each length runs in its own process, so ``ru_maxrss`` is that run's peak.

    python bench/univs_vos_memory.py                    # 100 and 600 frames, CPU
    python bench/univs_vos_memory.py --frames 600 --one # one run, JSON line

With glibc's default allocator the peak also grows with heap fragmentation (the per-frame
output masks, which the caller keeps, sit between the streaming temporaries and pin the heap);
``MALLOC_MMAP_THRESHOLD_=16384`` serves the large temporaries from ``mmap`` and leaves only the
outputs' growth (``outputs_mb``).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from univs import TINY as _SPEED_TINY  # bench/univs.py, run from this folder like gpu_suite.py

TINY = dict(_SPEED_TINY, text_dim=48)


def one(n: int, h: int, w: int, objects: int) -> dict:
    from evalkit.adapters.univs import UniVSAdapter
    from evalkit.types import Frames, Reference
    from evalkit.zoo.univs.model import build_univs

    torch.manual_seed(0)
    model = build_univs("r50", **TINY)
    adapter = UniVSAdapter(model, model_id="univs-tiny-bench", input_sizes={"vos": {"min_size": h, "max_size": 4 * h}})
    base = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    frames = Frames([lambda i=i: np.roll(base, 2 * i, axis=1) for i in range(n)], sizes=[(h, w)] * n)
    masks = np.zeros((objects, h, w), bool)
    for k in range(objects):
        masks[k, h // 8:h // 2, (k * w) // objects:((k + 1) * w) // objects] = True
    t = time.perf_counter()
    out = adapter.predict(frames, Reference(object_ids=tuple(range(1, objects + 1)), frame=0, masks=masks))
    wall = time.perf_counter() - t
    # the outputs themselves (one boolean mask per object and frame) grow with the video; they
    # are what the caller keeps, so they are counted but reported apart
    out_mb = sum(i.masks.nbytes for i in out) / 2 ** 20
    return {"frames": n, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "outputs_mb": round(out_mb, 2), "wall_s": round(wall, 1), "stats": dict(adapter.last_stats)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[100, 600])
    ap.add_argument("--size", type=int, nargs=2, default=[96, 128], metavar=("H", "W"))
    ap.add_argument("--objects", type=int, default=2)
    ap.add_argument("--one", action="store_true", help="run one length in this process")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.one:
        print(json.dumps(one(args.frames[0], *args.size, args.objects)))
        return
    for n in args.frames:
        cmd = [sys.executable, __file__, "--one", "--frames", str(n), "--size", *map(str, args.size),
               "--objects", str(args.objects)]
        print(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
