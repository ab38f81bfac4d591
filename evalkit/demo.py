"""``evalkit demo``: the end-to-end example that needs no download — evaluate the tiny models
(UNINEXT and UniRef++ trained on the shapes suite, shipped in the package) on the embedded shapes
suite (generated on first use) for every task each model supports, then print the leaderboards.

Equivalent to ``evalkit run -m <model> -b <each supported shapes benchmark>`` for each model,
followed by ``evalkit report <the run directories> --format md``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["add_arguments", "main", "supported_benchmarks", "DEFAULT_MODELS"]

#: the models the demo evaluates by default: the tiny models shipped in the package
DEFAULT_MODELS = ("uninext-tiny", "uniref-pp-tiny")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", default=",".join(DEFAULT_MODELS),
                        help=f"model ids, tags or patterns, comma-separated (default: {','.join(DEFAULT_MODELS)})")
    parser.add_argument("--benchmark", "-b", default="shapes", help="benchmark group or id (default: shapes)")
    parser.add_argument("--runs-root", default="runs", help="where the run directories go (default: runs)")
    parser.add_argument("--limit", "-L", type=int, help="only the first N samples of each benchmark")
    parser.add_argument("--format", "-f", default="md", choices=("md", "csv", "latex", "html"),
                        help="leaderboard format (default: md)")
    parser.add_argument("--num-workers", type=int, default=2, help="data-loading threads (default 2)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: the recorded golden numbers are for 1 thread)")


def supported_benchmarks(model: str, pattern: str) -> tuple[list[str], list[tuple[str, str]]]:
    """``(benchmarks of the model's tasks, [(benchmark, reason) skipped])``."""
    from .registry import task_pairs

    run, skipped = task_pairs(model, pattern)
    return [b.id for _, b in run], [(b.id, f"{model} has no {b.task} task") for _, b in skipped]


def main(args: argparse.Namespace) -> int:
    from .reports.cli import add_arguments as report_arguments
    from .reports.cli import render
    from .reports.summary import headline_text, metric_of
    from .runner import RunConfig, run_evaluation

    from .registry import task_pairs

    t0 = time.perf_counter()
    runs = Path(args.runs_root)
    dirs = []
    pairs, skipped = task_pairs(args.model, args.benchmark)
    for m, b in skipped:
        print(f"skip {m.id} on {b.id}: {m.id} has no {b.task} task", file=sys.stderr)
    for m, b in pairs:
        cfg = RunConfig(model=m.id, benchmark=b.id, runs_root=str(runs), limit=args.limit,
                        num_workers=args.num_workers, threads=args.threads, quiet=True)
        res = run_evaluation(cfg)
        dirs.append(str(res.run_dir))
        print(f"{m.id} on {b.id}: {res.status}  {headline_text(metric_of(res.run_dir, b.id), res.metrics)}  "
              f"{res.run_dir}", file=sys.stderr)
    if not dirs:
        from .errors import EvalkitError

        raise EvalkitError(f"none of the models {args.model!r} supports a task of the benchmarks {args.benchmark!r}")
    parser = argparse.ArgumentParser()
    report_arguments(parser)
    text, _ = render(parser.parse_args([*dirs, "--format", args.format]))
    print(text)
    print(f"{len(dirs)} runs in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":  # python -m evalkit.demo
    p = argparse.ArgumentParser(prog="python -m evalkit.demo", description=__doc__)
    add_arguments(p)
    sys.exit(main(p.parse_args()))
