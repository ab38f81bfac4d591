"""A vectorised re-implementation of the COCOeval matching / accumulation / summary.

This is the AP machinery of pycocotools ``COCOeval`` (and of youtubevos' ``ytvoseval``, which is
the same code with a different IoU and other area ranges), written over arrays:

* **matching** runs over all (image, category) pairs of a chunk at once, for every area range
  A and IoU threshold T together: arrays ``P x A x T x G``; the only Python loop is over the
  detection rank (at most ``maxDets[-1]`` steps), because COCO's greedy matching is sequential
  in the score order;
* **accumulation** sorts all detections of a category once (``lexsort``) and computes the
  cumulative TP/FP, the precision envelope and the recall-threshold lookup per row.

Every quirk of the official code is kept (they change numbers):

* a detection takes, among the still-free GTs (crowd GTs are never used up) with
  IoU >= min(t, 1 - 1e-10), a *regular* GT if one qualifies, else an ignored one; among those,
  the highest IoU, and on ties the **last** GT in the file order (the official loop replaces
  the current best on ``>=``);
* "matched" is tested on the matched GT's *id* (``dtm != 0``): a GT with id 0 counts as no
  match;
* unmatched detections whose area is outside the area range are ignored;
* accumulation pools the first ``maxDet`` detections of every pair in image order, then sorts
  by score with a stable sort (ties keep image order, then rank);
* precision is the right-to-left envelope read at the first index whose recall >= each recall
  threshold; unreachable thresholds give 0; a category with no regular GT keeps -1.

Inputs are flat per-GT and per-detection arrays plus one ``D_p x G_p`` IoU matrix per pair
(detections sorted by score, descending, stable, truncated to ``maxDets[-1]``; GTs in the
ground truth's order).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["EvalParams", "PairData", "evaluate", "summarize12"]


def _thresholds() -> tuple[np.ndarray, np.ndarray]:
    # the same expressions as pycocotools Params (np.arange would differ in the last bit)
    iou = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
    rec = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
    return iou, rec


@dataclass
class EvalParams:
    """Evaluation parameters (pycocotools ``Params`` for iouType bbox/segm).

    ``area_rngs``: ``A x 2`` inclusive ``[lo, hi]`` ranges, labelled ``area_lbls``.
    """

    area_rngs: list[list[float]]
    area_lbls: tuple[str, ...] = ("all", "small", "medium", "large")
    max_dets: tuple[int, ...] = (1, 10, 100)
    iou_thrs: np.ndarray = field(default_factory=lambda: _thresholds()[0])
    rec_thrs: np.ndarray = field(default_factory=lambda: _thresholds()[1])


@dataclass
class PairData:
    """Everything of one (image, category) pair that has a GT or a detection.

    Attributes:
        img: index of the image in the sorted image ids (``I``).
        cat: index of the category in the sorted category ids (``K``).
        ious: ``D x G`` float64, detections by descending score (already cut to
            ``maxDets[-1]``), GTs in ground-truth order.
        gt_ids: ``G`` int64 GT annotation ids. gt_crowd: ``G`` bool (crowd = ignore).
        gt_area: ``G`` float64 area used for the area ranges.
        dt_scores: ``D`` float64 (descending). dt_area: ``D`` float64.
    """

    img: int
    cat: int
    ious: np.ndarray
    gt_ids: np.ndarray
    gt_crowd: np.ndarray
    gt_area: np.ndarray
    dt_scores: np.ndarray
    dt_area: np.ndarray


def _match_chunk(pairs: list[PairData], p: EvalParams):
    """Greedy COCO matching for a chunk of pairs.

    Returns per pair ``(dt_matched A x T x D bool, dt_ignore A x T x D bool)`` and
    ``gt_ignore A x G bool``.
    """
    P = len(pairs)
    A, T = len(p.area_rngs), len(p.iou_thrs)
    D = max(len(x.dt_scores) for x in pairs)
    G = max(len(x.gt_ids) for x in pairs)
    lo = np.array([r[0] for r in p.area_rngs], np.float64)
    hi = np.array([r[1] for r in p.area_rngs], np.float64)
    ious = np.full((P, D, G), -1.0)
    g_valid = np.zeros((P, G), bool)
    g_crowd = np.zeros((P, G), bool)
    g_id_nonzero = np.zeros((P, G), bool)
    g_area = np.zeros((P, G))
    d_valid = np.zeros((P, D), bool)
    d_area = np.zeros((P, D))
    for i, x in enumerate(pairs):
        nd, ng = x.ious.shape if x.ious.size else (len(x.dt_scores), len(x.gt_ids))
        if nd and ng:
            ious[i, :nd, :ng] = x.ious
        g_valid[i, :ng] = True
        g_crowd[i, :ng] = x.gt_crowd
        g_id_nonzero[i, :ng] = x.gt_ids != 0
        g_area[i, :ng] = x.gt_area
        d_valid[i, :nd] = True
        d_area[i, :nd] = x.dt_area
    # gt ignore per area range: crowd or area outside [lo, hi]
    g_ign = g_crowd[:, None, :] | (g_area[:, None, :] < lo[None, :, None]) | (g_area[:, None, :] > hi[None, :, None])
    thr = np.minimum(p.iou_thrs, 1 - 1e-10)[None, None, :, None]  # 1 x 1 x T x 1
    used = np.zeros((P, A, T, G), bool)
    free_forever = g_crowd[:, None, None, :]
    ign4 = g_ign[:, :, None, :]
    dt_m = np.zeros((P, A, T, D), bool)  # matched to a GT with a non-zero id
    dt_ig = np.zeros((P, A, T, D), bool)
    rev = np.arange(G - 1, -1, -1)
    for d in range(D if G else 0):
        iou_d = ious[:, d, :][:, None, None, :]  # P x 1 x 1 x G
        elig = g_valid[:, None, None, :] & (~used | free_forever) & (iou_d >= thr)
        regular = elig & ~ign4
        has_reg = regular.any(-1, keepdims=True)
        cand = np.where(has_reg, regular, elig & ign4)
        found = cand.any(-1) & d_valid[:, d][:, None, None]
        score = np.where(cand, iou_d, -np.inf)
        # highest IoU, ties -> the last GT (official loop replaces the best on >=)
        m = rev[np.argmax(score[..., ::-1], axis=-1)]  # P x A x T
        pi, ai, ti = np.nonzero(found)
        mi = m[pi, ai, ti]
        used[pi, ai, ti, mi] = True
        dt_m[pi, ai, ti, d] = g_id_nonzero[pi, mi]
        dt_ig[pi, ai, ti, d] = g_ign[pi, ai, mi]
    out_of_rng = (d_area[:, None, :] < lo[None, :, None]) | (d_area[:, None, :] > hi[None, :, None])
    dt_ig |= ~dt_m & out_of_rng[:, :, None, :]
    res = []
    for i, x in enumerate(pairs):
        nd, ng = len(x.dt_scores), len(x.gt_ids)
        res.append((dt_m[i, :, :, :nd], dt_ig[i, :, :, :nd], g_ign[i, :, :ng]))
    return res


def evaluate(pairs: list[PairData], n_cats: int, p: EvalParams, chunk: int = 256) -> dict[str, np.ndarray]:
    """Match and accumulate; returns ``precision`` ``T x R x K x A x M`` and ``recall``
    ``T x K x A x M`` (-1 where a category has no regular GT), as ``COCOeval.eval``."""
    T, R, A, M = len(p.iou_thrs), len(p.rec_thrs), len(p.area_rngs), len(p.max_dets)
    K = n_cats
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    # chunks of pairs with similar sizes keep the padding small
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i].dt_scores), len(pairs[i].gt_ids)))
    matched: list = [None] * len(pairs)
    for s in range(0, len(order), chunk):
        idx = order[s : s + chunk]
        for i, r in zip(idx, _match_chunk([pairs[i] for i in idx], p)):
            matched[i] = r

    # per-category pools, pairs in image order (the official E list order)
    by_cat: list[list[int]] = [[] for _ in range(K)]
    for i in sorted(range(len(pairs)), key=lambda i: (pairs[i].cat, pairs[i].img)):
        by_cat[pairs[i].cat].append(i)
    for k, members in enumerate(by_cat):
        if not members:
            continue
        gt_ign = np.concatenate([matched[i][2] for i in members], axis=1)  # A x G_k
        npig = (~gt_ign).sum(1)  # A
        scores = np.concatenate([pairs[i].dt_scores for i in members])
        rank = np.concatenate([np.arange(len(pairs[i].dt_scores)) for i in members])
        img = np.concatenate([np.full(len(pairs[i].dt_scores), pairs[i].img) for i in members])
        dm = np.concatenate([matched[i][0] for i in members], axis=-1)  # A x T x N
        di = np.concatenate([matched[i][1] for i in members], axis=-1)
        for mi, max_det in enumerate(p.max_dets):
            keep = rank < max_det
            # stable sort by score: ties keep (image order, rank) as the official mergesort
            o = np.lexsort((rank[keep], img[keep], -scores[keep]))
            tps = (dm[..., keep] & ~di[..., keep])[..., o]
            fps = (~dm[..., keep] & ~di[..., keep])[..., o]
            tp_sum = np.cumsum(tps, axis=-1).astype(np.float64)  # A x T x N
            fp_sum = np.cumsum(fps, axis=-1).astype(np.float64)
            nd = tp_sum.shape[-1]
            for a in range(A):
                if npig[a] == 0:
                    continue
                rc = tp_sum[a] / npig[a]  # T x N
                pr = tp_sum[a] / (fp_sum[a] + tp_sum[a] + np.spacing(1))
                recall[:, k, a, mi] = rc[:, -1] if nd else 0
                if nd == 0:
                    precision[:, :, k, a, mi] = 0
                    continue
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                for t in range(T):
                    inds = np.searchsorted(rc[t], p.rec_thrs, side="left")
                    q = np.zeros(R)
                    ok = inds < nd
                    q[ok] = pr[t, inds[ok]]
                    precision[t, :, k, a, mi] = q
    return {"precision": precision, "recall": recall}


def summarize12(ev: dict[str, np.ndarray], p: EvalParams) -> list[float]:
    """The 12 ``COCOeval.summarize`` statistics (AP, AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l)."""
    mdl = p.max_dets[-1]

    def one(ap: bool, iou_thr=None, area="all", max_det=mdl) -> float:
        a = p.area_lbls.index(area)
        m = p.max_dets.index(max_det)
        s = ev["precision"] if ap else ev["recall"]
        if iou_thr is not None:
            s = s[np.where(iou_thr == p.iou_thrs)[0]]
        s = s[..., a, m] if not ap else s[:, :, :, a, m]
        v = s[s > -1]
        return -1.0 if v.size == 0 else float(np.mean(v))

    return [
        one(True),
        one(True, iou_thr=0.5),
        one(True, iou_thr=0.75),
        one(True, area="small"),
        one(True, area="medium"),
        one(True, area="large"),
        one(False, max_det=p.max_dets[0]),
        one(False, max_det=p.max_dets[1]),
        one(False),
        one(False, area="small"),
        one(False, area="medium"),
        one(False, area="large"),
    ]
