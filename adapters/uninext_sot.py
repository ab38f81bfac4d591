"""UNINEXT with annotation prompts: single-object tracking (a box) and semi-supervised VOS
(masks), following ``uninext_vid.py`` (SOT loop, ``inference_ytbvos_3f``).

Each target is represented by prompt tokens from two templates (:func:`make_template`): the one
given on its first frame and a "previous" one, refreshed from the model's own output —
SOT: every 200 frames when the score exceeds 0.7 (``SOT.ONLINE_UPDATE``); VOS: every frame when
the score reaches 0.7 (``SOT.INFERENCE_ON_3F``). The two token sets are concatenated. The
values are :class:`~.uninext_settings.SOTSettings` / :class:`~.uninext_settings.VOSSettings`.

Frame size: as every UNINEXT inference path, the frame is padded per the backbone's rule
(``UNINEXT.size_divisibility``; R50: not at all, so a DAVIS 480×854 frame stays 480×854).
The official VOS loop (``inference_ytbvos_3f``) zero-pads the annotation masks to a multiple
of 32 (``prepare_targets_test``: ``stride = 32``) while the R50 frame is not padded; the
template crop (``get_template_4c``) cuts image and mask with the frame's bounds, so only the
frame-sized part of the mask is ever read — here the mask is put on the frame's own canvas.
Frames are processed one at a time and yielded at once; per target only its template tokens are
kept, so memory is flat in the video length.
"""
from __future__ import annotations

from typing import Generator

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.errors import EvalkitError
from evalkit.types import Frames, Instances, Reference
from evalkit.zoo.ops import masks_to_boxes
from evalkit.zoo.uninext.prompt import crop_template

from .base import InferenceContext, streamed
from .trackers import merge_probabilities
from .uninext_image import to_rles
from .uninext_postprocess import boxes_to_original, mask_probabilities, prompt_scores

__all__ = ["make_template", "predict_sot", "predict_vos"]



@torch.no_grad()
def make_template(model, batch, box_xyxy: torch.Tensor, canvas_mask: torch.Tensor | None):
    """Prompt tokens of one target on a preprocessed frame.

    Args:
        batch: the frame's :class:`~evalkit.zoo.ops.ImageBatch`.
        box_xyxy: ``4`` box in resized-image pixels.
        canvas_mask: ``Hp×Wp`` float target mask on the padded canvas, or ``None`` (SOT: the box
            is filled).

    Returns:
        ``(tokens 1×N×768, mask 1×N bool)``.
    """
    cfg = model.net.cfg
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    tpl, pad = crop_template(batch.images[0], batch.padding_mask[0], (x1, y1, x2 - x1, y2 - y1),
                             canvas_mask, cfg.template_size, cfg.search_area_factor)
    with model.autocast():
        return model.net.encode_template(tpl[None], pad[None])


def _concat(a, b):
    return torch.cat([a[0], b[0]], 1), torch.cat([a[1], b[1]], 1)


@torch.no_grad()
def _track_once(model, batch, task, init, prev):
    """Top-1 query for a target: ``(score float, query index 1, network outputs)``; ``prev``
    ``None``: the first template alone (SOT without ``online_update``)."""
    tokens, mask = init if prev is None else _concat(init, prev)
    out = model.run(batch, tokens, mask, pooled=True, task=task)
    iou = None if out["iou"] is None else out["iou"][0]
    score, q = prompt_scores(out["logits"][0], iou).max(0, keepdim=True)
    return float(score), q, out


@streamed
def predict_sot(model, ctx: InferenceContext, frames: Frames,
                prompt: Reference) -> Generator[Instances, None, dict[str, int]]:
    """One box per frame from frame ``prompt.frame`` on (earlier frames: empty).

    Stats: ``frames`` tracked (after the given one), ``template_updates`` (times the previous
    template was refreshed)."""
    if prompt.boxes is None or len(prompt.boxes) != 1:
        raise EvalkitError("SOT expects a Reference with exactly one box (xyxy, original frame)")
    st = ctx.settings  # SOTSettings
    obj = np.asarray(prompt.object_ids[:1], np.int64)
    start = prompt.frame
    init = prev = None
    tracked = updates = 0
    for i, image in enumerate(frames):
        size = image.shape[:2]
        if i < start:
            yield Instances.empty(size)
            continue
        batch = model.preprocess([image], ctx)
        tf = batch.transforms[0]
        if i == start:
            box = torch.as_tensor(prompt.boxes[:1], dtype=torch.float32, device=batch.images.device)
            init = prev = make_template(model, batch, tf.boxes_to_resized(box)[0], None)
            h, w = size
            given = box[0].clone()
            given[0::2] = given[0::2].clamp(0, w)
            given[1::2] = given[1::2].clamp(0, h)
            yield Instances(size, given[None].cpu().numpy(), None, np.ones(1, np.float32), None, obj)
            continue
        score, q, out = _track_once(model, batch, ctx.task, init, prev if st.online_update else None)
        tracked += 1
        box = boxes_to_original(out["boxes"][0, q], tf)
        yield Instances(size, box.cpu().numpy(), None, np.asarray([score], np.float32), None, obj)
        if st.online_update and (i - start) % st.update_interval == 0 and score > st.update_thr:
            prev = make_template(model, batch, tf.boxes_to_resized(box)[0], None)
            updates += 1
    return {"frames": tracked, "template_updates": updates}


