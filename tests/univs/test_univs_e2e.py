"""End to end through the runner: a tiny random-weight UniVS (hidden model id) on the generated
mini benchmarks in their official layouts. Random weights make the numbers meaningless; the
runs check that every task path produces the official result files and is scored."""
from __future__ import annotations

import json
import math

import pytest
import torch

from evalkit.registry import MODELS
from univs_tiny import build_tiny_adapter

SPLITS = ["ytvis19-val", "ytvis21-val", "ovis-val", "vspw-val", "vipseg-val", "davis17-val", "ytvos18-val",
          "ref-ytvos-val", "ref-davis17-val", "viposeg-val"]
MODEL_ID = "univs-tiny-test"


@pytest.fixture(scope="module")
def data(generated_datasets):
    """(data root, oracle) of the generated mini datasets, with the tiny model registered."""
    root, oracle = generated_datasets
    # random class embeddings with the release's 3938 rows: PVOS needs the 124 VIPSeg rows
    # (use_semseg_pvos); the other generated vocabularies match no released size
    emb = torch.randn(3938, 48, generator=torch.Generator().manual_seed(0))
    MODELS.register(MODEL_ID, lambda **kw: build_tiny_adapter(**{"clip_len": 2, "class_embeddings": emb, **kw}),
                    hidden=True, overwrite=True)
    return root, oracle


@pytest.mark.parametrize("bid", SPLITS)
def test_run_evaluation(bid, data, tmp_path):
    from evalkit import runner
    from evalkit.benchmarks.base import build_benchmark

    root, oracle = data
    bench = build_benchmark(bid, root)
    mode = "all"
    res = runner.run_evaluation(runner.RunConfig(
        model=MODEL_ID, benchmark=bid, data_root=str(root), output_dir=str(tmp_path / "run"), mode=mode,
        limit=None, resume=False, device="cpu", seed=0, on_error="raise", quiet=True))
    assert bench.results_path(res.run_dir / "results").exists()
    # run.json records the resolved UniVS settings and which released-config rows they came from
    model = json.loads((res.run_dir / "run.json").read_text())["model"]
    assert model["settings"]["sampling_frame_num"] == 2 and model["settings_from"].startswith(f"task:{bench.task}")
    record = json.loads((res.run_dir / "metrics.json").read_text())
    assert record["task"] == bench.task
    if not bench.server:  # scored locally: every number is finite
        assert record["metrics"] and all(v is None or math.isfinite(v) for v in record["metrics"].values())
    else:  # server-scored: the upload file only
        assert record["metrics"] is None and record["status"] == "server-pending"
