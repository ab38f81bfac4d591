"""UniRef++ image tasks: referring image segmentation (``res``, expression prompt) and few-shot
segmentation (``fss``, support images with masks), one query image at a time.

Both follow the official ``UniRef.inference`` for a single target: the query with the highest
class-agnostic score (the official NMS 0.7 before top-k cannot remove the best one), its box
scaled to the original image and clipped, its mask ``sigmoid > 0.5`` on the stride-4 logits
upsampled ×4 to the canvas, cropped to the image and nearest-resized to the original size.
When the clipped box is empty detectron2's ``detector_postprocess`` drops the prediction; here
the instance is kept with an empty mask, which scores the same in the IoU metrics (nothing
predicted) and keeps one prediction per image for the results writers.
"""
from __future__ import annotations

from typing import Generator

import torch

from evalkit.errors import EvalkitError
from evalkit.types import Expression, Frames, Instances, Reference

from .base import InferenceContext, streamed
from .uninext_image import to_rles
from .uninext_postprocess import binary_masks, boxes_to_original

__all__ = ["predict_res", "predict_fss", "top1_instance"]


def top1_instance(model, out: dict, tf) -> Instances:
    """The best query of sample 0 of ``out`` as one instance in the original frame (box, mask,
    score); its mask is empty when its clipped box is (see the module docstring)."""
    scores = out["logits"][0].sigmoid()
    score, q = scores.max(0, keepdim=True)
    boxes = boxes_to_original(out["boxes"][0, q], tf)
    masks = binary_masks(model.net.decode_masks(out, 0, q), tf)
    if not bool(((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()):
        masks = torch.zeros_like(masks)
    return Instances(tf.original_size, boxes.cpu().numpy(), to_rles(masks), score.cpu().numpy())


@streamed
def predict_res(model, ctx: InferenceContext, frames: Frames,
                prompt: Expression) -> Generator[Instances, None, dict[str, int]]:
    """RES: the expression as a language reference on every frame.

    Stats: ``frames`` run."""
    language = model.encode_expression(prompt.text)
    for image in frames:
        batch = model.preprocess([image], ctx)
        out = model.run(model.features(batch), batch, language=language)
        yield top1_instance(model, out, batch.transforms[0])
    return {"frames": len(frames)}


def support_reference(model, ctx: InferenceContext, prompt: Reference):
    """The mask reference of all support images (official ``aggregate=True``): each support is
    resized like a query image, all share one padded canvas; their tokens are concatenated and
    their conditions averaged."""
    support = prompt.support
    if support is None or prompt.masks is None:
        raise EvalkitError("FSS expects a Reference with `support` frames and one mask per "
                           "support image (masks K x H x W in each support image's frame)")
    if len(prompt.masks) != len(support):
        raise EvalkitError(f"FSS: {len(prompt.masks)} support masks for {len(support)} support images")
    images = list(support)
    for k, (im, m) in enumerate(zip(images, prompt.masks)):
        if tuple(m.shape) != tuple(im.shape[:2]):
            raise EvalkitError(f"FSS: support mask {k} is {tuple(m.shape)}, its image "
                               f"{support.ids[k]!r} is {tuple(im.shape[:2])}")
    batch = model.preprocess(images, ctx)
    vis = model.features(batch)
    from .uniref import canvas_mask

    canvas = tuple(batch.images.shape[-2:])
    masks = torch.stack([canvas_mask(torch.as_tensor(m, device=batch.images.device), tf, canvas,
                                     "nearest-exact")
                         for m, tf in zip(prompt.masks, batch.transforms)])
    with torch.no_grad():
        return model.net.encode_mask_reference(vis, masks).merge_batch()


@streamed
def predict_fss(model, ctx: InferenceContext, frames: Frames,
                prompt: Reference) -> Generator[Instances, None, dict[str, int]]:
    """FSS (1-shot or k-shot): the supports' mask reference on every query frame.

    Stats: ``frames`` run (query frames), ``supports`` (the shots)."""
    reference = support_reference(model, ctx, prompt)
    for image in frames:
        batch = model.preprocess([image], ctx)
        out = model.run(model.features(batch), batch, mask=reference)
        yield top1_instance(model, out, batch.transforms[0])
    return {"frames": len(frames), "supports": len(prompt.support)}
