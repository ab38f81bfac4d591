"""UNINEXT image tasks: detection / instance segmentation (category prompts) and referring
expression comprehension / segmentation (expression prompts), one frame at a time.

Procedures are functions of the model bundle (:class:`~evalkit.adapters.uninext.UninextModel`)
and the run's :class:`~evalkit.adapters.base.InferenceContext` returning a
:class:`~evalkit.adapters.base.ProcedureResult` whose instances are yielded frame by frame."""
from __future__ import annotations

from typing import Generator

import numpy as np
import torch

from evalkit.types import Categories, Expression, Frames, Instances
from evalkit.zoo.ops import masks_to_rles

from .base import InferenceContext, streamed
from .uninext_postprocess import (binary_masks, boxes_to_original, category_scores, prompt_scores,
                                  select_detections)

__all__ = ["predict_categories", "predict_expression", "detect_frame", "ground_frame", "to_rles"]


def to_rles(masks: torch.Tensor) -> list[dict]:
    """``N×H×W`` bool masks → COCO RLE dicts (compact: what a streamed video keeps)."""
    return masks_to_rles(masks) if len(masks) else []


def detect_frame(model, ctx: InferenceContext, image: np.ndarray, prompt: Categories, *, with_masks: bool,
                 max_instances: int = 100, nms_iou: float = 0.7) -> tuple[Instances, dict]:
    """Detections of one frame in the original frame with dataset category ids.

    Returns ``(instances, extras)``; ``extras`` holds the kept query indices and, in the video
    stage, their ReID ``embeddings`` (``K×d`` tensor) for trackers.
    """
    batch = model.preprocess([image], ctx)
    tokens, mask, groups = model.encode_categories(tuple(prompt.names))
    out = model.run(batch, tokens, mask, pooled=False, task=ctx.task)
    iou = None if out["iou"] is None else out["iou"][0]
    prob = category_scores(out["logits"][0], groups, iou)
    q, cls, scores = select_detections(prob, out["boxes"][0], nms_iou, max_instances)
    tf = batch.transforms[0]
    boxes = boxes_to_original(out["boxes"][0, q], tf)
    # detectron2 drops boxes that became empty after clipping
    nonempty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    q, cls, scores, boxes = q[nonempty], cls[nonempty], scores[nonempty], boxes[nonempty]
    ids = np.asarray(prompt.ids, dtype=np.int64)
    masks = None
    if with_masks:
        masks = to_rles(binary_masks(model.net.decode_masks(out, 0, q), tf))
    inst = Instances(tf.original_size, boxes.cpu().numpy(), masks, scores.cpu().numpy(),
                     ids[cls.cpu().numpy()])
    extras = {"queries": q}
    if "embeddings" in out:
        extras["embeddings"] = out["embeddings"][0, q]
    return inst, extras


@streamed
def predict_categories(model, ctx: InferenceContext, frames: Frames,
                       prompt: Categories) -> Generator[Instances, None, dict[str, int]]:
    """Detection (``det``) or instance segmentation (``inst-seg``) of every frame
    (:class:`~.uninext_settings.DetectionSettings`).

    Stats: ``frames`` run, ``detections`` output over all frames."""
    st = ctx.settings
    detections = 0
    for image in frames:
        inst = detect_frame(model, ctx, image, prompt, with_masks=ctx.task == "inst-seg",
                            max_instances=st.max_num_inst, nms_iou=st.nms_thresh)[0]
        detections += len(inst)
        yield inst
    return {"frames": len(frames), "detections": detections}


def ground_frame(model, ctx: InferenceContext, image: np.ndarray, prompt: Expression, *, with_masks: bool,
                 final: str = "nearest") -> tuple[Instances, torch.Tensor | None]:
    """Top-1 query for an expression: ``(instances with one box/score, mask probabilities
    1×H×W or None)``."""
    from .uninext_postprocess import mask_probabilities

    batch = model.preprocess([image], ctx)
    tokens, mask = model.encode_expression(prompt.text)
    out = model.run(batch, tokens, mask, pooled=True, task=ctx.task)
    iou = None if out["iou"] is None else out["iou"][0]
    scores = prompt_scores(out["logits"][0], iou)
    score, q = scores.max(0, keepdim=True)
    tf = batch.transforms[0]
    boxes = boxes_to_original(out["boxes"][0, q], tf)
    probs = None
    if with_masks:
        probs = mask_probabilities(model.net.decode_masks(out, 0, q), tf, final)
    return Instances(tf.original_size, boxes.cpu().numpy(), None, score.cpu().numpy()), probs


@streamed
def predict_expression(model, ctx: InferenceContext, frames: Frames,
                       prompt: Expression) -> Generator[Instances, None, dict[str, int]]:
    """REC (``rec``: one box) or RES (``res``: one box and mask) on every frame.

    Stats: ``frames`` run; RES also ``empty_masks``, the frames whose mask has no pixel above
    0.5 (the metric counts them as misses)."""
    empty = 0
    for image in frames:
        inst, probs = ground_frame(model, ctx, image, prompt, with_masks=ctx.task == "res")
        if probs is not None:
            binary = probs > 0.5
            empty += int(not bool(binary.any()))
            inst = Instances(inst.image_size, inst.boxes, to_rles(binary), inst.scores)
        yield inst
    return {"frames": len(frames), **({"empty_masks": empty} if ctx.task == "res" else {})}
