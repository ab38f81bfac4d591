"""Golden end-to-end runs of the shipped tiny UNINEXT on the shapes suite.

Each run goes through everything a real evaluation does — the generated official-layout data,
the reader, the adapter (with the shipped weights, sha256-pinned), the official results writer
and the registered metric — on the first few val samples, and must reproduce the recorded
metrics exactly (CPU inference with one thread is deterministic). A change anywhere in that
chain shows up here. ``THRESHOLDS`` are the scores on the *full* val splits that show the model
learned the tasks; those not yet reached are marked ``xfail(strict=True)``, so reaching them
fails the suite until the mark is removed.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from evalkit.demo import supported_benchmarks
from evalkit.runner import RunConfig, run_evaluation
from evalkit.zoo.tiny import weights_file

pytestmark = pytest.mark.skipif(not weights_file().is_file(), reason="tiny weights not trained yet")

#: benchmark → (samples, {metric: value}) recorded with the shipped weights
GOLDEN: dict[str, tuple[int, dict[str, float]]] = {}

#: benchmark → (metric, minimum on the full val split, reached with the shipped weights?)
THRESHOLDS = {
    "shapes-refcoco-rec": ("P@0.5", 0.8, False),
    "shapes-coco-det": ("AP", 0.5, False),
    "shapes-davis": ("J&F-Mean", 0.7, False),
    "shapes-ytvis": ("AP", 0.4, False),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("EVALKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path_factory.mktemp("runs")
    torch.set_num_threads(threads)
    mp.undo()


def _run(runs, bench: str, limit: int | None) -> dict[str, float]:
    res = run_evaluation(RunConfig(model="uninext-tiny", benchmark=bench, runs_root=str(runs), limit=limit,
                                   num_workers=0, quiet=True))
    assert res.metrics is not None, res.status
    return res.metrics


@pytest.mark.parametrize("bench", sorted(GOLDEN))
def test_golden_metrics(env, bench):
    n, expected = GOLDEN[bench]
    got = _run(env, bench, n)
    for k, v in expected.items():
        assert got[k] == v or (math.isnan(v) and math.isnan(got[k])), (k, got[k], v)


def _threshold_params():
    run, _ = supported_benchmarks("uninext-tiny", "shapes")
    out = []
    for bench, (key, minimum, reached) in THRESHOLDS.items():
        marks = []
        if bench not in run:
            marks.append(pytest.mark.skip(reason=f"{bench}: task not supported by the adapter in this version"))
        elif not reached:
            marks.append(pytest.mark.xfail(strict=True, reason=f"NOT YET MET: {bench} {key} >= {minimum}"))
        out.append(pytest.param(bench, key, minimum, marks=marks, id=bench))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("bench,key,minimum", _threshold_params())
def test_learned(env, bench, key, minimum):
    got = _run(env, bench, None)
    value = got[key] / (100.0 if got[key] > 1.0 else 1.0)
    assert value >= minimum, json.dumps(got)
