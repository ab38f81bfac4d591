"""CLI behaviour: listing, bad input, one-line errors, no torch import for `ls`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import evalkit_testkit


def _cli(args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "evalkit", *args], env=env, capture_output=True,
                          text=True, timeout=120, **kw)


def _one_line_error(proc):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("evalkit: error:"), proc.stderr
    return lines[0]


def test_unknown_model_suggests_close_names(subprocess_env, tmp_path):
    msg = _one_line_error(_cli(["run", "-m", "test-blob", "-b", "test-blobs-val"], subprocess_env))
    assert "unknown model 'test-blob'" in msg


def test_unknown_benchmark(subprocess_env):
    msg = _one_line_error(_cli(["run", "-m", "test-blobs", "-b", "no-such-bench"], subprocess_env))
    assert "unknown benchmark 'no-such-bench'" in msg and "evalkit ls benchmarks" in msg


def test_missing_data_dir(subprocess_env, tmp_path):
    msg = _one_line_error(_cli(["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root",
                                str(tmp_path / "nowhere")], subprocess_env))
    assert "instances_val.json" in msg and "nowhere" in msg


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_dir_nonroot(subprocess_env, tmp_path):
    evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=2)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    msg = _one_line_error(_cli(["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root",
                                str(tmp_path / "data"), "-o", str(ro / "run")], subprocess_env))
    assert "not writable" in msg


def test_output_dir_under_a_file_is_a_clear_error(subprocess_env, tmp_path):
    evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=2)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    msg = _one_line_error(_cli(["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root",
                                str(tmp_path / "data"), "-o", str(blocker / "run")], subprocess_env))
    assert "output directory" in msg


def test_bad_model_arg_and_limit(subprocess_env, tmp_path):
    evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=2)
    base = ["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root", str(tmp_path / "data")]
    assert "key=value" in _one_line_error(_cli(base + ["-a", "oops"], subprocess_env))
    assert "--limit" in _one_line_error(_cli(base + ["--limit", "0"], subprocess_env))


def test_debug_shows_traceback(subprocess_env):
    proc = _cli(["--debug", "run", "-m", "nope", "-b", "test-blobs-val"], subprocess_env)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_ls_does_not_import_torch(subprocess_env):
    code = ("import sys, runpy; sys.argv=['evalkit','ls','{kind}','--json'];"
            "from evalkit.cli import main; rc=main(); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    for kind in ("models", "benchmarks", "metrics"):
        proc = subprocess.run([sys.executable, "-c", code.format(kind=kind)], env=subprocess_env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert data["kind"] == kind
        assert all("id" in e and "tags" in e and "task" in e for e in data["entries"])


def test_hidden_test_entries_are_not_listed(subprocess_env):
    proc = _cli(["ls", "models", "--json"], subprocess_env)
    assert proc.returncode == 0
    assert "test-blobs" not in [e["id"] for e in json.loads(proc.stdout)["entries"]]


def test_cli_run_prints_results_and_score_rescore(subprocess_env, tmp_path):
    evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=3)
    run = _cli(["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root", str(tmp_path / "data"),
                "-o", str(tmp_path / "run"), "--quiet"], subprocess_env)
    assert run.returncode == 0, run.stderr
    line = json.loads(run.stdout.strip().splitlines()[-1])
    assert line["status"] == "complete" and line["metrics"]["AP50"] == 1.0
    again = _cli(["score", "--run", str(tmp_path / "run"), "--json"], subprocess_env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == line["metrics"]


def test_score_needs_inputs(subprocess_env, tmp_path):
    msg = _one_line_error(_cli(["score", "--metric", "coco-bbox"], subprocess_env))
    assert "--gt" in msg and "--results" in msg
    msg = _one_line_error(_cli(["score", "--metric", "coco-bbox", "--gt", str(tmp_path / "x.json"),
                                "--results", str(tmp_path / "y.json")], subprocess_env))
    assert "no such file" in msg


def test_doctor_reports_versions(subprocess_env):
    proc = _cli(["doctor", "--json", "--no-probe"], subprocess_env)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["versions"]["torch"] and "cuda_available" in info and "offline" in info
    names = {(c["section"], c["name"]) for c in info["checks"]}
    assert {("compute", "torch"), ("compute", "Triton"), ("data", "data root"), ("weights", "bundled")} <= names


def test_doctor_checklist_lists_datasets_and_probes_the_network(subprocess_env, tmp_path):
    import evalkit_testkit as kit

    kit.generate(tmp_path / "blobs", n_images=2)
    (tmp_path / "DAVIS").mkdir()  # present but empty: davis17-val does not validate
    env = {**subprocess_env, "HF_ENDPOINT": "http://127.0.0.1:9", "COLUMNS": "400"}  # probe: refused at once
    env.pop("HF_HUB_OFFLINE")  # no variable says offline: only the probe can tell
    proc = _cli(["doctor", "--data-root", str(tmp_path)], env)
    out = proc.stdout
    assert "data root" in out and str(tmp_path) in out
    assert "davis" in out and "not davis17-val" in out and "evalkit validate -b davis17-val" in out
    assert "probe: 127.0.0.1:9 unreachable" in out and "offline: yes" in out  # no variable says offline
    assert proc.returncode == 1  # a dataset that fails to validate is a problem


def test_doctor_looks_where_a_run_looks(tmp_path, monkeypatch):
    """--data-root wins over a per-dataset variable, as in resolve_data_root."""
    from evalkit.doctor import _data_checks

    (tmp_path / "DAVIS").mkdir()
    monkeypatch.setenv("EVALKIT_DATA_DAVIS", str(tmp_path / "elsewhere"))  # not a folder
    checks = {c.name: c for c in _data_checks(str(tmp_path))}
    assert "davis" in checks and checks["davis"].detail.startswith(str(tmp_path / "DAVIS"))


def test_validate_reports_broken_dataset(subprocess_env, tmp_path):
    root = evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=3)
    ok = _cli(["validate", "-b", "test-blobs-val", "--data-root", str(tmp_path / "data")], subprocess_env)
    assert ok.returncode == 0 and "ok" in ok.stdout
    (root / "val" / "000001.png").unlink()
    bad = _cli(["validate", "-b", "test-blobs-val", "--data-root", str(tmp_path / "data")], subprocess_env)
    assert bad.returncode == 1 and "000001.png" in bad.stdout


def test_unwritable_output_dir(tmp_path, monkeypatch):
    """As root nothing is unwritable, so the permission check is exercised with os.access."""
    from evalkit.cli import main

    evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=2)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p).startswith(str(tmp_path / "ro")) else real_access(p, m))
    (tmp_path / "ro").mkdir()
    rc = main(["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root", str(tmp_path / "data"),
               "-o", str(tmp_path / "ro" / "run"), "--quiet"])
    assert rc == 2
    assert not (tmp_path / "ro" / "run").exists()
