"""SAM 2 video (Ravi et al., "SAM 2: Segment Anything in Images and Videos", arXiv 2408.00714)
from ``transformers``: semi-supervised VOS, the reference masks given as prompts on the frame
each object first appears on, then propagated through the video by the memory model.

Everything goes through the model's own ``Sam2VideoProcessor``: ``init_video_session`` (frames
resized and normalised), ``add_inputs_to_inference_session`` (one mask prompt per object),
``Sam2VideoModel.propagate_in_video_iterator`` (streaming memory, frame by frame) and
``post_process_masks`` (logits → original-resolution logits); each pixel then goes to the object
with the highest logit (DAVIS needs one object per pixel). Objects whose reference mask is on a
later frame are propagated from that frame in a session of their own (see :func:`predict_vos`).

In transformers 5 the SAM 2 image and video processors exist only with the torchvision backend
(there is no PIL or ``use_fast=False`` variant); without torchvision the adapter fails with one
line naming the package and the pip command for the installed torch build.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from evalkit.errors import EvalkitError
from evalkit.types import Frames, Instances, Reference

from ..base import streamed
from .hf_common import HfAdapter, HfModel

__all__ = ["Sam2VideoSettings", "Sam2VideoAdapter", "build_adapter", "tiny_model", "torchvision_install_command"]


@dataclass(frozen=True)
class Sam2VideoSettings:
    """Settings of the SAM 2 VOS procedure (option names = field names).

    Attributes:
        mask_threshold: logit threshold of the output masks (``post_process_masks``: 0.0).
    """

    mask_threshold: float = 0.0


def torchvision_install_command() -> str:
    """The pip command that installs the torchvision build matching the installed torch: a
    local build tag (``2.5.1+cpu``, ``+cu124``) names its PyTorch wheel index; a plain version
    comes from PyPI."""
    variant = torch.__version__.partition("+")[2]
    index = f" --index-url https://download.pytorch.org/whl/{variant}" if variant else ""
    return f"pip install torchvision{index}"


def _need_torchvision() -> None:
    """Raise when torchvision is missing: transformers 5 has no PIL ("slow") image processor for
    SAM 2 and its ``Sam2ImageProcessor`` / ``Sam2VideoVideoProcessor`` exist only on the
    torchvision backend (``image_processing_sam2.py`` imports ``torchvision.ops`` at the top), so
    the failure is stated here once, with the command, instead of as a placeholder class error."""
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        raise EvalkitError(
            f"SAM 2 video needs torchvision: transformers' Sam2ImageProcessor and "
            f"Sam2VideoVideoProcessor have no other backend; install the build matching torch "
            f"{torch.__version__}: {torchvision_install_command()}")


class Sam2VideoAdapter(HfAdapter):
    """SAM 2 video behind ``predict`` (see the module docstring)."""

    family = "sam2"
    family_name = "SAM 2"
    settings_cls = Sam2VideoSettings
    prompt_kinds = frozenset({"reference"})
    model_class_name = "Sam2VideoModel"
    processor_class_name = "Sam2VideoProcessor"
    tiny_config = "sam2_video"

    @classmethod
    def check_backend(cls) -> None:
        _need_torchvision()

    def procedures(self):
        return {"vos": (predict_vos, Reference)}


@streamed
@torch.no_grad()
def predict_vos(model: HfModel, ctx, frames: Frames, prompt: Reference):
    """One :class:`Instances` per frame with the objects' masks (``track_ids`` = object ids),
    yielded frame by frame (a streamed :class:`~evalkit.adapters.base.ProcedureResult`).

    Objects are grouped by the frame their reference mask is on; each group is one inference
    session propagated from that frame (SAM 2's ``vos_inference.py`` propagates objects that
    appear later separately as well: the memory model cannot condition an object on frames
    before its first mask). All sessions advance together, so only the current frame's logits
    are held; each pixel goes to the object with the highest logit above ``mask_threshold``.

    Stats (once every frame has been taken): ``frames``; ``objects`` (reference objects
    prompted); ``sessions`` (inference sessions: one per first frame of an object).
    """
    if prompt.masks is None:
        raise EvalkitError(f"SAM 2 VOS expects mask references (got {prompt.kind} prompts)")
    s: Sam2VideoSettings = ctx.settings
    proc, net = model.processor, model.net
    starts = prompt.frames_of_objects or (prompt.frame,) * len(prompt.object_ids)
    groups: dict[int, list] = {}
    for oid, mask, f in zip(prompt.object_ids, prompt.masks, starts):
        groups.setdefault(int(f), []).append((int(oid), mask))
    video = list(frames)
    runs = []
    for start, objects in sorted(groups.items()):
        session = proc.init_video_session(video=video, inference_device=model.device)
        for oid, mask in objects:
            proc.add_inputs_to_inference_session(session, frame_idx=start, obj_ids=oid,
                                                 input_masks=mask.astype(np.uint8))
        runs.append((start, session, net.propagate_in_video_iterator(session, start_frame_idx=start)))
    h, w = frames.sizes[0]
    for t in range(len(video)):
        ids, logits = [], []
        for start, session, it in runs:
            if t < start:
                continue
            res = next(it)
            lg = proc.post_process_masks([res.pred_masks], original_sizes=[[h, w]], binarize=False)[0]
            ids += list(res.object_ids or session.obj_ids)
            logits.append(lg.reshape(-1, h, w).float().cpu())
        if not ids:
            yield Instances((h, w), masks=np.zeros((0, h, w), bool), scores=np.zeros(0, np.float32),
                            track_ids=np.zeros(0, np.int64))
            continue
        lg = torch.cat(logits)
        winner = lg.argmax(0)
        masks = (lg > s.mask_threshold) & (torch.arange(len(ids))[:, None, None] == winner)
        yield Instances((h, w), masks=masks.numpy(), scores=np.ones(len(ids), np.float32),
                        track_ids=np.asarray(ids, np.int64))
    return {"frames": len(video), "objects": len(prompt.object_ids), "sessions": len(runs)}


#: the cards' builder: the tiny random architecture (:func:`.tiny.sam2_video`)
tiny_model = Sam2VideoAdapter.tiny_network


#: factory named by the SAM 2 cards
build_adapter = Sam2VideoAdapter.from_card
