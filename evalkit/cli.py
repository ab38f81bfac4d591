"""The ``evalkit`` command line.

    evalkit run --model uninext-r50 --benchmark davis17-val [--resume] [--limit N] ...
    evalkit score --metric coco-bbox --gt GT.json --results RES.json [--set k=v] [--json]
    evalkit score --run RUN_DIR
    evalkit ls models|benchmarks|metrics [PATTERN] [--json]
    evalkit validate --benchmark ID [--data-root DIR]
    evalkit doctor [--json]
    evalkit download -m ID               (weights prefetch)
    evalkit data ls | get DATASET [--root DIR]
    evalkit compare RUN_A RUN_B          (per-sample deltas, paired bootstrap CIs)
    evalkit report RUN_OR_DIR...         (leaderboards; --gallery, --tide)
    evalkit show RUN [--sample ID]       (prediction overlays)
    evalkit tide RUN                     (TIDE error analysis)

User errors (bad names, broken data, bad files) print one line and exit 2; ``--debug`` shows
the traceback. This module imports nothing heavy at import time: ``evalkit ls`` never imports
torch.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import sys
from typing import Any, Callable

from . import __version__
from .errors import EvalkitError, storage_error

# Subcommands implemented in their own modules: (module, help). Each module provides
# ``add_arguments(parser)`` and ``main(args) -> int``.
_EXTERNAL = {
    "download": ("evalkit.cli_download", "prefetch a model's weights (for offline machines)"),
    "data": ("evalkit.cli_data", "list the datasets, download and verify one (evalkit data get ID)"),
    "report": ("evalkit.reports.cli", "render paper-style leaderboards from run directories"),
    "compare": ("evalkit.reports.compare", "compare two runs: per-sample deltas, paired bootstrap CIs"),
    "demo": ("evalkit.demo", "evaluate the bundled tiny models on the synthetic shapes suite"),
    "train": ("evalkit.train.loop", "train a tiny model on the shapes suite (reproduces the shipped one)"),
    "show": ("evalkit.show.cli", "draw a run's predictions over its frames, beside the ground truth"),
    "tide": ("evalkit.show.tide_report", "TIDE error analysis of a detection / instance-segmentation run"),
}


def _kv_pairs(items: list[str] | None, flag: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` → ``{"a": 1, "b": "x"}`` (values parsed as JSON when possible)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise EvalkitError(f"{flag} expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


# ------------------------------------------------------------------------------------------
# run
# ------------------------------------------------------------------------------------------
def _add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", required=True,
                   help="model id, tag or pattern (see `evalkit ls models`), or your own model's factory: "
                        "path/to/file.py:make_adapter or package.module:factory (docs/your-model.md)")
    p.add_argument("--benchmark", "-b", required=True,
                   help="benchmark id, group or pattern (see `evalkit ls benchmarks`)")
    p.add_argument("--data-root", help="folder holding the datasets (default: $EVALKIT_DATA or ./datasets)")
    p.add_argument("--output-dir", "-o", help="run directory (default runs/<benchmark>/<model>/<timestamp>/)")
    p.add_argument("--runs-root", default="runs", help="where default run directories go (default: runs)")
    p.add_argument("--mode", choices=("all", "infer", "score"), default="all",
                   help="infer: predictions + result files; score: re-score a run's store; all: both")
    p.add_argument("--limit", "-L", type=int, help="only the first N samples (the run is marked partial)")
    p.add_argument("--samples", metavar="IDS|@FILE",
                   help="only these sample ids: comma-separated, or @FILE / a file with one id per line "
                        "(scored against their ground truth only; the run is marked partial)")
    p.add_argument("--resume", nargs="?", const="latest", default=None, metavar="RUN_DIR",
                   help="continue a run (default: the newest run of this model and benchmark)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (default cpu)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: half the usable CPUs, at most 8; see bench/threads.py)")
    p.add_argument("--num-workers", type=int, default=2, help="data-loading threads (default 2)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds python, numpy and torch before the model is built (default 0)")
    p.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                   help="skip: record a failing sample, count it and go on")
    p.add_argument("--weights", help="local official checkpoint instead of the model card's sources")
    p.add_argument("--model-arg", "-a", action="append", metavar="KEY=VALUE",
                   help="adapter option (repeatable), e.g. -a score_thresh=0.3")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="autocast dtype of the networks; the official float32 islands and all "
                        "post-processing stay float32 (default float32: no autocast)")
    p.add_argument("--dist-timeout", type=float, default=1800.0,
                   help="seconds a rank waits for the others before failing (distributed runs)")


def _cmd_run(args: argparse.Namespace) -> int:
    from .registry import task_pairs
    from .runner import RunConfig, run_evaluation

    pairs, skipped = task_pairs(args.model, args.benchmark)
    if args.output_dir and len(pairs) + len(skipped) > 1:
        raise EvalkitError("--output-dir names one run; it cannot be used with several models/benchmarks")
    if len(pairs) + len(skipped) == 1:
        pairs = pairs + skipped  # one explicit pair: the adapter says why it cannot run it
    else:
        # several pairs (groups, patterns): skip those whose task the model's card does not list
        for m, b in skipped:
            print(f"skip {m.id} on {b.id}: {m.id} has no {b.task} task", file=sys.stderr)
        if not pairs:
            raise EvalkitError(f"none of the models {args.model!r} has a task of the benchmarks {args.benchmark!r}")
    results = []
    for model_entry, bench_entry in pairs:
        model, bench = model_entry.id, bench_entry.id
        cfg = RunConfig(
            model=model, benchmark=bench, data_root=args.data_root, output_dir=args.output_dir,
            runs_root=args.runs_root, mode=args.mode, limit=args.limit, samples=args.samples,
            resume=args.resume if args.resume != "latest" else True, device=args.device,
            threads=args.threads, num_workers=args.num_workers, seed=args.seed,
            on_error=args.on_error, quiet=args.quiet, weights=args.weights,
            model_options=_kv_pairs(args.model_arg, "--model-arg"),
            dist_timeout_s=args.dist_timeout, dtype=args.dtype,
        )
        res = run_evaluation(cfg, argv=sys.argv)
        results.append((model, bench, res))
    if int(os.environ.get("RANK", "0")) == 0:
        _print_results(results, args.quiet)
    return 0


def _print_results(results, quiet: bool) -> None:
    if quiet:
        for model, bench, res in results:
            print(json.dumps({"model": model, "benchmark": bench, "status": res.status,
                              "run_dir": str(res.run_dir), "metrics": res.metrics}))
        return
    from .reports.summary import print_summary

    print_summary(results)  # headline metrics in the papers' scale, full run directories


# ------------------------------------------------------------------------------------------
# score
# ------------------------------------------------------------------------------------------
def _add_score(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metric", help="metric id (see `evalkit ls metrics`)")
    p.add_argument("--gt", help="ground truth, official format (file or folder)")
    p.add_argument("--results", help="results, official format (file or folder)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="metric option (repeatable)")
    p.add_argument("--run", help="re-score a run directory from its results/")
    p.add_argument("--json", action="store_true", help="print only the JSON object")


def _cmd_score(args: argparse.Namespace) -> int:
    from .api import score

    if args.run:
        out = score(run=args.run)
    else:
        out = score(args.metric, args.gt, args.results, **_kv_pairs(args.set, "--set"))
    print(json.dumps(out, indent=None if args.json else 2, default=float))
    return 0


# ------------------------------------------------------------------------------------------
# ls / validate / doctor
# ------------------------------------------------------------------------------------------
def _add_ls(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=("models", "benchmarks", "metrics"))
    p.add_argument("pattern", nargs="?", help="id, tag, group or fnmatch pattern ('ref*')")
    p.add_argument("--json", action="store_true")


def _cmd_ls(args: argparse.Namespace) -> int:
    from .registry import BENCHMARKS, METRICS, MODELS

    reg = {"models": MODELS, "benchmarks": BENCHMARKS, "metrics": METRICS}[args.kind]
    entries = reg.select(args.pattern) if args.pattern else reg.select()
    status: Callable[[str], str] | None = None
    if args.kind == "models":
        try:
            status = importlib.import_module("evalkit.cli_download").model_status
        except (ImportError, AttributeError):
            status = None
    rows = []
    for e in entries:
        d = e.to_json()
        d["groups"] = [g for g, members in reg.groups().items() if e.id in members]
        if status is not None:
            try:
                d["status"] = status(e.id)
            except EvalkitError:  # a plugin model without a card
                d["status"] = "-"
        rows.append(d)
    if args.json:
        out = {"kind": args.kind, "entries": rows}
        if not args.pattern:
            out["groups"] = {g: list(m) for g, m in reg.groups().items()}
        print(json.dumps(out, indent=2, default=str))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"evalkit {args.kind} ({len(rows)})")
    cols = {"models": ["id", "family", "stage", "tasks", "weights"],
            "benchmarks": ["id", "task", "metric", "scored", "groups"],
            "metrics": ["id", "task", "reports", "inputs"]}[args.kind]
    for c in cols:
        table.add_column(c, overflow="fold")
    for d in rows:
        meta = d.get("meta", {})
        if args.kind == "metrics":
            table.add_row(d["id"], d["task"] or "", ", ".join(meta.get("reports", [])[:8]), meta.get("inputs", ""))
        elif args.kind == "models":
            table.add_row(d["id"], str(meta.get("family", "")), str(meta.get("stage", "")),
                          ", ".join(meta.get("tasks", [])) or (d["task"] or ""), d.get("status", "-"))
        else:
            table.add_row(d["id"], d["task"] or "", str(meta.get("metric") or "-"),
                          "server" if meta.get("server") else "local", ", ".join(d["groups"] or d["tags"]))
    Console().print(table)
    if not args.pattern and reg.groups():
        Console().print("groups: " + ", ".join(f"{g} ({len(m)})" for g, m in reg.groups().items()))
    return 0


def _add_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--benchmark", "-b", required=True, help="benchmark id, group or pattern")
    p.add_argument("--data-root", help="folder holding the datasets")


def _cmd_validate(args: argparse.Namespace) -> int:
    from .benchmarks.base import build_benchmark
    from .benchmarks._common import thorough_validation
    from .datasets import validate_with_hint
    from .registry import BENCHMARKS

    bad = 0
    for e in BENCHMARKS.select(args.benchmark):
        bench = build_benchmark(e.id, args.data_root)
        try:
            with thorough_validation():  # every frame's size against the annotations
                validate_with_hint(bench, e.id, args.data_root)
            n = len(bench.sample_ids())
            print(f"ok      {e.id}: {n} samples in {bench.root}")
        except EvalkitError as err:
            bad += 1
            print(f"FAILED  {e.id}: {err}")
    return 1 if bad else 0


def _add_doctor(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the checks as one JSON object")
    p.add_argument("--data-root", help="folder holding the datasets (default: $EVALKIT_DATA or ./datasets)")
    p.add_argument("--no-probe", action="store_true", help="skip the network probe")


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import render, run_checks

    info = run_checks(args.data_root, probe=not args.no_probe)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        render(info)
    return 1 if info["problems"] else 0


# ------------------------------------------------------------------------------------------
# entry point
# ------------------------------------------------------------------------------------------
def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. External subcommands are imported only when ``command`` names them
    (so ``evalkit ls`` never imports the training or demo code, nor torch)."""
    def common_flags(default):
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument("--quiet", "-q", action="store_true", default=default,
                       help="no progress bars or banners")
        p.add_argument("--debug", action="store_true", default=default, help="show tracebacks")
        return p

    # the flags are accepted before and after the subcommand; SUPPRESS keeps the subparser
    # from resetting a flag given before it
    common = common_flags(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="evalkit", parents=[common_flags(False)],
        description="Evaluation harness and model zoo for universal instance perception models.",
    )
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, adder, fn, help_ in (
        ("run", _add_run, _cmd_run, "evaluate models on benchmarks"),
        ("score", _add_score, _cmd_score, "score official-format results with a metric"),
        ("ls", _add_ls, _cmd_ls, "list models, benchmarks or metrics"),
        ("validate", _add_validate, _cmd_validate, "check a dataset's files on disk"),
        ("doctor", _add_doctor, _cmd_doctor, "checklist: torch/CUDA/Triton, datasets, weights, network"),
    ):
        p = sub.add_parser(name, help=help_, parents=[common])
        adder(p)
        p.set_defaults(func=fn)
    for name, (module, help_) in _EXTERNAL.items():
        p = sub.add_parser(name, help=help_, parents=[common])
        if name != command:
            continue
        try:
            mod = importlib.import_module(module)
        except ImportError:
            p.set_defaults(func=_unavailable(name))
            continue
        mod.add_arguments(p)
        p.set_defaults(func=mod.main)
    return parser


