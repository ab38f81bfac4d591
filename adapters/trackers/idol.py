"""IDOL tracker (online video instance segmentation; UNINEXT's YouTube-VIS / OVIS tracker).

Wu et al., "In Defense of Online Models for Video Instance Segmentation", ECCV 2022, section 3.3
(temporally weighted softmax score, memory bank), as implemented by ``IDOL_Tracker`` in the
official code (wjf5203/VNext, copied into UNINEXT ``uninext/models/tracker.py``). Per frame:

1. *mask NMS* (``nms_thr_pre``): detections are visited **in input order** (the caller passes
   them by decreasing score, as UNINEXT's box NMS leaves them); a detection is dropped when
   the IoU of its binarised mask (``sigmoid > 0.5``) with an earlier kept one is
   ``> nms_thr_pre``; IoU is ``(inter + 1e-6) / (union + 1e-6)`` (two empty masks have IoU 1);
2. if the memory holds tracklets: scores ``N x M`` with ``match_metric`` between the
   detection embeddings and each tracklet's memory embedding - with ``long_match`` the
   average of its last ``memory_len`` embeddings weighted by their detection scores (plus
   ``k / L`` for the ``k``-th of ``L`` entries with ``temporal_weight``), otherwise the
   momentum embedding ``(1 - memo_momentum) * old + memo_momentum * new``;
3. detections are visited in order; with ``frame_weight``, when more than one tracklet scores
   ``> 0.5`` for the detection, those scores are multiplied by the tracklets' numbers of
   frames seen and the other scores by the mean of those numbers (long-lived tracks win);
   the best tracklet is taken when that (possibly weighted) score ``> match_score_thr`` and
   is then removed from the other detections' candidates;
4. *births*: unmatched detections with ``score > addnew_score_thr`` get new ids; while the
   memory is empty (first frame, or after every track died) the threshold is
   ``init_score_thr`` and nothing is matched;
5. remaining unmatched detections whose mask IoU with every earlier detection of the frame is
   ``< nms_thr_post`` are marked ``-1`` (the official code's backdrops, never used for
   matching), the others ``-2``;
6. tracklets not seen for ``memo_tracklet_frames`` frames are forgotten. When the memory is
   not empty and the frame has no detection the memory is left untouched (as officially).

``obj_score_thr`` and the backdrop settings are accepted by the official class but unused by
its matching; ``obj_score_thr`` is kept here for the record only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .common import MATCH_METRICS, TrackerInputError, TrackOutput, check_detections, match_scores


def idol_mask_iou(masks1: torch.Tensor, masks2: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU ``N x M`` of boolean masks ``N x h x w`` / ``M x h x w``, IDOL's formula.

    ``(inter + 1e-6) / (union + 1e-6)`` in float32, so two empty masks have IoU 1.
    """
    a = masks1.flatten(1).float()
    b = masks2.flatten(1).float()
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return (inter + 1e-6) / (union + 1e-6)


def idol_mask_nms(mask_logits: torch.Tensor, nms_thr: float) -> torch.Tensor:
    """Greedy mask NMS over ``N x h x w`` logits in input order; returns the ``N`` keep flags."""
    n = mask_logits.shape[0]
    keep = torch.ones(n, dtype=torch.bool)
    if n == 0:
        return keep
    ious = idol_mask_iou(mask_logits.sigmoid() > 0.5, mask_logits.sigmoid() > 0.5)
    for i in range(n - 1):
        if keep[i]:
            keep[i + 1:] &= ~(ious[i, i + 1:] > nms_thr)
    return keep


@dataclass
class _Tracklet:
    embed: torch.Tensor  # D, momentum-averaged embedding
    label: int
    last_frame: int
    long_embeds: list = field(default_factory=list)  # last memory_len embeddings (D each)
    long_scores: list = field(default_factory=list)  # their detection scores (floats)
    exist_frames: int = 1


