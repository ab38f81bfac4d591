"""Single-object tracking: success (AUC, OP50, OP75), precision and normalised precision.

``sot(gt, results, protocol=..., variant=...)`` with ``protocol`` one of

* ``lasot`` / ``lasot-ext`` / ``tnl2k`` — pytracking's ``extract_results`` + ``print_results``.
  Two official copies disagree; ``variant`` names which one runs:

  - ``uninext`` (default; the copy vendored by OSTrack and UNINEXT, ``external/lib/test/analysis/
    extract_results.py``, behind the numbers of the UNINEXT/UniRef/GLEE papers): a frame is
    *valid* when GT w > 0 and h > 0; UNINEXT's LaSOT-ext loader (``lib/test/evaluation/
    lasotextdataset.py``) names its sequences' dataset ``'lasot'``, so LaSOT-ext gets every
    rule keyed on that name (below).
  - ``pytracking`` (``visionml/pytracking`` master, ``pytracking/analysis/extract_results.py``):
    a frame is valid only when all four GT values are > 0 (a box touching x = 0 or y = 0 is
    invalid); its LaSOT-ext loader (``lasotextensionsubsetdataset.py``) names the dataset
    ``'lasot_extension_subset'``, so LaSOT-ext follows the non-``lasot`` rules. Master ships
    no TNL2K loader; for ``tnl2k`` this variant only changes the valid-frame rule.

  Per sequence: the first frame's prediction is replaced by the GT; a prediction with zero
  width or height is replaced by the previous frame's (unless that GT row is NaN); valid
  frames also need, for LaSOT and LaSOT-ext, the target visible (``full_occlusion == 0 and
  out_of_view == 0``). Invalid frames get overlap −1 and centre error +inf (failures) but
  normalised error −1, which *counts as a success* — except where the dataset name is
  ``'lasot'`` (LaSOT always; LaSOT-ext under ``uninext``): there invisible frames get +inf.
  Boxes use the ``x + w − 1`` pixel convention; centre = ``x + (w − 1)/2``; normalised error
  divides centres by the GT w, h. Curves: success = #(IoU > t)/N for t in ``arange(0, 1.05,
  0.05)`` (strict ``>`` in both copies, so a perfect tracker scores 20/21 of 100 AUC),
  precision = #(err <= t)/N for t = 0..50 px, normalised for t = 0..0.50; N = all GT frames.
  Per-sequence curves are float32 (as the official tensors), averaged over sequences in
  float32 (torch, as the official code), ×100. ``AUC`` = mean of the 21 success values,
  ``OP50``/``OP75`` = curve at 0.5/0.75, ``Precision`` = curve at 20 px, ``Norm Precision`` =
  curve at 0.20. Dataset name ``'lasot'``: a results file longer than the GT is truncated,
  shorter is an error; otherwise a short file is padded with zero boxes.
* ``got10k`` — the ``got10k`` toolkit (``ExperimentGOT10k.report`` on val): the first frame is
  dropped, every repetition ``<seq>/<seq>_NNN.txt`` is scored, boxes are clipped to the image
  (``meta_info.ini`` resolution), only frames with ``cover > 0`` count; IoUs of all repetitions
  and sequences are pooled: ``AO`` = mean IoU, ``SR0.5`` / ``SR0.75`` = fraction of IoU > 0.5 /
  0.75 (strict, as ``ExperimentGOT10k._evaluate``: ``np.mean(ious > 0.5)`` and the
  ``np.greater`` success curve). Reported ×100.
* ``trackingnet`` — the TrackingNet devkit ``metrics.py`` (``evaluate``): all coordinates
  rounded (half-to-even), first frame = GT, ``+1`` pixel convention, centre = ``x + (w + 1)/2``,
  21-point curves; success counts IoU **>=** t (unlike pytracking, so a perfect tracker
  scores 100), precision err <= t; each score is the trapezoidal area over x in [0, 1]
  (quirk: also for the precision curves, whose thresholds run over 0..50 px / 0..0.5), ×100,
  reported as ``AUC``, ``Precision`` and ``Norm Precision``. A missing results file scores as
  all-zero boxes.

Inputs: ``gt`` is a folder (sequence folders anywhere below it holding ``groundtruth.txt``;
LaSOT's ``full_occlusion.txt``/``out_of_view.txt``; GOT-10k's ``meta_info.ini`` and
``cover.label``; TrackingNet's ``anno/<seq>.txt`` files) or ``{seq: {"boxes": Nx4 xywh,
"visible": N bool?, "cover": N?, "resolution": (W, H)?}}``. ``results`` is a folder
(``<seq>.txt``; GOT-10k ``<seq>/<seq>_NNN.txt``) or ``{seq: Nx4}`` (GOT-10k: a list of Nx4).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, emit, mean, ratio, wanted
from ._files import folder_error, read_text_file

__all__ = ["sot", "PROTOCOLS", "VARIANTS"]

PROTOCOLS = ("lasot", "lasot-ext", "tnl2k", "got10k", "trackingnet")
#: the two official copies of pytracking's analysis code (see the module docstring)
VARIANTS = ("uninext", "pytracking")
_PYTRACKING = ("lasot", "lasot-ext", "tnl2k")


def _dataset_name(protocol: str, variant: str) -> str:
    """The ``seq.dataset`` string the official loader gives (its rules key on ``'lasot'``)."""
    if protocol == "lasot" or (protocol == "lasot-ext" and variant == "uninext"):
        return "lasot"  # UNINEXT lasotextdataset.py: Sequence(..., 'lasot', ...)
    return {"lasot-ext": "lasot_extension_subset", "tnl2k": "tnl2k"}[protocol]


# -- reading -----------------------------------------------------------------------------------
def _load_boxes(path: Path, what: str) -> np.ndarray:
    try:
        text = read_text_file(path, what)
    except OSError as e:
        raise ResultsError(f"{what} {path} cannot be read: {e}") from None
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p for p in re.split(r"[,\t ]+", line) if p]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise ResultsError(f"{what} {path}, line {i}: expected 4 numbers, got {line!r}") from None
        if len(vals) != 4:
            raise ResultsError(f"{what} {path}, line {i}: expected 4 numbers (x, y, w, h), got {len(vals)}")
        rows.append(vals)
    return np.asarray(rows, np.float64).reshape(-1, 4)


def _load_flags(path: Path) -> np.ndarray:
    text = read_text_file(path, "ground truth")
    try:
        return np.asarray([float(v) for v in re.split(r"[,\s]+", text.strip()) if v])
    except ValueError:
        raise ResultsError(f"ground truth {path}: expected numbers (one flag per frame)") from None


def _gt_folder(root: Path, protocol: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    if protocol == "trackingnet":
        files = sorted(root.glob("anno/*.txt")) or sorted(root.glob("*.txt"))
        for f in files:
            out[f.stem] = {"boxes": _load_boxes(f, "ground truth")}
    else:
        for f in sorted(root.rglob("groundtruth.txt")):
            d = f.parent
            seq: dict[str, Any] = {"boxes": _load_boxes(f, "ground truth")}
            if (d / "full_occlusion.txt").is_file() and (d / "out_of_view.txt").is_file():
                seq["visible"] = (_load_flags(d / "full_occlusion.txt") == 0) & (_load_flags(d / "out_of_view.txt") == 0)
            if (d / "cover.label").is_file():
                seq["cover"] = _load_flags(d / "cover.label")
            if (d / "meta_info.ini").is_file():
                m = re.search(r"resolution:\s*\(([\d.]+),\s*([\d.]+)\)", read_text_file(d / "meta_info.ini", "ground truth"))
                if m:
                    seq["resolution"] = (float(m.group(1)), float(m.group(2)))
            out[d.name] = seq
    if not out:
        raise ResultsError(f"ground truth folder {root} holds no sequence (no groundtruth.txt found)")
    listing = root / "list.txt"  # GOT-10k's split list: a listed sequence without its GT is damage
    if protocol != "trackingnet" and listing.is_file():
        listed = [x.strip() for x in read_text_file(listing, "ground truth").splitlines() if x.strip()]
        lacking = [x for x in listed if x not in out]
        if lacking:
            raise ResultsError(f"ground truth: {root / lacking[0] / 'groundtruth.txt'} is missing "
                               f"({len(lacking)} sequence(s) of {listing} have no groundtruth.txt)")
    return out


def _gt(gt: Any, protocol: str) -> dict[str, dict]:
    if isinstance(gt, (str, os.PathLike)):
        root = Path(gt)
        if not root.is_dir():
            raise ResultsError(folder_error(root, "ground truth"))
        return _gt_folder(root, protocol)
    return {s: dict(v) if isinstance(v, dict) else {"boxes": np.asarray(v, np.float64)} for s, v in gt.items()}


def _result(results: Any, seq: str, protocol: str, required: bool = True):
    if isinstance(results, (str, os.PathLike)):
        root = Path(results)
        if protocol == "got10k":
            files = sorted((root / seq).glob(f"{seq}_[0-9]*.txt"))
            if not files:
                raise ResultsError(f"results for sequence {seq!r} not found (expected {root / seq / (seq + '_001.txt')})")
            return [_load_boxes(f, "results") for f in files]
        f = root / f"{seq}.txt"
        if not f.is_file():
            if not required:
                return None
            raise ResultsError(f"results file {f} for sequence {seq!r} is missing")
        return _load_boxes(f, "results")
    if seq not in results:
        if not required:
            return None
        raise ResultsError(f"results: sequence {seq!r} is missing")
    v = results[seq]
    if protocol == "got10k":
        return [np.asarray(b, np.float64).reshape(-1, 4) for b in (v if isinstance(v, (list, tuple)) else [v])]
    return np.asarray(v, np.float64).reshape(-1, 4)


# -- pytracking protocols --------------------------------------------------------------------
def _pytracking_errors(pred: np.ndarray, anno: np.ndarray, visible, dataset: str, variant: str, seq: str):
    """Per-frame overlap, centre error and normalised centre error (float64, length N).

    ``pred``/``anno``: N x 4 xywh boxes in pixels; ``dataset``: the official loader's name
    (``'lasot'`` switches the length and visibility rules); ``variant``: ``uninext`` or
    ``pytracking`` (the valid-frame rule of ``calc_seq_err_robust``)."""
    pred = pred.copy()
    if np.isnan(pred).any() or (pred[:, 2:] < 0.0).any():
        raise ResultsError(f"results for {seq!r}: NaN or negative width/height (the official tool refuses them)")
    if np.isnan(anno).any():
        raise ResultsError(f"ground truth of {seq!r} contains NaN")
    # an empty box repeats the previous frame's (sequentially: a run repeats the last real one)
    for i in np.flatnonzero((pred[:, 2:] == 0.0).any(1)):
        if i > 0:
            pred[i] = pred[i - 1]
    n = len(anno)
    if len(pred) != n:
        if len(pred) > n:
            pred = pred[:n]
        elif dataset == "lasot":
            raise ResultsError(f"results for {seq!r} have {len(pred)} boxes but the ground truth has {n} frames")
        else:
            pred = np.concatenate([pred, np.zeros((n - len(pred), 4))])
    pred[0] = anno[0]
    if variant == "uninext":  # UNINEXT extract_results.py: ((anno_bb[:, 2:] > 0.0).sum(1) == 2)
        valid = (anno[:, 2:] > 0.0).sum(1) == 2
    else:  # pytracking master extract_results.py: ((anno_bb > 0.0).sum(1) == 4)
        valid = (anno > 0.0).sum(1) == 4
    if visible is not None:
        visible = np.asarray(visible, bool)
        if len(visible) != n:
            raise ResultsError(f"ground truth of {seq!r}: {len(visible)} visibility flags for {n} frames")
        valid &= visible
    pc = pred[:, :2] + 0.5 * (pred[:, 2:] - 1.0)
    ac = anno[:, :2] + 0.5 * (anno[:, 2:] - 1.0)
    err_center = np.sqrt(((pc - ac) ** 2).sum(1))
    with np.errstate(divide="ignore", invalid="ignore"):
        err_norm = np.sqrt(((pc / anno[:, 2:] - ac / anno[:, 2:]) ** 2).sum(1))
        tl = np.maximum(pred[:, :2], anno[:, :2])
        br = np.minimum(pred[:, :2] + pred[:, 2:] - 1.0, anno[:, :2] + anno[:, 2:] - 1.0)
        sz = np.clip(br - tl + 1.0, 0, None)
        inter = sz[:, 0] * sz[:, 1]
        union = pred[:, 2] * pred[:, 3] + anno[:, 2] * anno[:, 3] - inter
        overlap = inter / union
    err_center[~valid] = np.inf
    err_norm[~valid] = -1.0
    overlap[~valid] = -1.0
    if dataset == "lasot" and visible is not None:
        err_norm[~visible] = np.inf
        err_center[~visible] = np.inf
    if np.isnan(overlap).any():
        raise ResultsError(f"results for {seq!r}: NaN overlap (zero-area prediction on a valid frame)")
    return overlap, err_center, err_norm


def _pytracking(gt: dict, results: Any, protocol: str, variant: str) -> dict[str, float]:
    import torch

    thr_overlap = torch.arange(0.0, 1.05, 0.05, dtype=torch.float64).numpy()
    thr_center = np.arange(0, 51, dtype=np.float64)
    thr_norm = (torch.arange(0, 51, dtype=torch.float64) / 100.0).numpy()
    curves = np.zeros((3, len(gt), 1, 51), np.float32)
    for i, seq in enumerate(gt):
        g = gt[seq]
        anno = np.asarray(g["boxes"], np.float64).reshape(-1, 4)
        if len(anno) == 0:
            raise ResultsError(f"ground truth of {seq!r} has no frame")
        vis = g.get("visible") if protocol in ("lasot", "lasot-ext") else None
        ov, ce, cn = _pytracking_errors(_result(results, seq, protocol), anno, vis,
                                        _dataset_name(protocol, variant), variant, seq)
        n = np.float32(len(anno))
        curves[0, i, 0, :21] = (ov[:, None] > thr_overlap[None]).sum(0).astype(np.float32) / n
        curves[1, i, 0] = (ce[:, None] <= thr_center[None]).sum(0).astype(np.float32) / n
        curves[2, i, 0] = (cn[:, None] <= thr_norm[None]).sum(0).astype(np.float32) / n
    # float32 averages computed by torch, exactly as the official print_results does them
    succ = torch.from_numpy(np.ascontiguousarray(curves[0, :, :, :21])).mean(0) * 100.0
    prec = torch.from_numpy(np.ascontiguousarray(curves[1])).mean(0) * 100.0
    norm = torch.from_numpy(np.ascontiguousarray(curves[2])).mean(0) * 100.0
    if wanted():  # each key is a mean over sequences of the same per-sequence value
        c = curves[:, :, 0].astype(np.float64) * 100.0
        cols = {"AUC": c[0, :, :21].mean(-1), "OP50": c[0, :, 10], "OP75": c[0, :, 15], "Precision": c[1, :, 20],
                "Norm Precision": c[2, :, 20]}
        emit(_sequence_breakdown(list(gt), cols, {k: mean(k) for k in cols}))
    return {
        "AUC": float(succ.mean(-1)[0]),
        "OP50": float(succ[0, 10]),
        "OP75": float(succ[0, 15]),
        "Precision": float(prec[0, 20]),
        "Norm Precision": float(norm[0, 20]),
    }


def _sequence_breakdown(seqs: list[str], cols: dict[str, np.ndarray], aggregates: dict) -> Breakdown:
    """Per-sequence values (percent, as the headline keys) of the first key's protocol."""
    first = next(iter(cols))
    fields = {k: f"{k} of the sequence alone (percent)" for k in cols}
    fields.update(iou_sum="sum of the scored frames' IoUs", n_frames="scored frames (all repetitions)",
                  n_sr50="scored frames with IoU > 0.5", n_sr75="scored frames with IoU > 0.75")
    samples = {s: {k: float(v[i]) for k, v in cols.items()} for i, s in enumerate(seqs)}
    return Breakdown("sequence", first, True, samples, {}, {k: v for k, v in fields.items()
                                                            if k in cols}, aggregates)


