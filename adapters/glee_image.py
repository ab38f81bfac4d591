"""GLEE image tasks: detection / instance segmentation, REC / RES and interactive segmentation.

Post-processing follows the official ``GLEE.instance_inference``:

* masks: logits upsampled to the padded canvas, cropped to the resized image, resized to the
  original image (bilinear each time), foreground where the logit is > 0;
* score = class probability × mean foreground probability of the mask;
* boxes: normalised cxcywh of the padded canvas → original pixels (not clipped, as the official
  ``box_postprocess``);
* detection: top-``k`` over all (query, category) pairs of sigmoid class scores (k = 100, 300
  for LVIS-sized vocabularies), no NMS; REC/RES: the top-1 query.

Interactive segmentation follows the official demo: the prompt becomes a mask on the canvas
(a box its rectangle; a click a rectangle of ``H/40 × W/40`` half-size — at least one pixel —
around the centroid of the positive clicks; a scribble its stroke; a mask itself), the text "object" joins the early fusion,
and the top-1 query is ranked by the confidence head (``interactive_score="ffn"``) or by the
"object" class score (``"object"``).
"""
from __future__ import annotations

import numpy as np
import torch

from ..types import Categories, ContractError, Expression, Frames, Instances, Reference
from ..zoo.ops import ImageTransform, box_convert, masks_to_rles
from .base import InferenceContext, ProcedureResult

__all__ = ["detect", "ground", "interactive", "to_instances", "prompt_masks", "canvas_masks"]

_CHUNK = 32  # masks brought to the original resolution at a time (bounds memory)
OBJECT_CHUNK = 8  # visual prompts decoded together (one encoder pass each)


def boxes_to_original(boxes: torch.Tensor, tf: ImageTransform) -> torch.Tensor:
    """``K×4`` normalised cxcywh of the padded canvas → ``K×4`` xyxy original pixels (not
    clipped, as the official ``box_postprocess``; clipped for an LSJ canvas, as
    ``LSJ_box_postprocess``)."""
    hp, wp = tf.padded_size
    xyxy = box_convert(boxes.float(), "cxcywh", "xyxy") * boxes.new_tensor([wp, hp, wp, hp]).float()
    return tf.boxes_to_original(xyxy, clip=bool(getattr(tf, "clip_boxes", False)))


def to_instances(tf: ImageTransform, cls_scores: torch.Tensor, mask_logits: torch.Tensor, boxes: torch.Tensor, *,
                 labels=None, track_ids=None, with_masks: bool = True) -> Instances:
    """Selected queries of one image → :class:`Instances` in the original frame.

    ``cls_scores`` ``K`` probabilities; ``mask_logits`` ``K×Hm×Wm``; ``boxes`` ``K×4`` normalised
    cxcywh; the returned scores include the mask-probability factor.
    """
    rles, mask_scores = [], []
    for c in range(0, len(mask_logits), _CHUNK):
        m = tf.masks_to_original(mask_logits[c:c + _CHUNK].float())
        fg = m > 0
        mask_scores.append((m.sigmoid() * fg).flatten(1).sum(1) / (fg.flatten(1).sum(1) + 1e-6))
        if with_masks:
            rles += masks_to_rles(fg.cpu())
    scores = cls_scores.float() * (torch.cat(mask_scores) if mask_scores else cls_scores.new_zeros(0))
    return Instances(tf.original_size, boxes=boxes_to_original(boxes, tf).cpu().numpy(),
                     masks=rles if with_masks else None, scores=scores.cpu().numpy(),
                     labels=labels, track_ids=track_ids)


@torch.no_grad()
def detect(model, ctx: InferenceContext, frames: Frames, categories: Categories) -> ProcedureResult:
    """Category-guided detection (``det``) or instance segmentation (``inst-seg``), one image
    at a time.

    Stats: ``frames`` run, ``detections`` output over all frames."""
    results = []
    for i in range(len(frames)):
        batch = model.preprocess(frames[i:i + 1], ctx)
        out = model.net(batch.images, model.class_prompt(categories, 1))
        probs = out.logits[0].sigmoid()  # Q×N
        n = probs.shape[1]
        default_k = 300 if ctx.dataset_is("lvis") or (ctx.dataset is None and n >= 1000) else 100
        k = min(ctx.settings.test_topk_per_image or default_k, probs.numel())
        scores, idx = probs.flatten().topk(k)
        q = idx // n
        labels = np.asarray(categories.ids, dtype=np.int64)[(idx % n).cpu().numpy()]
        results.append(to_instances(batch.transforms[0], scores, out.masks[0, q], out.boxes[0, q],
                                    labels=labels, with_masks=ctx.task != "det"))
    return ProcedureResult(results, {"frames": len(frames), "detections": sum(len(r) for r in results)})


@torch.no_grad()
def ground(model, ctx: InferenceContext, frames: Frames, expression: Expression) -> ProcedureResult:
    """Referring expression comprehension / segmentation: the top-1 query, one image at a time.

    Stats: ``frames`` run."""
    results = []
    for i in range(len(frames)):
        batch = model.preprocess(frames[i:i + 1], ctx)
        out = model.net(batch.images, model.expression_prompt(expression.text, 1))
        probs = out.logits[0, :, 0].sigmoid()
        score, q = probs.max(0)
        results.append(to_instances(batch.transforms[0], score[None], out.masks[0, q[None]],
                                    out.boxes[0, q[None]]))
    return ProcedureResult(results, {"frames": len(frames)})


