"""SAM 2 video (Ravi et al., "SAM 2: Segment Anything in Images and Videos", arXiv 2408.00714)
from ``transformers``: semi-supervised VOS, the reference masks given as prompts on the frame
each object first appears on, then propagated through the video by the memory model.

Everything goes through the model's own ``Sam2VideoProcessor``: ``init_video_session`` (frames
resized and normalised), ``add_inputs_to_inference_session`` (one mask prompt per object),
``Sam2VideoModel.propagate_in_video_iterator`` (streaming memory, frame by frame) and
``post_process_masks`` (logits → original-resolution masks; ``apply_non_overlapping_constraints``
gives each pixel to the object with the highest logit, as DAVIS needs one object per pixel).

In transformers 5 the SAM 2 image and video processors exist only with the torchvision backend;
without torchvision the adapter fails with one line saying so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from evalkit.errors import EvalkitError
from evalkit.types import Frames, Instances, Reference

from .hf_common import HfAdapter

__all__ = ["Sam2VideoSettings", "Sam2VideoAdapter", "build_adapter", "tiny_model"]


@dataclass(frozen=True)
class Sam2VideoSettings:
    """Settings of the SAM 2 VOS procedure (option names = field names).

    Attributes:
        mask_threshold: logit threshold of the output masks (``post_process_masks``: 0.0).
    """

    mask_threshold: float = 0.0


def _need_torchvision() -> None:
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        raise EvalkitError("SAM 2 video needs torchvision: transformers' Sam2VideoProcessor has no "
                           "other backend (pip install torchvision matching your torch)")


class Sam2VideoAdapter(HfAdapter):
    """SAM 2 video behind ``predict`` (see the module docstring)."""

    family_name = "SAM 2"
    settings_cls = Sam2VideoSettings
    prompt_kinds = frozenset({"reference"})

    @classmethod
    def model_class(cls):
        _need_torchvision()
        from transformers import Sam2VideoModel

        return Sam2VideoModel

    @classmethod
    def processor_class(cls):
        from transformers import Sam2VideoProcessor

        return Sam2VideoProcessor

    @classmethod
    def build_tiny(cls):
        _need_torchvision()
        from . import tiny

        return tiny.sam2_video()

    def procedures(self):
        return {"vos": (predict_vos, Reference)}


@torch.no_grad()
def predict_vos(adapter: Sam2VideoAdapter, ctx, frames: Frames, prompt: Reference) -> list[Instances]:
    """One :class:`Instances` per frame with the objects' masks (``track_ids`` = object ids)."""
    if prompt.masks is None:
        raise EvalkitError(f"SAM 2 VOS expects mask references (got {prompt.kind} prompts)")
    s: Sam2VideoSettings = ctx.settings
    proc, model = adapter.processor, adapter.model
    session = proc.init_video_session(video=list(frames), inference_device=adapter.device)
    starts = prompt.frames_of_objects or (prompt.frame,) * len(prompt.object_ids)
    for oid, mask, f in zip(prompt.object_ids, prompt.masks, starts):
        proc.add_inputs_to_inference_session(session, frame_idx=int(f), obj_ids=int(oid),
                                             input_masks=mask.astype(np.uint8))
    h, w = frames.sizes[0]
    out: list[Instances | None] = [None] * len(frames)
    for res in model.propagate_in_video_iterator(session, start_frame_idx=min(starts)):
        masks = proc.post_process_masks([res.pred_masks], original_sizes=[[h, w]], binarize=True,
                                        mask_threshold=s.mask_threshold,
                                        apply_non_overlapping_constraints=True)[0]
        ids = list(res.object_ids or session.obj_ids)
        masks = masks.reshape(len(ids), h, w).bool().cpu().numpy()
        out[res.frame_idx] = Instances((h, w), masks=masks, scores=np.ones(len(masks), np.float32),
                                       track_ids=np.asarray(ids, np.int64))
    empty = np.zeros((0, h, w), bool)
    return [o if o is not None else Instances((h, w), masks=empty, scores=np.zeros(0, np.float32),
                                              track_ids=np.zeros(0, np.int64)) for o in out]


def tiny_model(**_: Any):
    """The card's builder: the tiny random architecture (:func:`.tiny.sam2_video`)."""
    from . import tiny

    return tiny.sam2_video()[0]


#: factory named by the SAM 2 cards
build_adapter = Sam2VideoAdapter.from_card
