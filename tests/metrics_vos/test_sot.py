"""SOT metrics: parity with pytracking (torch transcription), the got10k package and the
TrackingNet devkit (pandas transcription), on seeded random trackers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.errors import ResultsError
from evalkit.metrics.sot import sot


# -- oracle: pytracking extract_results + print_results (torch, literal) ------------------------
def _pt_center(p, a, normalized=False):
    pc = p[:, :2] + 0.5 * (p[:, 2:] - 1.0)
    ac = a[:, :2] + 0.5 * (a[:, 2:] - 1.0)
    if normalized:
        pc = pc / a[:, 2:]
        ac = ac / a[:, 2:]
    return ((pc - ac) ** 2).sum(1).sqrt()


def _pt_iou(p, a):
    tl = torch.max(p[:, :2], a[:, :2])
    br = torch.min(p[:, :2] + p[:, 2:] - 1.0, a[:, :2] + a[:, 2:] - 1.0)
    sz = (br - tl + 1.0).clamp(0)
    inter = sz.prod(dim=1)
    return inter / (p[:, 2:].prod(dim=1) + a[:, 2:].prod(dim=1) - inter)


def pytracking_oracle(seqs, dataset, variant="uninext"):
    thr_o = torch.arange(0.0, 1.0 + 0.05, 0.05, dtype=torch.float64)
    thr_c = torch.arange(0, 51, dtype=torch.float64)
    thr_n = torch.arange(0, 51, dtype=torch.float64) / 100.0
    S = len(seqs)
    ov = torch.zeros((S, 1, 21), dtype=torch.float32)
    ce = torch.zeros((S, 1, 51), dtype=torch.float32)
    cn = torch.zeros((S, 1, 51), dtype=torch.float32)
    for i, (anno, pred, vis) in enumerate(seqs):
        anno = torch.tensor(anno)
        pred = torch.tensor(pred).clone()
        tv = torch.tensor(vis, dtype=torch.uint8) if vis is not None else None
        if (pred[:, 2:] == 0.0).any():
            for j in range(1, pred.shape[0]):
                if (pred[j, 2:] == 0.0).any() and not torch.isnan(anno[j, :]).any():
                    pred[j, :] = pred[j - 1, :]
        if pred.shape[0] != anno.shape[0]:
            assert dataset != "lasot" or pred.shape[0] > anno.shape[0]
            if pred.shape[0] > anno.shape[0]:
                pred = pred[: anno.shape[0]]
            else:
                pred = torch.cat((pred, torch.zeros((anno.shape[0] - pred.shape[0], 4)).type_as(pred)))
        pred[0, :] = anno[0, :]
        # UNINEXT's copy: ((anno_bb[:, 2:] > 0.0).sum(1) == 2); pytracking master: ((anno_bb > 0.0).sum(1) == 4)
        valid = (anno[:, 2:] > 0.0).sum(1) == 2 if variant == "uninext" else (anno > 0.0).sum(1) == 4
        if tv is not None:
            tv = tv.bool()
            valid = valid & tv
        e_c = _pt_center(pred, anno)
        e_n = _pt_center(pred, anno, normalized=True)
        e_o = _pt_iou(pred, anno)
        e_c[~valid] = float("Inf")
        e_n[~valid] = -1.0
        e_o[~valid] = -1.0
        if dataset == "lasot":
            e_n[~tv] = float("Inf")
            e_c[~tv] = float("Inf")
        n = anno.shape[0]
        ov[i, 0] = (e_o.view(-1, 1) > thr_o.view(1, -1)).sum(0).float() / n
        ce[i, 0] = (e_c.view(-1, 1) <= thr_c.view(1, -1)).sum(0).float() / n
        cn[i, 0] = (e_n.view(-1, 1) <= thr_n.view(1, -1)).sum(0).float() / n
    ov, ce, cn = torch.tensor(ov.tolist()), torch.tensor(ce.tolist()), torch.tensor(cn.tolist())
    auc_curve = ov.mean(0) * 100.0
    t = torch.tensor(thr_o.tolist())
    return {
        "AUC": float(auc_curve.mean(-1)[0]),
        "OP50": float(auc_curve[:, t == 0.50][0, 0]),
        "OP75": float(auc_curve[:, t == 0.75][0, 0]),
        "Precision": float((ce.mean(0) * 100.0)[:, 20][0]),
        "Norm Precision": float((cn.mean(0) * 100.0)[:, 20][0]),
    }


def _tracker(rng, n, exact_thresholds=False):
    """GT track plus a noisy prediction (zero boxes, lost target, invisible frames)."""
    xy = np.cumsum(rng.normal(0, 3, (n, 2)), 0) + 200
    wh = np.abs(rng.normal(60, 15, (n, 2))) + 2
    anno = np.round(np.concatenate([xy, wh], 1), int(rng.integers(0, 3)))
    anno[rng.random(n) < 0.05, 2] = 0  # invalid GT boxes (w = 0)
    pred = anno + rng.normal(0, rng.uniform(0.5, 25), (n, 4))
    pred[:, 2:] = np.abs(pred[:, 2:])
    pred[rng.random(n) < 0.05, 2:] = 0  # empty predictions
    if exact_thresholds:  # shifted copies with IoU exactly 0.5 / 0.75 on integer boxes
        k = rng.random(n) < 0.3
        pred[k] = anno[k]
        pred[k, 2] = np.where(rng.random(k.sum()) < 0.5, anno[k, 2] * 2, anno[k, 2] * 4 / 3)
    vis = rng.random(n) > 0.1
    return anno, pred, vis


@pytest.mark.parametrize("variant", ["uninext", "pytracking"])
@pytest.mark.parametrize("protocol", ["lasot", "lasot-ext", "tnl2k"])
@pytest.mark.parametrize("seed", range(6))
def test_pytracking_parity(protocol, seed, variant):
    rng = np.random.default_rng(seed)
    seqs, gt, res = [], {}, {}
    # the official loader's dataset name: UNINEXT's LaSOT-ext loader says 'lasot' as well,
    # pytracking master's says 'lasot_extension_subset'
    dataset = "lasot" if protocol == "lasot" or (protocol == "lasot-ext" and variant == "uninext") else protocol
    for s in range(int(rng.integers(1, 6))):
        n = int(rng.integers(1, 120))
        anno, pred, vis = _tracker(rng, n, exact_thresholds=seed % 2 == 0)
        if rng.random() < 0.3:
            anno[rng.random(n) < 0.2, int(rng.integers(0, 2))] = 0  # boxes touching x = 0 or y = 0
        if dataset != "lasot" and rng.random() < 0.3:
            pred = pred[: max(1, n - 5)]  # short results are zero-padded outside LaSOT
        use_vis = vis if protocol != "tnl2k" else None
        seqs.append((anno, pred, use_vis))
        gt[f"s{s}"] = {"boxes": anno, **({"visible": vis} if use_vis is not None else {})}
        res[f"s{s}"] = pred
    ref = pytracking_oracle(seqs, dataset, variant)
    out = sot(gt, res, protocol=protocol, variant=variant)
    assert out == ref


# Hand-derived cases on the edges where the two official copies of pytracking's analysis code
# disagree (valid-frame rule; LaSOT-ext's dataset name). Success thresholds t_k = k/20, k = 0..20;
# AUC = 100 * mean over the 21 values of #(IoU > t_k)/N.
def test_variant_box_touching_the_image_border():
    anno = np.array([[0, 5, 10, 10], [3, 3, 10, 10.0]])  # frame 0 has x = 0
    res = {"a": anno.copy()}
    # UNINEXT extract_results.py calc_seq_err_robust: valid = (anno_bb[:, 2:] > 0).sum(1) == 2 -> both
    # frames valid, IoU 1 > t for 20 of the 21 thresholds: AUC 100 * 20/21; centre errors 0
    u = sot({"a": {"boxes": anno}}, res, protocol="tnl2k")
    assert u["AUC"] == pytest.approx(100 * 20 / 21, rel=1e-6) and u["Precision"] == pytest.approx(100)
    # pytracking master calc_seq_err_robust: valid = (anno_bb > 0).sum(1) == 4 -> frame 0 invalid:
    # overlap -1 (fails), centre error inf (fails), normalised error -1 (<= 0.2: success)
    p = sot({"a": {"boxes": anno}}, res, protocol="tnl2k", variant="pytracking")
    assert p["AUC"] == pytest.approx(100 * 0.5 * 20 / 21, rel=1e-6)
    assert p["Precision"] == pytest.approx(50) and p["Norm Precision"] == pytest.approx(100)


def test_variant_lasot_ext_invisible_frame_and_short_results():
    anno = np.array([[10, 10, 20, 20], [10, 10, 20, 20.0]])
    gt = {"a": {"boxes": anno, "visible": np.array([True, False])}}
    res = {"a": np.array([[10, 10, 20, 20], [200, 200, 20, 20.0]])}
    # UNINEXT lasotextdataset.py builds Sequence(..., 'lasot', ...), so extract_results' "if dataset ==
    # 'lasot': err_center_normalized[~target_visible] = inf" applies: the invisible frame fails
    u = sot(gt, res, protocol="lasot-ext")
    assert u["Norm Precision"] == pytest.approx(50)
    # pytracking master lasotextensionsubsetdataset.py names it 'lasot_extension_subset': the frame
    # keeps normalised error -1, which is <= 0.2, a success
    p = sot(gt, res, protocol="lasot-ext", variant="pytracking")
    assert p["Norm Precision"] == pytest.approx(100)
    assert u["AUC"] == p["AUC"] == pytest.approx(100 * 0.5 * 20 / 21, rel=1e-6)
    # a short results file: an error where the dataset name is 'lasot', zero-padded otherwise
    # (the padded frame is the invisible one, so AUC is unchanged)
    short = {"a": anno[:1]}
    with pytest.raises(ResultsError, match="1 boxes but the ground truth has 2"):
        sot(gt, short, protocol="lasot-ext")
    assert sot(gt, short, protocol="lasot-ext", variant="pytracking")["AUC"] == pytest.approx(100 * 0.5 * 20 / 21, rel=1e-6)


def test_variant_names_are_checked():
    with pytest.raises(ResultsError, match="unknown variant 'ostrack'"):
        sot({"a": {"boxes": np.ones((1, 4))}}, {"a": np.ones((1, 4))}, protocol="lasot", variant="ostrack")
    with pytest.raises(ResultsError, match="variant 'pytracking' applies to lasot, lasot-ext, tnl2k, not to 'trackingnet'"):
        sot({"a": {"boxes": np.ones((1, 4))}}, {"a": np.ones((1, 4))}, protocol="trackingnet", variant="pytracking")


def test_exact_threshold_is_failure():
    anno = np.array([[10, 10, 40, 40], [10, 10, 40, 40.0]])
    pred = np.array([[0, 0, 1, 1], [10, 10, 20, 40.0]])  # IoU exactly 0.5
    out = sot({"a": {"boxes": anno}}, {"a": pred}, protocol="tnl2k")
    assert out["OP50"] == pytest.approx(50.0)  # frame 0 (= GT) succeeds, frame 1 does not


def test_lasot_folder_layout_and_errors(tmp_path):
    d = tmp_path / "gt" / "cat" / "cat-1"
    d.mkdir(parents=True)
    np.savetxt(d / "groundtruth.txt", [[1, 1, 10, 10]] * 3, fmt="%d", delimiter=",")
    (d / "full_occlusion.txt").write_text("0,0,1")
    (d / "out_of_view.txt").write_text("0,0,0")
    (tmp_path / "res").mkdir()
    np.savetxt(tmp_path / "res" / "cat-1.txt", [[1, 1, 10, 10]] * 3, delimiter="\t")
    out = sot(tmp_path / "gt", tmp_path / "res", protocol="lasot")
    assert out["AUC"] == pytest.approx(100 * 2 / 3 * 20 / 21, rel=1e-6)  # IoU 1 is not > 1.0
    np.savetxt(tmp_path / "res" / "cat-1.txt", [[1, 1, 10, 10]] * 2, delimiter="\t")
    with pytest.raises(ResultsError, match="2 boxes but the ground truth has 3"):
        sot(tmp_path / "gt", tmp_path / "res", protocol="lasot")
    (tmp_path / "res" / "cat-1.txt").write_text("1,2,3\n")
    with pytest.raises(ResultsError, match="line 1: expected 4 numbers"):
        sot(tmp_path / "gt", tmp_path / "res", protocol="lasot")
    (tmp_path / "res" / "cat-1.txt").unlink()
    with pytest.raises(ResultsError, match="cat-1.txt for sequence 'cat-1' is missing"):
        sot(tmp_path / "gt", tmp_path / "res", protocol="lasot")


# -- GOT-10k: the got10k package ----------------------------------------------------------------
def test_got10k_parity_with_toolkit(tmp_path):
    got = pytest.importorskip("got10k.experiments")
    rng = np.random.default_rng(4)
    root = tmp_path / "GOT-10k"
    names = [f"GOT-10k_Val_{i:06d}" for i in range(1, 5)]
    (root / "val").mkdir(parents=True)
    (root / "val" / "list.txt").write_text("\n".join(names))
    res_dir = tmp_path / "results" / "GOT-10k" / "trk"
    for name in names:
        d = root / "val" / name
        d.mkdir()
        n = int(rng.integers(2, 40))
        anno, pred, _ = _tracker(rng, n)
        anno[:, 2:] = np.maximum(anno[:, 2:], 1)
        anno[:, :2] -= 180  # boxes leaving the image: clipped by the toolkit
        for i in range(n):
            (d / f"{i + 1:08d}.jpg").write_bytes(b"")
        np.savetxt(d / "groundtruth.txt", anno, fmt="%.4f", delimiter=",")
        cover = rng.integers(0, 9, n)
        for att, v in (("cover", cover), ("absence", cover == 0), ("cut_by_image", np.zeros(n))):
            np.savetxt(d / f"{att}.label", v, fmt="%d")
        (d / "meta_info.ini").write_text("[METAINFO]\nresolution: (320, 240)\n")
        (res_dir / name).mkdir(parents=True)
        np.savetxt(res_dir / name / f"{name}_time.txt", np.full(n, 0.01), fmt="%.3f")
        for r in range(3):
            p = pred + rng.normal(0, 2, pred.shape)
            p[:, 2:] = np.abs(p[:, 2:])
            np.savetxt(res_dir / name / f"{name}_{r + 1:03d}.txt", p, fmt="%.4f", delimiter=",")
    exp = got.ExperimentGOT10k(str(root), subset="val", result_dir=str(tmp_path / "results"),
                               report_dir=str(tmp_path / "reports"))
    exp.plot_curves = lambda *a, **k: None  # no matplotlib figure in tests
    perf = exp.report(["trk"])["trk"]["overall"]
    out = sot(root / "val", tmp_path / "results" / "GOT-10k" / "trk", protocol="got10k")
    assert out["AO"] / 100 == pytest.approx(perf["ao"], abs=1e-14)
    assert out["SR0.5"] / 100 == pytest.approx(perf["sr"], abs=1e-14)
    assert out["SR0.75"] / 100 == pytest.approx(float(np.interp(0.75, np.linspace(0, 1, 101), perf["succ_curve"])), abs=1e-14)


# -- TrackingNet devkit (pandas, literal) -------------------------------------------------------
def trackingnet_oracle(pairs):
    import pandas as pd

    n = 21
    S, P, N = np.zeros(n), np.zeros(n), np.zeros(n)
    xs, xp, xn = np.linspace(0, 1, n), np.linspace(0, 50, n), np.linspace(0, 0.5, n)
    for anno, sub in pairs:
        df = pd.DataFrame(anno, columns=["anno_x1", "anno_y1", "anno_w", "anno_h"])
        ds = (pd.DataFrame(sub, columns=["subm_x1", "subm_y1", "subm_w", "subm_h"]) if sub is not None
              else pd.DataFrame(0, index=np.arange(len(df)), columns=["subm_x1", "subm_y1", "subm_w", "subm_h"]))
        for c in ds.columns:
            df[c] = np.round(ds[c].astype(float))
        for c in ["anno_x1", "anno_y1", "anno_w", "anno_h"]:
            df[c] = np.round(df[c].astype(float))
        for a, b in (("x1", "x1"), ("y1", "y1"), ("w", "w"), ("h", "h")):
            df.loc[0, "subm_" + a] = df.loc[0, "anno_" + b]
        df["anno_x2"] = df["anno_x1"] + df["anno_w"] - 1.0
        df["anno_y2"] = df["anno_y1"] + df["anno_h"] - 1.0
        df["subm_x2"] = df["subm_x1"] + df["subm_w"] - 1.0
        df["subm_y2"] = df["subm_y1"] + df["subm_h"] - 1.0
        acx, acy = df["anno_x1"] + (df["anno_w"] + 1.0) / 2.0, df["anno_y1"] + (df["anno_h"] + 1.0) / 2.0
        scx, scy = df["subm_x1"] + (df["subm_w"] + 1.0) / 2.0, df["subm_y1"] + (df["subm_h"] + 1.0) / 2.0
        ix1 = df[["anno_x1", "subm_x1"]].max(axis=1)
        iy1 = df[["anno_y1", "subm_y1"]].max(axis=1)
        ix2 = df[["anno_x2", "subm_x2"]].min(axis=1)
        iy2 = df[["anno_y2", "subm_y2"]].min(axis=1)
        inter = np.round(ix2 - ix1 + 1).clip(lower=0) * np.round(iy2 - iy1 + 1).clip(lower=0)
        iou = inter / (df["anno_h"] * df["anno_w"] + df["subm_h"] * df["subm_w"] - inter)
        dist = ((acx - scx) * (acx - scx) + (acy - scy) * (acy - scy)).apply(np.sqrt)
        nd = ((acx - scx) / df["anno_w"] * (acx - scx) / df["anno_w"]
              + (acy - scy) / df["anno_h"] * (acy - scy) / df["anno_h"]).apply(np.sqrt)
        S += np.array([np.sum([i >= t for i in iou]) / len(iou) for t in xs])  # metrics.py: i >= thres
        P += np.array([np.sum([i <= t for i in dist]) / len(dist) for t in xp])
        N += np.array([np.sum([i <= t for i in nd]) / len(nd) for t in xn])
    k = len(pairs)
    tz = getattr(np, "trapezoid", None) or np.trapz
    return {"AUC": tz(S / k, x=xs) * 100, "Precision": tz(P / k, x=xs) * 100, "Norm Precision": tz(N / k, x=xs) * 100}


@pytest.mark.parametrize("seed", range(5))
def test_trackingnet_parity(seed):
    rng = np.random.default_rng(seed)
    gt, res, pairs = {}, {}, []
    for s in range(int(rng.integers(1, 5))):
        n = int(rng.integers(1, 80))
        anno, pred, _ = _tracker(rng, n)
        anno = anno + rng.choice([0, 0.5], anno.shape)  # ties in rounding (half to even)
        if rng.random() < 0.2:
            pred = None
        elif rng.random() < 0.3:
            pred = pred[: max(1, n - 3)]
        gt[f"s{s}"] = {"boxes": anno}
        if pred is not None:
            res[f"s{s}"] = pred
        pairs.append((anno, pred))
    ref = trackingnet_oracle(pairs)
    out = sot(gt, res, protocol="trackingnet")
    for k in ref:
        assert out[k] == pytest.approx(ref[k], abs=1e-10), k


# Hand-derived from the devkit's metrics.py evaluate(): Success = np.sum(i >= thres ...) / len over
# Success_X = linspace(0, 1, 21); score = np.trapz(curve, x=Success_X) * 100. (Checked against the
# devkit itself: 100, 76.25, 26.875.)
def test_trackingnet_perfect_single_frame_is_100():
    # the first frame is replaced by the GT: IoU 1 >= t for all 21 thresholds, trapz of ones = 1
    out = sot({"a": {"boxes": np.array([[3.0, 4, 10, 10]])}}, {"a": np.array([[3.0, 4, 10, 10]])}, protocol="trackingnet")
    assert out["AUC"] == pytest.approx(100.0, abs=1e-12)  # strict > gave 97.5 (t = 1 missed)


def test_trackingnet_iou_exactly_on_a_threshold():
    anno = np.array([[0.0, 0, 10, 10], [0, 0, 10, 10]])
    pred = np.array([[0.0, 0, 10, 10], [0, 0, 10, 5]])  # frame 1: inter 10*5, union 100 -> IoU 0.5 = t_10
    out = sot({"a": {"boxes": anno}}, {"a": pred}, protocol="trackingnet")
    # curve: 1 for t_0..t_10 (both frames), 1/2 for t_11..t_20 (frame 0 only);
    # trapz = 0.05 * (11 + 10 * 0.5 - (1 + 0.5) / 2) = 0.7625
    assert out["AUC"] == pytest.approx(76.25, abs=1e-9)  # strict > gave 72.5
    # centre distance 2.5 px = Precision_X[1]; normalised 0.25 = NPrecision_X[10] (<= in the devkit)
    assert out["Precision"] == pytest.approx(98.75, abs=1e-9)
    assert out["Norm Precision"] == pytest.approx(76.25, abs=1e-9)


def test_trackingnet_missing_results_file():
    # no results file: all-zero boxes; frame 0 = GT (IoU 1), frames 1..3 IoU 0, which is >= t_0 = 0:
    # curve 1 at t_0, 1/4 elsewhere; trapz = 0.05 * (1 + 20 * 0.25 - (1 + 0.25) / 2) = 0.26875
    out = sot({"a": {"boxes": np.array([[5.0, 5, 10, 10]] * 4)}}, {}, protocol="trackingnet")
    assert out["AUC"] == pytest.approx(26.875, abs=1e-9)  # strict > gave 24.375


def test_unknown_protocol():
    with pytest.raises(ResultsError, match="unknown protocol"):
        sot({}, {}, protocol="otb")
