"""``evalkit compare RUN_A RUN_B``: per-sample deltas, the worst regressions, and a paired
bootstrap 95% interval on each headline metric, from the two runs' ``breakdown.json``.

The resampling unit is the one the breakdown rebuilds the metric from (``aggregates`` in
``docs/breakdown.md``): the expression for RefCOCO, the sequence for DAVIS / SOT, the
image (COCO) or video (YouTube-VIS) for AP, re-accumulated per replicate from the stored
matching state, else the category (LVIS, the pycocotools backend; ``docs/breakdown.md``).
B − A is reported; "within noise" means the interval contains 0.

    evalkit compare runs/shapes-davis/uninext-tiny/20260101-000000 runs/shapes-davis/uniref-pp-tiny/...
    evalkit compare A B --format json --seed 1 --resamples 5000 --top 20
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..breakdown import aggregate, load_breakdown, unit_values, value_of
from ..errors import EvalkitError
from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, paired_bootstrap

__all__ = ["compare_runs", "render_compare", "unit_count", "add_arguments", "main"]

FORMATS = ("table", "md", "json")


def _direction(metric: str, key: str) -> bool:
    """True when higher is better for ``key`` of ``metric`` (``keys.csv``; unknown: higher)."""
    from ..metrics.keys import lookup

    row = lookup(metric, key)
    return True if row is None or row.higher_is_better is None else row.higher_is_better


def _check_pair(a: dict, b: dict) -> None:
    for field in ("benchmark", "metric"):
        if a[field] != b[field]:
            raise EvalkitError(f"compare needs two runs of the same benchmark and metric: {a['path']} has "
                               f"{field} {a[field]!r}, {b['path']} has {b[field]!r}")


def compare_runs(run_a: str | Path, run_b: str | Path, *, seed: int = DEFAULT_SEED,
                 resamples: int = DEFAULT_RESAMPLES, top: int = 10, shared_only: bool = False,
                 level: float = 0.95, ap_unit: str = "auto") -> dict[str, Any]:
    """Compare run B against run A (run directories or their ``breakdown.json``).

    Returns a JSON-able dict: ``samples`` (every shared sample: ``id``, ``a``, ``b``, ``delta``
    of the breakdown's ``score_key``, in id order), ``regressions`` (up to ``top`` samples
    whose score moved in the worse direction, worst first), ``metrics`` (per headline key:
    ``a``, ``b``, ``delta`` = B − A, the paired bootstrap ``low``/``high``, ``within_noise``,
    ``verdict``, the resampled ``unit`` and their count). AP keys resample images where both
    runs stored the matching state (``ap_unit="image"``; ``"auto"``, the default, only while
    that costs about a minute at most, :data:`AUTO_IMAGE_BUDGET`), else categories.

    Raises:
        EvalkitError: a missing breakdown, different benchmarks or metrics, no shared sample,
            or (without ``shared_only``) runs over different samples.
    """
    if resamples < 100:
        raise EvalkitError(f"--resamples must be at least 100, got {resamples}")
    if top < 0:
        raise EvalkitError(f"--top must be >= 0, got {top}")
    if ap_unit not in ("auto", "image", "category"):
        raise EvalkitError(f"--ap-unit must be auto, image or category, got {ap_unit!r}")
    a, b = load_breakdown(run_a), load_breakdown(run_b)
    _check_pair(a, b)
    ids_a, ids_b = set(a["samples"]), set(b["samples"])
    shared = sorted(ids_a & ids_b, key=_natural)
    if (ids_a or ids_b) and not shared:
        raise EvalkitError(f"{a['path']} and {b['path']} share no sample ({len(ids_a)} and {len(ids_b)} "
                           f"samples of {a['benchmark']})")
    only_a, only_b = sorted(ids_a - ids_b, key=_natural), sorted(ids_b - ids_a, key=_natural)
    if (only_a or only_b) and not shared_only:
        first = (only_a or only_b)[0]
        raise EvalkitError(
            f"the runs cover different samples of {a['benchmark']}: {len(only_a)} only in A, {len(only_b)} only in B "
            f"(first: {first!r}); compare runs over the same selection, or pass --shared-only to compare the "
            f"{len(shared)} shared samples (category-level metrics are then left out: they were computed "
            f"over different images)")
    key = a.get("score_key") if a.get("score_key") == b.get("score_key") else None
    hib = bool(a["higher_is_better"])
    rows = []
    for sid in shared:
        va, vb = (a["samples"][sid].get(key), b["samples"][sid].get(key)) if key else (None, None)
        rows.append({"id": sid, "a": va, "b": vb, "delta": None if va is None or vb is None else vb - va})
    worse = [r for r in rows if r["delta"] is not None and (r["delta"] < 0 if hib else r["delta"] > 0)]
    worse.sort(key=lambda r: (r["delta"] if hib else -r["delta"], _natural(r["id"])))
    image_ap = {} if (only_a or only_b) or ap_unit == "category" else _image_ap(a, b, seed, resamples, level,
                                                                                  ap_unit == "auto")
    metrics = []
    for name, spec in a["aggregates"].items():
        if b["aggregates"].get(name) != spec:
            continue
        if spec["over"] == "categories" and (only_a or only_b):
            continue
        metrics.append(image_ap[name] if name in image_ap else
                       _metric_interval(a, b, name, spec, shared, seed, resamples, level))
    return {
        "benchmark": a["benchmark"], "metric": a["metric"], "unit": a["unit"],
        "run_a": {"path": str(Path(a["path"]).parent), "model": a.get("model")},
        "run_b": {"path": str(Path(b["path"]).parent), "model": b.get("model")},
        "score_key": key, "higher_is_better": hib,
        "shared": len(shared), "only_a": len(only_a), "only_b": len(only_b),
        "seed": seed, "resamples": resamples, "level": level,
        "metrics": metrics, "regressions": worse[:top], "samples": rows,
    }


#: ``--ap-unit auto`` resamples images while resamples x detections (both runs) stays below this:
#: the re-accumulation costs 2-3 us per detection and replicate on one CPU core
#: (``bench/compare_bootstrap.py``), so one to one and a half minutes; beyond it the category is the unit
AUTO_IMAGE_BUDGET = 30_000_000


def _image_ap(a: dict, b: dict, seed: int, resamples: int, level: float, auto: bool) -> dict[str, dict[str, Any]]:
    """AP / AP50 / AP75 intervals by resampling images, where both runs stored their matching
    state (the default COCO backend, YouTube-VIS) and, with ``auto``, the cost is within
    :data:`AUTO_IMAGE_BUDGET`; ``{}`` otherwise (the category unit is used)."""
    from ..breakdown import load_ap_state
    from .bootstrap import paired_image_ap

    sa, sb = load_ap_state(a), load_ap_state(b)
    if sa is None or sb is None or sorted(map(str, sa["units"])) != sorted(map(str, sb["units"])):
        return {}
    if auto and resamples * (sa["det_tp"].shape[1] + sb["det_tp"].shape[1]) > AUTO_IMAGE_BUDGET:
        return {}
    out = {}
    for key, ci in paired_image_ap(sa, sb, resamples=resamples, level=level, seed=seed).items():
        if key not in a["aggregates"]:
            continue
        va, vb = aggregate(a, key), aggregate(b, key)
        better = ci.low > 0 if _direction(a["metric"], key) else ci.high < 0
        num = lambda v: v if math.isfinite(v) else None  # noqa: E731 - JSON has no NaN
        out[key] = {"key": key, "unit": a["unit"], "n_units": len(sa["units"]), "a": num(va), "b": num(vb),
                    "delta": num(ci.delta), "low": num(ci.low), "high": num(ci.high), "within_noise": ci.within_noise,
                    "verdict": "within noise" if ci.within_noise else ("B better" if better else "B worse")}
    return out


def _metric_interval(a: dict, b: dict, name: str, spec: dict, shared: list[str], seed: int, resamples: int,
                     level: float) -> dict[str, Any]:
    ia, va = unit_values(a, spec)
    ib, vb = unit_values(b, spec)
    pa, pb = {u: i for i, u in enumerate(ia)}, {u: i for i, u in enumerate(ib)}
    pool = shared if spec["over"] == "samples" else sorted(set(pa) | set(pb), key=_natural)
    units = [u for u in pool if u in pa and u in pb]  # paired: defined in both runs
    out: dict[str, Any] = {"key": name, "unit": a["unit"] if spec["over"] == "samples" else "category",
                           "n_units": len(units)}
    if not units:
        return {**out, "a": None, "b": None, "delta": None, "low": None, "high": None, "within_noise": None,
                "verdict": "no paired units"}
    xa, xb = va[[pa[u] for u in units]], vb[[pb[u] for u in units]]
    scale = float(spec.get("scale", 1.0))
    ci = paired_bootstrap(xa, xb, scale=scale, resamples=resamples, level=level, seed=seed)
    xa, xb = value_of(xa, scale), value_of(xb, scale)
    better = ci.low > 0 if _direction(a["metric"], name) else ci.high < 0
    verdict = "within noise" if ci.within_noise else ("B better" if better else "B worse")
    num = lambda v: v if math.isfinite(v) else None  # noqa: E731 - JSON has no NaN
    return {**out, "a": num(xa), "b": num(xb), "delta": num(ci.delta), "low": num(ci.low), "high": num(ci.high),
            "within_noise": ci.within_noise, "verdict": verdict}


def _natural(s: str) -> tuple:
    """Numeric ids in numeric order (COCO image ids), others as text."""
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


def _fmt(v: Any, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:+.4f}" if signed else f"{v:.4f}"


def unit_count(m: dict) -> str:
    """``'12 sequences'``: how many units an interval resampled (``m``: one of ``metrics``)."""
    plural = {"category": "categories"}.get(m["unit"], m["unit"] + "s")
    return f"{m['n_units']} {m['unit'] if m['n_units'] == 1 else plural}"


def _metric_rows(c: dict) -> list[list[str]]:
    return [[m["key"], _fmt(m["a"]), _fmt(m["b"]), _fmt(m["delta"], True),
             f"[{_fmt(m['low'], True)}, {_fmt(m['high'], True)}]", m["verdict"], unit_count(m)]
            for m in c["metrics"]]


_METRIC_HEAD = ["metric", "A", "B", "B − A", "95% CI (paired bootstrap)", "verdict", "units"]
_SAMPLE_HEAD = ["sample", "A", "B", "B − A"]


def render_compare(c: dict, fmt: str = "table") -> str:
    """The comparison as ``json``, Markdown (``md``) or a rich terminal table (``table``)."""
    if fmt == "json":
        return json.dumps(c, indent=2, allow_nan=False, default=str) + "\n"
    title = (f"{c['benchmark']} ({c['metric']}): B = {c['run_b']['model']} vs A = {c['run_a']['model']}, "
             f"{c['shared']} shared samples; {c['resamples']} resamples, seed {c['seed']}")
    regress = [[r["id"], _fmt(r["a"]), _fmt(r["b"]), _fmt(r["delta"], True)] for r in c["regressions"]]
    reg_title = (f"samples that regressed most ({c['score_key']}, "
                 f"{'higher' if c['higher_is_better'] else 'lower'} is better)")
    if fmt == "md":
        def md(head, body):
            return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                             + ["| " + " | ".join(r) + " |" for r in body])
        parts = [f"### {title}", "", md(_METRIC_HEAD, _metric_rows(c)), ""]
        if c["score_key"]:
            parts += [f"#### {reg_title}", "", md(_SAMPLE_HEAD, regress) if regress else "none", ""]
        return "\n".join(parts)
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    buf = StringIO()
    con = Console(file=buf, width=120, force_terminal=False)
    t = Table(title=title)
    for h in _METRIC_HEAD:
        t.add_column(h)
    for r in _metric_rows(c):
        t.add_row(*r)
    con.print(t)
    if c["score_key"]:
        t = Table(title=reg_title)
        for h in _SAMPLE_HEAD:
            t.add_column(h)
        for r in regress:
            t.add_row(*r)
        con.print(t if regress else f"{reg_title}: none")
    return buf.getvalue()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", metavar="RUN_A", help="baseline run directory (holding breakdown.json)")
    parser.add_argument("run_b", metavar="RUN_B", help="run directory compared against it (B − A)")
    parser.add_argument("--format", "-f", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"bootstrap seed (default: {DEFAULT_SEED})")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                        help=f"bootstrap replicates (default: {DEFAULT_RESAMPLES})")
    parser.add_argument("--top", type=int, default=10, help="regressed samples listed (default: 10)")
    parser.add_argument("--ap-unit", choices=("auto", "image", "category"), default="auto",
                        help="AP metrics: resample images and re-accumulate AP (image; where the runs stored the "
                             "matching state) or resample categories (category, fast); auto: images while "
                             "resamples x detections stays within about a minute of work (default)")
    parser.add_argument("--shared-only", action="store_true",
                        help="compare the shared samples of runs over different selections")
    parser.add_argument("--out", "-o", metavar="FILE", help="write to FILE instead of standard output")


def main(args: argparse.Namespace) -> int:
    try:
        c = compare_runs(args.run_a, args.run_b, seed=args.seed, resamples=args.resamples, top=args.top,
                         shared_only=args.shared_only, ap_unit=args.ap_unit)
    except EvalkitError as e:
        if getattr(args, "debug", False):
            raise
        print(f"evalkit compare: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
    text = render_compare(c, args.format)
    if args.out:
        from ..fileio import atomic_write_text

        atomic_write_text(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
