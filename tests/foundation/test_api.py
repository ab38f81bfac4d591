"""The Python API (``evalkit.evaluate`` / ``evalkit.score``) and the host options of a run:
``--seed`` reaching torch, ``--threads``, ``--device cuda`` without a CUDA torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import evalkit
import evalkit_testkit
from evalkit.errors import EvalkitError, UnknownNameError
from evalkit.runner import RunConfig, run_evaluation


@pytest.fixture
def data_root(tmp_path):
    evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=4)
    return tmp_path / "data"


def test_import_is_light_and_exports_the_api():
    code = ("import sys, evalkit; assert callable(evalkit.evaluate) and callable(evalkit.score); "
            "heavy = [m for m in ('torch', 'numpy') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert {"evaluate", "score", "RunConfig", "RunResult"} <= set(evalkit.__all__)


def test_evaluate_runs_quietly_and_score_rescores(data_root, tmp_path, capsys):
    [res] = evalkit.evaluate("test-blobs", "test-blobs-val", data_root=str(data_root),
                             runs_root=str(tmp_path / "runs"), threads=1)
    assert res.status == "complete" and res.metrics["AP"] > 0.5
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # quiet by default: no banner, no progress bar
    assert evalkit.score(run=res.run_dir) == res.metrics
    # the same official-format files through a registered metric
    gt = data_root / "blobs" / "annotations" / "instances_val.json"
    out = evalkit.score("coco-bbox", gt, res.run_dir / "results" / "bbox_results.json")
    assert out["AP"] == pytest.approx(res.metrics["AP"], abs=1e-9)


def test_evaluate_accepts_lists_and_rejects_unknown_options(data_root, tmp_path):
    with pytest.raises(EvalkitError, match="unknown option.*batch_size"):
        evalkit.evaluate("test-blobs", "test-blobs-val", batch_size=4)
    with pytest.raises(UnknownNameError, match="unknown benchmark 'shapes-davsi'"):
        evalkit.evaluate("uninext-tiny", "shapes-davsi")
    with pytest.raises(EvalkitError, match="missing: --gt, --results"):
        evalkit.score("coco-bbox")


def test_run_evaluation_with_a_group_says_it_is_a_group():
    # was: "unknown benchmark 'shapes'. Did you mean 'shapes'" (the group matched its own name)
    with pytest.raises(UnknownNameError) as exc:
        run_evaluation(RunConfig(model="uninext-tiny", benchmark="shapes"))
    msg = str(exc.value)
    assert "'shapes' is a group of 8 benchmarks" in msg and "shapes-davis" in msg and "Did you mean" not in msg


def _probe_run(tmp_path, data_root, *extra):
    probe = tmp_path / f"probe{len(list(tmp_path.glob('probe*')))}.json"
    env = {**os.environ, "EVALKIT_PLUGINS": "evalkit_testkit,seed_probe", "EVALKIT_SEED_PROBE": str(probe),
           "PYTHONPATH": os.pathsep.join(filter(None, [os.path.dirname(evalkit_testkit.__file__),
                                                      os.environ.get("PYTHONPATH", "")]))}
    proc = subprocess.run([sys.executable, "-m", "evalkit", "--quiet", "run", "-m", "test-seed-probe",
                           "-b", "test-blobs-val", "--data-root", str(data_root),
                           "--runs-root", str(tmp_path / "runs"), *extra],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(probe.read_text()), json.loads(proc.stdout.strip().splitlines()[-1])


def test_seed_reaches_torch_before_the_model_is_built(tmp_path, data_root):
    # a fresh process that has not imported torch: before, torch kept its random default seed
    # (initial_seed differed between two runs of --seed 7)
    a, _ = _probe_run(tmp_path, data_root, "--seed", "7")
    b, _ = _probe_run(tmp_path, data_root, "--seed", "7")
    c, _ = _probe_run(tmp_path, data_root, "--seed", "8")
    assert a["torch_initial_seed"] == 7 and c["torch_initial_seed"] == 8
    assert a == b and a["torch_rand"] != c["torch_rand"]
    assert a["python"] != c["python"] and a["numpy"] != c["numpy"]


def test_threads_flag_sets_torch_threads_and_is_recorded(tmp_path, data_root):
    probe, line = _probe_run(tmp_path, data_root, "--threads", "1")
    assert probe["torch_threads"] == 1
    run = json.loads((Path(line["run_dir"]) / "run.json").read_text())
    assert run["torch_threads"] == 1 and run["config"]["threads"] == 1
    with pytest.raises(EvalkitError, match="--threads must be a positive"):
        run_evaluation(RunConfig(model="test-blobs", benchmark="test-blobs-val", data_root=str(data_root),
                                 runs_root=str(tmp_path / "r2"), threads=0))


def test_cuda_without_cuda_torch_is_one_line_with_the_install_command(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.version.cuda is not None:
        pytest.skip("this torch is a CUDA build: the CPU-only message cannot occur")
    proc = subprocess.run([sys.executable, "-m", "evalkit", "run", "-m", "uninext-tiny", "-b", "shapes-davis",
                           "--device", "cuda", "--runs-root", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "CPU-only build" in lines[0], proc.stderr
    assert "pip install" in lines[0] and "download.pytorch.org/whl/cu" in lines[0]
    assert "AssertionError" not in proc.stderr  # was: internal error: Torch not compiled with CUDA


def test_default_threads_leave_half_the_cpus():
    from evalkit.hostenv import default_threads

    # 2 CPUs -> 1 (measured: 14.8 s with 1 thread vs 176.5 s with 2 on a loaded 2-CPU machine)
    assert [default_threads(n) for n in (1, 2, 3, 4, 16, 64)] == [1, 1, 1, 2, 8, 8]