def _unavailable(name: str) -> Callable[[argparse.Namespace], int]:
    def fn(args: argparse.Namespace) -> int:
        raise EvalkitError(f"`evalkit {name}` is not available in this installation")

    return fn


class Terminated(KeyboardInterrupt):
    """SIGTERM / SIGHUP (a scheduler's or a closed terminal's stop) raised like Ctrl-C, so the
    same clean-up runs: the store is fsync'ed per sample, the shard is closed and the message
    says how to resume."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_as_interrupts():
    """SIGTERM and SIGHUP handled like SIGINT for the duration of a command (main thread
    only: Python delivers signals there; old handlers are restored after)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum, frame):
        raise Terminated(signum)

    old = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            old[sig] = signal.signal(sig, raise_terminated)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    try:
        with _signals_as_interrupts():
            return int(args.func(args) or 0)
    except EvalkitError as e:
        if args.debug:
            raise
        print(f"evalkit: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        print(f"evalkit: {how} (finished samples are kept; continue with --resume)", file=sys.stderr)
        return 128 + int(signum)
    except OSError as e:
        user = storage_error(e)
        if user is None or args.debug:
            raise
        print(f"evalkit: error: {user}", file=sys.stderr)
        return user.exit_code
    except Exception as e:  # noqa: BLE001 - bugs: short message, traceback with --debug
        if args.debug:
            raise
        print(f"evalkit: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
