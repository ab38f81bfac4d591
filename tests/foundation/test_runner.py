"""End-to-end runs of the runner over the generated blobs benchmark (test adapter)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import evalkit_testkit
from evalkit.runner import RunConfig, run_evaluation


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=12)
    return tmp_path / "data"


def _cfg(data_root, out, **kw):
    return RunConfig(model="test-blobs", benchmark="test-blobs-val", data_root=str(data_root),
                     output_dir=str(out), quiet=True, **kw)


def test_end_to_end_run_writes_metrics_and_provenance(data_root, tmp_path):
    res = run_evaluation(_cfg(data_root, tmp_path / "run"))
    assert res.status == "complete"
    m = json.loads((res.run_dir / "metrics.json").read_text())
    assert m["benchmark"] == "test-blobs-val" and m["model"] == "test-blobs"
    assert m["samples"] == {"total": 12, "selected": 12, "done": 12, "failed": 0}
    # the detector finds every blob exactly but also emits low-score false positives
    assert 0.5 < m["metrics"]["AP"] <= 1.0
    assert m["metrics"]["AP50"] == pytest.approx(1.0)
    run = json.loads((res.run_dir / "run.json").read_text())
    for key in ("evalkit_version", "git_hash", "versions", "hardware", "weights_sha256",
                "data_fingerprint", "config", "timings", "throughput", "failures"):
        assert key in run, key
    assert set(run["timings"]) >= {"data_s", "inference_s", "scoring_s", "total_s"}
    assert run["versions"]["torch"]
    assert run["config"]["seed"] == 0
    assert (res.run_dir / "results" / "bbox_results.json").exists()
    assert len((res.run_dir / "predictions" / "shard-0-of-1.jsonl").read_text().splitlines()) == 12


def test_never_overwrites_and_limit_marks_partial(data_root, tmp_path):
    out = tmp_path / "run"
    run_evaluation(_cfg(data_root, out, limit=3))
    m = json.loads((out / "metrics.json").read_text())
    # the record counts the split's samples, not only those selected
    assert m["status"] == "partial" and m["limit"] == 3
    assert m["samples"] == {"total": 12, "selected": 3, "done": 3, "failed": 0}
    from evalkit.errors import EvalkitError

    with pytest.raises(EvalkitError, match="never overwrites"):
        run_evaluation(_cfg(data_root, out))


def test_default_run_dirs_are_timestamped_and_distinct(data_root, tmp_path):
    cfg = RunConfig(model="test-blobs", benchmark="test-blobs-val", data_root=str(data_root),
                    runs_root=str(tmp_path / "runs"), quiet=True, limit=2)
    a = run_evaluation(cfg).run_dir
    b = run_evaluation(cfg).run_dir
    assert a != b and a.parent == b.parent == tmp_path / "runs" / "test-blobs-val" / "test-blobs"


def test_on_error_skip_counts_failures(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_TESTKIT_FAIL", "3,5")
    res = run_evaluation(_cfg(data_root, tmp_path / "run", on_error="skip"))
    assert res.status == "partial"
    assert res.samples == {"total": 12, "selected": 12, "done": 10, "failed": 2}
    run = json.loads((res.run_dir / "run.json").read_text())
    assert run["failures"]["count"] == 2 and sorted(run["failures"]["samples"]) == ["3", "5"]
    # the failed samples are retried by --resume and the run becomes complete
    monkeypatch.delenv("EVALKIT_TESTKIT_FAIL")
    res2 = run_evaluation(_cfg(data_root, tmp_path / "run", resume=str(res.run_dir)))
    assert res2.status == "complete" and res2.samples["failed"] == 0


def test_on_error_raise_keeps_finished_samples(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_TESTKIT_FAIL", "4")
    with pytest.raises(RuntimeError, match="planned failure"):
        run_evaluation(_cfg(data_root, tmp_path / "run"))
    lines = (tmp_path / "run" / "predictions" / "shard-0-of-1.jsonl").read_text().splitlines()
    assert [json.loads(l)["sample_id"] for l in lines] == ["1", "2", "3"]


def test_score_mode_rescores_the_store(data_root, tmp_path):
    first = run_evaluation(_cfg(data_root, tmp_path / "run"))
    again = run_evaluation(RunConfig(model="test-blobs", benchmark="test-blobs-val",
                                     data_root=str(data_root), mode="score", resume=str(first.run_dir),
                                     quiet=True))
    assert again.metrics == first.metrics


def test_resume_with_other_data_is_refused(data_root, tmp_path):
    first = run_evaluation(_cfg(data_root, tmp_path / "run", limit=2))
    evalkit_testkit.generate(data_root / "blobs", n_images=12, seed=1)  # different data
    from evalkit.errors import EvalkitError

    with pytest.raises(EvalkitError, match="data_fingerprint"):
        run_evaluation(_cfg(data_root, tmp_path / "run", resume=str(first.run_dir)))


def _cli(args, env, **kw):
    return subprocess.run([sys.executable, "-m", "evalkit", *args], env=env, capture_output=True,
                          text=True, **kw)


def test_sigkill_then_resume_gives_identical_metrics(data_root, tmp_path, subprocess_env):
    env = dict(subprocess_env)
    ref = _cli(["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root", str(data_root),
                "-o", str(tmp_path / "ref"), "--quiet"], env)
    assert ref.returncode == 0, ref.stderr
    log = tmp_path / "predicted.log"
    env["EVALKIT_TESTKIT_LOG"] = str(log)
    env["EVALKIT_TESTKIT_KILL_AT"] = "5"
    killed = _cli(["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root", str(data_root),
                   "-o", str(tmp_path / "run"), "--quiet"], env)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "run" / "metrics.json").exists()
    del env["EVALKIT_TESTKIT_KILL_AT"]
    resumed = _cli(["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root", str(data_root),
                    "--resume", str(tmp_path / "run"), "--quiet"], env)
    assert resumed.returncode == 0, resumed.stderr
    predicted = log.read_text().split()
    assert sorted(predicted, key=int) == [str(i) for i in range(1, 13)]  # each sample exactly once
    a = json.loads((tmp_path / "ref" / "metrics.json").read_text())["metrics"]
    b = json.loads((tmp_path / "run" / "metrics.json").read_text())["metrics"]
    assert a == b


def test_truncated_last_line_is_ignored_and_cut(tmp_path):
    from evalkit.store import PredictionStore

    store = PredictionStore(tmp_path / "predictions")
    store.init("k", {})
    shard = store.open_shard(0, 1)
    shard.append({"sample_id": "a", "instances": []})
    shard.close()
    with open(store.shard_path(0, 1), "a") as f:
        f.write('{"sample_id": "b", "inst')  # a write cut by a crash
    done, _ = store.read()
    assert list(done) == ["a"]
    shard = store.open_shard(0, 1)
    shard.append({"sample_id": "c", "instances": []})
    shard.close()
    assert list(store.read()[0]) == ["a", "c"]


@pytest.mark.skipif(sys.platform != "linux", reason="torchrun/gloo test runs on Linux")
def test_torchrun_two_processes_equal_one(data_root, tmp_path, subprocess_env):
    env = dict(subprocess_env)
    one = _cli(["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root", str(data_root),
                "-o", str(tmp_path / "one"), "--quiet"], env)
    assert one.returncode == 0, one.stderr
    env["OMP_NUM_THREADS"] = "1"
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
         str(29500 + os.getpid() % 1000), "-m", "evalkit", "run", "-m", "test-blobs", "-b",
         "test-blobs-val", "--data-root", str(data_root), "-o", str(tmp_path / "two"), "--quiet"],
        env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    shards = sorted(p.name for p in (tmp_path / "two" / "predictions").glob("shard-*.jsonl"))
    assert shards == ["shard-0-of-2.jsonl", "shard-1-of-2.jsonl"]
    ids = [json.loads(l)["sample_id"] for s in shards
           for l in (tmp_path / "two" / "predictions" / s).read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 13)]  # exact cover, no duplicates
    a = json.loads((tmp_path / "one" / "metrics.json").read_text())["metrics"]
    b = json.loads((tmp_path / "two" / "metrics.json").read_text())["metrics"]
    assert a == b
    assert json.loads((tmp_path / "two" / "run.json").read_text())["config"]["world_size"] == 2


def test_shard_exact_covers_without_padding():
    from evalkit.distributed import shard_exact

    for n in range(0, 12):
        for world in range(1, 5):
            parts = [shard_exact(list(range(n)), r, world) for r in range(world)]
            assert sum(parts, []) == list(range(n))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.skipif(sys.platform != "linux", reason="torchrun/gloo test runs on Linux")
def test_torchrun_hung_rank_gives_clear_timeout(data_root, tmp_path, subprocess_env):
    env = dict(subprocess_env, OMP_NUM_THREADS="1", EVALKIT_TESTKIT_HANG_RANK="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
         str(30500 + os.getpid() % 1000), "-m", "evalkit", "run", "-m", "test-blobs", "-b",
         "test-blobs-val", "--data-root", str(data_root), "-o", str(tmp_path / "run"), "--quiet",
         "--dist-timeout", "4"],
        env=env, capture_output=True, text=True, timeout=200)
    assert proc.returncode != 0
    assert "timed out after 4 s waiting for the other ranks at 'end of inference'" in proc.stderr
    assert "evalkit: error: rank 0: timed out" in proc.stderr  # one clear line from rank 0


# ------------------------------------------------------------------------------------------
# sample selections: --limit / --samples, recorded, re-scored and resumed consistently
# ------------------------------------------------------------------------------------------
def test_samples_run_is_scored_on_its_images(data_root, tmp_path):
    """A --samples run equals cocoapi over those images only (params.imgIds), recorded as such."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    res = run_evaluation(_cfg(data_root, tmp_path / "run", samples="12,3,7"))
    m = json.loads((res.run_dir / "metrics.json").read_text())
    assert res.status == "partial" and m["samples"] == {"total": 12, "selected": 3, "done": 3, "failed": 0}
    assert m["selection"]["rule"] == "samples" and m["selection"]["ids"] == ["3", "7", "12"]  # the split's order
    import hashlib

    assert m["selection"]["sha256"] == hashlib.sha256(b"3\n7\n12").hexdigest()
    gt = COCO(str(data_root / "blobs" / "annotations" / "instances_val.json"))
    ev = COCOeval(gt, gt.loadRes(str(res.run_dir / "results" / "bbox_results.json")), "bbox")
    ev.params.imgIds = [3, 7, 12]
    ev.evaluate(); ev.accumulate(); ev.summarize()
    assert m["metrics"]["AP"] == pytest.approx(ev.stats[0])


