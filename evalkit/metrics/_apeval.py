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
from typing import NamedTuple

import numpy as np

__all__ = ["EvalParams", "FlatData", "PairData", "evaluate", "flatten_pairs", "image_counts", "summarize12"]


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


class Matches(NamedTuple):
    """What COCO matching decides, for every area range A, IoU threshold T and detection N
    (flat, as in :class:`FlatData`) or GT M."""

    dt_matched: np.ndarray  # A x T x N bool: matched to a GT with a non-zero id (``dtm != 0``)
    dt_ignored: np.ndarray  # A x T x N bool (``dtIg``)
    gt_ignored: np.ndarray  # A x M bool: crowd or outside the area range (``gtIg``)


class _Groups(NamedTuple):
    """Sizes and start offsets of the consecutive groups of a flat array (one group per pair)."""

    size: np.ndarray  # P int64
    start: np.ndarray  # P int64

    @classmethod
    def of(cls, owner: np.ndarray, n_pairs: int) -> "_Groups":
        size = np.bincount(owner, minlength=n_pairs)
        return cls(size, np.cumsum(size) - size)


def _candidates(f: FlatData, dets: _Groups, gts: _Groups, lowest_thr: float) -> np.ndarray:
    """Flat indices (pair-major, rank order inside a pair) of the detections whose IoU reaches
    ``lowest_thr`` with some GT of their pair.

    Only these can ever take a GT; the others stay unmatched at every threshold and never
    change what the rest match, so the sequential matching loop visits only them."""
    both = np.flatnonzero((dets.size > 0) & (gts.size > 0))
    block = dets.size[both] * gts.size[both]  # cells of each pair's D_p x G_p IoU block
    block_start = np.repeat(f.iou_off[both], block)
    cell_pair = np.repeat(both, block)
    cell_in_block = np.arange(int(block.sum())) - block_start
    cell_det = dets.start[cell_pair] + cell_in_block // gts.size[cell_pair]
    reaches = np.zeros(len(f.dt_pair), bool)
    reaches[cell_det[f.ious[block_start + cell_in_block] >= lowest_thr]] = True
    return np.flatnonzero(reaches)


def _match(f: FlatData, p: EvalParams, chunk: int) -> Matches:
    """Greedy COCO matching of every pair that has detections and GTs (``COCOeval.evaluateImg``).

    Pairs are matched ``chunk`` at a time as padded arrays: ``Pc`` pairs x ``D`` candidate
    detection slots x ``G`` GT slots, for all area ranges ``A`` and thresholds ``T`` at once.
    """
    A, T, N = len(p.area_rngs), len(p.iou_thrs), len(f.dt_pair)
    P = len(f.pair_img)
    dets, gts = _Groups.of(f.dt_pair, P), _Groups.of(f.gt_pair, P)
    gt_ig = f.gt_crowd[None, :] | _area_out(f.gt_area, p)
    dt_m = np.zeros((A, T, N), bool)
    dt_ig = np.zeros((A, T, N), bool)
    cand_det = _candidates(f, dets, gts, min(p.iou_thrs[0], 1 - 1e-10))
    cands = _Groups.of(f.dt_pair[cand_det], P)
    pairs = np.flatnonzero(cands.size)
    pairs = pairs[np.lexsort((cands.size[pairs], gts.size[pairs]))]  # similar shapes share a chunk
    thr = np.minimum(p.iou_thrs, 1 - 1e-10)[None, None, :, None]
    for s in range(0, len(pairs), chunk):
        pi = pairs[s : s + chunk]
        Pc, D, G = len(pi), int(cands.size[pi].max()), int(gts.size[pi].max())
        det_valid = np.arange(D)[None, :] < cands.size[pi][:, None]  # Pc x D: slot holds a candidate
        gt_valid = np.arange(G)[None, :] < gts.size[pi][:, None]  # Pc x G: slot holds a GT
        # every valid detection slot (slot_pair, slot_det) and the flat detection it holds
        slot_pair, slot_det = np.nonzero(det_valid)
        slot_flat = cand_det[cands.start[pi][slot_pair] + slot_det]
        # IoU of every valid (pair, detection slot, GT slot) from the pair's flat block; -1 = padding
        ious = np.full((Pc, D, G), -1.0)
        cp, cd, cg = np.nonzero(det_valid[:, :, None] & gt_valid[:, None, :])
        rank = slot_flat[np.searchsorted(slot_pair, cp) + cd] - dets.start[pi][cp]  # rank in its pair
        ious[cp, cd, cg] = f.ious[f.iou_off[pi][cp] + rank * gts.size[pi][cp] + cg]
        gt_slot_pair, gt_slot = np.nonzero(gt_valid)
        gt_flat = gts.start[pi][gt_slot_pair] + gt_slot
        crowd = np.zeros((Pc, G), bool)
        crowd[gt_slot_pair, gt_slot] = f.gt_crowd[gt_flat]
        id_nonzero = np.zeros((Pc, G), bool)
        id_nonzero[gt_slot_pair, gt_slot] = f.gt_id_nonzero[gt_flat]
        ign = np.zeros((Pc, A, G), bool)
        ign[gt_slot_pair, :, gt_slot] = gt_ig[:, gt_flat].T
        used = np.zeros((Pc, A, T, G), bool)
        free_forever = crowd[:, None, None, :]  # crowd GTs are never used up
        ign4 = ign[:, :, None, :]
        valid4 = gt_valid[:, None, None, :]
        m_out = np.zeros((Pc, A, T, D), bool)
        ig_out = np.zeros((Pc, A, T, D), bool)
        rev = np.arange(G - 1, -1, -1)
        for d in range(D):  # sequential in the score order, as the official loop
            iou_d = ious[:, d, :][:, None, None, :]  # Pc x 1 x 1 x G
            elig = valid4 & (~used | free_forever) & (iou_d >= thr)
            regular = elig & ~ign4
            cand = np.where(regular.any(-1, keepdims=True), regular, elig & ign4)
            found = cand.any(-1) & det_valid[:, d][:, None, None]
            # highest IoU, ties -> the last GT (the official loop replaces the best on >=)
            best = rev[np.argmax(np.where(cand, iou_d, -np.inf)[..., ::-1], axis=-1)]  # Pc x A x T
            hit_pair, hit_area, hit_thr = np.nonzero(found)
            hit_gt = best[hit_pair, hit_area, hit_thr]
            used[hit_pair, hit_area, hit_thr, hit_gt] = True
            m_out[hit_pair, hit_area, hit_thr, d] = id_nonzero[hit_pair, hit_gt]
            ig_out[hit_pair, hit_area, hit_thr, d] = ign[hit_pair, hit_area, hit_gt]
        dt_m[:, :, slot_flat] = m_out[slot_pair, :, :, slot_det].transpose(1, 2, 0)
        dt_ig[:, :, slot_flat] = ig_out[slot_pair, :, :, slot_det].transpose(1, 2, 0)
    dt_ig |= ~dt_m & _area_out(f.dt_area, p)[:, None, :]
    return Matches(dt_m, dt_ig, gt_ig)


