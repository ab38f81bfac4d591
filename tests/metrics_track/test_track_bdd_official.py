"""Parity with the released bdd100k toolkit itself, when an environment that has it is given.

The toolkit (bdd100k 1.0.1 → scalabel 0.3.1 → motmetrics 1.4.0) needs numpy < 2 and pydantic 1,
so it cannot live beside this project. Point ``BDD100K_REFERENCE_PYTHON`` at the interpreter of
such an environment (``pip install numpy==1.26.4 pydantic==1.10.27 pandas==2.1.4 scipy==1.13.1
motmetrics==1.4.0 scalabel==0.3.1 bdd100k==1.0.1``) to run these tests; they skip otherwise.
"""
import json
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from evalkit.metrics import compute
from track_synth import BDD_NAMES, crowded_bdd_videos

REF = os.environ.get("BDD100K_REFERENCE_PYTHON")
pytestmark = pytest.mark.skipif(not REF, reason="BDD100K_REFERENCE_PYTHON not set")
KEYS = ("mMOTA", "mIDF1", "mMOTP", "MOTA", "IDF1", "MOTP", "FP", "FN", "IDSw", "MT", "PT", "ML", "FM")


def _official(task, gt, res, tmp_path):
    out = tmp_path / "official.json"
    subprocess.run([REF, "-m", "bdd100k.eval.run", "-t", task, "-g", str(gt), "-r", str(res), "--out-file", str(out),
                    "--nproc", "1"], check=True, capture_output=True)
    raw = json.loads(out.read_text())
    summary = {k: (v[-1].get("OVERALL", v[-1].get("AVERAGE")) if isinstance(v, list) else v) for k, v in raw.items()}
    per_class = {f"{c}/{k}": raw[k][0][c] for k in ("MOTA", "IDF1", "MOTP") for c in BDD_NAMES}
    return {**summary, **per_class}


def _same(ours, ref):
    for k in KEYS + tuple(f"{c}/{m}" for c in BDD_NAMES for m in ("MOTA", "IDF1", "MOTP")):
        a, b = ours[k], ref[k]
        if b is None or (isinstance(b, float) and np.isnan(b)):
            assert np.isnan(a), k
        else:
            assert a == pytest.approx(b, rel=1e-12, abs=1e-12), k


@pytest.mark.parametrize("seed", range(4))
def test_box_track_random(tmp_path, seed):
    rng = np.random.default_rng(seed)
    gt, pred = crowded_bdd_videos(rng, n_videos=3, n_frames=int(rng.integers(4, 20)), n_objects=int(rng.integers(3, 12)))
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    _same(compute("bdd100k-box-track", tmp_path / "gt.json", tmp_path / "pred.json"),
          _official("box_track", tmp_path / "gt.json", tmp_path / "pred.json", tmp_path))


@pytest.mark.parametrize("seed", range(3))
def test_seg_track_rle_random(tmp_path, seed):
    rng = np.random.default_rng(50 + seed)
    gt, pred = crowded_bdd_videos(rng, n_videos=2, n_frames=int(rng.integers(3, 8)), n_objects=int(rng.integers(2, 7)),
                                  mask_shape=(48, 64))
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    _same(compute("bdd100k-seg-track", tmp_path / "gt.json", tmp_path / "pred.json"),
          _official("seg_track", tmp_path / "gt.json", tmp_path / "pred.json", tmp_path))


def _bitmask_frame(rng, shape, objects, gt):
    a = np.zeros((*shape, 4), np.uint8)
    for iid, cat, box in objects:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        attr = int(rng.integers(0, 4)) if gt and rng.random() < 0.1 else int(rng.integers(0, 4)) << 2
        a[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = (cat, attr, iid >> 8, iid & 255)
    return a


@pytest.mark.parametrize("seed", range(3))
def test_seg_track_bitmask_random(tmp_path, seed):
    rng = np.random.default_rng(80 + seed)
    shape = (40, 56)
    for v in range(2):
        n = int(rng.integers(2, 8))
        pos = rng.uniform(0, 30, (n, 2))
        cats = rng.integers(1, 9, n)
        pid = np.arange(1, n + 1) * 7 + 300 * v
        for t in range(int(rng.integers(3, 7))):
            pos += rng.normal(0, 1.5, pos.shape)
            objs = [(o + 1, int(cats[o]), np.r_[pos[o], pos[o] + 12]) for o in range(n) if rng.random() > 0.1]
            preds = []
            for iid, cat, box in objs:
                if rng.random() < 0.1:  # id switch to a fresh id (unique within the frame)
                    pid[iid - 1] = pid.max() + 1
                if rng.random() < 0.8:
                    preds.append((int(pid[iid - 1]), cat, box + rng.normal(0, 1.5, 4)))
            for d, objects, is_gt in (("gt", objs, True), ("res", preds, False)):
                (tmp_path / d / f"v{v}").mkdir(parents=True, exist_ok=True)
                Image.fromarray(_bitmask_frame(rng, shape, objects, is_gt), "RGBA").save(tmp_path / d / f"v{v}" / f"f{t:03d}.png")
    _same(compute("bdd100k-seg-track", tmp_path / "gt", tmp_path / "res"),
          _official("seg_track", tmp_path / "gt", tmp_path / "res", tmp_path))
