"""A tiny random-weight GLEE through ``run_evaluation`` on the generated mini benchmarks (the
official layouts written by ``tests/benchmarks/gen.py``): results files are written and scored
without error. Weights are random, so the numbers themselves are not checked. Runs are limited to
one sample to keep the suite fast, except RefCOCO and COCO interactive, whose metric needs every
expression / click."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from evalkit.registry import BENCHMARKS, METRICS, MODELS
from evalkit.runner import RunConfig, run_evaluation

from glee_helpers import tiny_adapter

GEN = Path(__file__).resolve().parents[1] / "benchmarks" / "gen.py"
TINY_ID = "glee-tiny-bench-test"
SPLITS = ["coco-val2017-seg", "coco-val2017-interactive", "lvis-v1-val-seg", "refcoco-val-res", "ytvis19-dev", "ovis-val", "tao-val",
          "burst-val", "davis17-val", "ref-ytvos-val"]
LIMITS = {"refcoco-val-res": None, "coco-val2017-interactive": None}


def make_tiny(*, model_id: str = TINY_ID, device: str = "cpu", weights=None, **options):
    return tiny_adapter(**options)


def _gen():
    name = "evalkit_glee_tests_gen"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, GEN)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    gen = _gen()
    root = tmp_path_factory.mktemp("glee-datasets")
    gen.generate(root, only=(gen.gen_coco, gen.gen_refcoco, gen.gen_vos, gen.gen_rvos, gen.gen_vis, gen.gen_tao))
    MODELS.register(TINY_ID, f"{__name__}:make_tiny", hidden=True, overwrite=True)
    yield root
    MODELS.unregister(TINY_ID)


@pytest.mark.parametrize("bid", SPLITS)
def test_tiny_glee_on_mini_benchmark(bid, data_root, tmp_path):
    entry = BENCHMARKS.get(bid)
    if entry.meta.get("metric"):
        METRICS.load(entry.meta["metric"])  # every split's metric exists
    res = run_evaluation(RunConfig(model=TINY_ID, benchmark=bid, data_root=str(data_root),
                                   output_dir=str(tmp_path / "run"), limit=LIMITS.get(bid, 1), quiet=True,
                                   num_workers=0))
    limited = LIMITS.get(bid, 1) is not None
    assert res.status in ("partial" if limited else "complete", "server-pending")
    assert res.samples["failed"] == 0 and (res.samples["done"] == 1 or not limited)
    assert any((res.run_dir / "results").iterdir())
