"""CLEAR MOT and ID events exactly as py-motmetrics 1.4.0 accumulates them.

BDD100K's toolkit (``bdd100k`` 1.0.1 → ``scalabel`` 0.3.1) scores tracking with py-motmetrics'
``MOTAccumulator`` and ``metrics.compute_many``. Neither runs on numpy 2, so this module
re-derives the same counts without pandas, one accumulator per (video, class):

- Bernardin & Stiefelhagen, "Evaluating Multiple Object Tracking Performance: the CLEAR MOT
  Metrics", EURASIP JIVP 2008 (MOTA, MOTP, ID switches);
- Li, Huang & Nevatia, CVPR 2009 (MT / PT / ML, fragmentations);
- Ristani et al., "Performance Measures and a Data Set for Multi-Target, Multi-Camera
  Tracking", ECCV-W 2016 (IDF1).

Per frame, :meth:`Accumulator.update` receives object (ground-truth) ids ``oids`` (``N``),
hypothesis ids ``hids`` (``M``) and a float64 distance matrix ``N x M`` in which ``NaN`` marks
"cannot pair" (for IoU distances: ``1 - IoU``, ``NaN`` where IoU is below the threshold).
Reproduced motmetrics semantics:

1. *Continuation first*: an object keeps the hypothesis it was last matched to (at any earlier
   frame, however long ago) if that hypothesis is present and the pair is pairable; this beats
   any cheaper assignment.
2. The remaining pairs are assigned by a min-cost bipartite matching that first maximises the
   number of pairable matches (non-edges get the cost ``2 r c + 1``, motmetrics'
   ``add_expensive_edges``) and is solved with scipy's ``linear_sum_assignment`` on the same
   matrix, so ties are broken identically.
3. A match whose object was last matched to another hypothesis is a SWITCH (no time limit:
   ``max_switch_time = inf``).
4. MT / PT / ML use the ratio (frames matched) / (frames present) with ``>= 0.8`` and ``>= 0.2``
   (TrackEval uses ``> 0.8``). FM counts, per object, tracked → missed transitions that occur
   between its first and last tracked frame.
5. IDF1 = 2 IDTP / (#objects + #hypotheses), IDTP the maximum-weight bipartite matching of
   object ids to hypothesis ids weighted by the number of frames in which the pair is
   pairable (motmetrics' global min-cost assignment, which has the same optimum value).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["Accumulator", "ClearCounts", "motmetrics_assignment", "box_iou_xywh"]


def motmetrics_assignment(costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows/cols of motmetrics' ``lap.linear_sum_assignment`` with the scipy solver.

    ``costs``: ``N x M`` float64, non-finite = no edge. Returns only pairs whose cost is
    finite. Matrices whose pairable entries already form a matching (at most one per row and
    column) are answered without the solver: every optimum contains all of them.
    """
    valid = np.isfinite(costs)
    if not valid.any():
        empty = np.empty(0, dtype=int)
        return empty, empty
    if valid.sum(axis=0).max() <= 1 and valid.sum(axis=1).max() <= 1:
        return np.nonzero(valid)
    if valid.all():
        work = costs
    else:
        r = min(costs.shape)
        c = np.abs(costs[valid]).max() + 1
        work = np.where(valid, costs, 2 * r * c + 1)
    rows, cols = linear_sum_assignment(work)
    keep = valid[rows, cols]
    return rows[keep], cols[keep]


def box_iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """motmetrics ``boxiou``: IoU of ``N x 4`` and ``M x 4`` float64 ``xywh`` boxes → ``N x M``.

    Negative sizes count as zero area; a zero intersection gives IoU 0 (never 0/0).
    """
    a = a[:, None, :]
    b = b[None, :, :]
    i_w = np.maximum(np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0)
    i_h = np.maximum(np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0)
    inter = i_w * i_h
    area_a = np.maximum(a[..., 2], 0) * np.maximum(a[..., 3], 0)
    area_b = np.maximum(b[..., 2], 0) * np.maximum(b[..., 3], 0)
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.where(inter == 0, 0.0, iou)


@dataclass
class ClearCounts:
    """Summable CLEAR / ID counts of one or more accumulators (motmetrics' ``*_m`` merge)."""

    num_objects: int = 0
    num_predictions: int = 0
    num_matches: int = 0
    num_switches: int = 0
    num_false_positives: int = 0
    num_misses: int = 0
    sum_distance: float = 0.0
    idtp: int = 0
    mostly_tracked: int = 0
    partially_tracked: int = 0
    mostly_lost: int = 0
    num_fragmentations: int = 0

    def __iadd__(self, other: "ClearCounts") -> "ClearCounts":
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        return self

    @property
    def num_detections(self) -> int:
        return self.num_matches + self.num_switches

    def mota(self) -> float:
        """``1 - (FN + IDSw + FP) / #objects``; ``-inf`` or ``NaN`` without objects (quiet divide)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.float64(self.num_misses + self.num_switches + self.num_false_positives)
            return float(1.0 - err / np.float64(self.num_objects))

    def motp_distance(self) -> float:
        """Mean matched distance (motmetrics ``motp``); ``NaN`` without matches."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(self.sum_distance) / np.float64(self.num_detections))

    def idf1(self) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(2 * self.idtp) / np.float64(self.num_objects + self.num_predictions))


