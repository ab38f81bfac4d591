"""Faults around a run: races, interrupted writes, a damaged store, signals, full or read-only
disks, bad options and bad weights. Every user error is one line and exit code 2, and never
leaves a run directory behind when it is found before inference."""
from __future__ import annotations

import errno
import json
import multiprocessing as mp
import os
import signal
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest

import evalkit_testkit
from evalkit import cli
from evalkit.types import Instances

BLOBS = ["--model", "test-blobs", "--benchmark", "test-blobs-val"]


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=12)
    return tmp_path / "data"


def _run(capsys, *args) -> tuple[int, str]:
    rc = cli.main(["--quiet", "run", *args])
    return rc, capsys.readouterr().err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in err and "Traceback" not in err, err
    return lines[0]


def _shard_ids(run_dir: Path) -> list[str]:
    return [json.loads(line)["sample_id"]
            for p in sorted((run_dir / "predictions").glob("shard-*.jsonl"))
            for line in p.read_text().splitlines() if line.strip()]


# -- 1. concurrent runs ---------------------------------------------------------------------
def _racer(barrier, runs_root: str, data_root: str, log: str, out) -> None:
    os.environ["EVALKIT_TESTKIT_LOG"] = log
    barrier.wait()  # released together: all of them ask for a run directory in the same second
    try:
        out.put(cli.main(["--quiet", "run", *BLOBS, "--data-root", data_root,
                          "--runs-root", runs_root, "--num-workers", "0"]))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        out.put(repr(e))


def test_concurrent_runs_get_distinct_run_dirs_and_infer_once_each(data_root, tmp_path):
    """N processes released through a barrier into one --runs-root: N run directories (an
    exclusive mkdir each, a -k suffix for those in the same second), each sample inferred
    exactly once per run. Before: exists() then mkdir(exist_ok=True) let two runs share one
    folder (12 shard lines for 6 samples, one provenance lost)."""
    n = 4
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    logs = [tmp_path / f"infer-{k}.log" for k in range(n)]
    procs = [ctx.Process(target=_racer, args=(barrier, str(tmp_path / "runs"), str(data_root), str(logs[k]), out))
             for k in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [out.get(timeout=5) for _ in range(n)] == [0] * n
    runs = sorted((tmp_path / "runs" / "test-blobs-val" / "test-blobs").iterdir())
    assert len(runs) == n, runs
    for run in runs:
        ids = _shard_ids(run)
        assert len(ids) == len(set(ids)) == 12, run
        assert json.loads((run / "metrics.json").read_text())["status"] == "complete"
        assert (run / "log.txt").read_text().count("evalkit run: model") == 1
    for log in logs:  # every process inferred each of the 12 samples once
        seen = log.read_text().split()
        assert sorted(seen) == sorted(set(seen)) and len(seen) == 12


def test_an_output_dir_is_claimed_once(data_root, tmp_path, capsys, monkeypatch):
    """Of two runs given the same empty --output-dir, the one that finds predictions/ already
    created (the claim) stops before inferring anything."""
    out = tmp_path / "run"
    (out / "predictions").mkdir(parents=True)
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(out))
    assert rc == 2 and "not empty" in _one_line(err)
    out2 = tmp_path / "run2"
    out2.mkdir()
    import evalkit.runner as runner
    from evalkit.runner import RunConfig, _resolve_run_dir

    cfg = RunConfig(model="test-blobs", benchmark="test-blobs-val", output_dir=str(out2))
    assert _resolve_run_dir(cfg) == (out2, False)
    with pytest.raises(Exception, match="not empty"):
        _resolve_run_dir(cfg)
    # the race: another process claims the folder after the emptiness check, before the mkdir
    out3 = tmp_path / "run3"
    check = runner._check_writable

    def claimed_meanwhile(path):
        check(path)
        (Path(path) / "predictions").mkdir(parents=True)

    monkeypatch.setattr(runner, "_check_writable", claimed_meanwhile)
    cfg3 = RunConfig(model="test-blobs", benchmark="test-blobs-val", output_dir=str(out3))
    with pytest.raises(Exception, match="being used by another run"):
        _resolve_run_dir(cfg3)


# -- 2. temporary files ---------------------------------------------------------------------
def test_stale_temp_files_are_removed_on_resume_and_never_zipped(data_root, tmp_path, capsys):
    from evalkit.fileio import is_temp_file

    out = tmp_path / "run"
    rc, _ = _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(out))
    assert rc == 0
    # what a SIGKILL between a results file's temporary write and its rename leaves behind
    stale = out / "results" / "Annotations" / "val-002" / ".00002.png.k3j_x9q2.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"partial")
    assert is_temp_file(stale)
    from evalkit.benchmarks._io import zip_folder

    z = zip_folder(out / "results", tmp_path / "submission.zip")
    with zipfile.ZipFile(z) as zf:
        assert not any(is_temp_file(n) for n in zf.namelist()) and zf.namelist()
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--resume", str(out))
    assert rc == 0, err
    assert not stale.exists()
    assert not [p for p in out.rglob("*") if is_temp_file(p)]


