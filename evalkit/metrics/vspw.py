"""VSPW video semantic segmentation: mIoU and video consistency mVC8 / mVC16
(Miao et al., CVPR 2021; ``sssdddwww2/CVPR2021_VSPW_Implement``).

Inputs: ``gt`` — the VSPW root with ``data/<video>/mask/<frame>.png`` (raw labels: 0 = other,
1..124 = classes, 255 = void) and ``<split>.txt`` listing the videos, or a mapping
``{video: {frame: HxW}}``; ``results`` — ``<video>/<frame>.png`` predictions in the model's
label space 0..123 (as the official test script writes them), or the same mapping.

* **mIoU** (``utils.Evaluator`` fed by the official ``ValDataset``): GT labels become
  ``raw − 1`` (so raw 0 and 255 fall outside ``[0, 124)`` and are ignored); one confusion
  matrix is pooled over every frame of every video; IoU_c = diag / (row + col − diag);
  mIoU = Σ over classes *with GT pixels* of IoU_c / (number of such classes). A prediction
  outside 0..123 on a scored pixel is an error here, which is stricter than the official code:
  ``utils.Evaluator._generate_matrix`` bincounts ``124·gt + pred`` unchecked, so such a pixel
  is silently counted in another cell (gt 5, pred 130 lands on (6, 6)); only an index past
  124² makes its ``reshape`` fail.
* **mVC_n** (``VC_perclip.py`` ``get_common``, n in ``vc``, default 8 and 16): videos with at
  most n mask files are skipped; for each window start i in ``[0, L − n)`` (quirk: the last
  possible window is not used; every official copy — VSPW_code's ``VC_perclip.py`` /
  ``utils.get_common``, UniVS's ``eval_vc_perclip_vss.py`` — uses this range), gt_c = pixels
  whose GT label is the same in frames i..i+n−1, pred_c likewise for the prediction;
  acc_i = |gt_c ∧ pred_c| / |gt_c| (NaN when gt_c is empty, then ignored). Only consistency is
  measured, not correctness. mVC_n = nanmean over all windows of all videos (window-weighted).
  The GT labels compared are named by ``vc_labels``:

  - ``raw`` (default; ``VC_perclip.py`` of the dataset's authors, as the VSPW leaderboard):
    the PNG values as read, so "others" (0) and void (255) are different labels and void
    pixels are not excluded.
  - ``univs`` (UniVS ``univs/evaluation/eval_vc_perclip_vss.py`` and ``vss_evaluation.py``,
    which produced the UniVS paper's mVC): the GT first goes through ``map_category_id``
    (0 → 255, −1, 254 → 255), which merges "others" and void, so a GT pixel that changes
    between 0 and 255 counts as unchanged.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, emit, ratio, wanted
from ._files import folder_error
from ._masks_io import MaskSource

__all__ = ["vspw", "VC_LABELS"]

N_CLASSES = 124
#: GT labels of the consistency test: VC_perclip.py's raw values or UniVS's map_category_id
VC_LABELS = ("raw", "univs")


class _GT(MaskSource):
    """VSPW's ``data/<video>/mask/<frame>.png`` layout."""

    def frame_ids(self, seq):
        if self.root is None:
            return super().frame_ids(seq)
        d = self.root / seq / "mask"
        if not d.is_dir():
            raise ResultsError(f"ground truth: {d} is missing")
        return [n[:-4] for n in sorted(os.listdir(d)) if n.endswith(".png") and not n.startswith(".")]

    def n_files(self, seq):
        if self.root is None:
            return len(self.frame_ids(seq))
        return len(os.listdir(self.root / seq / "mask"))

    def read(self, seq, frame_id, size=None):
        if self.root is None:
            return super().read(seq, frame_id, size)
        from ._masks_io import read_label_png

        return read_label_png(self.root / seq / "mask" / f"{frame_id}.png", self.what, size)


def _window_consistency(labels: np.ndarray, n: int) -> np.ndarray:
    """``(L - n) x H x W`` bool: pixel keeps the label of frame i through frames i..i+n-1."""
    L = len(labels)
    same = labels[1:] == labels[:-1]  # (L-1, H, W): frame t equals frame t+1
    out = np.empty((L - n, *labels.shape[1:]), bool)
    # equal to frame i in i+1..i+n-1  <=>  consecutive equalities over i..i+n-2
    for i in range(L - n):
        out[i] = same[i : i + n - 1].all(0)
    return out


def _check_every_frame_annotated(video_dir: Path, frames: list[str]) -> None:
    """VSPW annotates every frame: each ``origin/<frame>.jpg`` has a ``mask/<frame>.png``, so a
    missing mask is damage (the mIoU would silently skip that frame)."""
    origin = video_dir / "origin"
    if not origin.is_dir():
        return
    have = set(frames)
    lacking = sorted(p.stem for p in origin.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")
                     and p.stem not in have)
    if lacking:
        raise ResultsError(f"ground truth: {video_dir / 'mask' / (lacking[0] + '.png')} is missing "
                           f"({len(lacking)} frame(s) of {origin} have no mask)")


