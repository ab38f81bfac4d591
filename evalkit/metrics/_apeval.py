"""A vectorised re-implementation of the COCOeval matching / accumulation / summary.

This is the AP machinery of pycocotools ``COCOeval`` (and of youtubevos' ``ytvoseval``, which is
the same code with a different IoU and other area ranges), written over arrays:

* **matching** runs over a chunk of (image, category) pairs at once, for every area range A
  and IoU threshold T together: arrays ``P x A x T x G``. The only Python loop is over the
  detection rank, because COCO's greedy matching is sequential in the score order, and it
  visits only the detections whose IoU reaches the lowest threshold with some GT of their pair
  (the others can never match, so they cannot change what the rest match);
* **accumulation** sorts all detections once (``lexsort`` by category, score, image, rank)
  and computes the cumulative TP/FP, the precision envelope and the recall-threshold lookup
  (:func:`_first_reaching`: exact, on integer TP counts) for all rows of a category at once.

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

__all__ = ["EvalParams", "FlatData", "PairData", "evaluate", "flatten_pairs", "summarize12"]


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


@dataclass
class FlatData:
    """All (image, category) pairs of an evaluation as flat arrays.

    Detections are grouped by pair (pairs in increasing index) and, inside a pair, sorted by
    descending score (stable) and cut to ``maxDets[-1]``; GTs are grouped by pair in
    ground-truth order. ``ious`` holds, for each pair with both, its ``nd x ng`` IoU block
    (row-major, detections x GTs) starting at ``iou_off[pair]``.

    Attributes:
        pair_img, pair_cat: ``P`` int64 image / category index of every pair.
        dt_pair, dt_score, dt_area: ``N`` int64 / float64 / float64.
        gt_pair, gt_crowd, gt_area, gt_id_nonzero: ``M`` int64 / bool / float64 / bool.
        ious: float64 flat blocks; iou_off: ``P`` int64 (unused where a pair lacks dt or gt).
    """

    pair_img: np.ndarray
    pair_cat: np.ndarray
    dt_pair: np.ndarray
    dt_score: np.ndarray
    dt_area: np.ndarray
    gt_pair: np.ndarray
    gt_crowd: np.ndarray
    gt_area: np.ndarray
    gt_id_nonzero: np.ndarray
    ious: np.ndarray
    iou_off: np.ndarray


def flatten_pairs(pairs: list[PairData]) -> FlatData:
    """:class:`PairData` list (any order) -> :class:`FlatData`."""
    pairs = sorted(pairs, key=lambda x: (x.img, x.cat))
    nd = np.array([len(x.dt_scores) for x in pairs], np.int64)
    ng = np.array([len(x.gt_ids) for x in pairs], np.int64)
    sizes = np.where((nd > 0) & (ng > 0), nd * ng, 0)
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    return FlatData(
        pair_img=np.array([x.img for x in pairs], np.int64),
        pair_cat=np.array([x.cat for x in pairs], np.int64),
        dt_pair=np.repeat(np.arange(len(pairs)), nd),
        dt_score=cat([x.dt_scores for x in pairs], np.float64),
        dt_area=cat([x.dt_area for x in pairs], np.float64),
        gt_pair=np.repeat(np.arange(len(pairs)), ng),
        gt_crowd=cat([x.gt_crowd for x in pairs], bool),
        gt_area=cat([x.gt_area for x in pairs], np.float64),
        gt_id_nonzero=cat([x.gt_ids != 0 for x in pairs], bool),
        ious=cat([x.ious.ravel() for x, s in zip(pairs, sizes) if s], np.float64),
        iou_off=np.cumsum(sizes) - sizes,
    )


def _area_out(area: np.ndarray, p: EvalParams) -> np.ndarray:
    """``A x len(area)`` bool: outside each inclusive area range."""
    lo = np.array([r[0] for r in p.area_rngs], np.float64)[:, None]
    hi = np.array([r[1] for r in p.area_rngs], np.float64)[:, None]
    return (area[None, :] < lo) | (area[None, :] > hi)


def _match(f: FlatData, p: EvalParams, chunk: int):
    """Greedy COCO matching of every pair that has detections and GTs.

    Returns ``dt_m`` (matched to a GT with a non-zero id) and ``dt_ig`` (ignored), both
    ``A x T x N`` bool over the flat detections, and ``gt_ig`` ``A x M`` bool.
    """
    A, T, N = len(p.area_rngs), len(p.iou_thrs), len(f.dt_pair)
    P = len(f.pair_img)
    nd = np.bincount(f.dt_pair, minlength=P)
    ng = np.bincount(f.gt_pair, minlength=P)
    d0 = np.cumsum(nd) - nd
    g0 = np.cumsum(ng) - ng
    gt_ig = f.gt_crowd[None, :] | _area_out(f.gt_area, p)
    dt_m = np.zeros((A, T, N), bool)
    dt_ig = np.zeros((A, T, N), bool)
    # Only a detection whose IoU reaches the lowest threshold with some GT of its pair can
    # ever take a GT; the others stay unmatched at every threshold and never change what the
    # rest match, so the sequential loop runs over these "candidates" only (in rank order).
    both = np.flatnonzero((nd > 0) & (ng > 0))
    sizes = nd[both] * ng[both]
    cell_pair = np.repeat(both, sizes)
    within = np.arange(int(sizes.sum())) - np.repeat(f.iou_off[both], sizes)
    cell_det = d0[cell_pair] + within // ng[cell_pair]
    cell_ious = f.ious[np.repeat(f.iou_off[both], sizes) + within]
    can = np.zeros(N, bool)
    can[cell_det[cell_ious >= min(p.iou_thrs[0], 1 - 1e-10)]] = True
    cand_det = np.flatnonzero(can)  # pair-major, rank order inside a pair
    cand_pair = f.dt_pair[cand_det]
    nc = np.bincount(cand_pair, minlength=P)
    c0 = np.cumsum(nc) - nc
    pairs = np.flatnonzero(nc)
    pairs = pairs[np.lexsort((nc[pairs], ng[pairs]))]  # similar shapes share a chunk
    thr = np.minimum(p.iou_thrs, 1 - 1e-10)[None, None, :, None]
    for s in range(0, len(pairs), chunk):
        pi = pairs[s : s + chunk]
        Pc, D, G = len(pi), int(nc[pi].max()), int(ng[pi].max())
        dv = np.arange(D)[None, :] < nc[pi][:, None]  # Pc x D
        gv = np.arange(G)[None, :] < ng[pi][:, None]  # Pc x G
        dp, dd = np.nonzero(dv)
        didx = cand_det[c0[pi][dp] + dd]  # flat detection index of each candidate slot
        ious = np.full((Pc, D, G), -1.0)
        cp, cd, cg = np.nonzero(dv[:, :, None] & gv[:, None, :])
        d_local = didx[np.searchsorted(dp, cp) + cd] - d0[pi][cp]  # candidate's rank in its pair
        ious[cp, cd, cg] = f.ious[f.iou_off[pi][cp] + d_local * ng[pi][cp] + cg]
        gp, gg = np.nonzero(gv)
        gidx = g0[pi][gp] + gg
        crowd = np.zeros((Pc, G), bool)
        crowd[gp, gg] = f.gt_crowd[gidx]
        idnz = np.zeros((Pc, G), bool)
        idnz[gp, gg] = f.gt_id_nonzero[gidx]
        ign = np.zeros((Pc, A, G), bool)
        ign[gp, :, gg] = gt_ig[:, gidx].T
        used = np.zeros((Pc, A, T, G), bool)
        free_forever = crowd[:, None, None, :]
        ign4 = ign[:, :, None, :]
        valid4 = gv[:, None, None, :]
        m_out = np.zeros((Pc, A, T, D), bool)
        ig_out = np.zeros((Pc, A, T, D), bool)
        rev = np.arange(G - 1, -1, -1)
        for d in range(D):
            iou_d = ious[:, d, :][:, None, None, :]  # Pc x 1 x 1 x G
            elig = valid4 & (~used | free_forever) & (iou_d >= thr)
            regular = elig & ~ign4
            cand = np.where(regular.any(-1, keepdims=True), regular, elig & ign4)
            found = cand.any(-1) & dv[:, d][:, None, None]
            # highest IoU, ties -> the last GT (the official loop replaces the best on >=)
            m = rev[np.argmax(np.where(cand, iou_d, -np.inf)[..., ::-1], axis=-1)]
            fp_, fa, ft = np.nonzero(found)
            fm = m[fp_, fa, ft]
            used[fp_, fa, ft, fm] = True
            m_out[fp_, fa, ft, d] = idnz[fp_, fm]
            ig_out[fp_, fa, ft, d] = ign[fp_, fa, fm]
        dt_m[:, :, didx] = m_out[dp, :, :, dd].transpose(1, 2, 0)
        dt_ig[:, :, didx] = ig_out[dp, :, :, dd].transpose(1, 2, 0)
    dt_ig |= ~dt_m & _area_out(f.dt_area, p)[:, None, :]
    return dt_m, dt_ig, gt_ig


def evaluate(data: list[PairData] | FlatData, n_cats: int, p: EvalParams, chunk: int = 1024) -> dict[str, np.ndarray]:
    """Match and accumulate; returns ``precision`` ``T x R x K x A x M`` and ``recall``
    ``T x K x A x M`` (-1 where a category has no regular GT), as ``COCOeval.eval``."""
    f = data if isinstance(data, FlatData) else flatten_pairs(data)
    T, R, A, M = len(p.iou_thrs), len(p.rec_thrs), len(p.area_rngs), len(p.max_dets)
    K = n_cats
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    dt_m, dt_ig, gt_ig = _match(f, p, chunk)
    P = len(f.pair_img)
    nd = np.bincount(f.dt_pair, minlength=P)
    rank = np.arange(len(f.dt_pair)) - np.repeat(np.cumsum(nd) - nd, nd)
    d_cat, d_img = f.pair_cat[f.dt_pair], f.pair_img[f.dt_pair]
    g_cat = f.pair_cat[f.gt_pair]
    # regular GTs per (category, area range)
    npig = np.stack([np.bincount(g_cat[~gt_ig[a]], minlength=K) for a in range(A)], 1)  # K x A
    has_pair = np.bincount(f.pair_cat, minlength=K) > 0
    # pooled per category, by score; ties keep (image order, rank) as the official stable
    # mergesort over the per-image lists does. A smaller maxDet keeps a subset of this order.
    o_all = np.lexsort((rank, d_img, -f.dt_score, d_cat))
    tp_all = dt_m & ~dt_ig  # A x T x N
    kept_all = ~dt_ig  # TP or FP
    bounds = np.searchsorted(d_cat[o_all], np.arange(K + 1))
    # One category at a time: its arrays stay small. (Whole-run A x T x N running sums would
    # be as much arithmetic but far more fresh memory, whose first touch costs more than
    # the sums themselves.)
    for k in np.flatnonzero(has_pair):
        reg = np.flatnonzero(npig[k] > 0)  # area ranges with a regular GT
        if len(reg) == 0:
            continue
        ok = o_all[bounds[k] : bounds[k + 1]]
        tp_k = np.take(tp_all, ok, axis=-1)[reg]  # a x T x n_k
        kept_k = np.take(kept_all, ok, axis=-1)[reg]
        rank_k = rank[ok]
        for mi, max_det in enumerate(p.max_dets):
            sel = rank_k < max_det
            nk = int(sel.sum())
            if nk == 0:
                recall[:, k, reg, mi] = 0
                precision[:, :, k, reg, mi] = 0
                continue
            # integer running counts; FP = counted detections - TP
            tp_i = np.cumsum(np.compress(sel, tp_k, axis=-1), axis=-1, dtype=np.int32)
            fp_i = np.cumsum(np.compress(sel, kept_k, axis=-1), axis=-1, dtype=np.int32) - tp_i
            tps = tp_i.astype(np.float64)  # a x T x nk
            fps = fp_i.astype(np.float64)
            n = npig[k, reg].astype(np.float64)[:, None, None]
            rc = tps / n
            pr = tps / (fps + tps + np.spacing(1))
            recall[:, k, reg, mi] = rc[:, :, -1].T
            pr = np.maximum.accumulate(pr[..., ::-1], axis=-1)[..., ::-1]
            inds = _first_reaching(tps, npig[k, reg], p.rec_thrs)  # a x T x R
            q = np.take_along_axis(pr, np.minimum(inds, nk - 1), axis=-1)
            q[inds >= nk] = 0
            precision[:, :, k, reg, mi] = q.transpose(1, 2, 0)
    return {"precision": precision, "recall": recall}


def _first_reaching(tps: np.ndarray, npig: np.ndarray, rec_thrs: np.ndarray) -> np.ndarray:
    """``searchsorted(tp / npig, rec_thrs, "left")`` for every row of ``tps`` (``a x T x n``,
    integer-valued cumulative TPs) at once, with the same float comparisons.

    For a fixed ``npig`` the float quotient ``tp / npig`` is non-decreasing in ``tp``, so
    ``tp / npig >= r`` iff ``tp >= tau(r)``, the smallest integer whose quotient reaches ``r``.
    With integers, every row can be shifted by a row offset into one sorted array and searched
    in a single call.
    """
    a, T, n = tps.shape
    npig = npig.astype(np.int64)
    nf = npig.astype(np.float64)[:, None]
    tau = np.maximum(np.ceil(rec_thrs[None, :] * nf).astype(np.int64) - 1, 0)  # a x R
    for _ in range(3):  # the product above is off by at most one; settle on the float test
        tau = np.where(tau / nf < rec_thrs[None, :], tau + 1, tau)
    tp = tps.astype(np.int64).reshape(a * T, n)
    big = n + int(npig.max()) + 2  # larger than any tp or tau
    row = np.arange(a * T)
    keys = (tp + (row * big)[:, None]).ravel()
    want = (np.repeat(tau, T, axis=0) + (row * big)[:, None]).ravel()
    return (np.searchsorted(keys, want, side="left").reshape(a * T, -1) - (row * n)[:, None]).reshape(a, T, -1)


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
