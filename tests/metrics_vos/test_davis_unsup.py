"""DAVIS unsupervised J&F (the Ref-DAVIS protocol): parity with a literal per-frame
implementation of the official unsupervised evaluation."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.errors import ResultsError
from evalkit.metrics import davis as D
from evalkit.metrics.davis_unsup import davis_unsup

import vos_official as O
from vos_synth import blob_video, perturb, write_video


def _case(tmp_path, seed):
    rng = np.random.default_rng(seed)
    H, W = int(rng.integers(10, 40)), int(rng.integers(10, 50))
    seqs = []
    for s in range(2):
        T, K = int(rng.integers(1, 8)), int(rng.integers(1, 4))
        gt = blob_video(rng, T, H, W, K, edge=rng.random() < 0.5)
        gt[0, 0, 0] = K
        if rng.random() < 0.5:
            gt[:, H // 2 :, : W // 3] = 255  # void region
        res = perturb(rng, np.where(gt == 255, 0, gt).astype(np.uint8), K, rng.choice(["noisy", "empty", "perfect"]))
        n_prop = int(rng.integers(0, 5))  # permuted / extra / fewer proposals
        perm = np.concatenate([[0], rng.permutation(np.arange(1, max(K, n_prop) + 1))])
        res = perm[np.minimum(res, K)].astype(np.uint8)
        if n_prop < K and rng.random() < 0.5:
            res[res > n_prop] = 0  # fewer proposals than objects: padded with empty ones
        write_video(tmp_path / "gt", f"s{s}", gt)
        write_video(tmp_path / "res", f"s{s}", res)
        seqs.append(f"s{s}")
    return seqs


@pytest.mark.parametrize("seed", range(8))
def test_unsupervised_parity(tmp_path, seed):
    seqs = _case(tmp_path, seed)
    ref = O.davis_unsup_official(str(tmp_path / "gt"), str(tmp_path / "res"), seqs)
    out = davis_unsup(tmp_path / "gt", tmp_path / "res")
    for k, v in ref.items():
        assert out[k] == pytest.approx(v, abs=1e-12, nan_ok=True), k


def test_too_many_proposals():
    gt = np.zeros((2, 6, 6), np.uint8)
    gt[:, :2, :2] = 1
    res = gt.copy()
    res[0, 5, 5] = 21
    with pytest.raises(ResultsError, match="21 proposals"):
        davis_unsup({"a": gt}, {"a": res})


def test_ref_davis_is_unsupervised_per_split(tmp_path):
    rng = np.random.default_rng(8)
    gt = blob_video(rng, 6, 16, 20, 2)
    gt[0, 0, 0] = 2
    runs = {f"refdavis-val-{i}": {"v": perturb(rng, gt, 2, "noisy")} for i in range(4)}
    out = D.ref_davis({"v": gt}, runs)
    each = [davis_unsup({"v": gt}, runs[n])["J&F-Mean"] for n in sorted(runs)]
    assert out["J&F"] == pytest.approx(np.mean(each), abs=1e-15)
    assert out["refdavis-val-2/J&F"] == each[2]
    semi = D.ref_davis({"v": gt}, runs, task="semi-supervised", workers=1)
    assert semi["J&F"] == pytest.approx(np.mean([D.davis_semi({"v": gt}, runs[n], workers=1)["J&F-Mean"] for n in sorted(runs)]))


def test_void_pixels_are_excluded():
    """The official test suite's void case: a prediction that covers GT plus void scores 1."""
    gt = np.zeros((2, 200, 200), np.uint8)
    gt[:, 100:150, 100:150] = 1
    gt[:, 50:100, 100:150] = 255  # void
    res = np.zeros((2, 200, 200), np.uint8)
    res[:, 50:150, 100:150] = 1
    out = davis_unsup({"a": gt}, {"a": res})
    assert out["J-Mean"] == 1.0 and out["F-Mean"] == 1.0


def test_permuted_gt_proposals_score_perfectly():
    """The official test suite's 'swap_gt' case: GT ids permuted as proposals give J and F
    mean 1, recall 1, decay 0."""
    rng = np.random.default_rng(0)
    gt = blob_video(rng, 9, 30, 40, 4)
    gt[0, 0, 0] = 4
    perm = np.array([0, 3, 1, 4, 2], np.uint8)
    out = davis_unsup({"a": gt}, {"a": perm[gt]})
    for k in ("J", "F"):
        assert out[f"{k}-Mean"] == 1.0 and out[f"{k}-Recall"] == 1.0 and out[f"{k}-Decay"] == 0.0


def test_parallel_error_is_reported(tmp_path):
    gt = np.zeros((5, 8, 8), np.uint8)
    gt[:, 2:5, 2:5] = 1
    for s in ("a", "b"):
        write_video(tmp_path / "gt", s, gt)
        write_video(tmp_path / "res", s, gt)
    (tmp_path / "res" / "b" / "00003.png").unlink()
    with pytest.raises(ResultsError, match="00003.png is missing"):
        D.davis_semi(tmp_path / "gt", tmp_path / "res", workers=2)
