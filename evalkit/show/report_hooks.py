"""``evalkit report RUN... --gallery [DIR]`` and ``--tide``: the two report modes of
:mod:`evalkit.show`, reached from the leaderboard command's options."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import EvalkitError

__all__ = ["main_gallery_or_tide"]


def _run_dirs(paths: list[str]) -> list[Path]:
    """Run directories (holding ``run.json``) given or found below the given folders."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "run.json").is_file():
            out.append(p)
        elif p.is_dir():
            out += sorted(q.parent for q in p.rglob("run.json"))
        else:
            raise EvalkitError(f"{p}: not a run directory nor a folder holding runs")
    if not out:
        raise EvalkitError(f"no run directory (with a run.json) in {', '.join(paths)}")
    return out


def main_gallery_or_tide(args: argparse.Namespace) -> int:
    try:
        runs = _run_dirs(args.runs)
        if args.gallery_workers < 1:
            raise EvalkitError("--gallery-workers must be >= 1")
        if args.tide:
            from .tide_report import TIDE_METRICS, emit, report, run_metric

            coco = [r for r in runs if run_metric(r) in TIDE_METRICS]
            for r in runs:
                if r not in coco:
                    print(f"tide: skip {r} (scored with {run_metric(r)!r}, not {' or '.join(TIDE_METRICS)})",
                          file=sys.stderr)
            if not coco:
                raise EvalkitError(f"no detection / instance-segmentation run (scored with "
                                   f"{' or '.join(TIDE_METRICS)}) in {', '.join(args.runs)}")
            emit(report([str(r) for r in coco]), args.out)
        if args.gallery is not None:
            from .gallery import write_gallery

            for r in runs:
                out = None  # RUN/gallery; with DIR and several runs: DIR/<benchmark>/<model>/<time>/
                if args.gallery:
                    out = Path(args.gallery, *r.resolve().parts[-3:]) if len(runs) > 1 else Path(args.gallery)
                print(f"wrote {write_gallery(r, out, workers=args.gallery_workers)}", file=sys.stderr)
    except EvalkitError as e:
        if getattr(args, "debug", False):
            raise
        print(f"evalkit report: error: {e}", file=sys.stderr)
        return e.exit_code
    return 0
