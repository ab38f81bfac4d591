"""The UniRef++ adapter: one model behind ``predict(frames, prompt)`` for its four reference
tasks, with the official inference settings (``uniref/uniref.py``; models.md §2.3).

| task | prompt | procedure (module) |
|---|---|---|
| ``res`` | :class:`Expression` | language reference, top-1 query (:mod:`.uniref_image`) |
| ``fss`` | :class:`Reference` with ``support`` frames + masks | mask reference of the support(s), top-1 (:mod:`.uniref_image`) |
| ``rvos`` | :class:`Expression` | language on the first frame, then language + first- and previous-frame mask references, score threshold 0.3 (:mod:`.uniref_video`) |
| ``vos`` | :class:`Reference` masks | first-frame (given) + previous-frame (predicted) mask references per object, per-dataset threshold, soft aggregation (:mod:`.uniref_video`) |

Test-time sizes come from the model card (800/1333 for images, 480/1333 for videos). Videos are
processed frame by frame and yielded as they are done (masks as COCO RLE); an object keeps only
two references (first and previous frame), so memory does not grow with the video's length.

Factory options (besides ``model_id``, ``device``, ``weights``):
    ``task``: the task when :meth:`check` was not called; ``dataset``: dataset name for
    per-dataset rules (VOS score thresholds: ``ytvos``/``youtube-vos`` 0.4, ``davis`` 0.3,
    ``lvos`` 0.5, ``mose`` 0.4; Ref-DAVIS procedure for ``ref-davis``); ``score_threshold``:
    override the VOS / R-VOS score threshold; ``rvos_propagation``: use mask references in
    R-VOS (default: True except for Ref-DAVIS, as the official evaluation); ``tokenizer``: a ``vocab.txt`` file or a folder
    (default: the card's file); ``random_weights``: skip loading (tests, speed);
    ``overrides``: builder overrides (tiny test configurations); ``input_size``:
    ``(short_edge, max_size)`` for every task; ``num_queries``: fewer decoder queries;
    ``object_batch``: objects run together through fusion + transformer in VOS (default 8).
"""
from __future__ import annotations

import functools
from typing import Any, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.errors import EvalkitError, UnsupportedTaskError
from evalkit.types import Expression, Frames, Instances, Prompt, Reference

from .base import Adapter

__all__ = ["UnirefAdapter", "build_adapter"]


def _tokenizer(card, option: str | None):
    from pathlib import Path

    from transformers import BertTokenizerFast

    if option is None:
        from evalkit.hub import fetch_weights

        option = str(fetch_weights(card, name="bert-base-uncased-vocab.txt"))
    path = Path(option)
    if path.is_file():
        return BertTokenizerFast(vocab_file=str(path), do_lower_case=True)
    if path.is_dir():
        return BertTokenizerFast.from_pretrained(str(path))
    return BertTokenizerFast.from_pretrained(option)  # a hub id


def _load_model(card, weights: str | None, overrides: dict[str, Any], random_weights: bool):
    from evalkit.zoo.api import build_model
    from evalkit.zoo.uniref import load_uniref

    if random_weights:
        return build_model(card.id, **overrides).eval()
    from evalkit.hub import load_converted
    from evalkit.zoo.uniref.convert import CONVERTER_VERSION, convert_uniref

    args = {**dict(card.builder_args or {}), **overrides}
    with torch.device("meta"):
        expected = build_model(card.id, **overrides)
    state = load_converted(card.id, weights, lambda sd: convert_uniref(sd, expected)[0],
                           version=CONVERTER_VERSION)
    return load_uniref(state, **args)