def test_files_are_created_with_the_users_umask(data_root, tmp_path, capsys):
    """mkstemp creates 0600 files; every final file now gets 0666 & ~umask (0640 here)."""
    from evalkit.fileio import atomic_write_json

    old = os.umask(0o027)
    try:
        rc, _ = _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(tmp_path / "run"))
        atomic_write_json(tmp_path / "x.json", {})
    finally:
        os.umask(old)
    assert rc == 0
    for p in [tmp_path / "x.json", *(tmp_path / "run").rglob("*.json")]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o640, p


# -- 3. the prediction store -----------------------------------------------------------------
def test_torn_line_in_the_middle_of_a_shard_is_resumable(data_root, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(out))[0] == 0
    shard = out / "predictions" / "shard-0-of-1.jsonl"
    lines = shard.read_text().splitlines(keepends=True)
    torn_id = json.loads(lines[2])["sample_id"]
    lines[2] = lines[2][: len(lines[2]) // 2] + "\n"  # a record cut short, then more records
    shard.write_text("".join(lines))
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--mode", "score", "--resume", str(out))
    assert rc == 2
    assert f"{shard}:3: damaged prediction record" in _one_line(err) and "--resume" in err
    log = tmp_path / "infer.log"
    monkeypatch.setenv("EVALKIT_TESTKIT_LOG", str(log))
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--resume", str(out))
    assert rc == 0, err
    assert log.read_text().split() == [torn_id]  # only the damaged sample is inferred again
    assert sorted(_shard_ids(out)) == sorted(set(_shard_ids(out))) and len(_shard_ids(out)) == 12


def test_damaged_store_key_file(data_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(out))[0] == 0
    (out / "predictions" / "store.json").write_text('{"key": ')
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--resume", str(out))
    assert rc == 2 and "store.json: the prediction store's key file is damaged" in _one_line(err)


def test_disk_full_while_appending_is_one_line_and_resumable(data_root, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl"):
            calls.append(fd)
            if len(calls) == 5:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(out))
    assert rc == 2
    line = _one_line(err)
    assert "shard-0-of-1.jsonl" in line and "No space left on device (errno 28)" in line and "--resume" in line
    monkeypatch.setattr(os, "fsync", real_fsync)
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--resume", str(out))
    assert rc == 0, err
    assert len(_shard_ids(out)) == len(set(_shard_ids(out))) == 12


def test_resume_on_a_read_only_file_system(data_root, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(out), "--limit", "3")[0] == 0
    import evalkit.runner as runner

    def read_only(run_dir, ctx):  # the first write of a resumed run: its log
        raise OSError(errno.EROFS, "Read-only file system", str(run_dir / "log.txt"))

    monkeypatch.setattr(runner, "_setup_log", read_only)
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--resume", str(out))
    assert rc == 2
    line = _one_line(err)
    assert f"{out / 'log.txt'}: Read-only file system (EROFS)" in line and "read-only" in line


# -- 4. the per-sample try: NaN scores, unserialisable records -------------------------------
def _nan_on(monkeypatch, sample_id: int):
    real = evalkit_testkit.BlobAdapter.predict

    def predict(self, frames, prompt):
        out = real(self, frames, prompt)
        if frames.ids[0] == sample_id:
            i = out[0]
            return [Instances(i.image_size, i.boxes, scores=np.full(len(i), np.nan), labels=i.labels)]
        return out

    monkeypatch.setattr(evalkit_testkit.BlobAdapter, "predict", predict)


def test_nan_score_fails_one_sample_under_skip(data_root, tmp_path, capsys, monkeypatch):
    _nan_on(monkeypatch, 4)
    out = tmp_path / "run"
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(out), "--on-error", "skip")
    assert rc == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "partial" and {k: m["samples"][k] for k in ("total", "done", "failed")} == \
        {"total": 12, "done": 11, "failed": 1}
    run = json.loads((out / "run.json").read_text())
    assert "scores contain NaN" in run["failures"]["errors"]["4"]
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(tmp_path / "r2"))
    assert rc == 2 and "scores contain NaN or infinity" in _one_line(err)


def test_unserialisable_meta_fails_one_sample_under_skip(data_root, tmp_path, capsys, monkeypatch):
    real = evalkit_testkit.BlobsBenchmark.load_sample

    def load_sample(self, sid):
        s = real(self, sid)
        if sid == "2":
            s.meta["ratio"] = float("nan")  # JSON has no NaN: the store line cannot be written
        return s

    monkeypatch.setattr(evalkit_testkit.BlobsBenchmark, "load_sample", load_sample)
    out = tmp_path / "run"
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(out),
                   "--on-error", "skip", "--num-workers", "0")
    assert rc == 0, err
    assert json.loads((out / "metrics.json").read_text())["samples"]["failed"] == 1


