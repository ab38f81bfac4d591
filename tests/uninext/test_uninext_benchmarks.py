"""End to end: the tiny random-weight UNINEXT (a hidden model id) through ``run_evaluation`` on
the generated mini benchmarks of its tasks — the official-format results are written and
scored (the scores of random weights mean nothing; the run must complete)."""
from __future__ import annotations

import json
import math

import pytest

from evalkit.runner import RunConfig, run_evaluation

from hidden_models import hidden_model
from uninext_helpers import TINY, write_vocab

#: benchmark id → adapter options (generated frames are 24×32: run them at a 64-pixel short side)
SPLITS = ["coco-val2017-det", "coco-val2017-seg", "refcoco-val-rec", "refcoco-val-res", "lasot-test",
          "davis17-val", "ref-davis17-val", "ref-ytvos-val", "ytvis19-dev",
          "bdd100k-box-track-val", "bdd100k-seg-track-val"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from evalkit.adapters.uninext import build_adapter

    vocab = write_vocab(tmp_path_factory.mktemp("uninext_vocab_e2e"))
    with hidden_model("test-uninext-tiny", build_adapter, model_id="uninext-r50", random_weights=True,
                      tokenizer=str(vocab), overrides={**TINY, "template_size": 64},
                      input_size=(64, 128)) as mid:
        yield mid


@pytest.mark.parametrize("bid", SPLITS)
def test_run_evaluation_tiny_uninext(bid, generated_data_root, tiny_model, tmp_path):
    from evalkit.benchmarks.base import build_benchmark

    bench = build_benchmark(bid, generated_data_root)
    res = run_evaluation(RunConfig(model=tiny_model, benchmark=bid, data_root=str(generated_data_root),
                                   output_dir=str(tmp_path / "run"), limit=None, num_workers=0,
                                   on_error="raise", quiet=True, mode="all"))
    assert res.samples["failed"] == 0 and res.samples["done"] >= 1
    record = json.loads((res.run_dir / "metrics.json").read_text())
    assert record["benchmark"] == bid and record["model"] == tiny_model
    assert bench.results_path(res.run_dir / "results").exists()
    # metrics undefined for random predictions (BDD100K MOTP without a match) are stored as null
    metrics = {k: v for k, v in (record["metrics"] or {}).items() if v is not None}
    if not bench.server:
        assert metrics and all(isinstance(v, (int, float)) and math.isfinite(v) for v in metrics.values())
    else:
        assert record["status"] == "server-pending" and record["metrics"] is None
