"""Per-sequence breakdowns of LVOS and YouTube-VOS: every reported key is rebuilt from the
videos (seen/unseen object-weighted means, and their averages), checked on random cases and on
one case derived by hand.

Official rules encoded: ``lvos-evaluation`` averages J, F, V over the *objects* of the seen and
of the unseen videos separately, and J&F-Mean = (J_seen + F_seen + J_unseen + F_unseen) / 4;
YouTube-VOS G = (J_s + F_s + J_u + F_u) / 4 with seen/unseen decided per object category.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from evalkit.breakdown import aggregate, load_breakdown, write_breakdown
from evalkit.metrics import compute
from evalkit.metrics._breakdown import collecting
import evalkit.metrics.catalog  # noqa: F401

from vos_synth import blob_video, perturb, write_video


def _collect(metric, gt, res, tmp_path, **opts):
    with collecting() as found:
        m = compute(metric, gt, res, **opts)
    [bd] = found
    write_breakdown(tmp_path / "breakdown.json", bd, benchmark="b", model="m", metric=metric, metrics=m)
    return m, load_breakdown(tmp_path)


@pytest.mark.parametrize("seed", range(3))
def test_lvos_breakdown_rebuilds_every_key(tmp_path, seed):
    rng = np.random.default_rng(seed)
    meta, unseen = {}, []
    for v in range(4):
        name = f"vid{v}"
        T = int(rng.integers(4, 8))
        K = int(rng.integers(1, 4))
        gt = blob_video(rng, T * 5, 16, 20, K)
        res = perturb(rng, gt, K, rng.choice(["noisy", "empty", "perfect"]))
        names = [f"{i:08d}" for i in range(T * 5)]
        write_video(tmp_path / "gt" / "Annotations", name, gt, names)
        write_video(tmp_path / "res", name, res, names)
        meta[name] = {str(k): {"frame_range": {"start": "0", "end": str(T * 5), "frame_nums": str(T)}}
                      for k in range(1, K + 1)}
        if v % 2:
            unseen.append(name)
    (tmp_path / "gt" / "valid_meta.json").write_text(json.dumps({"videos": {k: {"objects": o} for k, o in meta.items()}}))
    (tmp_path / "gt" / "unseen_videos.txt").write_text("\n".join(unseen))
    m, bd = _collect("lvos", tmp_path / "gt", tmp_path / "res", tmp_path)
    assert set(bd["samples"]) == set(meta)
    assert set(bd["aggregates"]) == set(m)  # every reported key has an aggregate
    for key, value in m.items():
        assert aggregate(bd, key) == pytest.approx(value, abs=1e-12), key


def test_ytvos_breakdown_by_hand(tmp_path):
    # video "a": objects 1 (cat, seen) and 2 (zebra, unseen), both perfect; video "b": one cat
    # object predicted empty. J_s = mean over the seen *objects* (1 + 0) / 2, not over videos.
    rng = np.random.default_rng(0)
    ga = blob_video(rng, 6, 20, 24, 2)
    gb = blob_video(rng, 6, 20, 24, 1)
    meta = {"videos": {"a": {"objects": {"1": {"category": "cat"}, "2": {"category": "zebra"}}},
                       "b": {"objects": {"1": {"category": "cat"}}}}}
    m, bd = _collect("ytvos", {"a": ga, "b": gb}, {"a": ga.copy(), "b": np.zeros_like(gb)}, tmp_path,
                     meta=meta, unseen_categories="zebra")
    a, b = bd["samples"]["a"], bd["samples"]["b"]
    assert (a["n_s"], a["n_u"], b["n_s"], b["n_u"]) == (1, 1, 1, 0)
    assert a["J_s"] == 1.0 and b["J_s"] == 0.0 and b["J_u"] is None
    assert m["J_s"] == pytest.approx(0.5) and m["J_u"] == 1.0
    for key, value in m.items():
        assert aggregate(bd, key) == pytest.approx(value, abs=1e-12), key


def test_vspw_breakdown_window_pooled_vc_by_hand(tmp_path):
    # video "long": 10 frames, GT constant, prediction constant -> n = 8: windows 0..1, both 1.0;
    # video "flip": 9 frames, GT constant, prediction changes pixel 0 in frame 3 -> one window
    # (0..7) where 1 of 2 consistent GT pixels keeps its prediction: 0.5. Pooled over windows:
    # (1 + 1 + 0.5) / 3, not the mean of the videos' own values (1 + 0.5) / 2.
    g_long, p_long = np.full((10, 1, 2), 3, np.uint8), np.full((10, 1, 2), 2, np.uint8)
    g_flip, p_flip = np.full((9, 1, 2), 3, np.uint8), np.full((9, 1, 2), 2, np.uint8)
    p_flip[3, 0, 0] = 7
    m, bd = _collect("vspw", {"long": g_long, "flip": g_flip}, {"long": p_long, "flip": p_flip}, tmp_path, vc=(8,))
    s = bd["samples"]
    assert (s["long"]["vc8_sum"], s["long"]["vc8_n"], s["flip"]["vc8_sum"], s["flip"]["vc8_n"]) == (2.0, 2, 0.5, 1)
    assert m["mVC8"] == pytest.approx(2.5 / 3) and aggregate(bd, "mVC8") == pytest.approx(m["mVC8"], abs=1e-12)
    assert "mIoU" not in bd["aggregates"]  # one pooled confusion matrix: no per-video rebuild
    assert s["long"]["mIoU"] == 1.0 and s["flip"]["mIoU"] < 1.0


@pytest.mark.parametrize("protocol", ["lasot", "tnl2k", "trackingnet"])
def test_sot_per_sequence_means_rebuild_the_protocol_keys(tmp_path, protocol):
    # pytracking's print_results and the TrackingNet devkit average per-sequence curves over
    # sequences (float32 in pytracking), so every key is the mean of the sequences' own values
    rng = np.random.default_rng(3)
    gt, res = {}, {}
    for k, n in enumerate((30, 12, 50)):  # sequences of different lengths: a mean, not pooled
        boxes = np.column_stack([rng.uniform(10, 50, n), rng.uniform(10, 50, n), rng.uniform(20, 40, n),
                                 rng.uniform(20, 40, n)])
        gt[f"seq{k}"] = {"boxes": boxes, "visible": np.ones(n, bool)}
        noisy = boxes + rng.normal(0, 3 + 4 * k, boxes.shape)
        noisy[:, 2:] = np.maximum(noisy[:, 2:], 1.0)  # the protocols refuse negative sizes
        res[f"seq{k}"] = noisy
    m, bd = _collect("sot", gt, res, tmp_path, protocol=protocol)
    assert set(bd["samples"]) == set(gt) and set(bd["aggregates"]) == set(m)
    s = [bd["samples"][q][bd["score_key"]] for q in sorted(gt)]
    assert s[0] > s[2]  # the noisier sequence scores lower
    for key, value in m.items():
        assert aggregate(bd, key) == pytest.approx(value, abs=1e-4), key
