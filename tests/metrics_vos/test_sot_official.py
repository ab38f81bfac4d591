"""SOT parity with the official evaluation code itself, when a checkout is given.

None of these is on PyPI. Point the variables at checkouts to run the tests; each skips otherwise:

* ``UNINEXT_REFERENCE_PATH``: a UNINEXT checkout (``external/lib/test/analysis/extract_results.py``,
  the OSTrack copy of pytracking's analysis code) — ``sot(variant="uninext")``;
* ``PYTRACKING_REFERENCE_PATH``: a pytracking checkout (``pytracking/analysis/extract_results.py``)
  — ``sot(variant="pytracking")``;
* ``TRACKINGNET_DEVKIT_PATH``: a TrackingNet-devkit checkout (``metrics.py``) — ``protocol="trackingnet"``.

The official ``extract_results`` runs unmodified; only the modules it imports for file loading
and paths are stubbed, and the final averaging is ``plot_results.get_auc_curve`` /
``get_prec_curve`` taken from the same checkout. The devkit needs two shims for current
libraries (``DataFrame.append`` and ``np.sum`` over a generator, both removed upstream).
"""
from __future__ import annotations

import ast
import contextlib
import io
import os
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from evalkit.metrics.sot import sot
from test_sot import _tracker

# the official loaders' dataset names (UNINEXT lasotextdataset.py says 'lasot' for LaSOT-ext)
DATASET = {"uninext": {"lasot": "lasot", "lasot-ext": "lasot", "tnl2k": "tnl2k"},
           "pytracking": {"lasot": "lasot", "lasot-ext": "lasot_extension_subset", "tnl2k": "tnl2k"}}
CHECKOUT = {"uninext": ("UNINEXT_REFERENCE_PATH", "external/lib/test", "lib.test"),
            "pytracking": ("PYTRACKING_REFERENCE_PATH", "pytracking", "pytracking")}


def _functions(path: Path, names: set[str], env: dict) -> dict:
    """The named top-level functions of an official file, executed in ``env``."""
    tree = ast.parse(path.read_text())
    tree.body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    exec(compile(tree, str(path), "exec"), env)
    return env


