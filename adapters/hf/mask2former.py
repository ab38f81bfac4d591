"""Mask2Former (Cheng et al., CVPR 2022, arXiv 2112.01527) from ``transformers``: COCO-style
instance segmentation, and video instance segmentation by MinVIS query matching (Huang et al.,
NeurIPS 2022: an image model run frame by frame, its queries tracked by Hungarian matching of
their embeddings).

| task | prompt | procedure |
|---|---|---|
| ``inst-seg`` | :class:`Categories` | processor ``post_process_instance_segmentation`` (top-100 (query, class), score × mask score) |
| ``vis`` | :class:`Categories` | per-frame queries aligned by MinVIS matching, video class = mean softmax, top-10 |

The model is closed-vocabulary: its classes (``config.id2label``) are matched to the benchmark's
category names case-insensitively (:func:`.hf_common.category_lookup`); classes the benchmark
does not name are dropped.

Instance segmentation uses the model's own processor both ways. One care: its post-processing
first resizes the mask logits to 384 × 384 and then to the requested size, ignoring the padding
of the processed batch. The requested size is therefore the *padded canvas* scaled to the
original image, and the result is cropped to the image — the crop-then-resize of Mask2Former's
``sem_seg_postprocess``, up to interpolation.

VIS (MinVIS ``VideoMaskFormer_frame.post_processing`` / ``inference_video``): frame ``t``'s
queries are matched to frame ``t - 1``'s aligned queries on the cosine of the decoder's last
hidden states (``MinVISMatcher(history=1)``); the video class probabilities are the softmax of
the mean aligned class logits without the no-object column; the ``vis_topk`` best (query,
class) pairs become the video's instances, their masks the aligned per-frame mask logits
upsampled to the padded input, cropped to the resized image, resized to the original (``> 0``).
The per-frame processor is the same as for images; the video post-processing is MinVIS's (the
processor's instance post-processing works per image and does not keep query identities).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from evalkit.types import Categories, Frames, Instances, mask_to_rle

from ..base import ProcedureResult
from .hf_common import HfAdapter, HfModel, category_lookup

__all__ = ["Mask2FormerSettings", "Mask2FormerModel", "Mask2FormerAdapter", "build_adapter", "tiny_model"]


@dataclass(frozen=True)
class Mask2FormerSettings:
    """Settings of the Mask2Former procedures (option names = field names).

    Attributes:
        threshold: minimum score of an image instance (official ``instance_inference``: none,
            0.0; the processor's default 0.5 is a display value).
        vis_topk: (query, class) pairs kept per video (MinVIS ``inference_video``: 10).
    """

    threshold: float = 0.0
    vis_topk: int = 10


@dataclass(frozen=True)
class Mask2FormerModel(HfModel):
    """Mask2Former as its procedures see it (:class:`.hf_common.HfModel` plus its step).

    Attributes:
        run: ``fn(image H×W×3 uint8) -> (outputs, resized (h, w), padded (H_pad, W_pad))``
            (:meth:`Mask2FormerAdapter.run`).
    """

    run: Callable[[np.ndarray], tuple]

    def lookup(self, prompt: Categories) -> dict[int, int]:
        """Model class index → the prompt's category id (:func:`.hf_common.category_lookup`)."""
        return category_lookup(self.net.config.id2label, prompt.names, prompt.ids, self.model_id)


class Mask2FormerAdapter(HfAdapter):
    """Mask2Former behind ``predict`` (see the module docstring)."""

    family = "mask2former"
    family_name = "Mask2Former"
    settings_cls = Mask2FormerSettings
    prompt_kinds = frozenset({"categories"})
    model_class_name = "Mask2FormerForUniversalSegmentation"
    processor_class_name = "AutoImageProcessor"
    tiny_config = "mask2former"

    def procedures(self):
        return {"inst-seg": (predict_instances, Categories), "vis": (predict_video, Categories)}

    def bundle(self) -> Mask2FormerModel:
        return Mask2FormerModel(**self.bundle_parts(), run=self.run)

    @torch.no_grad()
    def run(self, image: np.ndarray):
        """One frame through the processor and the network: ``(outputs, resized (h, w), padded
        (H_pad, W_pad))`` (the resized size read from the processor's pixel mask)."""
        inputs = self.processor(images=[image], return_tensors="pt").to(self.device)
        mask = inputs["pixel_mask"][0]
        resized = (int(mask.any(1).sum()), int(mask.any(0).sum()))
        return self.model(**inputs), resized, tuple(inputs["pixel_values"].shape[-2:])


def _boxes(masks: torch.Tensor) -> np.ndarray:
    from evalkit.zoo.ops.boxes import masks_to_boxes

    return masks_to_boxes(masks).float().numpy()


def predict_instances(model: Mask2FormerModel, ctx, frames: Frames, prompt: Categories) -> ProcedureResult:
    """Instance segmentation of each frame: masks (original resolution), boxes of the masks,
    scores and dataset category ids.

    Stats: ``frames`` (one network pass each); ``detections`` (instances returned: those of a
    class the benchmark names).
    """
    s: Mask2FormerSettings = ctx.settings
    lut = model.lookup(prompt)
    out = []
    for image, (h, w) in zip(frames, frames.sizes):
        outputs, (rh, rw), (ph, pw) = model.run(image)
        canvas = (round(ph * h / rh), round(pw * w / rw))  # the padded canvas at original scale
        res = model.processor.post_process_instance_segmentation(
            outputs, threshold=s.threshold, target_sizes=[canvas], return_binary_maps=True)[0]
        keep = [i for i, seg in enumerate(res["segments_info"]) if seg["label_id"] in lut]
        if not keep:
            out.append(Instances((h, w), boxes=np.zeros((0, 4), np.float32),
                                 masks=np.zeros((0, h, w), bool), scores=np.zeros(0, np.float32),
                                 labels=np.zeros(0, np.int64)))
            continue
        masks = res["segmentation"][keep][:, :h, :w].bool().cpu()
        infos = [res["segments_info"][i] for i in keep]
        out.append(Instances((h, w), boxes=_boxes(masks), masks=masks.numpy(),
                             scores=np.array([i["score"] for i in infos], np.float32),
                             labels=np.array([lut[i["label_id"]] for i in infos], np.int64)))
    return ProcedureResult(out, {"frames": len(out), "detections": sum(len(i.scores) for i in out)})


def predict_video(model: Mask2FormerModel, ctx, frames: Frames, prompt: Categories) -> ProcedureResult:
    """MinVIS video instance segmentation (see the module docstring); masks as COCO RLE.

    Stats: ``frames`` (one network pass each); ``objects`` (video instances: the ``vis_topk``
    best (query, class) pairs, fewer when there are fewer pairs).
    """
    from ..trackers import MinVISMatcher, VideoInstance, resize_mask_logits, video_instances_to_frames

    s: Mask2FormerSettings = ctx.settings
    lut = model.lookup(prompt)
    matcher = MinVISMatcher(history=1)
    logits, masks, geometry = [], [], []
    for image in frames:
        outputs, resized, padded = model.run(image)
        perm = torch.from_numpy(matcher.step(outputs.transformer_decoder_last_hidden_state[0].float().cpu()))
        logits.append(outputs.class_queries_logits[0].float().cpu()[perm])
        masks.append(outputs.masks_queries_logits[0].float().cpu()[perm])
        geometry.append((resized, padded))
    probs = torch.stack(logits).mean(0).softmax(-1)[:, :-1]  # Q × C, no-object column dropped
    classes = torch.tensor(sorted(lut))
    probs = probs[:, classes]  # only the classes the benchmark names compete
    scores, flat = probs.flatten().topk(min(s.vis_topk, probs.numel()))
    queries, cols = flat // len(classes), flat % len(classes)
    instances = [VideoInstance(track_id=j, score=float(scores[j]), label=int(classes[cols[j]]),
                               masks=[], boxes=[]) for j in range(len(flat))]
    for m, ((resized, padded), size) in zip(masks, zip(geometry, frames.sizes)):
        frame_masks = resize_mask_logits(m[queries], padded, resized, size, threshold=0.0)
        boxes = _boxes(frame_masks)
        for j, inst in enumerate(instances):
            inst.masks.append(mask_to_rle(frame_masks[j].numpy()))
            inst.boxes.append(boxes[j])
    category_ids = [lut.get(c, -1) for c in range(max(lut) + 1)]
    return ProcedureResult(video_instances_to_frames(instances, len(frames), frames.sizes[0], category_ids),
                           {"frames": len(frames), "objects": len(instances)})


#: the cards' builder: the tiny random architecture (:func:`.tiny.mask2former`)
tiny_model = Mask2FormerAdapter.tiny_network


#: factory named by the Mask2Former cards
build_adapter = Mask2FormerAdapter.from_card
