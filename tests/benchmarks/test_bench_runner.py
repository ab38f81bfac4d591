"""End to end through the runner: a hidden test model that answers with the ground truth."""
from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest

from evalkit.adapters.base import Adapter
from evalkit.benchmarks.base import build_benchmark
from evalkit.registry import METRICS, MODELS
from evalkit.types import Categories, Expression, Frames, Prompt, Reference

from test_bench_splits import _oracle_preds

runner = pytest.importorskip("evalkit.runner")


def _key(frames: Frames, prompt: Prompt) -> str:
    """Content key of a request: the first frame's pixels, the frame count and the prompt."""
    h = hashlib.sha1(np.ascontiguousarray(frames[0]).tobytes())
    h.update(str(len(frames)).encode())
    if isinstance(prompt, Expression):
        h.update(prompt.text.encode())
    elif isinstance(prompt, Reference):
        for a in (prompt.boxes, prompt.masks, *(prompt.points or [])):
            if a is not None:
                h.update(np.ascontiguousarray(a).tobytes())
    elif isinstance(prompt, Categories):
        h.update(repr(prompt.ids).encode())
    return h.hexdigest()


class OracleAdapter(Adapter):
    """Returns the stored ground-truth predictions of the request it recognises."""

    def __init__(self, table: dict, tasks, *, device="cpu", weights=None, **options):
        super().__init__(device=device, weights=weights, **options)
        self.table = table
        self.tasks = frozenset(tasks)
        self.prompt_kinds = frozenset({"categories", "expression", "reference"})
        self.model_id = "test-oracle"

    def predict(self, frames, prompt):
        return self.table[_key(frames, prompt)]


def _register_oracle(bid, root, oracle) -> str:
    bench = build_benchmark(bid, root)
    table = {}
    for sid in bench.sample_ids():
        s = bench.load_sample(sid)
        table[_key(s.frames, s.prompt)] = _oracle_preds(bench, sid, s, oracle)
    mid = f"test-oracle-{bid}"
    MODELS.register(mid, lambda **kw: OracleAdapter(table, {bench.task}, **kw), hidden=True, overwrite=True)
    return mid


# every registered split of the papers (the synthetic shapes splits have their own tests)
_REG = __import__("evalkit.registry", fromlist=["BENCHMARKS"]).BENCHMARKS
RUNNER_SPLITS = [b for b in _REG.ids() if b not in _REG.groups().get("shapes", ())]


@pytest.mark.parametrize("bid", RUNNER_SPLITS)
def test_runner_end_to_end(bid, data, tmp_path):
    root, oracle = data
    bench = build_benchmark(bid, root)
    mid = _register_oracle(bid, root, oracle)
    res = runner.run_evaluation(runner.RunConfig(
        model=mid, benchmark=bid, data_root=str(root), output_dir=str(tmp_path / "run"), mode="all",
        limit=None, resume=False, device="cpu", seed=0, on_error="raise", quiet=True))
    results = res.run_dir / "results"
    assert bench.results_path(results).exists()
    record = json.loads((res.run_dir / "metrics.json").read_text())
    if bench.server:
        assert res.status == "server-pending" and res.metrics is None
        with zipfile.ZipFile(results / "submission.zip") as zf:
            assert zf.namelist()
        return
    assert res.status == "complete" and record["metric"] == bench.metric
    # run.json names the metric variant that ran: every option, defaults included
    run = json.loads((res.run_dir / "run.json").read_text())
    assert run["metric"]["id"] == bench.metric
    assert set(run["metric"]["options"]) >= set(bench.metric_options())
    if bench.metric == "sot" and run["metric"]["options"]["protocol"] in ("lasot", "lasot-ext", "tnl2k"):
        assert run["metric"]["options"]["variant"] == "uninext"
    if bench.metric == "burst":
        assert run["metric"]["options"]["exemplar_classes"] == "predicted"
    primary = METRICS.get(bench.metric).meta["primary"]
    if bench.metric.startswith("bdd100k"):
        # mMOTA averages over the 8 BDD classes and counts classes absent from the GT as 0
        # (as the official toolkit); the pooled MOTA is the one a perfect answer maxes out
        primary = "MOTA"
    if bench.metric == "sot":
        # AUC integrates success over IoU thresholds 0..1 with IoU > t, so even perfect boxes
        # score 20/21 (the threshold t = 1 is never passed); precision is the maximal one
        primary = "AO" if "AO" in res.metrics else "Precision"
    assert "NaN" not in (res.run_dir / "metrics.json").read_text()
    top = 100.0 if METRICS.get(bench.metric).meta.get("scale") == "percent" else 1.0
    assert res.metrics[primary] == pytest.approx(top), res.metrics
    # every locally scored split writes breakdown.json, whose aggregates rebuild the headline
    from evalkit.breakdown import aggregate, load_breakdown

    bd = load_breakdown(res.run_dir)
    assert bd["metric"] == bench.metric and (bd["samples"] or bd["categories"])
    ids = set(bench.sample_ids())
    if bench.metric == "ref-davis":  # the unit is the sequence, the samples <video>/<expression>
        ids = {i.rsplit("/", 1)[0] for i in ids}
    if bench.task != "interactive":  # interactive COCO: samples <image>-<annotation>, the unit the image
        assert set(bd["samples"]) <= ids, sorted(set(bd["samples"]) - ids)[:3]
    for key in bd["aggregates"]:
        tol = 1e-4 if bench.metric == "sot" else 1e-9  # pytracking-style curves are float32
        assert aggregate(bd, key) == pytest.approx(res.metrics[key], abs=tol, nan_ok=True), key


def test_server_submission_layouts(data, tmp_path):
    """The upload archives hold exactly the layout each server expects."""
    root, oracle = data
    for bid, check in {
        "ytvos18-val": lambda n: n.startswith("Annotations/") and n.count("/") == 2 and n.endswith(".png"),
        "mose-val": lambda n: n.split("/")[:2] in (["Annotations", "00a3b6a2"], ["Annotations", "00b1d4c7"])
        and n.count("/") == 2 and n.endswith(".png"),
        "ref-ytvos-val": lambda n: n.count("/") == 3 and n.startswith("Annotations/"),
        "ytvis19-val": lambda n: n == "results.json",
        "coco-test-dev-seg": lambda n: n == "detections_test-dev2017_evalkit_results.json",
        "trackingnet-test": lambda n: "/" not in n and n.endswith(".txt"),
        "got10k-test": lambda n: n.count("/") == 1 and (n.endswith("_001.txt") or n.endswith("_time.txt")),
    }.items():
        bench = build_benchmark(bid, root)
        out = tmp_path / bid
        metas = {sid: {**bench.load_sample(sid).meta, "time_s": 0.5} for sid in bench.sample_ids()}
        bench.write_results(oracle[bid], metas, out)
        with zipfile.ZipFile(out / "submission.zip") as zf:
            names = zf.namelist()
        assert names and all(check(n) for n in names), (bid, names[:5])
