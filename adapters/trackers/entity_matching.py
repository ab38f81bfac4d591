"""UniVS matching of newly detected entities against the entities already in memory.

Li et al., "UniVS: Unified and Universal Video Segmentation with Prompts as Queries", CVPR 2024,
section 3.4 (unified video inference: masks of earlier frames become visual prompts; new
entities are detected by learnable queries). The official ``detect_newly_entities_per_clip_*``
(``univs/inference/inference_video_entity.py``, with ``use_quasi_track = True``) does, for the
learnable-query predictions of a clip:

1. similarity ``sim[n, m, (t, f)] = <E_old[n, t], E_new[m, f]>`` between the last 3 memory
   embeddings of each old entity ``n`` and the per-frame embeddings of each new prediction
   ``m``; *bi-softmax* ``(softmax over m + softmax over n) / 2``, averaged over ``(t, f)``
   (:func:`bisoftmax_entity_similarity`);
2. similarities below ``DETECT_NEWLY_OBJECT_THRESHOLD`` are zeroed, Hungarian assignment on
   ``1 - sim``, and pairs with ``sim > threshold`` are matches (:func:`match_entities`);
3. matched entities take the prediction into memory: logits ``(old + new) / 2``, last
   embedding averaged with the prediction's mean embedding (only if it was non-blank)
   (:func:`update_entity_memory`);
4. unmatched predictions whose best class score exceeds ``score_thr`` (``APPLY_CLS_THRES`` for
   instance entities, twice that for pixel-level ones) and whose masks overlap every memory
   mask with IoU ``< 0.5`` in every frame are new entities (:func:`newly_detected`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .common import TrackerInputError, as_tensor


def bisoftmax_entity_similarity(old_embeds, new_embeds) -> torch.Tensor:
    """Bi-softmax similarity ``N x M`` of ``N x T x C`` memory and ``M x F x C`` new embeddings."""
    old = as_tensor(old_embeds, "bisoftmax_entity_similarity: old_embeds", torch.float32)
    new = as_tensor(new_embeds, "bisoftmax_entity_similarity: new_embeds", torch.float32)
    if old.dim() != 3 or new.dim() != 3 or old.shape[-1] != new.shape[-1]:
        raise TrackerInputError(
            f"bisoftmax_entity_similarity: expected N x T x C and M x F x C, got "
            f"{tuple(old.shape)} and {tuple(new.shape)}")
    sim = torch.einsum("ntc,mfc->nmtf", old, new).flatten(2)  # N x M x (T*F)
    return (sim.softmax(1) + sim.softmax(0)).mean(-1) / 2


@dataclass
class EntityMatch:
    """Matches between memory entities (``old``) and new predictions (``new``).

    Attributes:
        old: ``K`` int64 memory indices. new: ``K`` int64 prediction indices.
        similarity: ``K`` float32 bi-softmax similarities (all ``> threshold``).
    """

    old: torch.Tensor
    new: torch.Tensor
    similarity: torch.Tensor

    def above(self, threshold: float) -> "EntityMatch":
        """The matches with similarity ``> threshold`` (UniVS refreshes memory masks only for
        matches above twice the matching threshold)."""
        k = self.similarity > threshold
        return EntityMatch(self.old[k], self.new[k], self.similarity[k])


def match_entities(old_embeds, new_embeds, threshold: float = 0.05,
                   history: int = 3) -> EntityMatch:
    """Hungarian matching of new predictions to memory entities on bi-softmax similarity.

    Args:
        old_embeds: ``N x T x C`` memory embeddings per entity and frame (the last ``history``
            frames are used; blank frames are zero vectors).
        new_embeds: ``M x F x C`` embeddings of the new predictions per frame of the clip.
        threshold: ``DETECT_NEWLY_OBJECT_THRESHOLD`` (UniVS default 0.05; 0.1 in the VIS/VOS
            inference configs).
    """
    old = as_tensor(old_embeds, "match_entities: old_embeds", torch.float32)
    new = as_tensor(new_embeds, "match_entities: new_embeds", torch.float32)
    none = torch.zeros(0, dtype=torch.int64)
    empty = EntityMatch(none, none, torch.zeros(0))
    if old.dim() == 3 and new.dim() == 3 and (old.shape[0] == 0 or new.shape[0] == 0):
        return empty
    sim = bisoftmax_entity_similarity(old[:, -history:], new)
    sim = torch.where(sim < threshold, torch.zeros_like(sim), sim)
    rows, cols = linear_sum_assignment((1 - sim).double().cpu().numpy())
    rows = torch.from_numpy(rows.astype(np.int64)).to(sim.device)
    cols = torch.from_numpy(cols.astype(np.int64)).to(sim.device)
    matched = sim[rows, cols]
    return EntityMatch(rows, cols, matched).above(threshold)


def update_entity_memory(match: EntityMatch, old_logits, old_last_embeds, new_logits, new_embeds):
    """UniVS's memory refresh of matched entities; returns updated copies.

    Args:
        old_logits: ``N x C`` class scores of the entities at the current memory slot.
        old_last_embeds: ``N x C'`` embedding of the entities at the last memory slot
            (a zero vector when the slot is blank).
        new_logits: ``M x C`` class scores of the predictions. new_embeds: ``M x F x C'``.

    Returns:
        ``(logits N x C, last_embeds N x C')``: for matched ``(n, m)``,
        ``logits[n] = (old[n] + new[m]) / 2`` and ``last_embeds[n] = (old[n] + mean_f new[m]) /
        (1 + [old[n] is non-blank])``.
    """
    logits = as_tensor(old_logits, "update_entity_memory: old_logits", torch.float32).clone()
    embeds = as_tensor(old_last_embeds, "update_entity_memory: old_last_embeds",
                       torch.float32).clone()
    new_logits = as_tensor(new_logits, "update_entity_memory: new_logits", torch.float32)
    new_embeds = as_tensor(new_embeds, "update_entity_memory: new_embeds", torch.float32)
    o, n = match.old, match.new
    logits[o] = 0.5 * (logits[o] + new_logits[n])
    nonblank = (embeds[o] != 0).any(-1)
    embeds[o] = (embeds[o] + new_embeds[n].mean(1)) / (nonblank[:, None].float() + 1.0)
    return logits, embeds


def newly_detected(new_scores, new_masks, memory_masks, matched_new, score_thr: float,
                   iou_thr: float = 0.5) -> list[int]:
    """Indices of predictions that start new entities.

    Args:
        new_scores: ``M x C`` class scores of the predictions (best class is used).
        new_masks: ``M x F x H x W`` bool masks of the predictions over the clip's frames.
        memory_masks: ``N x F x H x W`` bool masks of the memory entities over the same frames
            (UniVS resizes the memory mask logits to the prediction size and thresholds at 0).
        matched_new: prediction indices already matched to an entity.
        score_thr: ``APPLY_CLS_THRES`` (instance) or twice it (pixel-level entities).

    Returns:
        Prediction indices, increasing. A prediction qualifies when unmatched, its best score
        ``> score_thr``, and its mask IoU with every memory mask in every frame ``< iou_thr``.
        As officially, nothing qualifies when the memory is empty (that case is the first-frame
        path, which keeps every prediction above the score threshold).
    """
    scores = as_tensor(new_scores, "newly_detected: new_scores", torch.float32)
    pm = as_tensor(new_masks, "newly_detected: new_masks").bool()
    mm = as_tensor(memory_masks, "newly_detected: memory_masks").bool()
    if pm.dim() != 4 or mm.dim() != 4 or pm.shape[1:] != mm.shape[1:] or len(pm) != len(scores):
        raise TrackerInputError(
            f"newly_detected: expected M x F x H x W prediction masks (M = {len(scores)}) and "
            f"N x F x H x W memory masks, got {tuple(pm.shape)} and {tuple(mm.shape)}")
    matched = as_tensor(matched_new, "newly_detected: matched_new").reshape(-1).tolist()
    matched = {int(i) for i in matched}
    if len(mm) == 0:
        return []
    a = pm.flatten(2).float()  # M x F x P
    b = mm.flatten(2).float()  # N x F x P
    inter = torch.einsum("mfp,nfp->mfn", a, b)
    union = (a.sum(-1)[:, :, None] + b.sum(-1).T[None] - inter).clamp(min=1)
    max_iou = (inter / union).flatten(1).max(1).values  # M
    best = scores.max(-1).values
    return [m for m in range(len(scores))
            if m not in matched and best[m] > score_thr and max_iou[m] < iou_thr]
