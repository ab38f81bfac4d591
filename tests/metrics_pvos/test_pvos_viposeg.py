"""VIPOSeg G: parity with a literal per-frame transcription of the official evaluator's rules,
on seeded random datasets (late objects, re-annotated objects, empty masks, class 98 in seen and
unseen videos, classes outside every list), plus bad input."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from evalkit.errors import ResultsError
from evalkit.metrics import compute
from evalkit.metrics import viposeg as V


def _png(path: Path, lab: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(lab.astype(np.uint8), mode="L").save(path)


def _make(root: Path, rng, n_videos=3, T=6, H=24, W=30):
    gt, res = root / "valid", root / "res"
    classes = {}
    pool = [60, 28, 102, 9, 98, 7, 500]  # thing seen, stuff seen, thing unseen, stuff unseen, other machine, stuff, none
    for k in range(n_videos):
        v = ("187_WUZUSD4477I" if k == 0 else f"{k}_vid{k}")  # the first is an 'other machine unseen' video
        n_obj = int(rng.integers(1, 5))
        starts = sorted(int(rng.integers(0, T - 1)) for _ in range(n_obj))
        classes[v] = {str(o + 1): int(rng.choice(pool)) for o in range(n_obj)}
        for t in range(T):
            lab = np.zeros((H, W), np.uint8)
            pred = np.zeros((H, W), np.uint8)
            for o in range(n_obj):
                if t < starts[o]:
                    continue
                y, x = int(rng.integers(0, H - 6)), int(rng.integers(0, W - 6))
                h, w = int(rng.integers(2, 8)), int(rng.integers(2, 9))
                if rng.random() > 0.15:  # sometimes the object vanishes in the GT
                    lab[y:y + h, x:x + w] = o + 1
                if rng.random() > 0.2:  # sometimes the prediction misses it
                    dy, dx = rng.integers(-2, 3, 2)
                    pred[max(0, y + dy):y + h + dy, max(0, x + dx):x + w + dx] = o + 1
            _png(gt / "Annotations_gt" / v / f"{t:05d}.png", lab)
            _png(res / v / f"{t:05d}.png", pred)
            intro = [o + 1 for o in range(n_obj) if starts[o] == t]
            if t > 0 and rng.random() < 0.2 and n_obj:  # an object annotated again: counted twice
                intro.append(1)
            if intro:
                ref = np.where(np.isin(lab, intro), lab, 0)
                ref[0, 0] = intro[0] if not (ref == intro[0]).any() else ref[0, 0]
                _png(gt / "Annotations" / v / f"{t:05d}.png", ref)
    (gt / "obj_class.json").write_text(json.dumps(classes))
    return gt, res


def _literal(gt: Path, res: Path):
    """The official rules, one object and frame at a time."""
    classes = json.loads((gt / "obj_class.json").read_text())
    buckets = {b: ([], []) for b in V.BUCKETS}

    def boundary(m):
        h, w = m.shape
        d = max(1, int(round(0.02 * np.sqrt(h * h + w * w))))
        p = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        e = cv2.erode(p, np.ones((3, 3), np.uint8), iterations=d)[1:h + 1, 1:w + 1]
        return m - e

    for vdir in sorted(res.iterdir()):
        v = vdir.name
        frames = sorted((gt / "Annotations_gt" / v).iterdir())
        preds = sorted(vdir.iterdir())
        refs = {p.name: p for p in (gt / "Annotations" / v).glob("*.png")}
        ids = []
        for f, p in zip(frames, preds):
            lab = np.array(Image.open(f), np.uint8)
            pr = np.array(Image.open(p), np.uint8)
            for oid in ids:
                g, d = lab == oid, pr == oid
                if d.sum() == 0 and g.sum() != 0 or d.sum() != 0 and g.sum() == 0:
                    mi = bi = 0.0
                elif d.sum() == 0 and g.sum() == 0:
                    mi = bi = 1.0
                else:
                    mi = (g & d).sum() / (g | d).sum()
                    bg, bd = boundary(g.astype(np.uint8)), boundary(d.astype(np.uint8))
                    u = ((bg + bd) > 0).sum()
                    bi = ((bg * bd) > 0).sum() / u if u else 0
                c = classes[v][str(oid)]
                b = V.bucket_of(c, v)
                if b:
                    buckets[b][0].append(mi)
                    buckets[b][1].append(bi)
            if f.name in refs:
                ids.extend(x for x in np.unique(np.array(Image.open(refs[f.name]))) if x != 0)
    out = {}
    for b in V.BUCKETS:
        m = np.mean(buckets[b][0]) if buckets[b][0] else np.nan
        bi = np.mean(buckets[b][1]) if buckets[b][1] else np.nan
        out[f"{b}_iou"] = 100 * (m + bi) / 2
    out["G"] = np.mean([out[f"{b}_iou"] for b in V.BUCKETS])
    return out


@pytest.mark.parametrize("seed", range(8))
def test_matches_literal_official_rules(tmp_path, seed):
    gt, res = _make(tmp_path, np.random.default_rng(seed), n_videos=4)
    ours = compute("viposeg", gt, res)
    ref = _literal(gt, res)
    for k, v in ref.items():
        if np.isnan(v):
            assert np.isnan(ours[k]), k
        else:
            assert ours[k] == pytest.approx(v, abs=1e-9), k


def test_buckets_follow_the_official_cascade():
    assert V.bucket_of(98, "187_WUZUSD4477I") == "stuff_unseen"
    assert V.bucket_of(98, "5_other") == "stuff_seen"
    assert V.bucket_of(26, "v") == "stuff_unseen"  # unseen list, though absent from the stuff list
    assert V.bucket_of(102, "v") == "thing_unseen" and V.bucket_of(60, "v") == "thing_seen"
    assert V.bucket_of(500, "v") is None


def test_empty_rules_and_boundary():
    z = np.zeros((10, 12), bool)
    assert V.object_scores(z, z) == (1.0, 1.0)
    m = z.copy()
    m[2:6, 3:8] = True
    assert V.object_scores(m, z) == (0.0, 0.0) and V.object_scores(z, m) == (0.0, 0.0)
    assert V.object_scores(m, m) == (1.0, 1.0)


def test_decay_is_reported(tmp_path):
    gt, res = _make(tmp_path, np.random.default_rng(3), n_videos=3)
    out = compute("viposeg", gt, res, eval_decay=True)
    assert "decay" in out and np.isfinite(out["decay"])


def test_bad_input(tmp_path):
    gt, res = _make(tmp_path, np.random.default_rng(1), n_videos=2)
    victim = sorted((res / "1_vid1").iterdir())[2]
    victim.unlink()
    with pytest.raises(ResultsError, match="first missing: 00002.png"):
        compute("viposeg", gt, res)
    _png(victim, np.zeros((5, 5), np.uint8))
    with pytest.raises(ResultsError, match="ground truth frame"):
        compute("viposeg", gt, res)
    # a ground-truth folder that is not there is named as such (before: only its obj_class.json)
    with pytest.raises(ResultsError, match="nowhere does not exist"):
        compute("viposeg", tmp_path / "nowhere", res)
