"""torch CPU threads vs. inference time of `evalkit run` on a shapes split.

    python bench/threads.py                        # uninext-tiny on shapes-davis, threads 1, 2, all
    python bench/threads.py -m uniref-pp-tiny -b shapes-refcoco-res --limit 20 --threads 1,2,4

Each setting runs in a fresh process (torch fixes its thread pool at first use), with the
same seed and samples; the table gives the wall time of inference (run.json timings) and the
speed-up over the first setting. "all" leaves the thread count to torch (one per core), as
`evalkit run` did before ``--threads`` existed. The numbers set
``evalkit.hostenv.default_threads``; see docs/cpu_gpu.md for the recorded ones.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, sys, time
import torch
threads = json.loads(sys.argv[1])
if threads is not None:
    torch.set_num_threads(threads)
import evalkit
t0 = time.perf_counter()
[res] = evalkit.evaluate(sys.argv[2], sys.argv[3], limit=int(sys.argv[4]), runs_root=sys.argv[5],
                         threads=threads if threads is not None else torch.get_num_threads())
run = json.loads((res.run_dir / "run.json").read_text())
print(json.dumps({"threads": torch.get_num_threads(), "inference_s": run["timings"]["inference_s"],
                  "total_s": time.perf_counter() - t0, "metrics": res.metrics}))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", "-m", default="uninext-tiny")
    p.add_argument("--benchmark", "-b", default="shapes-davis")
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--threads", default="1,2,all", help="comma list of thread counts; 'all' = torch's default")
    p.add_argument("--repeat", type=int, default=1, help="runs per setting (the fastest is kept)")
    args = p.parse_args()
    settings = [None if t == "all" else int(t) for t in args.threads.split(",")]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    rows = []
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as runs:
        for t in settings:
            best = None
            for _ in range(args.repeat):
                out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(t), args.model, args.benchmark,
                                      str(args.limit), runs], capture_output=True, text=True, env=env)
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    return 1
                r = json.loads(out.stdout.strip().splitlines()[-1])
                best = r if best is None or r["inference_s"] < best["inference_s"] else best
            rows.append(("all" if t is None else str(t), best))
    base = rows[0][1]["inference_s"]
    print(f"{args.model} on {args.benchmark}, {args.limit} samples, {len(os.sched_getaffinity(0))} CPUs usable, "
          f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f} (other processes compete for the CPUs)")
    print("| threads | torch threads | inference s | total s | speed-up |")
    print("|---|---|---|---|---|")
    for label, r in rows:
        print(f"| {label} | {r['threads']} | {r['inference_s']:.2f} | {r['total_s']:.2f} | "
              f"{base / r['inference_s']:.2f}x |")
    metrics = {json.dumps(r["metrics"], sort_keys=True) for _, r in rows}
    print("same metrics for every setting" if len(metrics) == 1 else "METRICS DIFFER between settings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
