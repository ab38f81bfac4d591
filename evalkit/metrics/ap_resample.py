"""COCO-style AP re-accumulated over a resampled set of images (the bootstrap of ``evalkit
compare``), from the matching state of one evaluation.

AP is not a mean of per-image values: ``COCOeval.accumulate`` pools the detections of all images
per category, sorts them by score and reads the precision envelope at 101 recall thresholds.
Resampling images with replacement therefore means re-accumulating with every image counted as
many times as it was drawn. The matching itself does not change (it is per image and category),
so it is computed once, by the evaluation that gave the headline (:func:`build_state`), and each
replicate only re-runs the accumulation with integer image weights (:func:`weighted_ap`).

With all weights 1 this is ``COCOeval.accumulate`` + ``summarize`` exactly (same pooled order:
category, score descending, image, rank; same float operations; ignored detections kept as
columns that add neither TP nor FP), which the tests check against the headline AP. With an
image drawn twice, its detections count twice at their place in the score order; the official
evaluation of a dataset holding two copies of that image would interleave equal-score
detections by image order instead, which changes nothing but ties between exact score copies.

Scope: area range ``all`` and the largest ``maxDets`` (the ``AP``, ``AP50``, ``AP75`` keys);
the state is the arrays of :func:`build_state`, stored beside ``breakdown.json`` as
``breakdown_ap.npz``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._apeval import EvalParams

__all__ = ["AP_KEYS", "build_state", "weighted_ap"]

AP_KEYS = ("AP", "AP50", "AP75")


def build_state(ev: dict[str, Any], p: EvalParams, n_images: int, n_cats: int) -> dict[str, np.ndarray]:
    """The arrays :func:`weighted_ap` needs, from :func:`evalkit.metrics._apeval.evaluate`'s
    output (``flat``, ``matches``), at area range 0 (all) and the detections it kept (already
    cut to ``maxDets[-1]`` per image and category):

    * ``det_img``, ``det_cat`` (int32, ``N``), ``det_tp``, ``det_fp`` (bool, ``T x N``):
      detections in the official pooled order (category, score descending, image, rank);
      an ignored detection is neither TP nor FP;
    * ``cat_bounds`` (int64, ``K + 1``): the slice of each category;
    * ``gt_count`` (int32, ``I x K``): regular GTs per image and category;
    * ``iou_thrs`` (``T``), ``rec_thrs`` (``R``) float64.
    """
    f, m = ev["flat"], ev["matches"]
    K = n_cats
    dets = np.bincount(f.dt_pair, minlength=len(f.pair_img))
    rank = np.arange(len(f.dt_pair)) - np.repeat(np.cumsum(dets) - dets, dets)
    d_cat, d_img = f.pair_cat[f.dt_pair], f.pair_img[f.dt_pair]
    order = np.lexsort((rank, d_img, -f.dt_score, d_cat))
    tp = (m.dt_matched[0] & ~m.dt_ignored[0])[:, order]
    fp = (~m.dt_matched[0] & ~m.dt_ignored[0])[:, order]
    g_img, g_cat = f.pair_img[f.gt_pair], f.pair_cat[f.gt_pair]
    regular = ~m.gt_ignored[0]
    gt_count = np.zeros((n_images, K), np.int32)
    np.add.at(gt_count, (g_img[regular], g_cat[regular]), 1)
    return {"det_img": d_img[order].astype(np.int32), "det_cat": d_cat[order].astype(np.int32),
            "det_tp": tp, "det_fp": fp, "cat_bounds": np.searchsorted(d_cat[order], np.arange(K + 1)),
            "gt_count": gt_count, "iou_thrs": np.asarray(p.iou_thrs, np.float64),
            "rec_thrs": np.asarray(p.rec_thrs, np.float64)}


def weighted_ap(state: dict[str, np.ndarray], weights: np.ndarray, cells: int = 4_000_000) -> dict[str, np.ndarray]:
    """``AP``, ``AP50``, ``AP75`` with image ``i`` counted ``weights[..., i]`` times.

    Args:
        weights: ``I`` or ``B x I`` non-negative integers (``B`` resamples at once).
        cells: bound on the ``B x T x n`` working arrays of one category (memory).

    Returns:
        ``{key: B float64}`` (shape ``()`` for a 1-D ``weights``). Per category with regular GTs
        under the weights: weighted running TP/FP counts in the pooled order, precision
        ``tp / (tp + fp + eps)``, its right-to-left envelope, read at the first index whose
        recall ``tp / npig`` reaches each recall threshold (0 past the end), as
        ``COCOeval.accumulate``; then the mean over the categories with GT (``summarize``), NaN
        where no category has one.
    """
    from ._apeval import _first_reaching

    w = np.asarray(weights, np.int64)
    single = w.ndim == 1
    w = w.reshape(-1, w.shape[-1])
    B = len(w)
    iou, rec = state["iou_thrs"], state["rec_thrs"]
    T, R = len(iou), len(rec)
    t50, t75 = (int(np.flatnonzero(np.isclose(iou, t))[0]) for t in (0.5, 0.75))
    npig = w @ state["gt_count"].astype(np.int64)  # B x K
    bounds = state["cat_bounds"]
    sums = {k: np.zeros(B) for k in AP_KEYS}
    n_cat = np.zeros(B)
    for k in np.flatnonzero((npig > 0).any(0)):
        a, b = int(bounds[k]), int(bounds[k + 1])
        n = b - a
        has = npig[:, k] > 0
        n_cat += has
        if n == 0:  # GTs but no detection: precision 0 everywhere
            continue
        tp, fp, img = state["det_tp"][:, a:b], state["det_fp"][:, a:b], state["det_img"][a:b]
        # detections after the last TP of every threshold only lower the precision after the
        # last recall point: they change no envelope value read at a recall threshold, under any
        # weights (a replicate's last TP is never later), so they are left out. None left: every
        # recall threshold past 0 is unreachable and the reads give 0 (as COCOeval's q = 0).
        last = np.flatnonzero(tp.any(0))
        if len(last) == 0:
            continue
        n = int(last[-1]) + 1
        tp, fp, img = tp[:, :n].astype(np.int32), fp[:, :n].astype(np.int32), img[:n]
        step = max(1, cells // (T * n))
        for s0 in range(0, B, step):
            rows = np.flatnonzero(has[s0:s0 + step]) + s0
            if len(rows) == 0:
                continue
            wd = w[rows][:, img].astype(np.int32)  # b x n
            tps = np.cumsum(tp[None] * wd[:, None, :], axis=-1, dtype=np.int32)  # b x T x n
            fps = np.cumsum(fp[None] * wd[:, None, :], axis=-1, dtype=np.int32).astype(np.float64)
            tps = tps.astype(np.float64)
            pr = tps / (fps + tps + np.spacing(1))
            pr = np.maximum.accumulate(pr[..., ::-1], axis=-1)[..., ::-1]
            inds = _first_reaching(tps, npig[rows, k], rec)  # b x T x R, as searchsorted(tp / npig, rec)
            q = np.take_along_axis(pr, np.minimum(inds, n - 1), axis=-1)
            q[inds >= n] = 0
            sums["AP"][rows] += q.mean((1, 2))
            sums["AP50"][rows] += q[:, t50].mean(-1)
            sums["AP75"][rows] += q[:, t75].mean(-1)
    with np.errstate(invalid="ignore"):
        out = {k: v / n_cat for k, v in sums.items()}  # mean over the categories with GT
    return {k: v[0] for k, v in out.items()} if single else out
