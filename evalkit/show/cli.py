"""``evalkit show RUN [--sample ID]... [--out DIR] [--gt beside|overlay|none] [--video webp|mp4]``.

Draws a run's stored predictions over the frames of its benchmark (boxes, masks, category
names, scores, track ids in colours that follow the track), with the ground truth beside or
overlaid; writes ``<id>.png`` per image, ``<id>.webp`` (or ``.mp4``) and ``<id>_strip.png``
per video, into ``RUN/show/`` unless ``--out`` says otherwise.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import EvalkitError

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .render import GT_MODES

    parser.add_argument("run", metavar="RUN", help="a run directory (runs/<benchmark>/<model>/<time>/)")
    parser.add_argument("--sample", "-s", action="append", metavar="ID",
                        help="sample id(s) to draw (comma-separated, repeatable; default: the first --limit)")
    parser.add_argument("--limit", "-L", type=int, default=16,
                        help="without --sample: draw N samples, worst first by the run's breakdown.json "
                             "(else in the split's order; 0: all; default 16)")
    parser.add_argument("--out", "-o", metavar="DIR", help="output folder (default: RUN/show/)")
    parser.add_argument("--gt", choices=GT_MODES, default="beside",
                        help="ground truth in a panel beside the prediction, overlaid as dashed outlines, or none")
    parser.add_argument("--score-thresh", type=float, default=0.3,
                        help="draw predictions scoring at least this (default 0.3)")
    parser.add_argument("--max-instances", type=int, default=30, help="at most this many per frame (default 30)")
    parser.add_argument("--video", choices=("webp", "mp4"), default="webp",
                        help="animation format for videos (mp4 needs the viz extra: PyAV)")
    parser.add_argument("--fps", type=float, default=4.0, help="frames per second of the animation (default 4)")
    parser.add_argument("--data-root", help="dataset root, when it moved since the run")


def _sample_ids(args, view) -> list[str]:
    """``--sample`` ids as given; else the first ``--limit`` samples, worst first when the run
    has per-sample scores (``breakdown.json``), else in the split's order."""
    from .breakdown import sample_scores, worst_first

    if args.sample:
        return [s.strip() for group in args.sample for s in group.split(",") if s.strip()]
    if args.limit < 0:
        raise EvalkitError("--limit must be >= 0")
    scores = sample_scores(view.run_dir)
    order = worst_first(view.order, scores)
    if scores.values is not None:
        print(f"samples {scores.note}", file=sys.stderr)
    return order if args.limit == 0 else order[:args.limit]


def main(args: argparse.Namespace) -> int:
    from .render import open_run, write_sample

    try:
        if args.max_instances < 1 or args.fps <= 0:
            raise EvalkitError("--max-instances must be >= 1 and --fps > 0")
        view = open_run(args.run, args.data_root)
        out = Path(args.out) if args.out else Path(args.run) / "show"
        ids = _sample_ids(args, view)
        for sid in ids:
            for p in write_sample(view, sid, out, video=args.video, fps=args.fps, gt_mode=args.gt,
                                  score_thresh=args.score_thresh, max_instances=args.max_instances):
                print(f"wrote {p}", file=sys.stderr)
        if not args.sample and len(ids) < len(view.order):
            print(f"drew {len(ids)} of {len(view.order)} samples (--limit 0 draws all, --sample ID picks one)",
                  file=sys.stderr)
    except EvalkitError as e:
        if getattr(args, "debug", False):
            raise
        print(f"evalkit show: error: {e}", file=sys.stderr)
        return e.exit_code
    return 0