# -- GOT-10k -----------------------------------------------------------------------------------
def _clip_xywh(r: np.ndarray, bound) -> np.ndarray:
    r = r.copy()
    r[:, 0] = np.clip(r[:, 0], 0, bound[0])
    r[:, 1] = np.clip(r[:, 1], 0, bound[1])
    r[:, 2] = np.clip(r[:, 2], 0, bound[0] - r[:, 0])
    r[:, 3] = np.clip(r[:, 3], 0, bound[1] - r[:, 1])
    return r


def _got_iou(a: np.ndarray, b: np.ndarray, bound) -> np.ndarray:
    if bound is not None:
        a, b = _clip_xywh(a, bound), _clip_xywh(b, bound)
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)


def _got10k(gt: dict, results: Any) -> dict[str, float]:
    ious = []
    per_seq = []  # (sequence, number of IoU arrays it added)
    for seq, g in gt.items():
        anno = np.asarray(g["boxes"], np.float64).reshape(-1, 4)
        if "cover" not in g:
            raise ResultsError(f"ground truth of {seq!r}: GOT-10k needs the cover labels (cover.label)")
        cover = np.asarray(g["cover"])[1:]
        for b in _result(results, seq, "got10k"):
            if b.shape != anno.shape:
                raise ResultsError(f"results for {seq!r}: {len(b)} boxes but the ground truth has {len(anno)} frames")
            ious.append(_got_iou(b[1:], anno[1:], g.get("resolution"))[cover > 0])
        per_seq.append((seq, len(ious)))
    if wanted():
        emit(_got10k_breakdown(per_seq, ious))
    ious = np.concatenate(ious) if ious else np.zeros(0)
    return {
        "AO": float(np.mean(ious)) * 100,
        "SR0.5": float(np.mean(ious > 0.5)) * 100,
        "SR0.75": float(np.mean(ious > 0.75)) * 100,
    }


