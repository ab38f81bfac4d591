"""UniRef++ video tasks: referring VOS (``rvos``) and semi-supervised VOS (``vos``), online and
frame by frame (official ``inference_rvos_vl``, ``inference_rvos``, ``inference_vos_3f``).

Each frame goes once through the backbone; the references are the only state carried between
frames — per target the first-frame and the previous-frame mask references — so memory is
constant over the video's length (the paper's point against memory-bank VOS methods).

* R-VOS (Ref-YouTube-VOS): the expression alone until a frame has a confident prediction
  (score > 0.3; else an empty mask); from then on the expression together with the mask
  references of that first predicted frame and of the latest frame with a non-empty mask.
  Masks: ``sigmoid`` of the ×4 bilinear stride-4 logits, cropped, bilinear-resized to the
  original frame, > 0.5. Ref-DAVIS is evaluated officially with the expression alone on every
  frame and no score threshold (``rvos_propagation=False``, the default for ``ref-davis``).
* VOS: each object is segmented with its given first mask and its previous prediction as
  references (top-1 query; stride-1 masks; probabilities zeroed below the dataset's score
  threshold), objects are merged by soft aggregation (background = Π(1 − p), argmax), and an
  object's previous-frame reference is re-encoded from its merged mask when non-empty. An
  object given on a later frame (YouTube-VOS) starts there, its given mask standing for the
  prediction on that frame.
"""
from __future__ import annotations

from typing import Generator

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.errors import EvalkitError
from evalkit.types import Expression, Frames, Instances, Reference
from evalkit.zoo.ops import masks_to_boxes
from evalkit.zoo.uniref.fusion import ReferenceFeatures

from .trackers.vos import merge_probabilities
from .base import InferenceContext, streamed
from .uniref import canvas_mask
from .uninext_image import to_rles
from .uninext_postprocess import boxes_to_original, mask_probabilities

__all__ = ["predict_rvos", "predict_vos"]

_MASK_THRESHOLD = 0.5


def _top1(out: dict, b: int) -> tuple[float, torch.Tensor]:
    score, q = out["logits"][b].sigmoid().max(0, keepdim=True)
    return float(score), q


# -- R-VOS -------------------------------------------------------------------------------------
@streamed
def predict_rvos(model, ctx: InferenceContext, frames: Frames,
                 prompt: Expression) -> Generator[Instances, None, dict[str, int]]:
    """Referring VOS of one expression: one instance per frame (``track_ids`` = 1; its mask
    may be empty), see the module docstring.

    Stats: ``frames`` run, ``empty_masks`` (frames below the score threshold or with an empty
    mask), ``reference_updates`` (frames whose mask became the previous-frame reference)."""
    language = model.encode_expression(prompt.text)
    st = ctx.settings
    propagate, thr = st.rvos_propagation, st.score_thres
    init: ReferenceFeatures | None = None
    prev: ReferenceFeatures | None = None
    empty = updates = 0
    for image in frames:
        batch = model.preprocess([image], ctx)
        tf = batch.transforms[0]
        vis = model.features(batch)
        refs = None if init is None else ReferenceFeatures.concat([init, prev])
        out = model.run(vis, batch, language=language, mask=refs)
        score, q = _top1(out, 0)
        box = boxes_to_original(out["boxes"][0, q], tf)
        if thr is None or score > thr:
            with torch.no_grad():
                logits = model.net.decode_masks(out, 0, q)
            mask = mask_probabilities(logits, tf, "bilinear")[0] > _MASK_THRESHOLD
        else:
            mask = torch.zeros(tf.original_size, dtype=torch.bool, device=box.device)
        found = bool(mask.any())
        empty += int(not found)
        if propagate and found:
            ref = model.mask_reference(vis, batch, [mask])
            init, prev = (ref, ref) if init is None else (init, ref)
            updates += 1
        yield Instances(tf.original_size, box.cpu().numpy(), to_rles(mask[None]),
                        np.asarray([score], np.float32), None, np.ones(1, np.int64))
    return {"frames": len(frames), "empty_masks": empty, "reference_updates": updates}


