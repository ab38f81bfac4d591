"""Grounding DINO (Liu et al., ECCV 2024, arXiv 2303.05499) from ``transformers``: zero-shot
detection from the benchmark's category names, and REC from the expression.

| task | prompt | procedure |
|---|---|---|
| ``det`` | :class:`Categories` | caption ``"name . name . ... ."``, category scores from the token spans, top-``num_select`` |
| ``rec`` | :class:`Expression` | caption = the expression, top-1 box by its best token score |

Pre-processing is the model's own ``GroundingDinoProcessor`` (image resize/normalise/pad and the
BERT tokenizer); boxes come out of its ``post_process_grounded_object_detection`` (``cxcywh`` →
``xyxy`` in original-image pixels; the model's boxes are relative to the unpadded image).

Detection scores follow the official COCO evaluation (GroundingDINO ``demo/test_ap_on_coco.py``,
``PostProcessCocoGrounding``) rather than the processor's phrase extraction: each category's
tokens are found from its character span in the caption (``create_positive_map_from_span``), the
per-token sigmoid probabilities are averaged over those tokens (the positive map rows sum to 1),
and the ``num_select`` best (query, category) pairs over the image are kept — without a score
threshold (``box_threshold`` 0.0; the demo's 0.35 / text threshold 0.25 are for display). A text
threshold has no role there: labels come from the category spans, not from decoded phrases.
A caption longer than the text tower's ``max_text_len`` tokens (LVIS) is split into chunks of
whole categories, one forward pass each, and the candidates of all chunks compete for the top-k.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from evalkit.errors import EvalkitError
from evalkit.types import Categories, Expression, Frames, Instances

from ..base import ProcedureResult
from .hf_common import HfAdapter, HfModel

__all__ = ["GroundingDinoSettings", "GroundingDinoModel", "GroundingDinoAdapter", "build_adapter",
           "category_caption", "tiny_model"]


@dataclass(frozen=True)
class GroundingDinoSettings:
    """Settings of the Grounding DINO procedures (option names = field names).

    Attributes:
        box_threshold: minimum score of a kept detection (official COCO evaluation: none, 0.0).
        num_select: detections kept per image (``PostProcessCocoGrounding(num_select=300)``).
    """

    box_threshold: float = 0.0
    num_select: int = 300


def category_caption(names: tuple[str, ...]) -> tuple[str, list[tuple[int, int]]]:
    """The official detection caption ``"a . b . c ."`` (``" . ".join(names) + " ."``, lower
    case) and each name's ``[start, end)`` character span in it."""
    spans, pos = [], 0
    for n in names:
        n = n.lower()
        spans.append((pos, pos + len(n)))
        pos += len(n) + 3
    return " . ".join(n.lower() for n in names) + " .", spans


def _positive_map(encoding, spans: list[tuple[int, int]], length: int) -> torch.Tensor:
    """``C × length`` float rows: 1 on the tokens covering each span, normalised to sum 1
    (GroundingDINO ``create_positive_map_from_span``; a span whose tokens fell past the text
    length is an all-zero row)."""
    pos = torch.zeros(len(spans), length)
    for j, (a, b) in enumerate(spans):
        first, last = encoding.char_to_token(a), encoding.char_to_token(b - 1)
        if first is None or last is None or first >= length:
            continue
        pos[j, first:min(last, length - 1) + 1] = 1.0
    return pos / pos.sum(-1, keepdim=True).clamp(min=1e-6)


@dataclass(frozen=True)
class GroundingDinoModel(HfModel):
    """Grounding DINO as its procedures see it (:class:`.hf_common.HfModel` plus its steps).

    Attributes:
        run: ``fn(image H×W×3 uint8, caption) -> (outputs, input_ids 1×L)``
            (:meth:`GroundingDinoAdapter.run`).
        boxes: ``fn(outputs, input_ids, (h, w)) -> (Q×4 xyxy float32 boxes in original-image
            pixels, Q best-token scores)`` (:meth:`GroundingDinoAdapter.boxes`).
        caption_plan: ``fn(names) -> [(start, end, caption, positive map)]``, the category
            chunks that fit the text tower (:meth:`GroundingDinoAdapter.caption_plan`).
    """

    run: Callable[[np.ndarray, str], tuple]
    boxes: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    caption_plan: Callable[[tuple[str, ...]], list]