def _got10k_breakdown(per_seq: list[tuple[str, int]], ious: list[np.ndarray]) -> Breakdown:
    """GOT-10k pools the IoUs of all frames, repetitions and sequences, so a sequence carries
    its sums and counts and AO / SR are rebuilt as ratios (frame-weighted), not as means."""
    cols: dict[str, list[float]] = {k: [] for k in ("AO", "SR0.5", "SR0.75", "iou_sum", "n_frames", "n_sr50", "n_sr75")}
    start = 0
    for _, end in per_seq:
        v = np.concatenate(ious[start:end]) if end > start else np.zeros(0)
        start = end
        n = len(v)
        for k, x in (("AO", np.mean(v) * 100 if n else np.nan), ("SR0.5", np.mean(v > 0.5) * 100 if n else np.nan),
                     ("SR0.75", np.mean(v > 0.75) * 100 if n else np.nan), ("iou_sum", v.sum()), ("n_frames", n),
                     ("n_sr50", int(np.sum(v > 0.5))), ("n_sr75", int(np.sum(v > 0.75)))):
            cols[k].append(x)
    bd = _sequence_breakdown([s for s, _ in per_seq], {k: np.asarray(v) for k, v in cols.items()},
                             {"AO": ratio("iou_sum", "n_frames", scale=100.0),
                              "SR0.5": ratio("n_sr50", "n_frames", scale=100.0),
                              "SR0.75": ratio("n_sr75", "n_frames", scale=100.0)})
    for row in bd.samples.values():  # counts stay integers
        for k in ("n_frames", "n_sr50", "n_sr75"):
            row[k] = int(row[k])
    return bd


