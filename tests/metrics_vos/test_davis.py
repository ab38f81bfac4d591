"""DAVIS-2017 semi-supervised J&F: parity with a literal per-frame official implementation."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.errors import ResultsError
from evalkit.metrics import davis as D
from evalkit.metrics.jf import db_statistics, disk, jf_frame, seg2bmap

import vos_official as O
from vos_synth import blob_video, palette_png, perturb, write_video


def _case(tmp_path, seed, n_seq=3):
    rng = np.random.default_rng(seed)
    H, W = int(rng.integers(12, 60)), int(rng.integers(12, 90))
    gt_root, res_root = tmp_path / f"gt{seed}", tmp_path / f"res{seed}"
    seqs = []
    for s in range(n_seq):
        T = int(rng.integers(3, 14))
        K = int(rng.integers(1, 5))
        late = rng.random() < 0.4
        gt = blob_video(rng, T, H, W, K, late=late, edge=rng.random() < 0.5)
        gt[0][gt[0] == 0] = 0
        gt[0].flat[0] = K if gt[0].max() < K else gt[0].flat[0]  # K = max label of frame 0
        if rng.random() < 0.3:  # void band
            gt[:, : H // 5, : W // 4] = 255
            gt[0].flat[-1] = K
        if rng.random() < 0.3 and T > 3:  # a GT label above K appears later: not an object
            gt[2][: 3, : 3] = K + 1
        mode = rng.choice(["noisy", "noisy", "empty", "perfect", "fewer"])
        res = perturb(rng, np.where(gt == 255, 0, np.minimum(gt, K)).astype(np.uint8), K, mode)
        res = np.minimum(res, K)
        name = f"seq{s}"
        write_video(gt_root, name, gt)
        write_video(res_root, name, res)
        seqs.append(name)
    return gt_root, res_root, seqs


@pytest.mark.parametrize("seed", range(14))
def test_parity_random(tmp_path, seed):
    gt, res, seqs = _case(tmp_path, seed)
    ref, ref_obj = O.davis_semi_official(str(gt), str(res), seqs)
    out = D.davis_semi(gt, res, per_object=True, workers=1)
    for k, v in ref.items():
        assert out[k] == pytest.approx(v, abs=1e-12, nan_ok=True), k
    for name, (jm, fm) in ref_obj.items():
        assert out[f"seq/{name}/J-Mean"] == pytest.approx(jm, abs=1e-12)
        assert out[f"seq/{name}/F-Mean"] == pytest.approx(fm, abs=1e-12)


def test_parallel_equals_serial(tmp_path):
    gt, res, _ = _case(tmp_path, 99, n_seq=4)
    assert D.davis_semi(gt, res, workers=2) == D.davis_semi(gt, res, workers=1)


def test_frame_level_parity_edges():
    """Masks touching every image edge, 1-pixel masks and thin lines, per frame."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        H, W = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        K = 3
        g = rng.integers(0, K + 1, (H, W)).astype(np.uint8) * (rng.random((H, W)) < rng.random())
        r = rng.integers(0, K + 1, (H, W)).astype(np.uint8) * (rng.random((H, W)) < rng.random())
        bt = float(rng.choice([0.008, 0.05, 0.2, 2, 1, 2.5]))
        from evalkit.metrics.jf import bound_pixels

        rad = bound_pixels((H, W), bt)
        J, F = jf_frame(g.astype(np.uint8), r.astype(np.uint8), K, disk(rad), rad)
        for k in range(1, K + 1):
            assert J[k - 1] == O.db_eval_iou(g == k, r == k)
            assert F[k - 1] == O.f_measure(r == k, g == k, bound_th=bt)


def test_seg2bmap_and_disk_match_reference():
    rng = np.random.default_rng(1)
    for _ in range(50):
        m = rng.random((int(rng.integers(1, 9)), int(rng.integers(1, 9)))) < 0.5
        assert (seg2bmap(m) == O.seg2bmap(m)).all()
    assert int(disk(8.0).sum()) == 197 and disk(8.0).shape == (17, 17)
    for r in range(0, 20):
        assert (disk(float(r)) == O.skimage_disk(float(r))).all()


def test_uint8_wrap_quirk_long_sequence(tmp_path):
    """More than 256 evaluated frames: the official uint8 bin edges wrap (reproduced)."""
    rng = np.random.default_rng(3)
    T, H, W, K = 300, 8, 10, 2
    gt = blob_video(rng, T, H, W, K)
    gt[0, 0, 0] = K
    res = perturb(rng, gt, K, "noisy")
    write_video(tmp_path / "gt", "long", gt)
    write_video(tmp_path / "res", "long", np.minimum(res, K))
    ref, _ = O.davis_semi_official(str(tmp_path / "gt"), str(tmp_path / "res"), ["long"], wrap=True)
    fixed, _ = O.davis_semi_official(str(tmp_path / "gt"), str(tmp_path / "res"), ["long"], wrap=False)
    out = D.davis_semi(tmp_path / "gt", tmp_path / "res", workers=1)
    out_fixed = D.davis_semi(tmp_path / "gt", tmp_path / "res", workers=1, fix_decay_wrap=True)
    for k in ref:
        assert out[k] == pytest.approx(ref[k], abs=1e-12, nan_ok=True), k
        assert out_fixed[k] == pytest.approx(fixed[k], abs=1e-12, nan_ok=True), k
    assert out["J-Decay"] != pytest.approx(out_fixed["J-Decay"], nan_ok=True)


