"""GLEE through the runner and the factory: a hidden tiny random-weight GLEE on a generated
COCO-layout detection benchmark, and the factory's error when the official weights are missing."""
from __future__ import annotations

import pytest

import evalkit_testkit
from evalkit.adapters.glee import build_adapter
from evalkit.errors import WeightsError
from evalkit.registry import MODELS
from evalkit.runner import RunConfig, run_evaluation

from glee_helpers import tiny_adapter

TINY_ID = "glee-tiny-test"


def make_tiny(*, model_id: str = TINY_ID, device: str = "cpu", weights=None, **options):
    return tiny_adapter(**options)


@pytest.fixture(scope="module", autouse=True)
def _registered():
    MODELS.register(TINY_ID, f"{__name__}:make_tiny", task="det", hidden=True, overwrite=True)
    yield
    MODELS.unregister(TINY_ID)


def test_tiny_glee_runs_a_coco_layout_detection_benchmark(tmp_path):
    evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=2)
    res = run_evaluation(RunConfig(model=TINY_ID, benchmark="test-blobs-val", data_root=str(tmp_path / "data"),
                                   output_dir=str(tmp_path / "run"), quiet=True, num_workers=0))
    assert res.status == "complete" and res.samples == {"total": 2, "selected": 2, "done": 2, "failed": 0}
    assert res.metrics is not None and all(0.0 <= v <= 1.0 or v == -1.0 for v in res.metrics.values())


def test_factory_names_the_missing_checkpoint_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="GLEE_Lite_joint.pth"):
        build_adapter(model_id="glee-lite")
