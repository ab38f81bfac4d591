"""Record the golden metrics of a shipped tiny model on the shapes suite
(``tests/shapes/golden_<model>.json``), with the procedure of ``tests/shapes/test_tiny_golden.py``:
a fresh data cache, one torch thread, no loader threads, every supported shapes benchmark.

    python scripts/record_golden.py --model uninext-tiny
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a tiny model id (uninext-tiny, uniref-pp-tiny)")
    ap.add_argument("--out", type=Path, default=None, help="default: tests/shapes/golden_<model>.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVALKIT_CACHE"] = str(Path(tmp) / "cache")
        import torch

        from evalkit.demo import supported_benchmarks
        from evalkit.runner import RunConfig, run_evaluation

        torch.set_num_threads(1)
        benches, _ = supported_benchmarks(args.model, "shapes")
        golden = {}
        for bench in benches:
            res = run_evaluation(RunConfig(model=args.model, benchmark=bench, runs_root=str(Path(tmp) / "runs"),
                                           num_workers=0, quiet=True, threads=1))  # golden numbers: 1 thread
            if res.status != "complete" or res.metrics is None:
                raise SystemExit(f"{args.model} on {bench}: run {res.status}")
            golden[bench] = res.metrics
            print(bench, json.dumps(res.metrics), flush=True)
    out = args.out or ROOT / "tests" / "shapes" / f"golden_{args.model.replace('-', '_')}.json"
    out.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