@dataclass
class _Track:
    """Per-object history needed for MT/PT/ML and FM."""

    frames: int = 0
    tracked: int = 0
    seen_tracked: bool = False
    in_gap: bool = False
    fragments: int = 0


@dataclass
class Accumulator:
    """Events of one (video, class) sequence; ``update`` once per frame, ``counts`` at the end."""

    last_hyp: dict = field(default_factory=dict)  # motmetrics ``m``: object → last matched hyp
    tracks: dict = field(default_factory=dict)
    pair_frames: dict = field(default_factory=dict)  # (oid, hid) → frames pairable
    hyp_ids: set = field(default_factory=set)
    counts: ClearCounts = field(default_factory=ClearCounts)
    has_events: bool = False

    def update(self, oids: np.ndarray, hids: np.ndarray, dists: np.ndarray) -> None:
        """One frame. ``oids`` ``(N,)``, ``hids`` ``(M,)`` integer ids; ``dists`` ``N x M`` float64."""
        n, m = len(oids), len(hids)
        if n == 0 and m == 0:
            return
        self.has_events = True
        c = self.counts
        c.num_objects += n
        c.num_predictions += m
        oid_list = oids.tolist()
        hid_list = hids.tolist()
        self.hyp_ids.update(hid_list)
        finite = np.isfinite(dists)
        for i, j in zip(*np.nonzero(finite)):
            key = (oid_list[i], hid_list[j])
            self.pair_frames[key] = self.pair_frames.get(key, 0) + 1

        o_done = np.zeros(n, dtype=bool)
        h_done = np.zeros(m, dtype=bool)
        matched = []  # (i, j, is_switch)
        if n and m:
            # 1. continue established pairings
            for i, o in enumerate(oid_list):
                h_prev = self.last_hyp.get(o)
                if h_prev is None:
                    continue
                for j, h in enumerate(hid_list):
                    if h == h_prev and not h_done[j]:
                        if finite[i, j]:
                            o_done[i] = h_done[j] = True
                            matched.append((i, j, False))
                        break
            # 2. min-cost assignment of the rest
            rest = dists.copy() if (o_done.any() or h_done.any()) else dists
            if rest is not dists:
                rest[o_done, :] = np.nan
                rest[:, h_done] = np.nan
            for i, j in zip(*motmetrics_assignment(rest)):
                o, h = oid_list[i], hid_list[j]
                prev = self.last_hyp.get(o)
                matched.append((i, j, prev is not None and prev != h))
                o_done[i] = h_done[j] = True
                self.last_hyp[o] = h
        for i, j, switch in matched:
            c.num_switches += switch
            c.num_matches += not switch
            c.sum_distance += float(dists[i, j])
        c.num_misses += n - int(o_done.sum())
        c.num_false_positives += m - int(h_done.sum())
        for i, o in enumerate(oid_list):
            t = self.tracks.get(o)
            if t is None:
                t = self.tracks[o] = _Track()
            t.frames += 1
            if o_done[i]:
                t.tracked += 1
                if t.in_gap:
                    t.fragments += 1
                    t.in_gap = False
                t.seen_tracked = True
            elif t.seen_tracked:
                t.in_gap = True

    def finalize(self) -> ClearCounts:
        """Counts including the per-object (MT/PT/ML/FM) and global-ID (IDTP) terms."""
        c = ClearCounts(**{k: getattr(self.counts, k) for k in ClearCounts.__dataclass_fields__})
        for t in self.tracks.values():
            ratio = t.tracked / t.frames
            if ratio >= 0.8:
                c.mostly_tracked += 1
            elif ratio >= 0.2:
                c.partially_tracked += 1
            else:
                c.mostly_lost += 1
            c.num_fragmentations += t.fragments
        c.idtp = _max_weight_matching(self.pair_frames)
        return c


def _max_weight_matching(pair_frames: dict) -> int:
    """Maximum total weight of a bipartite matching over ``{(o, h): weight}``."""
    if not pair_frames:
        return 0
    os_ = {o: k for k, o in enumerate(sorted({o for o, _ in pair_frames}))}
    hs = {h: k for k, h in enumerate(sorted({h for _, h in pair_frames}))}
    w = np.zeros((len(os_), len(hs)))
    for (o, h), v in pair_frames.items():
        w[os_[o], hs[h]] = v
    rows, cols = linear_sum_assignment(w, maximize=True)
    return int(round(w[rows, cols].sum()))
