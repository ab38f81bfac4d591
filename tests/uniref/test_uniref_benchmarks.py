"""End to end: a tiny random-weight UniRef++ (a hidden model id) through ``run_evaluation`` on
the generated mini benchmarks of its tasks — RefCOCO RES, FSS-1000, Ref-YouTube-VOS, Ref-DAVIS,
DAVIS-17, YouTube-VOS, LVOS, MOSE: the official-format results are written and scored (the
scores of random weights mean nothing; the run must complete)."""
from __future__ import annotations

import json
import math

import pytest

from evalkit.runner import RunConfig, run_evaluation

from hidden_models import hidden_model
from uniref_helpers import TINY, write_vocab

#: benchmark id → the ``dataset`` adapter option (per-dataset thresholds / procedures)
SPLITS = {
    "refcoco-val-res": "refcoco", "fss1000-test-1shot": "fss1000", "fss1000-test-5shot": "fss1000",
    "ref-ytvos-val": "ref-ytvos", "ref-davis17-val": "ref-davis", "davis17-val": "davis17",
    "ytvos18-val": "ytvos18", "ytvos19-val": "ytvos19", "lvos-val": "lvos", "mose-val": "mose",
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from evalkit.adapters.uniref import build_adapter

    vocab = write_vocab(tmp_path_factory.mktemp("uniref_vocab_e2e"))
    with hidden_model("test-uniref-tiny", build_adapter, model_id="uniref-pp-r50", random_weights=True,
                      tokenizer=str(vocab), overrides=TINY, input_size=(64, 128)) as mid:
        yield mid


@pytest.mark.parametrize("bid", sorted(SPLITS))
def test_run_evaluation_tiny_uniref(bid, generated_data_root, tiny_model, tmp_path):
    from evalkit.benchmarks.base import build_benchmark

    bench = build_benchmark(bid, generated_data_root)
    res = run_evaluation(RunConfig(model=tiny_model, benchmark=bid, data_root=str(generated_data_root),
                                   output_dir=str(tmp_path / "run"), limit=None, num_workers=0,
                                   on_error="raise", quiet=True,
                                   model_options={"dataset": SPLITS[bid]}))
    assert res.samples["failed"] == 0 and res.samples["done"] >= 1
    record = json.loads((res.run_dir / "metrics.json").read_text())
    assert record["benchmark"] == bid and record["model"] == tiny_model
    run = json.loads((res.run_dir / "run.json").read_text())
    assert run["model"]["options"]["dataset"] == SPLITS[bid]
    assert bench.results_path(res.run_dir / "results").exists()
    if not bench.server:
        assert res.metrics and all(isinstance(v, (int, float)) and not math.isnan(v)
                                   for v in res.metrics.values())