# -- VOS ---------------------------------------------------------------------------------------
def _segment_objects(model, vis, batch, refs: list[ReferenceFeatures], thr: float, step: int
                     ) -> tuple[list[torch.Tensor], list[float]]:
    """Top-1 mask probability (original frame, zero below ``thr``) and score of each object,
    ``step`` objects per network call."""
    tf = batch.transforms[0]
    h, w = tf.resized_size
    probs, scores = [], []
    i = 0
    while i < len(refs):
        group = refs[i:i + step]
        ref = ReferenceFeatures.stack(group)
        if ref is None:  # frames of different sizes: one object at a time
            group, ref = group[:1], group[0]
        out = model.run(vis, batch, mask=ref)
        for b in range(len(group)):
            score, q = _top1(out, b)
            if score > thr:
                with torch.no_grad():
                    logits = model.net.decode_masks(out, b, q, model.net.cfg.mask_out_stride_vos)
                p = logits.sigmoid()[:, :h, :w]
                p = F.interpolate(p[None], size=tf.original_size, mode="bilinear", align_corners=False)[0, 0]
            else:
                p = torch.zeros(tf.original_size, device=batch.images.device)
            probs.append(p)
            scores.append(score)
        i += len(group)
    return probs, scores


@streamed
def predict_vos(model, ctx: InferenceContext, frames: Frames,
                prompt: Reference) -> Generator[Instances, None, dict[str, int]]:
    """Semi-supervised VOS: per frame one mask per active object (exclusive after soft
    aggregation), ``track_ids`` = object ids; an object is absent before its given frame.

    Stats: ``frames`` run, ``objects`` started, ``segmented`` (object-frames segmented by the
    network, the given frames excluded), ``reference_updates`` (previous-frame references
    refreshed)."""
    if prompt.masks is None:
        raise EvalkitError("VOS expects a Reference with one mask per object (K x H x W, original frame)")
    ids = list(prompt.object_ids)
    starts = list(prompt.frames_of_objects or [prompt.frame] * len(ids))
    st = ctx.settings
    thr = st.score_thres
    init: dict[int, ReferenceFeatures] = {}
    prev: dict[int, ReferenceFeatures] = {}
    segmented = updates = 0
    for i, image in enumerate(frames):
        size = tuple(image.shape[:2])
        batch = model.preprocess([image], ctx)
        tf, dev = batch.transforms[0], batch.images.device
        vis = model.features(batch)
        new: dict[int, torch.Tensor] = {}
        for k, (oid, s) in enumerate(zip(ids, starts)):
            if s != i:
                continue
            given = torch.as_tensor(prompt.masks[k], device=dev)
            if tuple(given.shape) != size:
                raise EvalkitError(f"VOS: mask of object {oid} is {tuple(given.shape)}, frame {i} is {size}")
            new[oid] = given
        if new:
            refs = model.mask_reference(vis, batch, list(new.values()), given=True).split()
            for oid, ref in zip(new, refs):
                init[oid] = prev[oid] = ref
        active = sorted(init)
        if not active:
            yield Instances(size, np.zeros((0, 4), np.float32), [], np.zeros(0, np.float32), None,
                            np.zeros(0, np.int64))
            continue
        tracked = [oid for oid in active if oid not in new]
        probs_t, scores_t = _segment_objects(
            model, vis, batch, [ReferenceFeatures.concat([init[o], prev[o]]) for o in tracked], thr,
            st.object_batch)
        segmented += len(tracked)
        by_id = dict(zip(tracked, zip(probs_t, scores_t)))
        h, w = tf.resized_size
        canvas = tuple(batch.images.shape[-2:])
        for oid, given in new.items():
            # the given mask stands for the prediction, through the network's resolution as officially
            cm = canvas_mask(given, tf, canvas, "nearest-exact")[:h, :w]
            p = F.interpolate(cm[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
            by_id[oid] = (p, 1.0)
        labels = torch.from_numpy(merge_probabilities(torch.stack([by_id[o][0] for o in active]),
                                                      active)).to(dev)
        masks = torch.stack([labels == oid for oid in active])
        boxes = torch.zeros((len(active), 4), device=dev)
        nonempty = masks.flatten(1).any(1)
        if bool(nonempty.any()):
            boxes[nonempty] = masks_to_boxes(masks[nonempty]).float()
        yield Instances(size, boxes.cpu().numpy(), to_rles(masks),
                        np.asarray([by_id[o][1] for o in active], np.float32), None,
                        np.asarray(active, np.int64))
        update = [j for j, oid in enumerate(active) if oid not in new and bool(nonempty[j])]
        if update:
            refs = model.mask_reference(vis, batch, [masks[j] for j in update]).split()
            for j, ref in zip(update, refs):
                prev[active[j]] = ref
            updates += len(update)
    return {"frames": len(frames), "objects": len(init), "segmented": segmented, "reference_updates": updates}