# -- TrackingNet -------------------------------------------------------------------------------
def _trackingnet(gt: dict, results: Any) -> dict[str, float]:
    x_succ = np.linspace(0, 1, 21)
    x_prec = np.linspace(0, 50, 21)
    x_norm = np.linspace(0, 0.5, 21)
    acc = np.zeros((3, 21))
    trapz = getattr(np, "trapezoid", None) or np.trapz
    per_seq: list[tuple[float, float, float]] = []  # (success, precision, normalised) areas
    for seq, g in gt.items():
        a = np.round(np.asarray(g["boxes"], np.float64).reshape(-1, 4))
        n = len(a)
        p = _result(results, seq, "trackingnet", required=False)
        s = np.zeros((n, 4)) if p is None else np.full((n, 4), np.nan)
        if p is not None:  # pandas aligns the columns on the GT index (extra rows dropped)
            s[: min(n, len(p))] = p[:n]
        s = np.round(s)
        s[0] = a[0]
        ax2, ay2 = a[:, 0] + a[:, 2] - 1.0, a[:, 1] + a[:, 3] - 1.0
        sx2, sy2 = s[:, 0] + s[:, 2] - 1.0, s[:, 1] + s[:, 3] - 1.0
        acx, acy = a[:, 0] + (a[:, 2] + 1.0) / 2.0, a[:, 1] + (a[:, 3] + 1.0) / 2.0
        scx, scy = s[:, 0] + (s[:, 2] + 1.0) / 2.0, s[:, 1] + (s[:, 3] + 1.0) / 2.0
        ix1, iy1 = np.fmax(a[:, 0], s[:, 0]), np.fmax(a[:, 1], s[:, 1])
        ix2, iy2 = np.fmin(ax2, sx2), np.fmin(ay2, sy2)
        iw = np.clip(np.round(ix2 - ix1 + 1), 0, None)
        ih = np.clip(np.round(iy2 - iy1 + 1), 0, None)
        inter = iw * ih
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / (a[:, 3] * a[:, 2] + s[:, 3] * s[:, 2] - inter)
            dist = np.sqrt((acx - scx) * (acx - scx) + (acy - scy) * (acy - scy))
            ndist = np.sqrt((acx - scx) / a[:, 2] * (acx - scx) / a[:, 2] + (acy - scy) / a[:, 3] * (acy - scy) / a[:, 3])
        # metrics.py evaluate: np.sum(i >= thres for i in df["IoU"]) -- a frame exactly on a
        # threshold (the GT first frame, IoU 1, at t = 1) is a success
        curves = (np.array([np.sum(iou >= t) / n for t in x_succ]), np.array([np.sum(dist <= t) / n for t in x_prec]),
                  np.array([np.sum(ndist <= t) / n for t in x_norm]))
        acc += np.stack(curves)
        per_seq.append(tuple(float(trapz(c, x=x_succ)) for c in curves))
    acc /= len(gt)
    if wanted():  # the area of the mean curve = the mean of the per-sequence areas (linear)
        cols = {k: np.asarray(v) * 100 for k, v in zip(("AUC", "Precision", "Norm Precision"), zip(*per_seq))}
        emit(_sequence_breakdown(list(gt), cols, {k: mean(k) for k in cols}))
    return {
        "AUC": float(trapz(acc[0], x=x_succ) * 100),
        "Precision": float(trapz(acc[1], x=x_succ) * 100),
        "Norm Precision": float(trapz(acc[2], x=x_succ) * 100),
    }