class UnirefAdapter(Adapter):
    """UniRef++ inference procedures (see the module docstring)."""

    prompt_kinds = frozenset({"expression", "reference"})

    def __init__(self, *, model_id: str, model, text_tokenizer, card, device: str = "cpu",
                 weights: str | None = None, **options: Any):
        super().__init__(model_id=model_id, device=device, weights=weights, **options)
        self.card = card
        self.model = model.to(device).eval()
        self.model.text_encoder._tokenizer = text_tokenizer
        self.tasks = frozenset(card.tasks)
        self.task: str | None = options.get("task")
        self.dataset: str | None = options.get("dataset")
        self.num_queries: int | None = options.get("num_queries")

    # -- contract ---------------------------------------------------------------------------
    def check(self, task: str, prompt) -> None:
        super().check(task, prompt)
        self.task = task

    def predict(self, frames: Frames, prompt: Prompt) -> Iterable[Instances]:
        task = self.task or self._infer_task(frames, prompt)
        if task not in self.tasks:
            raise UnsupportedTaskError(f"model {self.model_id!r} does not support task {task!r} "
                                       f"(supported: {', '.join(sorted(self.tasks))})")
        from . import uniref_image, uniref_video

        handlers = {"res": uniref_image.predict_res, "fss": uniref_image.predict_fss,
                    "rvos": uniref_video.predict_rvos, "vos": uniref_video.predict_vos}
        expected = {"res": Expression, "fss": Reference, "rvos": Expression, "vos": Reference}[task]
        if not isinstance(prompt, expected):
            raise UnsupportedTaskError(f"task {task!r} of {self.model_id!r} expects a "
                                       f"{expected.__name__} prompt, got {type(prompt).__name__}")
        return handlers[task](self, task, frames, prompt)

    def _infer_task(self, frames: Frames, prompt: Prompt) -> str:
        if isinstance(prompt, Expression):
            return "res" if len(frames) == 1 else "rvos"
        if isinstance(prompt, Reference):
            return "fss" if prompt.support is not None else "vos"
        raise UnsupportedTaskError(f"model {self.model_id!r} does not accept {type(prompt).__name__} "
                                   f"prompts (accepted: expression, reference)")

    # -- shared steps -----------------------------------------------------------------------
    def input_size(self, task: str) -> tuple[int, int | None]:
        """``(short_edge, max_size)`` of ``task`` (card; option ``input_size``)."""
        if "input_size" in self.options:
            short, longest = self.options["input_size"]
            return int(short), (None if longest is None else int(longest))
        size = self.card.input_size(task, self.dataset)
        return int(size["min_size"]), size.get("max_size")

    def preprocess(self, images: list[np.ndarray], task: str):
        """``H×W×3`` uint8 frames → :class:`~evalkit.zoo.ops.ImageBatch` on the device (one
        canvas, padded to a multiple of 32)."""
        from evalkit.zoo.ops import preprocess

        short, longest = self.input_size(task)
        return preprocess(images, short_edge=short, max_size=longest,
                          size_divisibility=self.model.size_divisibility, device=self.device)

    @torch.no_grad()
    def features(self, batch):
        """Visual features of a preprocessed batch (:class:`~evalkit.zoo.uniref.model.VisualFeatures`)."""
        return self.model.features(batch.images, batch.padding_mask)

    @torch.no_grad()
    def run(self, vis, batch, *, language=None, mask=None) -> dict[str, Any]:
        """Fusion + transformer + heads on one frame (``vis`` batch 1) for a batch of references."""
        b = (language or mask).keys[0].shape[0]
        sizes = torch.tensor([batch.transforms[0].resized_size] * b, device=batch.images.device)
        return self.model(vis, sizes, language=language, mask=mask, num_queries=self.num_queries)

    @torch.no_grad()
    def mask_reference(self, vis, batch, masks: list[torch.Tensor], given: bool = False):
        """Mask references on the frame of ``vis`` from original-frame masks (``H×W`` bool each),
        resized to the resized image and zero-padded to the canvas (:func:`canvas_mask`):
        ``given`` masks (annotations) as the official data pipeline resizes them, predicted
        ones as its inference loop does."""
        canvas = tuple(batch.images.shape[-2:])
        mode = "nearest-exact" if given else "nearest"
        return self.model.encode_mask_reference(
            vis, torch.stack([canvas_mask(m, batch.transforms[0], canvas, mode) for m in masks]))

    @functools.lru_cache(maxsize=16)
    def encode_expression(self, text: str):
        """Language reference of an expression, cleaned as the official mappers (lower case,
        punctuation removed) and padded to ``context_len`` tokens."""
        from evalkit.zoo.uninext.prompt import clean_expression

        with torch.no_grad():
            tok = self.model.text_encoder.tokenize([clean_expression(text)], device=self.device)
            return self.model.encode_text(tok["input_ids"], tok["attention_mask"])

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"] = {k: v for k, v in self.options.items() if k != "overrides"}
        return d


def canvas_mask(mask: torch.Tensor, tf, canvas: tuple[int, int], mode: str = "nearest") -> torch.Tensor:
    """Original-frame mask ``H×W`` → ``Hp×Wp`` float mask of the resized image on the canvas
    (zero padding). ``mode``: ``nearest-exact`` samples pixel centres like PIL's NEAREST, which
    detectron2 uses to resize annotation masks with their image; ``nearest`` (torch's legacy
    rule) is what the official inference loops use on predicted masks."""
    h, w = tf.resized_size
    m = F.interpolate(mask[None, None].float(), size=(h, w), mode=mode)[0, 0]
    out = m.new_zeros(canvas)
    out[:h, :w] = m
    return out


def build_adapter(*, model_id: str, device: str = "cpu", weights: str | None = None,
                  **options: Any) -> UnirefAdapter:
    """Factory named by the UniRef++ model cards (``evalkit.adapters.uniref:build_adapter``)."""
    from evalkit.zoo.cards import get_card

    card = get_card(model_id)
    if card.family != "uniref":
        raise EvalkitError(f"model {model_id!r} is not a UniRef++ model (family {card.family!r})")
    overrides = dict(options.get("overrides") or {})
    model = _load_model(card, weights, overrides, bool(options.get("random_weights", False)))
    tokenizer = _tokenizer(card, options.get("tokenizer"))
    adapter = UnirefAdapter(model_id=model_id, model=model, text_tokenizer=tokenizer, card=card,
                            device=device, weights=weights, **options)
    if not options.get("random_weights"):
        from evalkit.hub import weights_sha256

        adapter.weights_sha256 = weights_sha256(card, weights)
    return adapter
