"""DAVIS 2017 *unsupervised* J&F (``davis2017-evaluation``, ``task='unsupervised'``).

This is also the protocol behind the Ref-DAVIS17 numbers of UniRef/UNINEXT-style codebases:
their documented Ref-DAVIS command runs the vendored ``evaluation_method.py`` without
``--task``, whose default is ``unsupervised``, on the Ref-DAVIS copy of the dataset
(``Annotations_unsupervised``), once per annotator split.

Inputs as :func:`evalkit.metrics.davis.davis_semi`, except that a DAVIS root is read from
``Annotations_unsupervised/<resolution>``. Official semantics reproduced:

* Every GT frame is evaluated (the first and last frame are kept).
* GT value 255 is void: void pixels are removed from both masks before J and F (``J`` counts
  only non-void pixels, boundaries are taken of ``mask * not void``).
* The object count K is the largest label of the first GT frame. The result holds N
  proposals (the largest label over all evaluated result frames); N > 20
  (``max_proposals``) aborts the official evaluation (here a ``ResultsError``). When N < K,
  empty proposals are added.
* Every proposal is scored against every GT object on every frame; proposals are matched to
  objects by the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) maximising
  the per-pair mean over frames of (J + F)/2; the matched pairs (ordered by proposal index)
  give the per-object statistics, aggregated as in the semi-supervised task.

The breakdown (when collected) is the semi-supervised one
(:func:`evalkit.metrics.davis.per_sequence`): per sequence, the means over its GT objects of
their matched proposals' statistics, object-weighted back to every global key.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import emit, wanted
from ._masks_io import MaskSource
from .jf import ObjectScores, bbox, bound_pixels, boundary_part, db_statistics, disk, f_batch, global_measures

__all__ = ["davis_unsup", "sequence_jf_unsup"]


def _pair_j(gm, rm, bg, br) -> float:
    if bg is None and br is None:
        return 1.0
    inter = 0
    if bg is not None and br is not None:
        y0, y1 = max(bg[0], br[0]), min(bg[1], br[1])
        x0, x1 = max(bg[2], br[2]), min(bg[3], br[3])
        if y0 <= y1 and x0 <= x1:
            inter = int(np.count_nonzero(gm[y0 : y1 + 1, x0 : x1 + 1] & rm[y0 : y1 + 1, x0 : x1 + 1]))
    ag = 0 if bg is None else int(np.count_nonzero(gm))
    ar = 0 if br is None else int(np.count_nonzero(rm))
    return inter / (ag + ar - inter)


def sequence_jf_unsup(
    gt: MaskSource, res: MaskSource, seq: str, bound_th: float = 0.008, max_proposals: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Matched per-object, per-frame J and F of one sequence: two ``K x T`` float64 arrays."""
    from scipy.optimize import linear_sum_assignment

    ids = gt.dense_frame_ids(seq)
    if not ids:
        raise ResultsError(f"ground truth: sequence {seq!r} has no annotation PNGs")
    first = gt.read(seq, ids[0])
    size = first.shape
    n_gt = int(np.where(first == 255, 0, first).max()) if first.size else 0
    results = [res.read(seq, f, size) for f in ids]
    n_res = max(int(r.max()) if r.size else 0 for r in results)
    if n_res > max_proposals:
        raise ResultsError(
            f"results for {seq!r}: {n_res} proposals (largest label) but at most {max_proposals} are allowed"
        )
    n_prop = max(n_res, n_gt)
    radius = bound_pixels(size, bound_th)
    kernel = disk(radius)
    T = len(ids)
    J = np.zeros((n_prop, n_gt, T))
    F = np.zeros((n_prop, n_gt, T))
    for t, fid in enumerate(ids):
        g = gt.read(seq, fid, size)
        void = g == 255
        r = np.where(void, 0, results[t])  # void pixels are removed from the proposals
        gms = [g == k for k in range(1, n_gt + 1)]
        rms = [r == k for k in range(1, n_prop + 1)]
        gb = [bbox(m) for m in gms]
        rb = [bbox(m) for m in rms]
        gp = [boundary_part(m, b) for m, b in zip(gms, gb)]
        rp = [boundary_part(m, b) for m, b in zip(rms, rb)]
        for jj in range(n_prop):
            for ii in range(n_gt):
                J[jj, ii, t] = _pair_j(gms[ii], rms[jj], gb[ii], rb[jj])
        f = f_batch([(rp[jj], gp[ii]) for jj in range(n_prop) for ii in range(n_gt)], kernel, radius)
        F[:, :, t] = np.asarray(f).reshape(n_prop, n_gt)
    score = (np.mean(J, axis=2) + np.mean(F, axis=2)) / 2
    rows, cols = linear_sum_assignment(-score)
    return J[rows, cols, :], F[rows, cols, :]


def davis_unsup(
    gt: Any,
    results: Any,
    *,
    subset: str = "val",
    resolution: str = "480p",
    sequences=None,
    bound_th: float = 0.008,
    fix_decay_wrap: bool = False,
    max_proposals: int = 20,
) -> dict[str, float]:
    """DAVIS-2017 unsupervised ``J&F-Mean``, ``J-Mean``, ``J-Recall``, ``J-Decay``, ``F-Mean``,
    ``F-Recall``, ``F-Decay`` (fractions); see the module docstring."""
    from .davis import _resolve_gt

    gt_src, seqs = _resolve_gt(gt, subset, resolution, sequences, annotations="Annotations_unsupervised")
    res_src = MaskSource(results, "results")
    wrap = not fix_decay_wrap
    objects: list[ObjectScores] = []
    n_objects: list[int] = []
    for seq in seqs:
        if not res_src.has_sequence(seq):
            raise ResultsError(f"results: sequence {seq!r} is missing (expected {res_src.path(seq, '<frame>')})")
        J, F = sequence_jf_unsup(gt_src, res_src, seq, bound_th, max_proposals)
        objects += [ObjectScores(f"{seq}_{k + 1}", db_statistics(j, uint8_wrap=wrap), db_statistics(f, uint8_wrap=wrap))
                    for k, (j, f) in enumerate(zip(J, F))]
        n_objects.append(len(J))  # one matched row per GT object (empty proposals pad N < K)
    if not objects:
        raise ResultsError("ground truth: no object to evaluate (every first frame is empty)")
    if wanted():
        from .davis import per_sequence

        emit(per_sequence(seqs, n_objects, objects))
    return global_measures(objects)
