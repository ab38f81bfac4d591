"""``breakdown.json`` of real runs on the shapes suite: written by every scored run, keyed by
the run's sample ids, and its aggregates reproduce the headline numbers of ``metrics.json``
(the official definitions: COCO/YouTube-VIS AP = mean of per-category AP over categories with
GT, RefCOCO P@X = mean hit, oIoU = sum I / sum U, DAVIS J&F = object-weighted mean of the
sequences, GOT-10k AO = frame-pooled IoU, MOTA / IDF1 = ratios of summed TrackEval counts).
Then ``evalkit compare`` on two models' runs of the same split."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch

from evalkit.breakdown import aggregate, load_ap_state, load_breakdown
from evalkit.metrics.ap_resample import weighted_ap
from evalkit.cli import main as cli_main
from evalkit.reports.compare import compare_runs
from evalkit.runner import RunConfig, run_evaluation
from evalkit.zoo.tiny import weights_file

#: (model, benchmark, --limit): partial runs keep the test short; they are scored against the
#: ground truth of their samples, so the identity must hold for them too
CASES = [
    ("uninext-tiny", "shapes-coco-det", 12),
    ("uninext-tiny", "shapes-coco-seg", 6),
    ("uninext-tiny", "shapes-refcoco-rec", 25),
    ("uniref-pp-tiny", "shapes-refcoco-res", 25),
    ("uninext-tiny", "shapes-davis", 3),
    ("uninext-tiny", "shapes-ytvis", 2),
    ("uninext-tiny", "shapes-sot", 2),
    ("uninext-tiny", "shapes-mot", 2),
]
_RUNS: dict = {}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("EVALKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    root = tmp_path_factory.mktemp("runs")
    threads = torch.get_num_threads()

    def go(model, bench, limit):
        if not weights_file(model).is_file():
            pytest.skip(f"{model} weights not trained yet")
        if (model, bench, limit) not in _RUNS:
            _RUNS[model, bench, limit] = run_evaluation(RunConfig(
                model=model, benchmark=bench, runs_root=str(root), limit=limit, num_workers=0, quiet=True, threads=1))
        return _RUNS[model, bench, limit]

    yield go
    torch.set_num_threads(threads)
    mp.undo()


@pytest.mark.parametrize("model,bench,limit", CASES, ids=[c[1] for c in CASES])
def test_breakdown_reproduces_the_headline(run, model, bench, limit):
    res = run(model, bench, limit)
    assert res.status == "partial" and res.metrics
    bd = load_breakdown(res.run_dir)
    selected = json.loads((res.run_dir / "selection.json").read_text())["ids"]
    assert bd["benchmark"] == bench and bd["model"] == model
    assert set(bd["samples"]) == set(selected), "breakdown samples must be the run's sample ids"
    assert bd["aggregates"], "every shapes metric rebuilds at least one headline key"
    for key in bd["aggregates"]:
        tol = 1e-4 if bd["metric"] == "sot" else 1e-9  # pytracking-style curves are float32
        assert aggregate(bd, key) == pytest.approx(res.metrics[key], abs=tol), key
    if bd["score_key"]:
        assert any(r.get(bd["score_key"]) is not None for r in bd["samples"].values())
    state = load_ap_state(bd)  # AP metrics of the default backend: the image-resampling state
    assert (state is not None) == (bd["metric"] in ("coco-bbox", "coco-segm", "ytvis"))
    if state is not None:
        assert sorted(map(str, state["units"])) == sorted(selected)
        got = weighted_ap(state, np.ones(len(state["units"]), np.int64))
        for key in ("AP", "AP50", "AP75"):
            assert got[key] == pytest.approx(res.metrics[key], abs=1e-12), key


@pytest.mark.parametrize("bench,limit", [("shapes-davis", 3), ("shapes-refcoco-res", 25)])
def test_compare_two_models_on_shapes(run, bench, limit, capsys):
    a = run("uninext-tiny", bench, limit)
    b = run("uniref-pp-tiny", bench, limit)
    c = compare_runs(a.run_dir, b.run_dir, top=1000)
    ids = json.loads((a.run_dir / "selection.json").read_text())["ids"]
    assert sorted(r["id"] for r in c["samples"]) == sorted(ids)  # every shared sample listed
    deltas = [r["delta"] for r in c["regressions"]]
    assert deltas == sorted(deltas) and all(d < 0 for d in deltas)  # worst first, only regressions
    assert {r["id"] for r in c["regressions"]} == {r["id"] for r in c["samples"] if r["delta"] < 0}
    headline = {"shapes-davis": "J&F-Mean", "shapes-refcoco-res": "oIoU"}[bench]
    m = {x["key"]: x for x in c["metrics"]}[headline]
    assert m["a"] == pytest.approx(a.metrics[headline]) and m["b"] == pytest.approx(b.metrics[headline])
    assert m["low"] <= m["delta"] <= m["high"]
    assert compare_runs(a.run_dir, b.run_dir, top=5)["metrics"] == c["metrics"]  # seeded: same interval
    assert cli_main(["compare", str(a.run_dir), str(b.run_dir), "--format", "md", "--top", "3"]) == 0
    assert f"| {headline} |" in capsys.readouterr().out
    # the same interval as a column of `evalkit report --ci BASELINE` (display scale: DAVIS x100)
    f = 100.0 if bench == "shapes-davis" else 1.0
    assert cli_main(["report", str(b.run_dir), "--ci", str(a.run_dir), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    (row,) = [r for r in rows if r["ci_delta"]]
    assert row["model"] == "uniref-pp-tiny" and row["ci_baseline"] == str(a.run_dir.resolve())
    got = [float(row[k]) for k in ("ci_delta", "ci_low", "ci_high")]
    assert got == pytest.approx([f * m["delta"], f * m["low"], f * m["high"]], abs=1e-8)
    assert cli_main(["report", str(b.run_dir), "--ci", str(a.run_dir), "--decimals", "2"]) == 0
    md_row = next(line for line in capsys.readouterr().out.splitlines() if "| uniref-pp-tiny |" in line)
    assert f"{f * m['delta']:+.2f} [{f * m['low']:+.2f}, {f * m['high']:+.2f}]" in md_row