def sot(gt: Any, results: Any, *, protocol: str = "lasot", variant: str = "uninext",
        sequences=None) -> dict[str, float]:
    """Single-object tracking scores under ``protocol`` (see the module docstring).

    ``variant`` (lasot / lasot-ext / tnl2k only): ``uninext`` (default, UNINEXT/OSTrack's copy
    of pytracking's analysis code) or ``pytracking`` (pytracking master).

    Returns (percent): ``AUC``, ``OP50``, ``OP75``, ``Precision``, ``Norm Precision`` for
    lasot / lasot-ext / tnl2k; ``AO``, ``SR0.5``, ``SR0.75`` for got10k; ``AUC``,
    ``Precision``, ``Norm Precision`` for trackingnet.
    """
    if protocol not in PROTOCOLS:
        raise ResultsError(f"sot: unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    if variant not in VARIANTS:
        raise ResultsError(f"sot: unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    if variant != "uninext" and protocol not in _PYTRACKING:
        raise ResultsError(f"sot: variant {variant!r} applies to {', '.join(_PYTRACKING)}, not to {protocol!r}")
    g = _gt(gt, protocol)
    if sequences is not None:
        names = sequences.split(",") if isinstance(sequences, str) else list(sequences)
        missing = [s for s in names if s not in g]
        if missing:
            raise ResultsError(f"ground truth has no sequence {missing[0]!r}")
        g = {s: g[s] for s in names}
    if protocol == "got10k":
        return _got10k(g, results)
    if protocol == "trackingnet":
        return _trackingnet(g, results)
    return _pytracking(g, results, protocol, variant)
