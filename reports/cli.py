"""``evalkit report RUN_OR_DIR... [--format md|latex|html|csv|model-index] [--paper] [--out FILE]``.

``--gallery [DIR]`` / ``--tide`` write each run's sample gallery / print its TIDE analysis
instead (``evalkit.show``).

Finds run directories (a run directory, or any folder below which they lie), keeps one run per
(model, weights sha256, benchmark) — complete before partial before server-pending, then the
newest — and renders paper-style leaderboards grouped by task family. ``--paper`` adds the
published number and Δ beside each of ours, flagging |Δ| beyond ``--tolerance`` (default 0.5
percent points; counts such as IDSw: ``--count-tolerance``, default 5 % relative).
"""
from __future__ import annotations

import argparse
import fnmatch
import sys
from pathlib import Path

from ..errors import EvalkitError
from .table import DEFAULT_COUNT_TOLERANCE, DEFAULT_TOLERANCE

__all__ = ["add_arguments", "main", "FORMATS"]

FORMATS = ("md", "latex", "html", "csv", "model-index")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN_OR_DIR",
                        help="run directories (holding metrics.json) or folders searched recursively for them")
    parser.add_argument("--format", "-f", choices=FORMATS, default="md", help="output format (default: md)")
    parser.add_argument("--paper", action="store_true",
                        help="add the published number and the difference (Δ = ours − paper) beside each of ours")
    parser.add_argument("--out", "-o", metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, metavar="POINTS",
                        help=f"flag |Δ| above this many percent points (default: {DEFAULT_TOLERANCE})")
    parser.add_argument("--count-tolerance", type=float, default=DEFAULT_COUNT_TOLERANCE, metavar="FRACTION",
                        help="flag count metrics (IDSw) whose relative |Δ| exceeds this "
                             f"(default: {DEFAULT_COUNT_TOLERANCE})")
    parser.add_argument("--decimals", type=int, default=1, help="decimals printed for scores (default: 1, as the papers)")
    parser.add_argument("--benchmark", "-b", action="append", metavar="PATTERN",
                        help="only these benchmark ids (comma-separated, fnmatch patterns allowed; repeatable)")
    parser.add_argument("--model", "-m", action="append", metavar="PATTERN",
                        help="only these model ids (comma-separated, fnmatch patterns allowed; repeatable)")
    parser.add_argument("--radar", metavar="STEM",
                        help="also write the task-level radar chart to STEM.png, STEM.svg and STEM.pdf")
    parser.add_argument("--title", default="evalkit leaderboard", help="title of the HTML report")
    parser.add_argument("--ci", action="append", metavar="BASELINE",
                        help="add a column 'Δ vs BASELINE [95%% CI]' beside each benchmark's headline metric: the "
                             "difference to the baseline run of that benchmark with its paired bootstrap interval, "
                             "as evalkit compare (a run directory or a folder of one run per benchmark; repeatable)")
    parser.add_argument("--ci-seed", type=int, default=None, metavar="N", help="bootstrap seed of --ci (default: 0)")
    parser.add_argument("--ci-resamples", type=int, default=None, metavar="N",
                        help="bootstrap replicates of --ci (default: 2000)")
    parser.add_argument("--gallery", nargs="?", const="", default=None, metavar="DIR",
                        help="instead of the leaderboard: write each run's sample gallery, worst first "
                             "(HTML with thumbnails; default RUN/gallery/)")
    parser.add_argument("--gallery-workers", type=int, default=1, metavar="N",
                        help="processes drawing the gallery's samples (default 1)")
    parser.add_argument("--tide", action="store_true",
                        help="instead of the leaderboard: the TIDE error analysis of each detection / "
                             "instance-segmentation run")


def _matches(value: str, patterns: list[str] | None) -> bool:
    if not patterns:
        return True
    flat = [p.strip() for ps in patterns for p in ps.split(",") if p.strip()]
    return any(fnmatch.fnmatchcase(value, p) for p in flat)


def render(args: argparse.Namespace) -> tuple[str, list]:
    """(document text, tables) for parsed arguments; raises EvalkitError on bad input."""
    from .render_text import render_csv, render_markdown
    from .rundirs import load_runs
    from .table import build_tables

    if args.tolerance < 0 or args.count_tolerance < 0:
        raise EvalkitError("--tolerance and --count-tolerance must be >= 0")
    if not 0 <= args.decimals <= 6:
        raise EvalkitError("--decimals must be between 0 and 6")
    runs = [r for r in load_runs(args.runs) if _matches(r.benchmark, args.benchmark) and _matches(r.model, args.model)]
    if not runs:
        raise EvalkitError(f"no run matches the --benchmark/--model filters in {', '.join(args.runs)}")
    tables = build_tables(runs, paper=args.paper, tolerance=args.tolerance,
                          count_tolerance=args.count_tolerance, decimals=args.decimals)
    if getattr(args, "ci", None):
        from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
        from .ci_column import add_ci_columns, load_baselines

        seed = DEFAULT_SEED if args.ci_seed is None else args.ci_seed
        resamples = DEFAULT_RESAMPLES if args.ci_resamples is None else args.ci_resamples
        add_ci_columns(tables, load_baselines(args.ci), seed=seed, resamples=resamples)
    fmt = args.format
    if fmt == "md":
        text = render_markdown(tables, args.decimals)
    elif fmt == "csv":
        text = render_csv(tables)
    elif fmt == "latex":
        from .render_latex import render_latex

        text = render_latex(tables, args.decimals)
    elif fmt == "html":
        from .render_html import render_html

        text = render_html(tables, runs, args.decimals, title=args.title)
    else:
        from .model_index import render_model_index

        text = render_model_index(tables, args.decimals)
    return text, tables


def main(args: argparse.Namespace) -> int:
    if args.gallery is not None or args.tide:
        from ..show.report_hooks import main_gallery_or_tide

        return main_gallery_or_tide(args)
    try:
        text, tables = render(args)
        if args.radar:
            from .radar import task_scores, write_radar

            if any(task_scores(tables).values()):
                for p in write_radar(tables, args.radar):
                    print(f"wrote {p}", file=sys.stderr)
            else:
                print("radar: no complete run with a headline metric; nothing drawn", file=sys.stderr)
    except EvalkitError as e:
        if getattr(args, "debug", False):  # the evalkit CLI's --debug: show the traceback
            raise
        print(f"evalkit report: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # python -m evalkit.reports.cli (the evalkit CLI wires the same functions)
    _p = argparse.ArgumentParser(prog="evalkit report", description=__doc__.split("\n\n")[0])
    add_arguments(_p)
    raise SystemExit(main(_p.parse_args()))
