"""Quasi-dense similarity tracker (QDTrack; used by UNINEXT for BDD100K MOT/MOTS).

Pang et al., "Quasi-Dense Similarity Learning for Multiple Object Tracking", CVPR 2021,
section 3.3 (inference). Semantics follow the official ``QuasiDenseEmbedTracker`` (SysCV/qdtrack,
copied unchanged into UNINEXT's ``uninext/models/tracker.py``); per frame:

1. detections are sorted by score (descending);
2. *duplicate removal*: detection ``i`` is dropped when its box IoU with any higher-scored
   detection (dropped or not) exceeds ``nms_backdrop_iou_thr`` if ``score < obj_score_thr``,
   else ``nms_class_iou_thr``;
3. if the memory holds tracklets, scores between detections and the memory (tracklets, then the
   backdrops of the last ``memo_backdrop_frames`` frames) are computed with ``match_metric``
   and, with ``with_cats``, zeroed across classes. Detections are visited by score; the best
   memory entry ``m`` is taken when its score ``> match_score_thr`` and ``m`` is a tracklet:
   if the detection's score ``> obj_score_thr`` it takes the track id and ``m`` is removed from
   every other detection's candidates; otherwise, if the score also ``> nms_conf_thr``, the
   detection is marked ``-2`` (a low-confidence duplicate of a track: neither output nor
   backdrop);
4. *births*: unmatched detections (``-1``) with ``score > init_score_thr`` get new ids;
5. *memory update*: tracked detections replace the tracklet's box/label, and its embedding
   becomes ``(1 - memo_momentum) * old + memo_momentum * new``; the remaining ``-1``
   detections become this frame's backdrops, minus those overlapping (IoU
   ``> nms_backdrop_iou_thr``) any higher-scored detection of the frame;
6. *deaths*: a tracklet not seen for ``memo_tracklet_frames`` frames
   (``frame_id - last_frame >= memo_tracklet_frames``) is forgotten; ids are never reused.

The official tracker also keeps a velocity per tracklet; nothing reads it, so it is not kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .common import (
    MATCH_METRICS,
    TrackerInputError,
    TrackOutput,
    box_overlaps,
    check_detections,
    match_scores,
)


@dataclass
class _Tracklet:
    box: torch.Tensor  # 4, xyxy
    embed: torch.Tensor  # D
    label: int
    last_frame: int


class QuasiDenseEmbedTracker:
    """Online multi-object tracker on quasi-dense embeddings; create one per video.

    Defaults are the official class defaults; UNINEXT's BDD100K setting is
    ``init_score_thr=0.4 (or 0.5), obj_score_thr=0.3, memo_momentum=1.0`` (models.md §2.1).
    """

    def __init__(
        self,
        init_score_thr: float = 0.8,
        obj_score_thr: float = 0.5,
        match_score_thr: float = 0.5,
        memo_tracklet_frames: int = 10,
        memo_backdrop_frames: int = 1,
        memo_momentum: float = 0.8,
        nms_conf_thr: float = 0.5,
        nms_backdrop_iou_thr: float = 0.3,
        nms_class_iou_thr: float = 0.7,
        with_cats: bool = True,
        match_metric: str = "bisoftmax",
    ):
        if not 0.0 <= memo_momentum <= 1.0:
            raise TrackerInputError(f"memo_momentum must be in [0, 1], got {memo_momentum}")
        if memo_tracklet_frames < 0 or memo_backdrop_frames < 0:
            raise TrackerInputError("memo_tracklet_frames and memo_backdrop_frames must be >= 0")
        if match_metric not in MATCH_METRICS:
            raise TrackerInputError(
                f"match_metric must be one of {MATCH_METRICS}, got {match_metric!r}")
        self.init_score_thr = init_score_thr
        self.obj_score_thr = obj_score_thr
        self.match_score_thr = match_score_thr
        self.memo_tracklet_frames = memo_tracklet_frames
        self.memo_backdrop_frames = memo_backdrop_frames
        self.memo_momentum = memo_momentum
        self.nms_conf_thr = nms_conf_thr
        self.nms_backdrop_iou_thr = nms_backdrop_iou_thr
        self.nms_class_iou_thr = nms_class_iou_thr
        self.with_cats = with_cats
        self.match_metric = match_metric
        self.num_tracklets = 0
        self.tracklets: dict[int, _Tracklet] = {}  # insertion order = memory order
        # newest first: (boxes K x 4, embeds K x D, labels K)
        self.backdrops: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    @property
    def empty(self) -> bool:
        return not self.tracklets

    def _memo(self):
        """Memory ``(labels M, embeds M x D, ids M)``: tracklets, then backdrops (id -1)."""
        labels = [torch.tensor([t.label]) for t in self.tracklets.values()]
        embeds = [t.embed[None] for t in self.tracklets.values()]
        ids = [torch.tensor(list(self.tracklets), dtype=torch.int64)]
        for _, b_embeds, b_labels in self.backdrops:
            labels.append(b_labels)
            embeds.append(b_embeds)
            ids.append(torch.full((b_embeds.shape[0],), -1, dtype=torch.int64))
        return torch.cat(labels), torch.cat(embeds), torch.cat(ids)

    def match(self, boxes, scores, labels, embeds, frame_id: int) -> TrackOutput:
        """Associate one frame's detections with the tracks.

        Args:
            boxes: ``N x 4`` xyxy (one coordinate frame for the whole video).
            scores: ``N`` detection scores. labels: ``N`` int class ids.
            embeds: ``N x D`` association embeddings.
            frame_id: index of the frame in the video (increasing; gaps allowed).

        Returns:
            :class:`TrackOutput` over the detections kept by duplicate removal, by decreasing
            score.
        """
        boxes, scores, labels, embeds, _ = check_detections(
            boxes, scores, labels, embeds, where="QuasiDenseEmbedTracker.match")
        order = torch.sort(scores, descending=True, stable=True).indices
        boxes, scores, labels, embeds = boxes[order], scores[order], labels[order], embeds[order]

        # duplicate removal against every higher-scored detection, dropped ones included
        ious = box_overlaps(boxes, boxes)
        valid = torch.ones(len(boxes), dtype=torch.bool)
        for i in range(1, len(boxes)):
            low = scores[i] < self.obj_score_thr
            thr = self.nms_backdrop_iou_thr if low else self.nms_class_iou_thr
            if (ious[i, :i] > thr).any():
                valid[i] = False
        order, boxes, scores = order[valid], boxes[valid], scores[valid]
        labels, embeds = labels[valid], embeds[valid]

        ids = torch.full((len(boxes),), -1, dtype=torch.int64)
        if len(boxes) > 0 and not self.empty:
            memo_labels, memo_embeds, memo_ids = self._memo()
            sim = match_scores(embeds, memo_embeds.to(embeds), self.match_metric)
            if self.with_cats:
                sim = sim * (labels[:, None] == memo_labels[None, :]).to(sim)
            for i in range(len(boxes)):
                conf, m = torch.max(sim[i], dim=0)
                if conf > self.match_score_thr and memo_ids[m] > -1:
                    if scores[i] > self.obj_score_thr:
                        ids[i] = memo_ids[m]
                        sim[:i, m] = 0
                        sim[i + 1:, m] = 0
                    elif conf > self.nms_conf_thr:
                        ids[i] = -2
        new = (ids == -1) & (scores > self.init_score_thr)
        num_new = int(new.sum())
        ids[new] = torch.arange(self.num_tracklets, self.num_tracklets + num_new, dtype=torch.int64)
        self.num_tracklets += num_new

        self._update_memo(ids, boxes, embeds, labels, frame_id)
        return TrackOutput(order, ids)

    def _update_memo(self, ids, boxes, embeds, labels, frame_id):
        for k in torch.nonzero(ids > -1).flatten().tolist():
            tid = int(ids[k])
            t = self.tracklets.get(tid)
            if t is None:
                self.tracklets[tid] = _Tracklet(boxes[k], embeds[k], int(labels[k]), frame_id)
            else:
                t.box = boxes[k]
                t.embed = (1 - self.memo_momentum) * t.embed + self.memo_momentum * embeds[k]
                t.label = int(labels[k])
                t.last_frame = frame_id

        back = torch.nonzero(ids == -1).flatten()
        ious = box_overlaps(boxes[back], boxes)
        keep = [not bool((ious[i, :int(k)] > self.nms_backdrop_iou_thr).any())
                for i, k in enumerate(back)]
        back = back[torch.tensor(keep, dtype=torch.bool)] if len(back) else back
        self.backdrops.insert(0, (boxes[back], embeds[back], labels[back]))

        for tid in [tid for tid, t in self.tracklets.items()
                    if frame_id - t.last_frame >= self.memo_tracklet_frames]:
            del self.tracklets[tid]
        if len(self.backdrops) > self.memo_backdrop_frames:
            self.backdrops.pop()
