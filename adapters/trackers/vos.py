"""VOS / R-VOS utilities: merging per-object probabilities into one indexed label map.

Semi-supervised VOS models (UNINEXT, UniRef++) and Ref-DAVIS R-VOS predict one probability map
per object; the official code merges them by *soft aggregation* (STM, Oh et al., ICCV 2019,
section 3.4): the background probability is ``prod_k (1 - p_k)``, and each pixel takes the
argmax over ``[background, p_1, ..., p_K]``. UniRef's ``soft_aggregate`` additionally turns the
``K + 1`` probabilities into logits ``log(p / (1 - p))`` (after clamping to ``[1e-7, 1 - 1e-7]``)
and renormalises them with a softmax (:func:`soft_aggregate`); the logit is monotonic, so its
argmax is the argmax of the raw probabilities except where the clamp creates ties.

Label maps are ``H x W`` uint8 arrays (0 = background, object ids 1..255); the benchmarks'
writers (``evalkit.benchmarks._io``) save them as indexed PNGs with the dataset's palette.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .common import TrackerInputError, as_tensor


def soft_aggregate(prob, keep_bg: bool = False) -> torch.Tensor:
    """STM soft aggregation (UniRef ``soft_aggregate``).

    Args:
        prob: ``K x H x W`` object probabilities.
        keep_bg: return the background channel too.

    Returns:
        ``(K + 1) x H x W`` (with background first) or ``K x H x W`` aggregated probabilities:
        ``softmax_k(logit(clamp([prod(1 - p), p_1..p_K], 1e-7, 1 - 1e-7)))``.
    """
    p = as_tensor(prob, "soft_aggregate: prob", torch.float32)
    if p.dim() != 3:
        raise TrackerInputError(f"soft_aggregate: prob must be K x H x W, got {tuple(p.shape)}")
    new_prob = torch.cat([torch.prod(1 - p, dim=0, keepdim=True), p], 0).clamp(1e-7, 1 - 1e-7)
    out = torch.log(new_prob / (1 - new_prob)).softmax(0)
    return out if keep_bg else out[1:]


def merge_probabilities(prob, object_ids: Sequence[int] | None = None) -> np.ndarray:
    """Indexed label map from per-object probabilities (UNINEXT/UniRef VOS and Ref-DAVIS merge).

    Args:
        prob: ``K x H x W`` probabilities (original frame), one map per object.
        object_ids: ``K`` distinct ids in 1..255 written for each object (default ``1..K``, the
            Ref-DAVIS rule: expression ``i`` gets label ``i + 1``).

    Returns:
        ``H x W`` uint8 label map: argmax over ``[prod(1 - p), p...]`` with the objects ordered
        by id, as the official code lays its channels out by id; ties go to the background,
        then to the smaller id. No object: all background.
    """
    p = as_tensor(prob, "merge_probabilities: prob")
    if p.dim() != 3:
        raise TrackerInputError(
            f"merge_probabilities: prob must be K x H x W, got {tuple(p.shape)}")
    p = p.float() if not p.is_floating_point() else p
    k = p.shape[0]
    ids = list(range(1, k + 1)) if object_ids is None else [int(i) for i in object_ids]
    if len(ids) != k or len(set(ids)) != k or any(not 1 <= i <= 255 for i in ids):
        raise TrackerInputError(
            f"merge_probabilities: need {k} distinct object ids in 1..255 (palette PNG labels), "
            f"got {ids}")
    if k == 0:
        return np.zeros(tuple(p.shape[1:]), np.uint8)
    order = sorted(range(k), key=lambda i: ids[i])
    p = p[order]
    stacked = torch.cat([torch.prod(1 - p, dim=0, keepdim=True), p], 0)
    lut = torch.tensor([0] + [ids[i] for i in order], dtype=torch.uint8)
    return lut[stacked.argmax(0).cpu()].numpy()


def merge_binary_masks(masks, object_ids: Sequence[int] | None = None) -> np.ndarray:
    """Label map from boolean masks ``K x H x W`` via :func:`merge_probabilities` on 0/1 maps.

    Pixels claimed by several objects go to the smallest id among them.
    """
    m = as_tensor(masks, "merge_binary_masks: masks")
    return merge_probabilities(m.bool().float(), object_ids)


def split_label_map(label_map: np.ndarray, object_ids: Sequence[int]) -> np.ndarray:
    """``K x H x W`` bool masks ``label_map == id`` for each id (the inverse of the merge)."""
    lm = np.asarray(label_map)
    if lm.ndim != 2:
        raise TrackerInputError(f"split_label_map: label_map must be H x W, got {lm.shape}")
    if not len(object_ids):
        return np.zeros((0, *lm.shape), bool)
    return np.stack([lm == int(i) for i in object_ids])