def test_samples_from_a_file_and_limit_of_samples(data_root, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("# chosen\n5\n\n2\n9\n")
    res = run_evaluation(_cfg(data_root, tmp_path / "a", samples=f"@{ids}"))
    assert json.loads((res.run_dir / "metrics.json").read_text())["selection"]["ids"] == ["2", "5", "9"]
    res = run_evaluation(_cfg(data_root, tmp_path / "b", samples=str(ids), limit=2))  # a plain path too
    sel = json.loads((res.run_dir / "metrics.json").read_text())["selection"]
    assert sel["ids"] == ["2", "5"] and sel["rule"] == "samples+limit" and sel["total"] == 12


def test_unknown_or_empty_samples_are_one_line_errors(data_root, subprocess_env, tmp_path):
    base = ["run", "-m", "test-blobs", "-b", "test-blobs-val", "--data-root", str(data_root), "-q"]
    msg = _one_line(_cli(base + ["--samples", "3,99"], subprocess_env))
    assert "'99' is not a sample id of test-blobs-val" in msg and "12 samples" in msg
    msg = _one_line(_cli(base + ["--samples", f"@{tmp_path / 'none.txt'}"], subprocess_env))
    assert "none.txt" in msg and "no such file" in msg
    (tmp_path / "empty.txt").write_text("# nothing\n")
    assert "lists no sample id" in _one_line(_cli(base + ["--samples", f"@{tmp_path / 'empty.txt'}"], subprocess_env))
    assert "no sample id given" in _one_line(_cli(base + ["--samples", ","], subprocess_env))


def _one_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("evalkit: error:"), proc.stderr
    return lines[0]


def test_resume_with_another_selection_never_replaces_a_complete_run(data_root, tmp_path):
    """Before: --resume of a complete run with --limit 5 rewrote its metrics.json to a 5-sample
    result. Now refused, and the files are untouched."""
    from evalkit.errors import EvalkitError

    full = run_evaluation(_cfg(data_root, tmp_path / "run"))
    before = (full.run_dir / "metrics.json").read_bytes()
    for kw in ({"limit": 5}, {"samples": "1,2"}):
        with pytest.raises(EvalkitError, match=r"covers all 12 samples; this invocation selects 5 of 12|covers all 12 "
                                               r"samples; this invocation selects 2 of 12"):
            run_evaluation(_cfg(data_root, tmp_path / "run", resume=str(full.run_dir), **kw))
    assert (full.run_dir / "metrics.json").read_bytes() == before
    assert json.loads((full.run_dir / "selection.json").read_text())["count"] == 12
    # resuming with no selection keeps the run's own: re-scored, still complete
    again = run_evaluation(_cfg(data_root, tmp_path / "run", resume=str(full.run_dir)))
    assert again.status == "complete" and again.metrics == full.metrics


def test_resume_of_a_partial_run_keeps_or_extends_its_selection(data_root, tmp_path):
    from evalkit.errors import EvalkitError

    part = run_evaluation(_cfg(data_root, tmp_path / "run", limit=3))
    # --mode score --resume (the advice of a failed scoring) re-scores the 3 samples run: before,
    # it selected the whole split and failed asking for --resume again
    rescored = run_evaluation(_cfg(data_root, tmp_path / "run", mode="score", resume=str(part.run_dir)))
    assert rescored.status == "partial" and rescored.metrics == part.metrics
    assert rescored.samples == {"total": 12, "selected": 3, "done": 3, "failed": 0}
    with pytest.raises(EvalkitError, match="would replace its metrics"):  # a subset of it
        run_evaluation(_cfg(data_root, tmp_path / "run", resume=str(part.run_dir), limit=2))
    # a selection that keeps the 3 samples extends the run
    more = run_evaluation(_cfg(data_root, tmp_path / "run", resume=str(part.run_dir), limit=5))
    assert more.samples == {"total": 12, "selected": 5, "done": 5, "failed": 0}
    done = run_evaluation(_cfg(data_root, tmp_path / "run", resume=str(part.run_dir), limit=12))
    assert done.status == "complete"
    # --mode score on samples without predictions says to infer them, not to re-score again
    with pytest.raises(EvalkitError, match=r"without --mode score"):
        other = run_evaluation(_cfg(data_root, tmp_path / "other", limit=2))
        run_evaluation(_cfg(data_root, tmp_path / "other", mode="score", resume=str(other.run_dir), limit=4))


def test_partial_footnote_counts_the_split(data_root, tmp_path):
    """The ‡ note of a --limit 3 run says 3 of the split's 12 samples (it said "3 of 3")."""
    from evalkit.reports.rundirs import load_run
    from evalkit.reports.table import build_tables

    def notes(**kw):
        res = run_evaluation(_cfg(data_root, tmp_path / str(len(kw)) / str(kw), **kw))
        return " ".join(f.text for t in build_tables([load_run(res.run_dir)]) for f in t.footnotes)

    assert "test-blobs on test-blobs-val: --limit 3, 3 of 12 samples" in notes(limit=3)
    assert "test-blobs on test-blobs-val: --samples, 2 of 12 samples" in notes(samples="1,4")


def test_latest_run_orders_same_second_folders_by_number(tmp_path):
    """``_claim_run_dir`` names the 11th run of one second ``<stamp>-10``: it is newer than
    ``<stamp>-2`` although it sorts before it as a string."""
    from evalkit.runner import find_latest_run

    base = tmp_path / "b" / "m"
    for name in ("20261208-034512", "20261208-034512-2", "20261208-034512-10", "20261207-235959-99"):
        (base / name / "predictions").mkdir(parents=True)
        (base / name / "predictions" / "store.json").write_text("{}")
    assert find_latest_run(tmp_path, "b", "m").name == "20261208-034512-10"