class GroundingDinoAdapter(HfAdapter):
    """Grounding DINO behind ``predict`` (see the module docstring)."""

    family = "grounding-dino"
    family_name = "Grounding DINO"
    settings_cls = GroundingDinoSettings
    prompt_kinds = frozenset({"categories", "expression"})
    model_class_name = "GroundingDinoForObjectDetection"
    processor_class_name = "GroundingDinoProcessor"
    tiny_config = "grounding_dino"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._plans: dict[tuple[str, ...], list] = {}

    def procedures(self):
        return {"det": (predict_detection, Categories), "rec": (predict_expression, Expression)}

    def bundle(self) -> GroundingDinoModel:
        return GroundingDinoModel(**self.bundle_parts(), run=self.run, boxes=self.boxes,
                                  caption_plan=self.caption_plan)

    @torch.no_grad()
    def run(self, image: np.ndarray, caption: str):
        """One frame and one caption through the processor and the network: ``(outputs,
        input_ids 1×L)``."""
        inputs = self.processor(images=[image], text=caption, return_tensors="pt").to(self.device)
        return self.model(**inputs), inputs["input_ids"]

    def boxes(self, outputs, input_ids, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Q × 4 xyxy boxes, Q best-token scores)`` of every query, boxes in original-image
        pixels clipped to the frame (the processor's post-processing with no threshold: one
        entry per query, in query order)."""
        res = self.processor.post_process_grounded_object_detection(
            outputs, input_ids, threshold=-1.0, text_threshold=0.0, target_sizes=[size])[0]
        h, w = size
        boxes = res["boxes"].float().cpu().clamp(min=0).minimum(torch.tensor([w, h, w, h]))
        return boxes, res["scores"].float().cpu()

    def caption_plan(self, names: tuple[str, ...]) -> list[tuple[int, int, str, torch.Tensor]]:
        """``[(start, end, caption, positive map C_chunk × max_text_len)]``: ``names`` split into
        chunks of whole categories whose captions fit the text tower's ``max_text_len`` tokens
        (one chunk when the whole caption fits). Cached per category list: a benchmark prompts
        every image with the same categories."""
        if names in self._plans:
            return self._plans[names]
        limit = int(self.model.config.max_text_len)
        plan, start = [], 0
        while start < len(names):
            end = start + 1
            while end < len(names) and self._tokens(names[start:end + 1]) <= limit:
                end += 1
            if self._tokens(names[start:end]) > limit:
                raise EvalkitError(f"Grounding DINO: the category name {names[start]!r} alone is longer "
                                   f"than the text tower's {limit} tokens")
            caption, spans = category_caption(names[start:end])
            plan.append((start, end, caption, _positive_map(self.processor.tokenizer(caption), spans, limit)))
            start = end
        self._plans = {names: plan}  # the last list only: memory stays bounded
        return plan

    def _tokens(self, names: tuple[str, ...]) -> int:
        return len(self.processor.tokenizer(category_caption(names)[0])["input_ids"])


def predict_detection(model: GroundingDinoModel, ctx, frames: Frames, prompt: Categories) -> ProcedureResult:
    """Detection on each frame of ``frames`` (see the module docstring for the scoring).

    Stats: ``frames``; ``passes`` (network passes: one per caption chunk and frame);
    ``detections`` (boxes returned).
    """
    s: GroundingDinoSettings = ctx.settings
    out, passes = [], 0
    for image, size in zip(frames, frames.sizes):
        boxes, scores, labels = [], [], []
        for a, b, caption, pos in model.caption_plan(prompt.names):
            outputs, input_ids = model.run(image, caption)
            passes += 1
            probs = outputs.logits[0].float().sigmoid().cpu()  # Q × max_text_len
            per_class = probs @ pos[:, :probs.shape[-1]].T  # Q × C_chunk: mean token probability of each category
            q = torch.arange(per_class.shape[0])[:, None].expand_as(per_class)
            boxes.append(model.boxes(outputs, input_ids, size)[0][q.flatten()])
            scores.append(per_class.flatten())
            labels.append((torch.arange(a, b)[None, :].expand_as(per_class)).flatten())
        boxes, scores, labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
        top = scores.topk(min(s.num_select, len(scores))).indices
        top = top[scores[top] >= s.box_threshold]
        ids = np.asarray(prompt.ids, np.int64)[labels[top].numpy()]
        out.append(Instances(size, boxes=boxes[top].numpy(), scores=scores[top].numpy(), labels=ids))
    return ProcedureResult(out, {"frames": len(out), "passes": passes,
                                 "detections": sum(len(i.scores) for i in out)})


def predict_expression(model: GroundingDinoModel, ctx, frames: Frames, prompt: Expression) -> ProcedureResult:
    """REC: the query whose best token probability is highest; its box (one per frame).

    Stats: ``frames``; ``passes`` (one per frame); ``detections`` (one per frame).
    """
    text = prompt.text.strip().lower()
    caption = text if text.endswith(".") else text + " ."  # the official captions end with a dot
    out = []
    for image, size in zip(frames, frames.sizes):
        boxes, scores = model.boxes(*model.run(image, caption), size)
        best = int(scores.argmax())
        out.append(Instances(size, boxes=boxes[best:best + 1].numpy(), scores=scores[best:best + 1].numpy()))
    return ProcedureResult(out, {"frames": len(out), "passes": len(out),
                                 "detections": sum(len(i.scores) for i in out)})


#: the cards' builder: the tiny random architecture (:func:`.tiny.grounding_dino`)
tiny_model = GroundingDinoAdapter.tiny_network
#: factory named by the Grounding DINO cards
build_adapter = GroundingDinoAdapter.from_card
