"""Output-level comparison of two runs of one model on one benchmark (float32 vs a reduced
precision): the predictions in the two prediction stores, matched instance by instance.

For every frame of every sample present in both stores, each *confident* reference instance
(score >= :data:`CONFIDENT`) is matched to the other run's instance of the same label (when
labels exist) and track-free, with the highest box IoU (mask IoU when the predictions have no
boxes). The deviations of matched pairs are collected:

* ``box_px``: largest absolute coordinate difference (original-image pixels, xyxy);
* ``score``: absolute score difference;
* ``mask_iou``: IoU of the two masks (1 = identical);
* ``unmatched``: confident reference instances whose best match has IoU < 0.5.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evalkit.store import PredictionStore
from evalkit.types import rle_to_mask

#: instances below this score are not compared (their rank among near-ties may change)
CONFIDENT = 0.5


@dataclass
class Deviations:
    box_px: list[float] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    mask_iou: list[float] = field(default_factory=list)
    unmatched: int = 0
    compared: int = 0

    def summary(self) -> dict[str, float]:
        def q(xs, p, empty):
            return float(np.quantile(xs, p)) if xs else empty

        return {"compared": self.compared, "unmatched": self.unmatched,
                "box_px_max": max(self.box_px, default=0.0), "box_px_p95": q(self.box_px, 0.95, 0.0),
                "score_max": max(self.score, default=0.0), "score_p95": q(self.score, 0.95, 0.0),
                "mask_iou_min": min(self.mask_iou, default=1.0), "mask_iou_p05": q(self.mask_iou, 0.05, 1.0)}


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``1×4`` vs ``N×4`` xyxy → ``N``."""
    lt = np.maximum(a[:, :2], b[:, :2])
    rb = np.minimum(a[:, 2:], b[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(1)  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _frame(ref: dict, other: dict, dev: Deviations) -> None:
    scores = np.asarray(ref.get("scores") or [1.0] * max(len(ref.get("boxes") or []), len(ref.get("masks") or [])))
    o_scores = np.asarray(other.get("scores") or [1.0] * max(len(other.get("boxes") or []),
                                                             len(other.get("masks") or [])))
    labels, o_labels = ref.get("labels"), other.get("labels")
    boxes = np.asarray(ref["boxes"], np.float64).reshape(-1, 4) if ref.get("boxes") is not None else None
    o_boxes = np.asarray(other["boxes"], np.float64).reshape(-1, 4) if other.get("boxes") is not None else None
    with warnings.catch_warnings():  # pycocotools' decode under numpy 2 (DeprecationWarning per call)
        warnings.simplefilter("ignore", DeprecationWarning)
        masks = [rle_to_mask(m) for m in ref["masks"]] if ref.get("masks") else None
        o_masks = [rle_to_mask(m) for m in other["masks"]] if other.get("masks") else None
    for i in np.flatnonzero(scores >= CONFIDENT):
        dev.compared += 1
        cand = np.arange(len(o_scores))
        if labels is not None and o_labels is not None:
            cand = cand[np.asarray(o_labels)[cand] == labels[i]] if len(cand) else cand
        elif ref.get("track_ids") is not None and other.get("track_ids") is not None:
            # label-free tracks (VOS / SOT objects): the object id is the identity
            cand = cand[np.asarray(other["track_ids"])[cand] == ref["track_ids"][i]] if len(cand) else cand
        if not len(cand):
            dev.unmatched += 1
            continue
        if boxes is not None and o_boxes is not None and len(o_boxes):
            ious = _box_iou(boxes[i:i + 1], o_boxes[cand])
        else:
            ious = np.asarray([_mask_iou(masks[i], o_masks[j]) for j in cand])
        j = int(cand[int(np.argmax(ious))])
        if ious.max() < 0.5:
            dev.unmatched += 1
            continue
        if boxes is not None and o_boxes is not None:
            dev.box_px.append(float(np.abs(boxes[i] - o_boxes[j]).max()))
        dev.score.append(float(abs(scores[i] - o_scores[j])))
        if masks is not None and o_masks is not None:
            dev.mask_iou.append(_mask_iou(masks[i], o_masks[j]))


def compare_runs(ref_dir: Path, other_dir: Path) -> Deviations:
    """Deviations of ``other_dir``'s predictions from ``ref_dir``'s (run directories), over the
    samples both stores hold."""
    ref, _ = PredictionStore(Path(ref_dir) / "predictions").read()
    other, _ = PredictionStore(Path(other_dir) / "predictions").read()
    dev = Deviations()
    for sid in sorted(set(ref) & set(other)):
        a, b = ref[sid]["instances"], other[sid]["instances"]
        assert len(a) == len(b), f"sample {sid}: {len(a)} vs {len(b)} frames"
        for fa, fb in zip(a, b):
            _frame(fa, fb, dev)
    return dev
