"""bfloat16 (CPU autocast) against float32 for both tiny models on the shapes suite.

Metrics: each model runs in bfloat16 on the full val split of every shapes benchmark it has a
golden file for; the metrics must stay within :data:`METRIC_TOL` of the float32 golden values
(``tests/shapes/golden_*.json``, recorded by ``scripts/record_golden.py``). Measured deviations
(one thread, this tree): fractions at most 0.0125 (shapes-ytvis AP/AR, uninext-tiny), percent
metrics at most 1.0 point (shapes-refcoco-rec P@0.9), counts at most 0.11 (shapes-mot HOTA_TP).

Outputs: the first :data:`K` samples (:data:`K_VIDEO` videos) of each benchmark also run in
float32, and every confident float32 instance is matched to its bfloat16 counterpart
(``precision_parity.py``). Frame-wise tasks must match instance for instance within
:data:`FRAME_TOL`; semi-supervised VOS propagates each
frame's masks to the next, so a one-pixel difference can grow along a video and only its
distribution is bounded (:data:`VOS_TOL`). Measured on the full val splits: box 0.96 px, score
0.083, mask IoU 0.965 at worst (frame-wise); VOS box p95 1.0 px, mask IoU p05 0.983, score p95
0.013, 1 unmatched of 250.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from evalkit.runner import RunConfig, run_evaluation
from evalkit.zoo.tiny import weights_file

from precision_parity import compare_runs

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "shapes"
MODELS = ("uninext-tiny", "uniref-pp-tiny")
GOLDEN = {m: json.loads((GOLDEN_DIR / f"golden_{m.replace('-', '_')}.json").read_text()) for m in MODELS}
#: benchmarks whose metrics are in percent (RefCOCO P@k / IoU, SOT AO / SR)
PERCENT = ("shapes-refcoco-rec", "shapes-refcoco-res", "shapes-sot")
#: samples per benchmark whose outputs are compared instance by instance (videos: fewer, longer)
K = 10
K_VIDEO = 3
VIDEO = ("shapes-davis", "shapes-ytvis", "shapes-mot", "shapes-sot")

#: |bf16 - fp32| bound: fraction metrics, percent metrics (points), counts (relative + absolute)
METRIC_TOL = {"fraction": 0.03, "percent": 3.0, "count_rel": 0.03, "count_abs": 2.0}
FRAME_TOL = {"unmatched": 0, "box_px_max": 2.0, "score_max": 0.15, "mask_iou_min": 0.9}
VOS_TOL = {"unmatched_frac": 0.02, "box_px_p95": 3.0, "score_p95": 0.05, "mask_iou_p05": 0.95}


def metric_tolerance(bench: str, value: float) -> float:
    if bench in PERCENT:
        return METRIC_TOL["percent"]
    if abs(value) <= 1.0:
        return METRIC_TOL["fraction"]
    return METRIC_TOL["count_rel"] * abs(value) + METRIC_TOL["count_abs"]  # TP/FN/IDSW... counts


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("EVALKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    root = tmp_path_factory.mktemp("runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    done: dict[tuple, object] = {}

    def go(model: str, bench: str, dtype: str, limit: int | None = None):
        if not weights_file(model).is_file():
            pytest.skip(f"{model} weights not trained yet")
        key = (model, bench, dtype, limit)
        if key not in done:
            # a limited run only provides predictions (mode infer): its metrics are not compared
            res = run_evaluation(RunConfig(model=model, benchmark=bench, runs_root=str(root / dtype),
                                           num_workers=0, quiet=True, dtype=dtype, limit=limit,
                                           mode="all" if limit is None else "infer"))
            assert res.status == ("complete" if limit is None else "inferred"), res.status
            done[key] = res
        return done[key]

    yield go
    torch.set_num_threads(threads)
    mp.undo()


PAIRS = [(m, b) for m in MODELS for b in sorted(GOLDEN[m])]


@pytest.mark.parametrize("model,bench", PAIRS)
def test_bf16_metrics_within_tolerance_of_fp32(runs, model, bench):
    got = runs(model, bench, "bfloat16").metrics
    bad = []
    for k, want in GOLDEN[model][bench].items():
        if not isinstance(want, (int, float)) or (isinstance(want, float) and math.isnan(want)):
            continue
        if want == -1.0 and bench not in PERCENT:  # COCO's "no ground truth in this range"
            assert got[k] == -1.0, (k, got[k])
            continue
        tol = metric_tolerance(bench, want)
        if abs(got[k] - want) > tol:
            bad.append(f"{k}: bf16 {got[k]:.6g} vs fp32 {want:.6g} (tolerance {tol:.3g})")
    assert not bad, f"{model} on {bench}: " + "; ".join(bad)


@pytest.mark.parametrize("model,bench", PAIRS)
def test_bf16_outputs_within_tolerance_of_fp32(runs, model, bench):
    ref = runs(model, bench, "float32", K_VIDEO if bench in VIDEO else K)
    low = runs(model, bench, "bfloat16")  # the full run's store holds these samples too
    dev = compare_runs(ref.run_dir, low.run_dir).summary()
    assert dev["compared"] > 0, dev
    if bench == "shapes-davis":
        assert dev["unmatched"] <= VOS_TOL["unmatched_frac"] * dev["compared"], dev
        assert dev["box_px_p95"] <= VOS_TOL["box_px_p95"], dev
        assert dev["score_p95"] <= VOS_TOL["score_p95"], dev
        assert dev["mask_iou_p05"] >= VOS_TOL["mask_iou_p05"], dev
    else:
        assert dev["unmatched"] <= FRAME_TOL["unmatched"], dev
        assert dev["box_px_max"] <= FRAME_TOL["box_px_max"], dev
        assert dev["score_max"] <= FRAME_TOL["score_max"], dev
        assert dev["mask_iou_min"] >= FRAME_TOL["mask_iou_min"], dev


def test_bf16_really_changes_the_outputs(runs):
    """The parity above is not vacuous: bf16 predictions differ from float32 ones."""
    ref = runs("uninext-tiny", "shapes-refcoco-rec", "float32", K)
    low = runs("uninext-tiny", "shapes-refcoco-rec", "bfloat16")
    dev = compare_runs(ref.run_dir, low.run_dir).summary()
    assert dev["box_px_max"] > 0 and dev["score_max"] > 0, dev


def test_bf16_run_is_recorded_and_keyed(runs):
    res = runs("uniref-pp-tiny", "shapes-refcoco-res", "bfloat16")
    rec = json.loads((res.run_dir / "run.json").read_text())
    assert rec["config"]["dtype"] == "bfloat16"
    assert rec["precision"]["dtype"] == "bfloat16" and rec["precision"]["autocast"] == "cpu"
    assert "evalkit.zoo.uniref.transformer.PlainDeformableTransformer.forward" in rec["precision"]["fp32_islands"]
    parts = json.loads((res.run_dir / "predictions" / "store.json").read_text())["parts"]
    assert parts["model_options"]["dtype"] == "bfloat16"  # never resumed into a float32 store
    ref = runs("uniref-pp-tiny", "shapes-refcoco-res", "float32", K)
    ref_parts = json.loads((ref.run_dir / "predictions" / "store.json").read_text())["parts"]
    assert "dtype" not in ref_parts["model_options"]  # float32 keys are those of earlier runs


def test_float16_on_cpu_within_tolerance(runs):
    """float16 is accepted on CPU (PyTorch has CPU float16 autocast kernels; slower than float32
    there). Measured: AP +0.0002 on shapes-coco-det."""
    got = runs("uninext-tiny", "shapes-coco-det", "float16").metrics
    want = GOLDEN["uninext-tiny"]["shapes-coco-det"]
    for k in ("AP", "AP50", "AR100"):
        assert abs(got[k] - want[k]) <= METRIC_TOL["fraction"], (k, got[k], want[k])


def test_network_in_bf16_islands_and_outputs_in_fp32(monkeypatch):
    """Inside a bf16 run: the backbone's convolutions run in bfloat16, the deformable attention
    (an official float32 island) receives float32 values, and the adapter sees float32 outputs."""
    import importlib

    import numpy as np

    from evalkit.precision import mixed_precision
    from evalkit.registry import MODELS as REG
    from evalkit.types import Expression, Frames

    msda_module = importlib.import_module("evalkit.zoo.ops.ms_deform_attn")

    if not weights_file("uninext-tiny").is_file():
        pytest.skip("uninext-tiny weights not trained yet")
    adapter = REG.load("uninext-tiny")(model_id="uninext-tiny")
    seen: dict[str, set] = {"msda": set(), "backbone": set(), "model_out": set()}
    real = msda_module.ms_deform_attn

    def spy(value, *a, **k):
        seen["msda"].add(value.dtype)
        return real(value, *a, **k)

    monkeypatch.setattr(msda_module, "ms_deform_attn", spy)
    conv = next(m for m in adapter.model.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda m, a, o: seen["backbone"].add(o.dtype))

    def outputs(m, a, out):
        seen["model_out"].update(v.dtype for v in out.values()
                                 if isinstance(v, torch.Tensor) and v.is_floating_point())

    adapter.model.register_forward_hook(outputs)
    image = np.zeros((128, 128, 3), np.uint8)
    image[30:70, 40:90] = (220, 40, 40)
    adapter.prepare("rec")
    with mixed_precision("bfloat16", "cpu"):
        inst = list(adapter.predict(Frames([image]), Expression("the red square")))
    assert seen["backbone"] == {torch.bfloat16}
    assert seen["msda"] == {torch.float32}
    assert seen["model_out"] == {torch.float32}
    assert inst[0].boxes.dtype == np.float32


def test_resume_and_rescore_keep_the_dtype_of_the_store(tmp_path, monkeypatch):
    """A bf16 store is never continued in float32, and re-scoring it records bfloat16."""
    from evalkit.errors import EvalkitError

    if not weights_file("uninext-tiny").is_file():
        pytest.skip("uninext-tiny weights not trained yet")
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    base = dict(model="uninext-tiny", benchmark="shapes-refcoco-rec", runs_root=str(tmp_path / "runs"),
                num_workers=0, quiet=True, limit=2)
    first = run_evaluation(RunConfig(**base, dtype="bfloat16", mode="infer"))
    with pytest.raises(EvalkitError, match="different model_options"):
        run_evaluation(RunConfig(**base, resume=str(first.run_dir)))  # float32 on a bf16 store
    res = run_evaluation(RunConfig(**base, mode="score", resume=str(first.run_dir)))
    rec = json.loads((res.run_dir / "run.json").read_text())
    assert rec["precision"]["dtype"] == "bfloat16"