# -- 5. signals -------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_like_ctrl_c(data_root, tmp_path, capsys, monkeypatch, sig):
    real = evalkit_testkit.BlobAdapter.predict
    calls = []

    def predict(self, frames, prompt):
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), sig)  # delivered to this (main) thread before predict returns
        return real(self, frames, prompt)

    monkeypatch.setattr(evalkit_testkit.BlobAdapter, "predict", predict)
    out = tmp_path / "run"
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--output-dir", str(out), "--num-workers", "0")
    assert rc == 128 + sig
    assert _one_line(err) == (f"evalkit: stopped by {signal.Signals(sig).name} (finished samples are kept; "
                              f"continue with --resume)")
    assert signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler, None)  # restored
    assert len(_shard_ids(out)) == 4
    monkeypatch.setattr(evalkit_testkit.BlobAdapter, "predict", real)
    assert _run(capsys, *BLOBS, "--data-root", str(data_root), "--resume", str(out))[0] == 0
    assert len(_shard_ids(out)) == len(set(_shard_ids(out))) == 12


# -- 6. options and weights of the tiny models ------------------------------------------------
def _tiny_run(capsys, runs: Path, *extra) -> tuple[int, str]:
    return _run(capsys, "--model", "uninext-tiny", "--benchmark", "shapes-coco-det", "--runs-root", str(runs),
                "--limit", "1", "--num-workers", "0", *extra)


def test_unknown_model_option_is_refused_with_the_list(suite_cache, tmp_path, capsys):
    rc, err = _tiny_run(capsys, tmp_path / "runs", "-a", "bogus_option=1")
    assert rc == 2
    line = _one_line(err)  # the UNINEXT settings refuse it, listing the valid options
    assert "option(s) 'bogus_option'; valid options: " in line and "use_iou_branch" in line
    assert not (tmp_path / "runs").exists()


def test_generic_option_hook_refuses_undeclared_keys(data_root, tmp_path, capsys, monkeypatch):
    """An adapter that declares its option keys (Adapter.option_keys / accepted_options) has
    every other -a key refused by the runner, with the list, before a run directory exists."""
    monkeypatch.setattr(evalkit_testkit.BlobAdapter, "option_keys", frozenset({"min_fill"}), raising=False)
    rc, err = _run(capsys, *BLOBS, "--data-root", str(data_root), "--runs-root", str(tmp_path / "runs"),
                   "-a", "bogus_option=1")
    assert rc == 2
    assert _one_line(err) == ("evalkit: error: model 'test-blobs' has no option 'bogus_option' "
                              "(-a/--model-arg accepts: min_fill)")
    assert not (tmp_path / "runs").exists()


def _state():
    from safetensors.torch import load_file

    from evalkit.zoo.tiny import weights_file

    return load_file(str(weights_file("uninext-tiny")))


def _bad_weights(kind: str, path: Path) -> Path:
    import torch
    from safetensors.torch import save_file

    from evalkit.zoo.tiny import weights_file

    if kind == "pth-garbage":
        path.write_bytes(b"\x80\x02garbage, not a checkpoint")
    elif kind == "safetensors-truncated":
        data = weights_file("uninext-tiny").read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "fp16":
        save_file({k: v.half() if v.is_floating_point() else v for k, v in _state().items()}, str(path))
    elif kind == "pth-missing-keys":
        torch.save(dict(list(_state().items())[:3]), path)
    return path


@pytest.mark.parametrize("kind,name,fragment", [
    ("pth-garbage", "w.pth", r"w\.pth: not a readable checkpoint"),
    ("safetensors-truncated", "w.safetensors", r"w\.safetensors: not a valid safetensors file"),
    ("fp16", "w.safetensors", r"w\.safetensors: tensor '[^']+' is float16, expected float32"),
    ("pth-missing-keys", "w.pth", r"w\.pth: cannot convert .* key\(s\) of the model not provided"),
])
def test_bad_weights_are_one_line_before_any_run_dir(suite_cache, tmp_path, capsys, kind, name, fragment):
    import re

    w = _bad_weights(kind, tmp_path / name)
    before = w.read_bytes()
    rc, err = _tiny_run(capsys, tmp_path / "runs", "--weights", str(w))
    assert rc == 2
    assert re.search(fragment, _one_line(err)), err
    assert not (tmp_path / "runs").exists()
    assert w.read_bytes() == before


def test_valid_pth_weights_load(suite_cache, tmp_path, capsys):
    """A torch.save file of the tiny state dict is read with torch.load(weights_only=True)
    (before: a SafetensorError from reading every --weights as safetensors)."""
    import hashlib

    import torch

    w = tmp_path / "tiny.pth"
    torch.save(_state(), w)
    rc, err = _tiny_run(capsys, tmp_path / "runs", "--weights", str(w))
    assert rc == 0, err
    (run,) = (tmp_path / "runs" / "shapes-coco-det" / "uninext-tiny").iterdir()
    assert json.loads((run / "run.json").read_text())["weights_sha256"] == hashlib.sha256(w.read_bytes()).hexdigest()
