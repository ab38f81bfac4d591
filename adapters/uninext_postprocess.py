"""UNINEXT post-processing: matching logits → scores, NMS / top-k selection, and the mapping of
boxes and masks from the network's frames back to the original image.

Frames (see :mod:`evalkit.zoo.ops.transforms`): network boxes are ``cxcywh`` normalised to the
resized, unpadded image; mask logits are at stride 4 of the padded canvas.
"""
from __future__ import annotations

import torch

from evalkit.zoo.ops import ImageTransform, batched_nms, box_convert

from .trackers import upsample_crop_resize

__all__ = ["category_scores", "prompt_scores", "select_detections", "boxes_to_original",
           "mask_probabilities", "binary_masks"]

#: official inference settings (``uninext_img.py``, ``uninext_vid.py``; models.md §2.1)
DET_NMS_IOU = 0.7
DET_MAX_INSTANCES = 100
MASK_THRESHOLD = 0.5


def category_scores(logits: torch.Tensor, token_groups: list[list[int]], iou: torch.Tensor | None
                    ) -> torch.Tensor:
    """Per-category probabilities ``Q×C`` from per-token logits ``Q×L``: each category's logit
    is the mean over its tokens (official ``convert_grounding_to_od_logits``), then sigmoid;
    with the IoU branch, ``sqrt(p · sigmoid(iou))``. A category without tokens (truncated away)
    scores 0."""
    cols = []
    for tokens in token_groups:
        if tokens:
            cols.append(logits[:, tokens].mean(-1))
        else:
            cols.append(torch.full_like(logits[:, 0], float("-inf")))
    prob = torch.stack(cols, -1).sigmoid()
    if iou is not None:
        prob = torch.sqrt(prob * iou.sigmoid())
    return prob


def prompt_scores(logits: torch.Tensor, iou: torch.Tensor | None) -> torch.Tensor:
    """Scores ``Q`` of pooled-prompt logits ``Q×1`` (expressions, annotation prompts)."""
    prob = logits[:, 0].sigmoid()
    if iou is not None:
        prob = torch.sqrt(prob * iou[:, 0].sigmoid())
    return prob


def select_detections(prob: torch.Tensor, boxes: torch.Tensor, nms_iou: float = DET_NMS_IOU,
                      max_instances: int = DET_MAX_INSTANCES):
    """Official detection selection: class-aware NMS on each query's best class, then the
    top-``max_instances`` (query, class) pairs among the kept queries (a query may appear with
    several classes).

    Args:
        prob: ``Q×C`` scores; boxes: ``Q×4`` normalised ``cxcywh``.

    Returns:
        ``(query indices K, class indices K, scores K)``, by decreasing score.
    """
    best, cls = prob.max(1)
    keep = batched_nms(box_convert(boxes, "cxcywh", "xyxy"), best, cls, nms_iou)
    flat = prob[keep].reshape(-1)
    k = min(max_instances, flat.numel())
    scores, idx = torch.topk(flat, k)
    c = prob.shape[1]
    return keep[torch.div(idx, c, rounding_mode="floor")], idx % c, scores


def boxes_to_original(boxes: torch.Tensor, tf: ImageTransform) -> torch.Tensor:
    """Normalised ``cxcywh`` ``N×4`` → original-image ``xyxy`` pixels, clipped to the image
    (detectron2 ``detector_postprocess``)."""
    return tf.normalized_to_original(boxes, clip=True)


def mask_probabilities(logits: torch.Tensor, tf: ImageTransform, final: str = "nearest") -> torch.Tensor:
    """Stride-4 mask logits ``N×Hp/4×Wp/4`` → probabilities ``N×H×W`` of the original frame:
    bilinear ×4 to the canvas, sigmoid, crop to the valid area, resize to the original size
    (``final``: ``nearest`` as the image / R-VOS pipelines, ``bilinear`` as the VOS one)."""
    return upsample_crop_resize(logits, tf.resized_size, tf.original_size, stride=4,
                                resize_mode=final, threshold=None)


def binary_masks(logits: torch.Tensor, tf: ImageTransform) -> torch.Tensor:
    """Official image-task masks: ``sigmoid > 0.5`` on the canvas, cropped, nearest-resized to
    the original frame: ``N×H×W`` bool."""
    return mask_probabilities(logits, tf, "nearest") > MASK_THRESHOLD