def _rect(shape, x0, y0, x1, y1) -> np.ndarray:
    m = np.zeros(shape, bool)
    h, w = shape
    m[max(0, y0):min(h, y1), max(0, x0):min(w, x1)] = True
    return m


def prompt_masks(ref: Reference, size: tuple[int, int]) -> tuple[np.ndarray, str]:
    """The prompt of every object as a mask in the original ``size`` frame, and the template
    mode (``box``/``point``/``scribble``/``mask``)."""
    h, w = size
    kind = ref.kind
    out = []
    for k in range(len(ref.object_ids)):
        if kind == "mask":
            m = np.asarray(ref.masks[k], bool)
            if m.shape != (h, w):
                raise ContractError(f"Reference mask {k} has shape {m.shape}, the frame is {(h, w)}")
        elif kind == "box":
            x0, y0, x1, y1 = (int(round(float(v))) for v in ref.boxes[k])
            m = _rect((h, w), x0, y0, x1, y1)
        elif kind == "point":
            pts = np.asarray(ref.points[k], np.float32).reshape(-1, 2)
            if ref.point_labels is not None:
                pts = pts[np.asarray(ref.point_labels[k]).reshape(-1) > 0]
            if len(pts) == 0:
                raise ContractError(f"Reference object {ref.object_ids[k]}: no positive point")
            cx, cy = (int(v) for v in pts.mean(0))
            rx, ry = max(1, w // 40), max(1, h // 40)  # at least one pixel on images under 40 px
            m = _rect((h, w), cx - rx, cy - ry, cx + rx, cy + ry)
        else:
            import cv2

            m8 = np.zeros((h, w), np.uint8)
            thick = max(1, int(round(0.01 * min(h, w))))
            pts = np.round(np.asarray(ref.scribbles[k], np.float32).reshape(-1, 2)).astype(np.int32)
            cv2.polylines(m8, [pts], False, 1, thickness=thick)
            m = m8 > 0
        out.append(m)
    return np.stack(out), kind


def canvas_masks(masks: np.ndarray, tf: ImageTransform, device) -> torch.Tensor:
    """``K×H×W`` original-frame masks → ``K×Hp×Wp`` bool on the padded canvas (bilinear resize,
    foreground where > 0, as the official demo); a mask that vanishes keeps its nearest pixel."""
    t = torch.as_tensor(masks, device=device)
    small = tf.masks_to_resized(t) > 0
    out = torch.zeros((len(masks), *tf.padded_size), dtype=torch.bool, device=device)
    h, w = tf.resized_size
    out[:, :h, :w] = small
    for k in range(len(masks)):
        if not out[k].any() and t[k].any():
            ys, xs = torch.nonzero(t[k], as_tuple=True)
            sy, sx = tf.scale_xy[1], tf.scale_xy[0]
            out[k, min(int(ys.float().mean() * sy), h - 1), min(int(xs.float().mean() * sx), w - 1)] = True
    return out


@torch.no_grad()
def interactive(model, ctx: InferenceContext, frames: Frames, ref: Reference) -> ProcedureResult:
    """One mask per prompted object on the reference frame (other frames get nothing).

    Stats: ``objects`` segmented (prompts with at least one pixel), ``passes`` (network calls,
    ``OBJECT_CHUNK`` objects each)."""
    sizes = frames.sizes
    results = [Instances.empty(s) for s in sizes]
    f = ref.frame
    batch = model.preprocess(frames[f:f + 1], ctx)
    tf = batch.transforms[0]
    masks, mode = prompt_masks(ref, sizes[f])
    valid = [k for k in range(len(masks)) if masks[k].any()]
    if not valid:
        return ProcedureResult(results, {"objects": 0, "passes": 0})
    vm = canvas_masks(masks[valid], tf, model.device)
    text = model.class_prompt(Categories(("object",), (1,)), 1)
    by_ffn = ctx.settings.interactive_score == "ffn"
    feats = model.net.backbone(batch.images)
    scores, sel_masks, sel_boxes = [], [], []
    for c in range(0, len(valid), OBJECT_CHUNK):
        out = model.net.forward_visual(batch.images, vm[c:c + OBJECT_CHUNK], mode, text, feats)
        probs = (out.scores if by_ffn else out.logits)[..., 0].sigmoid()  # K×Q
        score, q = probs.max(1)
        ar = torch.arange(len(q), device=q.device)
        scores.append(score)
        sel_masks.append(out.masks[ar, q])
        sel_boxes.append(out.boxes[ar, q])
    ids = np.asarray(ref.object_ids, np.int64)[valid]
    results[f] = to_instances(tf, torch.cat(scores), torch.cat(sel_masks), torch.cat(sel_boxes), track_ids=ids)
    return ProcedureResult(results, {"objects": len(valid), "passes": len(scores)})