class IDOLTracker:
    """IDOL's online association; create one per video.

    Defaults are UNINEXT's VIS settings (models.md §2.1; ``INFERENCE_FW``/``INFERENCE_TW`` on,
    ``MEMORY_LEN`` 3).
    """

    def __init__(
        self,
        init_score_thr: float = 0.2,
        obj_score_thr: float = 0.1,
        nms_thr_pre: float = 0.5,
        nms_thr_post: float = 0.05,
        addnew_score_thr: float = 0.2,
        match_score_thr: float = 0.5,
        memo_tracklet_frames: int = 10,
        memo_momentum: float = 0.8,
        match_metric: str = "bisoftmax",
        long_match: bool = True,
        frame_weight: bool = True,
        temporal_weight: bool = True,
        memory_len: int = 3,
    ):
        if not 0.0 <= memo_momentum <= 1.0:
            raise TrackerInputError(f"memo_momentum must be in [0, 1], got {memo_momentum}")
        if memo_tracklet_frames < 0 or memory_len < 1:
            raise TrackerInputError("memo_tracklet_frames must be >= 0 and memory_len >= 1")
        if match_metric not in MATCH_METRICS:
            raise TrackerInputError(
                f"match_metric must be one of {MATCH_METRICS}, got {match_metric!r}")
        self.init_score_thr = init_score_thr
        self.obj_score_thr = obj_score_thr
        self.nms_thr_pre = nms_thr_pre
        self.nms_thr_post = nms_thr_post
        self.addnew_score_thr = addnew_score_thr
        self.match_score_thr = match_score_thr
        self.memo_tracklet_frames = memo_tracklet_frames
        self.memo_momentum = memo_momentum
        self.match_metric = match_metric
        self.long_match = long_match
        self.frame_weight = frame_weight
        self.temporal_weight = temporal_weight
        self.memory_len = memory_len
        self.num_tracklets = 0
        self.tracklets: dict[int, _Tracklet] = {}

    @property
    def empty(self) -> bool:
        return not self.tracklets

    def _memory_embed(self, t: _Tracklet) -> torch.Tensor:
        if not self.long_match:
            return t.embed
        w = torch.tensor(t.long_scores, dtype=t.embed.dtype)
        if self.temporal_weight:
            n = len(w)
            w = w + torch.arange(1, n + 1, dtype=w.dtype) / n  # 1/L, 2/L, ..., 1: newer weighs more
        return (torch.stack(t.long_embeds) * w[:, None]).sum(0) / w.sum()

    def match(self, boxes, scores, labels, masks, embeds, frame_id: int) -> TrackOutput:
        """Associate one frame's detections with the tracks.

        Args:
            boxes: ``N x 4`` (any box format; boxes are carried, never compared).
            scores: ``N`` detection scores, by decreasing score (see the module docstring).
            labels: ``N`` int class ids. masks: ``N x h x w`` mask logits.
            embeds: ``N x D`` association embeddings.
            frame_id: index of the frame in the video.

        Returns:
            :class:`TrackOutput` over the detections kept by the mask NMS, in input order.
        """
        boxes, scores, labels, embeds, masks = check_detections(
            boxes, scores, labels, embeds, masks, where="IDOLTracker.match")
        keep = idol_mask_nms(masks, self.nms_thr_pre)
        order = torch.nonzero(keep).flatten()
        scores, labels, embeds, masks = scores[keep], labels[keep], embeds[keep], masks[keep]
        n = len(scores)

        ids = torch.full((n,), -2, dtype=torch.int64)
        if n > 0 and not self.empty:
            memo_ids = torch.tensor(list(self.tracklets), dtype=torch.int64)
            memo_embeds = torch.stack([self._memory_embed(t) for t in self.tracklets.values()])
            exist = torch.tensor([t.exist_frames for t in self.tracklets.values()],
                                 dtype=torch.float32)
            sim = match_scores(embeds, memo_embeds.to(embeds), self.match_metric)
            for i in range(n):
                row = sim[i]
                strong = row > 0.5
                if self.frame_weight and int(strong.sum()) > 1:
                    fw = exist[strong].to(row)
                    row = row.clone()
                    row[strong] = row[strong] * fw
                    row[~strong] = row[~strong] * fw.mean()
                conf, m = torch.max(row, dim=0)
                if conf > self.match_score_thr:
                    ids[i] = memo_ids[m]
                    sim[:i, m] = 0
                    sim[i + 1:, m] = 0
            birth_thr = self.addnew_score_thr
        elif self.empty:
            birth_thr = self.init_score_thr
        else:  # no detection: the official tracker does not touch its memory
            return TrackOutput(order, ids)

        new = (ids == -2) & (scores > birth_thr)
        num_new = int(new.sum())
        ids[new] = torch.arange(self.num_tracklets, self.num_tracklets + num_new, dtype=torch.int64)
        self.num_tracklets += num_new

        rest = torch.nonzero(ids == -2).flatten()
        if len(rest):
            binary = masks.sigmoid() > 0.5
            ious = idol_mask_iou(binary[rest], binary)
            for i, k in enumerate(rest.tolist()):
                if (ious[i, :k] < self.nms_thr_post).all():
                    ids[k] = -1
        self._update_memo(ids, scores, labels, embeds, frame_id)
        return TrackOutput(order, ids)

    def _update_memo(self, ids, scores, labels, embeds, frame_id):
        for k in torch.nonzero(ids > -1).flatten().tolist():
            tid = int(ids[k])
            t = self.tracklets.get(tid)
            if t is None:
                self.tracklets[tid] = _Tracklet(embeds[k], int(labels[k]), frame_id,
                                                [embeds[k]], [float(scores[k])])
            else:
                t.embed = (1 - self.memo_momentum) * t.embed + self.memo_momentum * embeds[k]
                t.long_embeds.append(embeds[k])
                t.long_scores.append(float(scores[k]))
                t.label = int(labels[k])
                t.last_frame = frame_id
                t.exist_frames += 1
        for tid in list(self.tracklets):
            t = self.tracklets[tid]
            if frame_id - t.last_frame >= self.memo_tracklet_frames:
                del self.tracklets[tid]
                continue
            del t.long_embeds[:-self.memory_len]
            del t.long_scores[:-self.memory_len]
