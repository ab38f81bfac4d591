"""UNINEXT training losses (paper §3.3 and appendix, Eqs. 6–12) and the Hungarian assignment.

* retrieval: sigmoid focal loss (α 0.25, γ 2) on the instance–prompt matching logits;
* box: λ_L1 ‖b − b̂‖₁ + λ_giou (1 − GIoU) on normalised ``cxcywh`` boxes;
* mask: sigmoid focal + dice on stride-4 mask logits;
* embed: the quasi-dense contrastive loss between the embeddings of two frames;
* assignment: one-to-one Hungarian matching with the DINO/UNINEXT costs (focal class cost 2,
  L1 5, GIoU 2).

All losses are sums normalised by the number of targets, as in the DETR family.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from evalkit.zoo.ops.boxes import box_convert, box_iou, generalized_box_iou

__all__ = ["WEIGHTS", "sigmoid_focal", "dice", "box_losses", "hungarian_match", "contrastive_embed",
           "proposal_loss"]

#: loss weights: the DETR-family values the paper builds on (retrieval 2, L1 5, GIoU 2, mask
#: focal 2, dice 5); IoU branch 2 and embedding 0.25 are our choices for the tiny model
WEIGHTS = {"retrieve": 2.0, "l1": 5.0, "giou": 2.0, "mask": 2.0, "dice": 5.0, "iou": 2.0, "embed": 0.25}
COST = {"class": 2.0, "l1": 5.0, "giou": 2.0}


def sigmoid_focal(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
                  ) -> torch.Tensor:
    """Element-wise focal loss (Lin et al.) of logits vs. {0,1} targets (same shape)."""
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    return loss * (alpha * targets + (1 - alpha) * (1 - targets))


def dice(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Dice loss per mask (Eq. 10): ``N×P`` logits and {0,1} targets → ``N``."""
    p = logits.sigmoid()
    return 1 - (2 * (p * targets).sum(-1) + 1) / (p.sum(-1) + targets.sum(-1) + 1)


def box_losses(pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L1 N, 1 − GIoU N)`` of matched normalised ``cxcywh`` boxes ``N×4``."""
    l1 = (pred - gt).abs().sum(-1)
    giou = torch.diag(generalized_box_iou(box_convert(pred, "cxcywh", "xyxy"), box_convert(gt, "cxcywh", "xyxy")))
    return l1, 1 - giou


@torch.no_grad()
def hungarian_match(prob: torch.Tensor, boxes: torch.Tensor, gt_boxes: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one assignment of ``G`` targets to ``Q`` queries.

    Args:
        prob: ``Q×G`` matching probability of each query for each target's prompt (categories:
            the mean over the category's tokens; pooled prompts: the query's score).
        boxes: ``Q×4`` / gt_boxes ``G×4`` normalised ``cxcywh``.

    Returns:
        ``(query indices, target indices)``, each ``min(Q, G)`` int64.
    """
    if gt_boxes.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    alpha, gamma = 0.25, 2.0
    neg = (1 - alpha) * prob ** gamma * (-(1 - prob + 1e-8).log())
    pos = alpha * (1 - prob) ** gamma * (-(prob + 1e-8).log())
    c_class = pos - neg
    c_l1 = torch.cdist(boxes, gt_boxes, p=1)
    c_giou = -generalized_box_iou(box_convert(boxes, "cxcywh", "xyxy"), box_convert(gt_boxes, "cxcywh", "xyxy"))
    cost = COST["class"] * c_class + COST["l1"] * c_l1 + COST["giou"] * c_giou
    q, g = linear_sum_assignment(cost.double().cpu().numpy())
    return q.astype(np.int64), g.astype(np.int64)


def matched_iou(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """IoU of matched ``cxcywh`` boxes ``N×4`` (the IoU branch's target), no gradient."""
    with torch.no_grad():
        return torch.diag(box_iou(box_convert(pred, "cxcywh", "xyxy"), box_convert(gt, "cxcywh", "xyxy")))


def contrastive_embed(key: torch.Tensor, ref: torch.Tensor, key_ids: torch.Tensor, ref_ids: torch.Tensor
                      ) -> torch.Tensor:
    """Quasi-dense contrastive loss (QDTrack Eq. 2, as UNINEXT/IDOL use it): for every key
    embedding with a positive in the reference frame, ``log(1 + Σ_{k+,k-} exp(k- · v − k+ · v))``.

    Args:
        key: ``N×d`` embeddings of frame 1; ref: ``M×d`` of frame 2.
        key_ids / ref_ids: ``N`` / ``M`` object ids (−1 = background).
    """
    sim = key @ ref.t()  # N×M
    pos = (key_ids[:, None] == ref_ids[None]) & (key_ids[:, None] >= 0)
    rows = pos.any(1)
    if not rows.any():
        return key.sum() * 0
    sim, pos = sim[rows], pos[rows]
    # log(1 + Σ_pos Σ_neg exp(neg − pos)) via logsumexp over pairs
    diff = sim[:, None, :] - sim[:, :, None]  # [i, p, n] = s_n − s_p
    valid = pos[:, :, None] & ~pos[:, None, :]
    diff = diff.masked_fill(~valid, float("-inf"))
    flat = torch.cat([diff.flatten(1), diff.new_zeros(diff.shape[0], 1)], 1)
    return torch.logsumexp(flat, 1).mean()


def proposal_loss(logits: torch.Tensor, boxes: torch.Tensor, valid: torch.Tensor, gt_boxes: torch.Tensor
                  ) -> torch.Tensor:
    """Weighted loss of the two-stage encoder proposals of one image: objectness focal loss (the
    proposals assigned to the targets are positive) + L1 + GIoU of the assigned boxes.

    Args:
        logits: ``S`` objectness logits; boxes: ``S×4`` normalised ``cxcywh``; valid: ``S`` bool
            (False: padding tokens, never assigned); gt_boxes: ``G×4``.
    """
    eb = boxes.masked_fill(~valid[:, None], 0.5)
    ep = logits.sigmoid()[:, None].expand(-1, len(gt_boxes)).masked_fill(~valid[:, None], 0.0)
    eq, eg = hungarian_match(ep.detach(), eb.detach(), gt_boxes)
    eq_t, eg_t = torch.from_numpy(eq), torch.from_numpy(eg)
    obj = torch.zeros_like(logits)
    obj[eq_t] = 1.0
    loss = WEIGHTS["retrieve"] * sigmoid_focal(logits[valid], obj[valid]).sum()
    l1, giou = box_losses(eb[eq_t], gt_boxes[eg_t])
    return loss + WEIGHTS["l1"] * l1.sum() + WEIGHTS["giou"] * giou.sum()
