"""VSPW parity with the official functions themselves, when a checkout is given.

* ``VSPW_REFERENCE_PATH``: a ``CVPR2021_VSPW_Implement`` (or ``VSPW_code``) checkout: ``get_common``
  of ``VC_perclip.py`` and ``utils.Evaluator`` — ``vspw(vc_labels="raw")``;
* ``UNIVS_REFERENCE_PATH``: a UniVS checkout: ``get_common`` and ``map_category_id`` of
  ``univs/evaluation/eval_vc_perclip_vss.py`` — ``vspw(vc_labels="univs")``.

The functions are taken from the files unmodified (the scripts' module-level loops read fixed
paths, so the per-video loop around them — skip videos with <= n files, extend, nanmean — is
written out here as those scripts have it).
"""
from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pytest

from evalkit.metrics.vspw import vspw


def _defs(path: Path, names: set[str]) -> dict:
    tree = ast.parse(path.read_text())
    tree.body = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in names]
    env = {"np": np}
    exec(compile(tree, str(path), "exec"), env)
    return env


def _videos(rng):
    gts, preds = {}, {}
    for v in range(3):
        T = int(rng.integers(6, 24))
        H, W = 10, 12
        g = rng.choice([0, 1, 2, 5, 124, 255], size=(1, H, W)).repeat(T, 0).astype(np.uint8)
        flip = rng.random((T, H, W)) < 0.05
        g = np.where(flip, rng.choice([0, 3, 255], size=(T, H, W)), g).astype(np.uint8)  # 0 <-> 255 changes
        p = np.clip(g.astype(np.int64) - 1, 0, 123).astype(np.uint8)
        p = np.where(rng.random((T, H, W)) < 0.1, rng.integers(0, 124, (T, H, W)), p).astype(np.uint8)
        gts[f"v{v}"], preds[f"v{v}"] = g, p
    return gts, preds


def _vc(get_common, gts, preds, clip_num, label_map=None):
    total = []
    for v in gts:
        if len(gts[v]) <= clip_num:  # VC_perclip.py: if len(images) <= clip_num: continue
            continue
        imgs = [label_map(f.copy()) if label_map else f for f in gts[v]]
        h, w = imgs[0].shape
        with np.errstate(invalid="ignore", divide="ignore"):
            total.extend(get_common(imgs, list(preds[v]), clip_num, h, w))
    return np.nanmean(np.array(total))


@pytest.mark.parametrize("seed", range(3))
def test_raw_labels_equal_vc_perclip_and_evaluator(seed):
    root = os.environ.get("VSPW_REFERENCE_PATH")
    if not root:
        pytest.skip("VSPW_REFERENCE_PATH not set")
    get_common = _defs(Path(root) / "VC_perclip.py", {"get_common"})["get_common"]
    Evaluator = _defs(Path(root) / "utils.py", {"Evaluator"})["Evaluator"]
    gts, preds = _videos(np.random.default_rng(seed))
    ev = Evaluator(124)
    for v in gts:
        for g, p in zip(gts[v], preds[v]):
            ev.add_batch(g.astype(np.int64) - 1, p.astype(np.int64))  # the loader's raw - 1 targets
    out = vspw(gts, preds)
    with np.errstate(invalid="ignore", divide="ignore"):
        assert out["mIoU"] == pytest.approx(ev.Mean_Intersection_over_Union(), abs=1e-12)
    for n in (8, 16):
        assert out[f"mVC{n}"] == pytest.approx(_vc(get_common, gts, preds, n), abs=1e-12, nan_ok=True)


@pytest.mark.parametrize("seed", range(3))
def test_univs_labels_equal_univs_eval_vc_perclip(seed):
    root = os.environ.get("UNIVS_REFERENCE_PATH")
    if not root:
        pytest.skip("UNIVS_REFERENCE_PATH not set")
    f = _defs(Path(root) / "univs" / "evaluation" / "eval_vc_perclip_vss.py", {"get_common", "map_category_id"})
    gts, preds = _videos(np.random.default_rng(10 + seed))
    out = vspw(gts, preds, vc_labels="univs")
    raw = vspw(gts, preds)
    for n in (8, 16):
        ref = _vc(f["get_common"], gts, preds, n, f["map_category_id"])
        assert out[f"mVC{n}"] == pytest.approx(ref, abs=1e-12, nan_ok=True)
    assert out["mVC8"] != raw["mVC8"]  # the random GT has 0 <-> 255 changes: the variants differ here