def test_statistics_small_n():
    for n in range(1, 12):
        v = np.linspace(0, 1, n)
        assert db_statistics(v) == pytest.approx(O.db_statistics(v), nan_ok=True)


def test_in_memory_inputs_and_davis_root(tmp_path):
    rng = np.random.default_rng(2)
    gt = blob_video(rng, 6, 20, 30, 2)
    gt[0, 0, 0] = 2
    res = perturb(rng, gt, 2, "noisy")
    root = tmp_path / "DAVIS"
    write_video(root / "Annotations" / "480p", "a", gt)
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("a\n")
    write_video(tmp_path / "res", "a", res)
    a = D.davis_semi(root, tmp_path / "res", workers=1)
    b = D.davis_semi({"a": gt}, {"a": res}, workers=1)
    assert a == b
    rows = D.davis_semi_table({"a": gt}, {"a": res}, workers=1)
    assert [r["Sequence"] for r in rows] == ["a_1", "a_2"]


# -- bad input ---------------------------------------------------------------------------------
def _simple(tmp_path):
    gt = np.zeros((5, 10, 12), np.uint8)
    gt[:, 2:6, 3:8] = 1
    write_video(tmp_path / "gt", "s", gt)
    return gt


def test_missing_frame_is_named(tmp_path):
    gt = _simple(tmp_path)
    write_video(tmp_path / "res", "s", gt)
    (tmp_path / "res" / "s" / "00002.png").unlink()
    with pytest.raises(ResultsError, match="00002.png"):
        D.davis_semi(tmp_path / "gt", tmp_path / "res", workers=1)


def test_missing_sequence(tmp_path):
    _simple(tmp_path)
    (tmp_path / "res").mkdir()
    with pytest.raises(ResultsError, match="'s' is missing"):
        D.davis_semi(tmp_path / "gt", tmp_path / "res", workers=1)


def test_wrong_size_and_mode(tmp_path):
    from PIL import Image

    gt = _simple(tmp_path)
    write_video(tmp_path / "res", "s", gt)
    palette_png(np.zeros((9, 12), np.uint8), tmp_path / "res" / "s" / "00001.png")
    with pytest.raises(ResultsError, match=r"00001.png is 12x9"):
        D.davis_semi(tmp_path / "gt", tmp_path / "res", workers=1)
    write_video(tmp_path / "res", "s", gt)
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "res" / "s" / "00003.png")
    with pytest.raises(ResultsError, match=r"00003.png has PNG mode 'RGB'"):
        D.davis_semi(tmp_path / "gt", tmp_path / "res", workers=1)


def test_unknown_object_id(tmp_path):
    gt = _simple(tmp_path)
    res = gt.copy()
    res[2, 0, 0] = 2
    write_video(tmp_path / "res", "s", res)
    with pytest.raises(ResultsError, match=r"00002.png: object id 2"):
        D.davis_semi(tmp_path / "gt", tmp_path / "res", workers=1)


def test_too_short_sequence(tmp_path):
    gt = np.ones((1, 4, 4), np.uint8)
    with pytest.raises(ResultsError, match="at least 3"):
        D.davis_semi({"s": gt}, {"s": gt}, workers=1)
    # three frames: one evaluated frame, decay 0
    gt = np.ones((3, 4, 4), np.uint8)
    out = D.davis_semi({"s": gt}, {"s": gt}, workers=1)
    assert out["J&F-Mean"] == 1.0 and out["J-Decay"] == 0.0


def test_recall_threshold_is_strict():
    """J exactly 0.5 is not a success for the recall O (strict >)."""
    gt = np.zeros((3, 4, 4), np.uint8)
    gt[:, 0, :2] = 1
    res = gt.copy()
    res[1, 0, 1] = 0  # frame 1: |S ∩ G| = 1, |S ∪ G| = 2 -> J = 0.5
    out = D.davis_semi({"s": gt}, {"s": res}, workers=1)
    assert out["J-Mean"] == 0.5 and out["J-Recall"] == 0.0


def test_sequence_without_objects(tmp_path):
    """A sequence whose first GT frame is empty has no object (K = 0): it adds no row, as in
    the official code; a result label there is an unknown object id."""
    gt, res, seqs = _case(tmp_path, 3, n_seq=2)
    empty = np.zeros((4, 10, 12), np.uint8)
    empty[2, 3:5, 3:5] = 1  # appears after the first frame: not an object
    write_video(gt, "zero", empty)
    write_video(res, "zero", np.zeros_like(empty))
    ref, _ = O.davis_semi_official(str(gt), str(res), seqs + ["zero"])
    out = D.davis_semi(gt, res, workers=1)
    for k, v in ref.items():
        assert out[k] == pytest.approx(v, abs=1e-12), k
    write_video(res, "zero", empty)
    with pytest.raises(ResultsError, match="only 0 object"):
        D.davis_semi(gt, res, workers=1)
