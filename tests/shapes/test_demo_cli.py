"""The README's first command and its general-command equivalent, end to end in a subprocess:
``evalkit demo`` over both tiny models, and ``evalkit run`` over several splits skipping those
whose task a model does not have."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from evalkit.zoo.tiny import TINY_MODELS, weights_file

pytestmark = pytest.mark.skipif(not all(weights_file(m).is_file() for m in TINY_MODELS),
                                reason="tiny weights not trained yet")


def _evalkit(args, tmp_path, subprocess_env):
    env = dict(subprocess_env, EVALKIT_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def test_demo_runs_both_tiny_models(tmp_path, subprocess_env):
    out = _evalkit(["demo", "-b", "shapes-davis", "--limit", "1", "--runs-root", "runs"], tmp_path, subprocess_env)
    assert out.returncode == 0, out.stderr[-3000:]
    # one leaderboard row per model, partial runs (--limit) marked as such by the report
    assert "uninext-tiny" in out.stdout and "uniref-pp-tiny" in out.stdout, out.stdout
    # the metric's headline (J&F-Mean, reported under its canonical name) leads the table
    assert "| shapes J&F | shapes J |" in out.stdout, out.stdout
    assert "2 runs in" in out.stderr
    assert sorted(p.name for p in (tmp_path / "runs" / "shapes-davis").iterdir()) == ["uninext-tiny", "uniref-pp-tiny"]


def test_run_over_several_splits_skips_missing_tasks(tmp_path, subprocess_env):
    out = _evalkit(["run", "-q", "-m", "uniref-pp-tiny", "-b", "shapes-coco-det,shapes-refcoco-res",
                    "--limit", "2", "--runs-root", "runs"], tmp_path, subprocess_env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "skip uniref-pp-tiny on shapes-coco-det: uniref-pp-tiny has no det task" in out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [(r["model"], r["benchmark"], r["status"]) for r in rows] == [("uniref-pp-tiny", "shapes-refcoco-res", "partial")]
    # a --limit run is scored on the expressions it ran (2 here), not on the whole split
    assert rows[0]["metrics"]["P@0.5"] in (0.0, 50.0, 100.0), rows[0]["metrics"]
    rescored = _evalkit(["score", "--json", "--run", rows[0]["run_dir"]], tmp_path, subprocess_env)
    assert rescored.returncode == 0, rescored.stderr[-2000:]
    assert json.loads(rescored.stdout)["P@0.5"] == rows[0]["metrics"]["P@0.5"]
    # a single explicit pair the model cannot do is still an error, naming the task
    out = _evalkit(["run", "-q", "-m", "uniref-pp-tiny", "-b", "shapes-coco-det", "--limit", "1"], tmp_path, subprocess_env)
    assert out.returncode == 2 and "does not support task 'det'" in out.stderr, out.stderr[-2000:]


def test_demo_limit_3_scores_mot_and_vis_on_the_samples_run(tmp_path, subprocess_env):
    """`evalkit demo --limit 3` used to abort on shapes-mot (TrackEval: no results file for
    SHAPES-04); the ‡ note said "3 of 3 samples"."""
    out = _evalkit(["demo", "-m", "uninext-tiny", "-b", "shapes-mot,shapes-ytvis", "--limit", "3",
                    "--runs-root", "runs"], tmp_path, subprocess_env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "uninext-tiny on shapes-mot: --limit 3, 3 of 4 samples" in out.stdout, out.stdout
    assert "uninext-tiny on shapes-ytvis: --limit 3, 3 of 4 samples" in out.stdout, out.stdout
    for bid, first3 in (("shapes-mot", ["SHAPES-01", "SHAPES-02", "SHAPES-03"]), ("shapes-ytvis", ["1", "2", "3"])):
        (run,) = (tmp_path / "runs" / bid / "uninext-tiny").iterdir()
        m = json.loads((run / "metrics.json").read_text())
        assert m["status"] == "partial" and m["selection"]["ids"] == first3
        assert m["samples"] == {"total": 4, "selected": 3, "done": 3, "failed": 0}
