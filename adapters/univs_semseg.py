"""UniVS PVOS (VIPOSeg): stuff targets helped by the learnable queries' semantic map.

The official VOS inference (``univs/inference/inference_video_vos.py``,
``InferenceVideoVOS.write_predictions_into_annotations_per_clip``, under ``use_semseg_pvos``,
hard-coded True and applied when the dataset is VIPOSeg) builds, on every clip, a semantic map
from the learnable queries (the prompt queries take no part):

* class scores: the sigmoid of the queries' logits against the 124 VIPSeg class embeddings
  (``combined_datasets_category_info['vipseg']``, rows 2924..3047 of the class-embedding file),
  times each query's mask quality (``calculate_mask_quality_scores`` of its masks at canvas
  resolution, cropped to the resized frame);
* ``semseg = einsum("qc,qthw->cthw", scores, sigmoid(masks))`` on the canvas, ``sem_mask =
  semseg.argmax(0)`` (a ``T×H×W`` map of class indices 0..123).

A target is *stuff* when its VIPOSeg class (``obj_class.json``) is a stuff class of VIPSeg
(``cur_label + 1 in stuff_dataset_id_to_contiguous_id``). For a stuff target, the logits are
set to 10 (and, where a sigmoid is weighed, to 1) on the pixels the map gives its class:

* STEP 1 (its first clip): after the given frame, and it is written even when its IoU with the
  given mask is below the threshold (``if (not is_above and not isstuff) ...: continue``);
* STEP 2 (later clips): before the exclusivity among the targets seen before, even when it
  failed the consistency test (its prediction is zeroed first, then forced; its weight stays 0).

The map is computed frame by frame (at most ``Q×H×W`` values at once instead of the official
``Q×T×H×W`` and ``124×T×H×W``); each pixel's class sums are the same products.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..types import ContractError, Reference

__all__ = ["VOCABULARY", "FORCED_LOGIT", "semantic_map", "stuff_targets", "forced_pixels"]

#: the class-embedding vocabulary of the map (official ``combined_datasets_category_info['vipseg']``)
VOCABULARY = "vipseg"
#: the logit a stuff target gets on its category's pixels (official ``cur_mask[...] = 10.``)
FORCED_LOGIT = 10.0


def stuff_targets(ref: Reference) -> list[bool]:
    """Per object of ``ref``: is it stuff (``Reference.thing`` False)? An error when the
    reference does not carry the VIPOSeg categories the rule needs."""
    if ref.category_ids is None or ref.thing is None:
        raise ContractError("Reference: UniVS PVOS (use_semseg_pvos) needs each object's category_ids and "
                            "thing flags (VIPOSeg obj_class.json); pass the option use_semseg_pvos=false "
                            "to run without the stuff rule")
    return [not t for t in ref.thing]


def semantic_map(class_scores: torch.Tensor, masks: torch.Tensor, canvas: tuple[int, int],
                 resized: tuple[int, int]) -> torch.Tensor:
    """The learnable queries' VIPSeg class per canvas pixel.

    Args:
        class_scores: ``Q×C`` sigmoid class scores of the ``Q`` learnable queries.
        masks: ``Q×T×h×w`` their mask logits at the decoder's resolution (stride 4).
        canvas: ``(H, W)`` padded input canvas the masks are resized to (bilinear,
            ``align_corners=False``, as officially).
        resized: ``(rh, rw)`` the resized frame inside the canvas (the quality's crop).

    Returns:
        ``T×H×W`` int64 class indices (``argmax`` over ``C``; the first class on ties, as
        ``torch.argmax``).
    """
    rh, rw = resized

    def frame(t: int) -> torch.Tensor:
        return F.interpolate(masks[:, t:t + 1], size=canvas, mode="bilinear", align_corners=False)[:, 0]

    # quality over all frames of the clip first (official: one call on Q×T×rh×rw)
    hi = lo = 0
    for t in range(masks.shape[1]):
        m = frame(t)[:, :rh, :rw]
        hi = hi + (m > 1).flatten(1).sum(1)
        lo = lo + (m > -1).flatten(1).sum(1)
    quality = hi.float() / lo.clamp(min=1).float()
    weights = (class_scores * quality[:, None]).t()  # C×Q
    out = []
    for t in range(masks.shape[1]):
        sig = frame(t).sigmoid()
        out.append((weights @ sig.flatten(1)).argmax(0).view(canvas))
    return torch.stack(out)


def forced_pixels(sem: torch.Tensor, category_ids: list[int], stuff: list[bool]) -> torch.Tensor:
    """``K×T×H×W`` bool: the pixels of ``sem`` (``T×H×W``) labelled with target ``k``'s
    category, for stuff targets (all False for things)."""
    out = torch.zeros((len(category_ids), *sem.shape), dtype=torch.bool, device=sem.device)
    for k, (c, s) in enumerate(zip(category_ids, stuff)):
        if s:
            out[k] = sem == c
    return out

