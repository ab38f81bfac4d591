"""``evalkit tide RUN... [--json] [--out FILE]`` (also ``evalkit report RUN --tide``): the TIDE
error decomposition (:mod:`evalkit.metrics.tide`) of detection / instance-segmentation runs.

A run's official results file and its ground truth are the ones its metric scored: the
benchmark's :meth:`results_path` inside ``RUN/results`` and its :meth:`gt_path`, restricted to
the run's samples for a partial run (:meth:`subset_gt`, written to a temporary folder so the
run directory is left as it is).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ..errors import EvalkitError

__all__ = ["add_arguments", "main", "emit", "run_tide", "run_metric", "render_markdown", "TIDE_METRICS"]

#: metric id -> TIDE mode; the metrics that score COCO-format results against a COCO ground truth
TIDE_METRICS = {"coco-bbox": "bbox", "coco-segm": "segm"}


def _read(path: Path) -> dict:
    """A run's ``metrics.json`` / ``run.json``, through the reader ``evalkit show`` opens runs with."""
    from .render import _read_json

    return _read_json(path, "metrics record" if path.name == "metrics.json" else "run record")


def run_metric(run_dir) -> str | None:
    """The metric id a run was scored with (``metrics.json``)."""
    return _read(Path(run_dir) / "metrics.json").get("metric")


def run_tide(run_dir, data_root=None):
    """:class:`~evalkit.metrics.tide.TideResult` of one run directory."""
    from ..benchmarks.base import build_benchmark
    from ..metrics.tide import tide

    run_dir = Path(run_dir)
    metrics = _read(run_dir / "metrics.json")
    metric = metrics.get("metric")
    if metric not in TIDE_METRICS:
        raise EvalkitError(f"{run_dir}: TIDE analyses detection / instance-segmentation runs scored with "
                           f"{' or '.join(TIDE_METRICS)}; this run is scored with {metric!r}")
    cfg = _read(run_dir / "run.json").get("config") or {}
    bench = build_benchmark(metrics.get("benchmark") or cfg["benchmark"],
                            data_root if data_root is not None else cfg.get("data_root"))
    results_dir = run_dir / "results"
    results = bench.results_path(results_dir)
    if not Path(results).is_file():
        raise EvalkitError(f"{results}: the run's results file is missing (run `evalkit run --mode score "
                           f"--resume {run_dir}` to write it)")
    ids = (metrics.get("selection") or {}).get("ids")
    with tempfile.TemporaryDirectory(prefix="evalkit-tide-") as tmp:
        gt = bench.gt_path()
        if metrics.get("status") == "partial" and ids:
            gt, _ = bench.subset_gt(gt, [str(s) for s in ids], Path(tmp))
        return tide(gt, results, iou_type=TIDE_METRICS[metric])


def render_markdown(rows: list[tuple[str, object]]) -> str:
    """One Markdown table: a row per run (label, TideResult), AP50 then the dAP of each type."""
    from ..metrics.tide import MAIN_ERRORS, SPECIAL_ERRORS

    cols = ["run", "AP50"] + [f"{k} dAP" for k in MAIN_ERRORS + SPECIAL_ERRORS]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for label, r in rows:
        cells = [label, f"{r.ap:.2f}"] + [f"{r.dap[k]:.2f}" for k in MAIN_ERRORS + SPECIAL_ERRORS]
        lines.append("| " + " | ".join(cells) + " |")
    counts = ", ".join(f"{label}: " + " ".join(f"{k} {r.counts[k]}" for k in MAIN_ERRORS) for label, r in rows)
    return ("\n".join(lines) + "\n\nTIDE (Bolya et al., ECCV 2020), t_f = 0.5, t_b = 0.1; dAP = AP50 gained by "
            f"fixing every error of a type (percent points). Errors: {counts}.\n")


def run_label(run_dir: Path) -> str:
    """``benchmark/model/time`` of a run directory."""
    parts = Path(run_dir).resolve().parts
    return "/".join(parts[-3:])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run directories of coco-bbox / coco-segm runs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    parser.add_argument("--out", "-o", metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument("--data-root", help="dataset root, when it moved since the run")


def report(runs: list[str], data_root=None, as_json: bool = False) -> str:
    """The text ``evalkit tide`` prints for ``runs``."""
    rows = [(run_label(Path(r)), run_tide(r, data_root)) for r in runs]
    if as_json:
        return json.dumps({label: r.as_dict() for label, r in rows}, indent=2) + "\n"
    return render_markdown(rows)


def emit(text: str, out: str | None) -> None:
    """Write a report to ``out`` (and say so on stderr), or to stdout when ``out`` is empty."""
    if out:
        Path(out).write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def main(args: argparse.Namespace) -> int:
    try:
        text = report(args.runs, args.data_root, args.json)
    except EvalkitError as e:
        if getattr(args, "debug", False):
            raise
        print(f"evalkit tide: error: {e}", file=sys.stderr)
        return e.exit_code
    emit(text, args.out)
    return 0
