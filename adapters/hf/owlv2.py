"""OWLv2 (Minderer et al., "Scaling Open-Vocabulary Object Detection", NeurIPS 2023, arXiv
2306.09683) from ``transformers``: open-vocabulary detection with one text query per category.

Pre-processing is the model's own ``Owlv2Processor`` (the image padded to a square at the
bottom/right, resized to the model's side; the CLIP tokenizer, 16 tokens); post-processing is
its image processor's ``post_process_object_detection`` (per box the best query and its sigmoid
score, ``cxcywh`` → ``xyxy``). OWLv2 predicts boxes relative to the *padded square*: the
post-processing scales them by the longer side of the original image, which puts them in
original-image pixels; they are then clipped to the image.

Each category is queried as ``query_template.format(name)`` ("a photo of a {}", the template of
the transformers examples). The official LVIS evaluation of the paper averages the text
embeddings of an ensemble of CLIP prompt templates instead; that is not reproduced, so numbers
may differ slightly from the paper's. ``max_detections`` keeps the best boxes per image (LVIS
allows 300; COCO scores the first 100).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from evalkit.types import Categories, Frames, Instances

from ..base import ProcedureResult
from .hf_common import HfAdapter, HfModel

__all__ = ["Owlv2Settings", "Owlv2Adapter", "build_adapter", "tiny_model"]


@dataclass(frozen=True)
class Owlv2Settings:
    """Settings of the OWLv2 detection procedure (option names = field names).

    Attributes:
        threshold: minimum score of a kept box (the processor's default is 0.1, a display
            value; AP evaluation keeps every box: 0.0).
        max_detections: boxes kept per image, best first (LVIS' limit, 300).
        query_template: the text query of a category name (``{}`` is the name).
    """

    threshold: float = 0.0
    max_detections: int = 300
    query_template: str = "a photo of a {}"


class Owlv2Adapter(HfAdapter):
    """OWLv2 behind ``predict`` (see the module docstring)."""

    family = "owlv2"
    family_name = "OWLv2"
    settings_cls = Owlv2Settings
    prompt_kinds = frozenset({"categories"})
    model_class_name = "Owlv2ForObjectDetection"
    processor_class_name = "Owlv2Processor"
    tiny_config = "owlv2"

    def procedures(self):
        return {"det": (predict_detection, Categories)}


@torch.no_grad()
def predict_detection(model: HfModel, ctx, frames: Frames, prompt: Categories) -> ProcedureResult:
    """Detection on each frame: ``(boxes xyxy, scores, labels = dataset category ids)``.

    Stats: ``frames`` (one network pass each); ``detections`` (boxes returned).
    """
    s: Owlv2Settings = ctx.settings
    queries = [s.query_template.format(n) for n in prompt.names]
    ids = np.asarray(prompt.ids, np.int64)
    out = []
    for image, (h, w) in zip(frames, frames.sizes):
        # truncation: a long name is cut at the tower's 16 tokens, as the official tokenizer does
        inputs = model.processor(text=[queries], images=[image], return_tensors="pt",
                                 truncation=True).to(model.device)
        outputs = model.net(**inputs)
        res = model.processor.image_processor.post_process_object_detection(
            outputs, threshold=s.threshold, target_sizes=[(h, w)])[0]
        scores = res["scores"].float().cpu()
        top = scores.topk(min(s.max_detections, len(scores))).indices
        boxes = res["boxes"].float().cpu()[top].clamp(min=0).minimum(torch.tensor([w, h, w, h]))
        out.append(Instances((h, w), boxes=boxes.numpy(), scores=scores[top].numpy(),
                             labels=ids[res["labels"].cpu()[top].numpy()]))
    return ProcedureResult(out, {"frames": len(out), "detections": sum(len(i.scores) for i in out)})


#: the cards' builder: the tiny random architecture (:func:`.tiny.owlv2`)
tiny_model = Owlv2Adapter.tiny_network


#: factory named by the OWLv2 cards
build_adapter = Owlv2Adapter.from_card