def vspw(gt: Any, results: Any, *, split: str = "val", videos=None, vc=(8, 16),
         vc_labels: str = "raw") -> dict[str, float]:
    """VSPW ``mIoU``, ``mVC8`` and ``mVC16`` (fractions); see the module docstring.

    ``vc``: the window lengths n of ``mVC<n>``; ``vc_labels``: ``raw`` or ``univs``."""
    if vc_labels not in VC_LABELS:
        raise ResultsError(f"vspw: unknown vc_labels {vc_labels!r}; expected one of {', '.join(VC_LABELS)}")
    if isinstance(vc, (str, int)):  # "8,16" from the command line, or one length
        vc = [vc] if isinstance(vc, int) else [v for v in str(vc).split(",") if v.strip()]
    try:
        vc = tuple(int(n) for n in vc)
    except (TypeError, ValueError):
        raise ResultsError(f"vspw: vc must be window lengths such as 8,16; got {vc!r}") from None
    if any(n < 1 for n in vc):
        raise ResultsError(f"vspw: every vc window length must be at least 1; got {vc}")
    if isinstance(gt, (str, os.PathLike)):
        root = Path(gt)
        if not root.is_dir():
            raise ResultsError(folder_error(root, "ground truth"))
        src = _GT(root / "data", "ground truth")
        if videos is None:
            lst = root / f"{split}.txt"
            if not lst.is_file():
                raise ResultsError(f"ground truth: video list {lst} is missing")
            videos = [v.strip() for v in lst.read_text().splitlines() if v.strip() and not v.startswith(".")]
    else:
        src = _GT(gt, "ground truth")
        videos = videos or src.sequences()
    res = MaskSource(results, "results")
    conf = np.zeros(N_CLASSES * N_CLASSES, np.int64)
    accs: dict[int, list[np.ndarray]] = {n: [] for n in vc}
    per_video: dict[str, dict[str, Any]] = {}
    for video in videos:
        conf_v = np.zeros(N_CLASSES * N_CLASSES, np.int64)
        frames = src.frame_ids(video)
        if isinstance(gt, (str, os.PathLike)):
            _check_every_frame_annotated(Path(gt) / "data" / video, frames)
        gts, preds = [], []
        for f in frames:
            g = src.read(video, f)
            p = res.read(video, f, g.shape)
            gl = g.astype(np.int64) - 1
            m = (gl >= 0) & (gl < N_CLASSES)
            pv = p[m]
            if pv.size and pv.max() >= N_CLASSES:
                raise ResultsError(f"results {res.path(video, f)}: class {int(pv.max())} outside 0..{N_CLASSES - 1}")
            conf_v += np.bincount(N_CLASSES * gl[m] + pv, minlength=N_CLASSES**2)
            if vc_labels == "univs":  # map_category_id: raw 0 and 255 both end as 255
                g = np.where(g == 0, 255, g)
            gts.append(g)
            preds.append(p)
        conf += conf_v
        per_video[video] = {"mIoU": _miou(conf_v)}
        n_files = src.n_files(video)
        for n in vc:
            if n_files <= n:
                continue
            G = _window_consistency(np.stack(gts), n)
            P = _window_consistency(np.stack(preds), n)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=RuntimeWarning)
                accs[n].append((G & P).sum((1, 2)) / G.sum((1, 2)))
            a = accs[n][-1]
            per_video[video].update({f"vc{n}_sum": float(np.nansum(a)), f"vc{n}_n": int(np.isfinite(a).sum())})
    if wanted():
        emit(_breakdown(per_video, vc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        out = {"mIoU": _miou(conf)}
        for n in vc:
            a = np.concatenate(accs[n]) if accs[n] else np.zeros(0)
            out[f"mVC{n}"] = float(np.nanmean(a)) if a.size else float("nan")
    return out


def _miou(conf: np.ndarray) -> float:
    """``utils.Evaluator.Mean_Intersection_over_Union`` of a flat confusion matrix: the mean
    IoU over the classes with GT pixels (NaN where there are none)."""
    cm = conf.reshape(N_CLASSES, N_CLASSES).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        iou = np.diag(cm) / (cm.sum(1) + cm.sum(0) - np.diag(cm))
        isval = cm.sum(1) > 0
        return float(np.nansum(iou * isval) / isval.sum())


def _breakdown(per_video: dict[str, dict[str, Any]], vc: tuple[int, ...]) -> Breakdown:
    """Per video: its own ``mIoU`` (its frames' confusion matrix alone; not an official number,
    it sorts the videos) and, per window length n, the sum and count of its window
    consistencies. mVC_n (a nanmean over all windows) is rebuilt as their ratio; the split's
    mIoU pools one confusion matrix over all videos and keeps only the classes with GT pixels,
    which no per-video ratio rebuilds, so it has none."""
    fields = {"mIoU": "mean IoU over the classes with GT pixels in this video alone",
              **{f"vc{n}_sum": f"sum of the video's {n}-frame window consistencies" for n in vc},
              **{f"vc{n}_n": "its windows with a consistent GT pixel (NaN windows left out)" for n in vc}}
    for row in per_video.values():
        for n in vc:
            row.setdefault(f"vc{n}_sum", None)  # too short for the window: not in mVC_n
            row.setdefault(f"vc{n}_n", None)
    return Breakdown("video", "mIoU", True, per_video, {}, fields,
                     {f"mVC{n}": ratio(f"vc{n}_sum", f"vc{n}_n") for n in vc})
