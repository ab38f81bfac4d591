"""LVOS (vs a literal lvos-evaluation transcription), VSPW (vs literal Evaluator / VC_perclip),
YouTube-VOS (definition checks)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from evalkit.errors import ResultsError
from evalkit.metrics.lvos import lvos
from evalkit.metrics.vspw import vspw
from evalkit.metrics.ytvos import ytvos

import vos_official as O
from vos_synth import blob_video, palette_png, perturb, write_video


@pytest.mark.parametrize("seed", range(4))
def test_lvos_parity(tmp_path, seed):
    rng = np.random.default_rng(seed)
    meta, unseen = {}, []
    for v in range(3):
        name = f"vid{v}"
        T = int(rng.integers(4, 10))
        H, W = int(rng.integers(10, 40)), int(rng.integers(10, 40))
        K = int(rng.integers(1, 4))
        gt = blob_video(rng, T * 5, H, W, K)
        res = perturb(rng, gt, K, rng.choice(["noisy", "empty", "perfect"]))
        names = [f"{i:08d}" for i in range(T * 5)]
        write_video(tmp_path / "gt" / "Annotations", name, gt, names)
        write_video(tmp_path / "res", name, res, names)
        objs = {}
        for k in range(1, K + 1):
            start = int(rng.integers(0, 3)) * 5
            n = len(range(start, T * 5, 5))
            if n < 3:
                continue
            objs[str(k)] = {"frame_range": {"start": str(start), "end": str(T * 5), "frame_nums": str(n)}}
        meta[name] = objs
        if v == 1:
            unseen.append(name)
    (tmp_path / "gt" / "valid_meta.json").write_text(json.dumps({"videos": {k: {"objects": v} for k, v in meta.items()}}))
    (tmp_path / "gt" / "unseen_videos.txt").write_text("\n".join(unseen))
    ref = O.lvos_official(str(tmp_path / "gt" / "Annotations"), str(tmp_path / "res"), meta, set(unseen))
    out = lvos(tmp_path / "gt", tmp_path / "res")
    for k, v in ref.items():
        assert out[k] == pytest.approx(v, abs=1e-12, nan_ok=True), k


def test_lvos_missing_frame(tmp_path):
    gt = np.zeros((15, 8, 8), np.uint8)
    gt[:, 2:5, 2:5] = 1
    names = [f"{i:08d}" for i in range(15)]
    write_video(tmp_path / "gt" / "Annotations", "v", gt, names)
    write_video(tmp_path / "res", "v", gt, names)
    (tmp_path / "res" / "v" / "00000005.png").unlink()
    meta = {"videos": {"v": {"objects": {"1": {"frame_range": {"start": "0", "end": "15", "frame_nums": "3"}}}}}}
    (tmp_path / "gt" / "valid_meta.json").write_text(json.dumps(meta))
    with pytest.raises(ResultsError, match="00000005.png is missing"):
        lvos(tmp_path / "gt", tmp_path / "res")


# -- VSPW ----------------------------------------------------------------------------------------
def _vc_official(gts, preds, clip_num):
    total = []
    for g, p in zip(gts, preds):
        if len(g) <= clip_num:
            continue
        h, w = g[0].shape
        for i in range(len(g) - clip_num):
            gc = np.ones((h, w))
            pc = np.ones((h, w))
            for j in range(1, clip_num):
                gc = np.logical_and(gc, g[i] == g[i + j])
                pc = np.logical_and(pc, p[i] == p[i + j])
            with np.errstate(invalid="ignore", divide="ignore"):
                total.append((pc * gc).sum() / gc.sum())
    return np.nanmean(np.array(total))


def _miou_official(gts, preds, n=124):
    cm = np.zeros((n, n))
    for gv, pv in zip(gts, preds):
        for g, p in zip(gv, pv):
            g = g.astype(np.int64) - 1
            m = (g >= 0) & (g < n)
            cm += np.bincount(n * g[m].astype("int") + p[m], minlength=n**2).reshape(n, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.diag(cm) / (cm.sum(1) + cm.sum(0) - np.diag(cm))
    isval = cm.sum(1) > 0
    return np.nansum(iou * isval) / isval.sum()


@pytest.mark.parametrize("seed", range(4))
def test_vspw_parity(tmp_path, seed):
    rng = np.random.default_rng(seed)
    gts, preds, names = [], [], []
    root = tmp_path / "VSPW"
    for v in range(4):
        T = int(rng.integers(1, 22))  # single-frame and short videos (skipped by VC) included
        H, W = 12, 16
        g = rng.choice([0, 1, 2, 5, 124, 255], size=(1, H, W)).repeat(T, 0).astype(np.uint8)
        flip = rng.random((T, H, W)) < 0.05
        g = np.where(flip, rng.choice([0, 3, 255], size=(T, H, W)), g).astype(np.uint8)
        p = np.clip(g.astype(np.int64) - 1, 0, 123).astype(np.uint8)
        p = np.where(rng.random((T, H, W)) < 0.1, rng.integers(0, 124, (T, H, W)), p).astype(np.uint8)
        name = f"v{v}"
        for t in range(T):
            palette_png(g[t], root / "data" / name / "mask" / f"{t:08d}.png")
            palette_png(p[t], tmp_path / "res" / name / f"{t:08d}.png")
        gts.append(list(g))
        preds.append(list(p))
        names.append(name)
    (root / "val.txt").write_text("\n".join(names) + "\n")
    out = vspw(root, tmp_path / "res")
    assert out["mIoU"] == pytest.approx(_miou_official(gts, preds), abs=1e-12)
    for n in (8, 16):
        assert out[f"mVC{n}"] == pytest.approx(_vc_official(gts, preds, n), abs=1e-12, nan_ok=True)


def test_vspw_class_out_of_range(tmp_path):
    g = {"v": np.full((2, 4, 4), 3, np.uint8)}
    p = {"v": np.full((2, 4, 4), 200, np.uint8)}
    with pytest.raises(ResultsError, match="class 200 outside"):
        vspw(g, p)


def test_vspw_vc_window_edges_by_hand():
    # VC_perclip.py: "if len(images) <= clip_num: continue" and "for i in range(len(list_) - clip_num)"
    g = np.full((9, 1, 2), 3, np.uint8)  # GT constant: every pixel in gt_c
    p = np.full((9, 1, 2), 2, np.uint8)
    p[8, 0, 0] = 7  # the prediction changes only in the last frame
    # L = 9, n = 8: one window, frames 0..7 (the window 1..8, where pixel 0 breaks, is not used)
    out = vspw({"v": g}, {"v": p})
    assert out["mVC8"] == 1.0 and np.isnan(out["mVC16"])  # 9 <= 16: skipped
    out = vspw({"v": g[:8]}, {"v": p[:8]})  # L = 8 <= 8: no window at all
    assert np.isnan(out["mVC8"])
    out = vspw({"v": g}, {"v": p}, vc="7")  # n = 7: windows 0..6 and 1..7, both before frame 8
    assert out["mVC7"] == 1.0 and set(out) == {"mIoU", "mVC7"}


def test_vspw_vc_labels_variant_by_hand():
    # pixel 0: GT "others" (0) in frames 0..4 then void (255); pixel 1: GT class 3 throughout.
    # The prediction keeps pixel 1 and changes pixel 0 at the same time as the GT.
    g = np.zeros((10, 1, 2), np.uint8)
    g[5:, 0, 0] = 255
    g[:, 0, 1] = 3
    p = np.zeros((10, 1, 2), np.uint8)
    p[5:, 0, 0] = 5
    p[:, 0, 1] = 2
    # raw labels (VC_perclip.py): pixel 0 is not in gt_c; gt_c = pred_c = {pixel 1} -> acc 1 in
    # both windows (L - n = 2)
    assert vspw({"v": g}, {"v": p})["mVC8"] == 1.0
    # UniVS map_category_id: 0 -> 255, so pixel 0 is unchanged void in the GT: gt_c = {0, 1},
    # pred_c = {1} -> acc 1/2 in both windows
    u = vspw({"v": g}, {"v": p}, vc_labels="univs")
    assert u["mVC8"] == 0.5
    assert u["mIoU"] == vspw({"v": g}, {"v": p})["mIoU"]  # mIoU does not depend on it
    with pytest.raises(ResultsError, match="unknown vc_labels 'void'"):
        vspw({"v": g}, {"v": p}, vc_labels="void")


def test_vspw_out_of_range_prediction_is_refused_where_the_official_count_shifts():
    # utils.Evaluator._generate_matrix: bincount(124 * gt + pred) -- gt 5 (raw 6), pred 130 would
    # be counted silently as (gt 6, pred 6); evalkit refuses the file instead
    g = {"v": np.full((1, 2, 2), 6, np.uint8)}
    p = {"v": np.full((1, 2, 2), 130, np.uint8)}
    with pytest.raises(ResultsError, match="class 130 outside 0..123"):
        vspw(g, p)


# -- YouTube-VOS -----------------------------------------------------------------------------------
def test_ytvos_definition():
    rng = np.random.default_rng(0)
    gt = blob_video(rng, 6, 20, 24, 2, late=True)
    gt[:, 0, 0] = 0
    meta = {"videos": {"a": {"objects": {"1": {"category": "cat"}, "2": {"category": "zebra"}}}}}
    perfect = ytvos({"a": gt}, {"a": gt}, meta=meta, unseen_categories="zebra")
    first2 = next(t for t in range(6) if (gt[t] == 2).any())
    if first2 < 5:
        assert perfect["J_u"] == 1.0 and perfect["F_u"] == 1.0
    assert perfect["J_s"] == 1.0
    empty = ytvos({"a": gt}, {"a": np.zeros_like(gt)}, meta=meta, unseen_categories=["zebra"])
    assert empty["G"] < perfect["G"]