def _canvas_mask(mask: torch.Tensor, tf, canvas: tuple[int, int], mode: str) -> torch.Tensor:
    """Original-frame bool mask ``H×W`` → ``Hp×Wp`` float mask of the resized image on the
    canvas. ``mode``: ``nearest-exact`` for given masks (= PIL ``NEAREST``, how the official
    data pipeline resizes annotations), ``nearest`` for the model's own masks (the official
    template refresh uses ``F.interpolate``'s default)."""
    h, w = tf.resized_size
    m = F.interpolate(mask[None, None].float(), size=(h, w), mode=mode)[0, 0]
    out = m.new_zeros(canvas)
    out[:h, :w] = m
    return out


def _resized_box(canvas_mask: torch.Tensor) -> torch.Tensor | None:
    """Box ``[x1, y1, x2+1, y2+1]`` of a canvas mask (detectron2 ``BitMasks``), or None."""
    if not bool((canvas_mask > 0.5).any()):
        return None
    return masks_to_boxes(canvas_mask[None] > 0.5)[0]


@streamed
def predict_vos(model, ctx: InferenceContext, frames: Frames,
                prompt: Reference) -> Generator[Instances, None, dict[str, int]]:
    """Semi-supervised VOS: one mask per object per frame (exclusive, after soft aggregation),
    ``track_ids`` = object ids; an object is absent before the frame its mask is given on.

    Stats: ``frames`` run, ``objects`` started (given a non-empty mask), ``passes`` (network
    runs: one per started object per later frame), ``template_updates``."""
    if prompt.masks is None:
        raise EvalkitError("VOS expects a Reference with one mask per object (K×H×W, original frame)")
    ids = list(prompt.object_ids)
    starts = list(prompt.frames_of_objects or [prompt.frame] * len(ids))
    st = ctx.settings  # VOSSettings
    # SOT.INST_THR_VOS is applied on YouTube-VOS only (official ``dataset_name == "ytbvos18"``)
    blank = st.inst_thr_vos if (ctx.dataset or "").startswith(("ytvos", "youtube")) else None
    thr = st.update_thr
    templates: dict[int, list] = {}  # object id -> [init, prev]
    passes = updates = 0
    for i, image in enumerate(frames):
        size = image.shape[:2]
        batch = model.preprocess([image], ctx)
        tf, dev = batch.transforms[0], batch.images.device
        canvas = tuple(batch.images.shape[-2:])
        new = {}
        for k, (oid, s) in enumerate(zip(ids, starts)):
            if s != i:
                continue
            given = torch.as_tensor(prompt.masks[k], device=dev)
            if tuple(given.shape) != tuple(size):
                raise EvalkitError(f"VOS: mask of object {oid} is {tuple(given.shape)}, frame {i} is {size}")
            cm = _canvas_mask(given, tf, canvas, "nearest-exact")
            box = _resized_box(cm)
            if box is None:
                continue
            init = make_template(model, batch, box, cm)
            templates[oid] = [init, init]
            # the official code outputs the resized annotation, resized back (bilinear)
            h, w = tf.resized_size
            new[oid] = F.interpolate(cm[None, None, :h, :w], size=tuple(size), mode="bilinear",
                                     align_corners=False)[0, 0]
        active = list(templates)
        if not active:
            yield Instances(size, np.zeros((0, 4), np.float32), [], np.zeros(0, np.float32), None,
                            np.zeros(0, np.int64))
            continue
        probs, scores = [], []
        for oid in active:
            if oid in new:  # its given mask replaces the prediction on its first frame
                probs.append(new[oid])
                scores.append(1.0)
                continue
            score, q, out = _track_once(model, batch, ctx.task, *templates[oid])
            passes += 1
            p = mask_probabilities(model.net.decode_masks(out, 0, q), tf, "bilinear")[0]
            if blank is not None and score < blank:
                p = torch.zeros_like(p)
            probs.append(p)
            scores.append(score)
        # background Π(1 − p), argmax over [background, objects by id] (official merge)
        labels = torch.from_numpy(merge_probabilities(torch.stack(probs), active)).to(dev)
        masks = torch.stack([labels == oid for oid in active])
        boxes = torch.zeros((len(active), 4), device=dev)
        nonempty = masks.flatten(1).any(1)
        if nonempty.any():
            boxes[nonempty] = masks_to_boxes(masks[nonempty]).float()
        yield Instances(size, boxes.cpu().numpy(), to_rles(masks), np.asarray(scores, np.float32),
                        None, np.asarray(active, np.int64))
        for j, oid in enumerate(active):
            if oid in new or scores[j] < thr or not bool(nonempty[j]):
                continue
            # the official box is the original-frame box (x2 - x1, no +1) over the resize scale
            ob = masks_to_boxes(masks[j][None])[0].float()
            ob[2:] -= 1
            rb = tf.boxes_to_resized(ob[None])[0]
            templates[oid][1] = make_template(model, batch, rb, _canvas_mask(masks[j], tf, canvas, "nearest"))
            updates += 1
    return {"frames": len(frames), "objects": len(templates), "passes": passes, "template_updates": updates}