def evaluate(data: list[PairData] | FlatData, n_cats: int, p: EvalParams, chunk: int = 1024) -> dict[str, np.ndarray]:
    """Match and accumulate; returns ``precision`` ``T x R x K x A x M`` and ``recall``
    ``T x K x A x M`` (-1 where a category has no regular GT), as ``COCOeval.eval``,
    ``per_image`` (:func:`image_counts`: the matching at the first IoU threshold, per image), and
    the ``flat`` input and its ``matches`` (what a breakdown re-accumulates from)."""
    f = data if isinstance(data, FlatData) else flatten_pairs(data)
    T, R, A, M = len(p.iou_thrs), len(p.rec_thrs), len(p.area_rngs), len(p.max_dets)
    K = n_cats
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    matches = _match(f, p, chunk)
    dets = _Groups.of(f.dt_pair, len(f.pair_img))
    rank = np.arange(len(f.dt_pair)) - np.repeat(dets.start, dets.size)  # rank inside its pair
    d_cat, d_img = f.pair_cat[f.dt_pair], f.pair_img[f.dt_pair]
    g_cat = f.pair_cat[f.gt_pair]
    # regular GTs per (category, area range)
    npig = np.stack([np.bincount(g_cat[~matches.gt_ignored[a]], minlength=K) for a in range(A)], 1)  # K x A
    has_pair = np.bincount(f.pair_cat, minlength=K) > 0
    # pooled per category, by score; ties keep (image order, rank) as the official stable
    # mergesort over the per-image lists does. A smaller maxDet keeps a subset of this order.
    o_all = np.lexsort((rank, d_img, -f.dt_score, d_cat))
    tp_all = matches.dt_matched & ~matches.dt_ignored  # A x T x N
    kept_all = ~matches.dt_ignored  # TP or FP
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
    return {"precision": precision, "recall": recall, "per_image": image_counts(f, matches), "flat": f,
            "matches": matches}


def image_counts(f: FlatData, m: Matches) -> dict[str, np.ndarray]:
    """Per image (index into the sorted image ids, up to the largest one that has a pair), at
    the first area range (``all``) and the first IoU threshold (0.5), over the detections the
    evaluation kept (``maxDets[-1]`` per pair): ``tp`` (matched, not ignored), ``fp``
    (unmatched, not ignored) and ``gt`` (regular GTs), int64 arrays. Read off the same matching
    as the AP, as ``COCOeval.evalImgs`` would give it (``dtMatches``, ``dtIgnore``, ``gtIgnore``).
    """
    n = int(f.pair_img.max()) + 1 if len(f.pair_img) else 0
    d_img, g_img = f.pair_img[f.dt_pair], f.pair_img[f.gt_pair]
    kept = ~m.dt_ignored[0, 0]
    tp = m.dt_matched[0, 0] & kept
    return {"tp": np.bincount(d_img[tp], minlength=n), "fp": np.bincount(d_img[kept & ~tp], minlength=n),
            "gt": np.bincount(g_img[~m.gt_ignored[0]], minlength=n)}


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
