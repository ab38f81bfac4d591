"""Generates run directories in the runner's on-disk format for the report tests."""
from __future__ import annotations

import json
from pathlib import Path

SHA_A = "a" * 64
SHA_B = "b" * 64

# (benchmark, model, sha, task, metric id, metrics, scale, status, limit, samples, created)
RUNS = [
    ("davis17-val", "uninext-r50", SHA_A, "vos", "davis-semi",
     {"J&F": 0.7412, "J-Mean": 0.7101, "F-Mean": 0.7723}, "fraction", "complete", None, (30, 30, 0), "2026-11-20T10:00:00Z"),
    ("davis17-val", "uniref-pp-r50", SHA_B, "vos", "davis-semi",
     {"J&F": 0.8125, "J-Mean": 0.782, "F-Mean": 0.843}, "fraction", "complete", None, (30, 30, 0), "2026-11-20T10:00:00Z"),
    ("davis17-val", "glee-lite-vos", "c" * 64, "vos", "davis-semi",
     {"J&F": 0.60, "J-Mean": 0.58, "F-Mean": 0.62}, "fraction", "partial", 5, (30, 5, 0), "2026-11-20T11:00:00Z"),
    ("ytvos18-val", "uninext-r50", SHA_A, "vos", None, {}, "fraction", "server-pending", None, (474, 474, 0), "2026-11-20T12:00:00Z"),
    ("refcoco-val-rec", "uninext-r50", SHA_A, "rec", "refcoco-rec", {"P@0.5": 89.31}, "percent", "complete", None, (10834, 10834, 0), "2026-11-20T10:00:00Z"),
    ("refcoco-testA-rec", "uninext-r50", SHA_A, "rec", "refcoco-rec", {"P@0.5": 91.00}, "percent", "complete", None, (5657, 5657, 0), "2026-11-20T10:00:00Z"),
    ("bdd100k-box-track-val", "uninext-convnext-l", SHA_B, "mot", "bdd100k-box-track",
     {"mMOTA": 44.2, "mIDF1": 56.7, "MOTA": 67.1, "IDF1": 69.9, "IDSw": 10222}, "percent", "complete", None, (200, 200, 0), "2026-11-20T10:00:00Z"),
]


def write_run(root: Path, benchmark, model, sha, task, metric, metrics, scale, status, limit, samples, created, stamp="20261120-100000"):
    d = root / benchmark / model / stamp
    (d / "predictions").mkdir(parents=True)
    (d / "results").mkdir()
    total, done, failed = samples
    (d / "metrics.json").write_text(json.dumps({
        "schema": 1, "benchmark": benchmark, "model": model, "task": task, "metric": metric,
        "metrics": metrics, "scale": scale, "status": status, "limit": limit,
        "samples": {"total": total, "done": done, "failed": failed}, "weights_sha256": sha,
        "created": created,
    }))
    (d / "run.json").write_text(json.dumps({"weights_sha256": sha, "hardware": {"device": "cpu"},
                                            "timings": {"total_s": 12.5}, "config": {"limit": limit}}))
    (d / "log.txt").write_text("")
    return d


# A newer partial run of a (model, weights, benchmark) that also has a complete run: the
# complete one must be reported.
NEWER_PARTIAL = ("davis17-val", "uninext-r50", SHA_A, "vos", "davis-semi",
                 {"J&F": 0.30, "J-Mean": 0.29, "F-Mean": 0.31}, "fraction", "partial", 2, (30, 2, 0),
                 "2026-11-21T09:00:00Z")
# The same model with other weights: a row of its own.
OTHER_WEIGHTS = ("refcoco-val-rec", "uninext-r50", "d" * 64, "rec", "refcoco-rec", {"P@0.5": 75.0},
                 "percent", "complete", None, (10834, 10834, 0), "2026-11-20T10:00:00Z")


def make_runs(root: Path) -> Path:
    for spec in RUNS:
        write_run(root, *spec)
    write_run(root, *NEWER_PARTIAL, stamp="20261121-090000")
    write_run(root, *OTHER_WEIGHTS, stamp="20261120-110000")
    return root
