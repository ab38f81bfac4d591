"""Parity with BURST-benchmark's own evaluator (``burstapi/eval/run.py``), when a checkout is given.

The benchmark code is not on PyPI. Point ``BURST_REFERENCE_PATH`` at a BURST-benchmark checkout
(the folder holding ``burstapi/``) to run these tests; they skip otherwise. Its bundled
TrackEval copy still uses ``np.int`` / ``np.float``, which the runner restores.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from evalkit.metrics import compute
from test_track_burst import _burst, _rect

REF = os.environ.get("BURST_REFERENCE_PATH")
pytestmark = pytest.mark.skipif(not REF, reason="BURST_REFERENCE_PATH not set")
RUNNER = (
    "import runpy, sys\n"
    "import numpy as np\n"
    "np.int, np.float = int, float\n"
    "sys.path.insert(0, sys.argv.pop(1))\n"
    "runpy.run_module('burstapi.eval.run', run_name='__main__')\n"
)
CATEGORIES = [4, 13, 34, 35, 1, 2, 3, 5]  # four common (COCO) and four uncommon TAO categories


def random_burst(rng):
    gt_seqs, pred_seqs = {}, {}
    for sid in range(1, int(rng.integers(2, 4))):
        n = int(rng.integers(2, 6))
        cats = {k + 1: int(rng.choice(CATEGORIES)) for k in range(n)}
        pos = rng.integers(0, 16, (n, 2))
        pid = {k + 1: k + 1 for k in range(n)}
        g_frames, p_frames = [], []
        for _ in range(int(rng.integers(2, 7))):
            g, p = {}, {}
            for k in range(1, n + 1):
                if rng.random() < 0.15:
                    continue
                y, x = pos[k - 1] + rng.integers(-1, 2, 2)
                g[k] = _rect(int(y), int(x), 5, 7)
                if rng.random() < 0.1:
                    pid[k] = int(rng.integers(50, 90))
                if rng.random() < 0.8 and pid[k] not in p:
                    p[pid[k]] = _rect(int(y + rng.integers(-1, 2)), int(x + rng.integers(-1, 2)), 5, 7)
            g_frames.append(g)
            p_frames.append(p)
        pred_cats = {i: cats[i] if i in cats and rng.random() < 0.8 else int(rng.choice(CATEGORIES))
                     for f in p_frames for i in f}
        gt_seqs[sid], pred_seqs[sid] = (cats, g_frames), (pred_cats, p_frames)
    return _burst(gt_seqs), _burst(pred_seqs)


@pytest.mark.parametrize("task", ["class_guided", "exemplar_guided", "open_world"])
@pytest.mark.parametrize("seed", range(2))
def test_random_burst_equals_run_py(tmp_path, seed, task):
    gt, pred = random_burst(np.random.default_rng(seed))
    for split in ("all", "common", "uncommon"):
        (tmp_path / f"{split}_classes.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    subprocess.run([sys.executable, "-c", RUNNER, REF, "--pred", str(tmp_path / "pred.json"), "--gt", str(tmp_path),
                    "--task", task, "--nprocs", "1", "--output", str(tmp_path / "out.json")],
                   check=True, capture_output=True)
    ref = json.loads((tmp_path / "out.json").read_text())
    ours = compute("burst", tmp_path, tmp_path / "pred.json", task=task)
    for metric, splits in ref.items():
        for split, v in splits.items():
            assert ours[f"{metric}_{split}"] == pytest.approx(v, rel=1e-12, abs=1e-12, nan_ok=True), (metric, split)