def _official_extract(variant: str, monkeypatch, tmp_path: Path):
    var, sub, pkg = CHECKOUT[variant]
    root = os.environ.get(var)
    if not root:
        pytest.skip(f"{var} not set")
    analysis = Path(root) / sub / "analysis"

    def load_text(path, delimiter=",", dtype=np.float64, backend="numpy"):
        return np.loadtxt(path, delimiter=",", dtype=dtype, ndmin=2)

    env_mod = types.ModuleType(f"{pkg}.evaluation.environment")
    env_mod.env_settings = lambda: types.SimpleNamespace(result_plot_path=str(tmp_path / "plots"))
    lt_mod = types.ModuleType(f"{pkg}.utils.load_text")
    lt_mod.load_text = load_text
    parts = pkg.split(".")
    for i in range(1, len(parts) + 1):
        monkeypatch.setitem(sys.modules, ".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    for name in ("evaluation", "utils"):
        monkeypatch.setitem(sys.modules, f"{pkg}.{name}", types.ModuleType(f"{pkg}.{name}"))
    monkeypatch.setitem(sys.modules, env_mod.__name__, env_mod)
    monkeypatch.setitem(sys.modules, lt_mod.__name__, lt_mod)
    mod = {"__file__": str(analysis / "extract_results.py"), "__name__": "official_extract_results"}
    exec(compile((analysis / "extract_results.py").read_text(), mod["__file__"], "exec"), mod)
    agg = _functions(analysis / "plot_results.py", {"get_auc_curve", "get_prec_curve"}, {"torch": torch})
    return mod["extract_results"], agg["get_auc_curve"], agg["get_prec_curve"]


@pytest.mark.parametrize("variant", ["uninext", "pytracking"])
@pytest.mark.parametrize("protocol", ["lasot", "lasot-ext", "tnl2k"])
@pytest.mark.parametrize("seed", range(3))
def test_pytracking_protocols_equal_the_official_code(variant, protocol, seed, monkeypatch, tmp_path):
    extract_results, get_auc_curve, get_prec_curve = _official_extract(variant, monkeypatch, tmp_path)
    rng = np.random.default_rng(100 + seed)
    dataset_name = DATASET[variant][protocol]
    res_dir = tmp_path / "res"
    res_dir.mkdir()
    seqs, gt, res = [], {}, {}
    for s in range(int(rng.integers(1, 6))):
        n = int(rng.integers(2, 90))
        anno, pred, vis = _tracker(rng, n, exact_thresholds=seed % 2 == 0)
        anno[rng.random(n) < 0.1, int(rng.integers(0, 2))] = 0  # boxes touching x = 0 or y = 0
        if dataset_name != "lasot" and rng.random() < 0.4:
            pred = pred[: max(1, n - 4)]
        use_vis = vis if protocol != "tnl2k" else None
        name = f"s{s}"
        np.savetxt(res_dir / f"{name}.txt", pred, delimiter=",", fmt="%.17g")
        seqs.append(types.SimpleNamespace(name=name, dataset=dataset_name, ground_truth_rect=anno,
                                          target_visible=use_vis))
        gt[name] = {"boxes": anno, **({"visible": vis} if use_vis is not None else {})}
        res[name] = np.loadtxt(res_dir / f"{name}.txt", delimiter=",", ndmin=2)
    trk = types.SimpleNamespace(results_dir=str(res_dir), name="t", parameter_name="p", run_id=None,
                                display_name="t")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        data = extract_results([trk], seqs, "report")
    valid = torch.tensor(data["valid_sequence"], dtype=torch.bool)
    thr = torch.tensor(data["threshold_set_overlap"])
    curve, auc = get_auc_curve(torch.tensor(data["ave_success_rate_plot_overlap"]), valid)
    _, prec = get_prec_curve(torch.tensor(data["ave_success_rate_plot_center"]), valid)
    _, norm = get_prec_curve(torch.tensor(data["ave_success_rate_plot_center_norm"]), valid)
    ref = {"AUC": float(auc[0]), "OP50": float(curve[:, thr == 0.50][0, 0]), "OP75": float(curve[:, thr == 0.75][0, 0]),
           "Precision": float(prec[0]), "Norm Precision": float(norm[0])}
    assert sot(gt, res, protocol=protocol, variant=variant) == ref


def _devkit(monkeypatch):
    root = os.environ.get("TRACKINGNET_DEVKIT_PATH")
    if not root:
        pytest.skip("TRACKINGNET_DEVKIT_PATH not set")
    import pandas as pd

    if not hasattr(pd.DataFrame, "append"):
        monkeypatch.setattr(pd.DataFrame, "append", lambda self, other: pd.concat([self, other]), raising=False)
    shim = types.ModuleType("numpy_for_devkit")
    shim.__dict__.update(np.__dict__)
    shim.sum = lambda a, *k, **kw: np.sum(list(a) if isinstance(a, types.GeneratorType) else a, *k, **kw)
    if not hasattr(np, "trapz"):
        shim.trapz = np.trapezoid
    mod = {"__name__": "trackingnet_metrics"}
    path = Path(root) / "metrics.py"
    exec(compile(path.read_text(), str(path), "exec"), mod)
    mod["np"] = shim
    return mod["evaluate"]


def _zip(path: Path, files: dict) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, rows in files.items():
            z.writestr(f"d/{name}.txt", "".join(",".join(f"{v:.17g}" for v in r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("seed", range(4))
def test_trackingnet_equals_the_devkit(seed, monkeypatch, tmp_path):
    evaluate = _devkit(monkeypatch)
    rng = np.random.default_rng(200 + seed)
    gt, res, anno_files, subm_files = {}, {}, {}, {}
    for s in range(int(rng.integers(1, 5))):
        n = int(rng.integers(1, 60))
        anno, pred, _ = _tracker(rng, n, exact_thresholds=True)
        anno = anno + rng.choice([0, 0.5], anno.shape)
        name = f"seq{s}"
        gt[name] = {"boxes": anno}
        anno_files[name] = anno
        if rng.random() < 0.8:
            res[name] = pred
            subm_files[name] = pred
    cases = [(gt, res, anno_files, subm_files),
             # hand cases: one perfect frame; IoU exactly 0.5
             ({"a": {"boxes": np.array([[3.0, 4, 10, 10]])}}, {"a": np.array([[3.0, 4, 10, 10]])},
              {"a": [[3.0, 4, 10, 10]]}, {"a": [[3.0, 4, 10, 10]]}),
             ({"a": {"boxes": np.array([[0.0, 0, 10, 10]] * 2)}}, {"a": np.array([[0.0, 0, 10, 10], [0, 0, 10, 5]])},
              {"a": [[0.0, 0, 10, 10]] * 2}, {"a": [[0.0, 0, 10, 10], [0, 0, 10, 5]]})]
    for k, (g, r, af, sf) in enumerate(cases):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            _, succ, prec, nprec = evaluate(str(_zip(tmp_path / f"gt{k}.zip", af)),
                                            str(_zip(tmp_path / f"sub{k}.zip", sf or {"none": [[0, 0, 0, 0]]})))
        out = sot(g, r, protocol="trackingnet")
        assert out["AUC"] == pytest.approx(succ, abs=1e-10), k
        assert out["Precision"] == pytest.approx(prec, abs=1e-10), k
        assert out["Norm Precision"] == pytest.approx(nprec, abs=1e-10), k
