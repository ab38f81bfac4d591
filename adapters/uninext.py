"""The UNINEXT adapter: one model behind ``predict(frames, prompt)`` for all its tasks, with the
official inference settings (``uninext_img.py`` / ``uninext_vid.py``; models.md §2.1).

| task | prompt | procedure (module) |
|---|---|---|
| ``det`` / ``inst-seg`` | :class:`Categories` | class-aware NMS 0.7, top-100 (:mod:`.uninext_image`) |
| ``rec`` / ``res`` | :class:`Expression` | top-1 (:mod:`.uninext_image`) |
| ``sot`` | :class:`Reference` box | top-1 box, template update every 200 frames if score > 0.7 (:mod:`.uninext_sot`) |
| ``vos`` | :class:`Reference` masks | first + previous templates, a pass per object, merge (:mod:`.uninext_sot`) |
| ``rvos`` | :class:`Expression` | top-1 per frame (:mod:`.uninext_video`) |
| ``mot`` / ``mots`` | :class:`Categories` | quasi-dense bi-softmax tracker (:mod:`.uninext_video`) |
| ``vis`` | :class:`Categories` | IDOL tracker, video-level scores (:mod:`.uninext_video`) |

Test-time sizes per task (and dataset) come from the model card. Videos are processed frame by
frame and yielded as they are done (masks as COCO RLE), so memory does not grow with length.

Factory options (besides ``model_id``, ``device``, ``weights``):
    ``task``: the task when :meth:`check` was not called; ``dataset``: dataset name for
    per-dataset sizes and rules (``ovis``, ``ytvos``...); ``tokenizer``: a ``vocab.txt`` file
    or a folder (default: the card's file); ``random_weights``: skip loading (tests, speed);
    ``overrides``: builder overrides (tiny test configurations); ``input_size``:
    ``(short_edge, max_size)`` for every task; ``num_queries``: fewer decoder queries;
    ``precision``: ``"fp32"`` (default) or ``"bf16"`` (autocast on the device; the deformable
    attention then runs its Triton kernels in bf16 on CUDA).
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import torch

from evalkit.errors import EvalkitError, UnsupportedTaskError
from evalkit.types import Categories, Expression, Frames, Instances, Prompt, Reference

from .base import Adapter

__all__ = ["UninextAdapter", "build_adapter"]


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
    from evalkit.zoo.uninext import load_uninext

    if random_weights:
        return build_model(card.id, **overrides).eval()
    from evalkit.hub import load_converted
    from evalkit.zoo.uninext.convert import CONVERTER_VERSION, convert_uninext

    args = {**dict(card.builder_args or {}), **overrides}
    with torch.device("meta"):
        expected = build_model(card.id, **overrides)
    state = load_converted(card.id, weights, lambda sd: convert_uninext(sd, expected)[0],
                           version=CONVERTER_VERSION)
    return load_uninext(state, **args)


class UninextAdapter(Adapter):
    """UNINEXT inference procedures (see the module docstring)."""

    def __init__(self, *, model_id: str, model, text_tokenizer, card, device: str = "cpu",
                 weights: str | None = None, **options: Any):
        super().__init__(model_id=model_id, device=device, weights=weights, **options)
        self.card = card
        self.model = model.to(device).eval()
        # the text encoder loads its tokenizer lazily by name; hand it the resolved one
        self.model.text_encoder._tokenizer = text_tokenizer
        self.tokenizer = text_tokenizer
        self.tasks = frozenset(card.tasks)
        kinds = {"categories", "expression"}
        if model.video:
            kinds.add("reference")
        self.prompt_kinds = frozenset(kinds)
        self.task: str | None = options.get("task")
        self.dataset: str | None = options.get("dataset")
        self.num_queries: int | None = options.get("num_queries")
        self._prompt_cache: dict = {}

    # -- contract ---------------------------------------------------------------------------
    def check(self, task: str, prompt) -> None:
        super().check(task, prompt)
        self.task = task

    def predict(self, frames: Frames, prompt: Prompt) -> Iterable[Instances]:
        task = self.task or self._infer_task(frames, prompt)
        if task not in self.tasks:
            raise UnsupportedTaskError(f"model {self.model_id!r} does not support task {task!r} "
                                       f"(supported: {', '.join(sorted(self.tasks))})")
        from . import uninext_image, uninext_sot, uninext_video

        handlers = {"det": uninext_image.predict_categories, "inst-seg": uninext_image.predict_categories,
                    "rec": uninext_image.predict_expression, "res": uninext_image.predict_expression,
                    "sot": uninext_sot.predict_sot, "vos": uninext_sot.predict_vos,
                    "rvos": uninext_video.predict_rvos, "mot": uninext_video.predict_mot,
                    "mots": uninext_video.predict_mot, "vis": uninext_video.predict_vis}
        expected = {"det": Categories, "inst-seg": Categories, "rec": Expression, "res": Expression,
                    "sot": Reference, "vos": Reference, "rvos": Expression, "mot": Categories,
                    "mots": Categories, "vis": Categories}[task]
        if not isinstance(prompt, expected):
            raise UnsupportedTaskError(f"task {task!r} of {self.model_id!r} expects a "
                                       f"{expected.__name__} prompt, got {type(prompt).__name__}")
        return handlers[task](self, task, frames, prompt)

    def _infer_task(self, frames: Frames, prompt: Prompt) -> str:
        if isinstance(prompt, Categories):
            if len(frames) == 1:
                return "inst-seg"
            raise EvalkitError("a category prompt on a video is ambiguous (mot, mots or vis): "
                               "call check(task, prompt) or build the adapter with task=...")
        if isinstance(prompt, Expression):
            return "res" if len(frames) == 1 else "rvos"
        return "vos" if prompt.masks is not None else "sot"

    # -- shared steps -----------------------------------------------------------------------
    def input_size(self, task: str) -> tuple[int, int | None]:
        """``(short_edge, max_size)`` of ``task`` (card, per dataset; option ``input_size``)."""
        if "input_size" in self.options:
            short, longest = self.options["input_size"]
            return int(short), (None if longest is None else int(longest))
        size = self.card.input_size(task, self.dataset)
        return int(size["min_size"]), size.get("max_size")

    def preprocess(self, image: np.ndarray, task: str):
        """One ``H×W×3`` uint8 frame → :class:`~evalkit.zoo.ops.ImageBatch` on the device."""
        from evalkit.zoo.ops import preprocess

        short, longest = self.input_size(task)
        return preprocess([image], short_edge=short, max_size=longest,
                          size_divisibility=self.model.size_divisibility, device=self.device)

    @torch.no_grad()
    def run(self, batch, prompt: torch.Tensor, prompt_mask: torch.Tensor, *, pooled: bool,
            task: str) -> dict[str, Any]:
        """The network on one preprocessed frame with one prompt (masks decoded on demand; the
        mask branch is skipped for box-only tasks)."""
        sizes = torch.tensor([t.resized_size for t in batch.transforms], device=batch.images.device)
        with self.autocast():
            out = self.model(batch.images, batch.padding_mask, prompt, prompt_mask, sizes,
                             pooled=pooled, compute_masks=False, num_queries=self.num_queries,
                             mask_fusion=task not in ("sot", "vos"),
                             with_masks=task not in ("det", "rec", "sot", "mot"))
        # post-processing runs in float32 whatever precision the network ran in
        for k in ("logits", "boxes", "iou", "embeddings"):
            if k in out:
                out[k] = out[k].float()
        out["iou"] = out["iou"] if self.use_iou_branch(task) else None
        return out

    def autocast(self):
        """The precision context of network calls (option ``precision``)."""
        precision = self.options.get("precision", "fp32")
        if precision not in ("fp32", "bf16"):
            raise EvalkitError(f"UNINEXT option precision must be 'fp32' or 'bf16', got {precision!r}")
        device_type = torch.device(self.device).type
        return torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16")

    def use_iou_branch(self, task: str) -> bool:
        """The official VIS / OVIS / MOT evaluations pass ``MODEL.USE_IOU_BRANCH False``."""
        return bool(self.options.get("use_iou_branch", task not in ("vis", "mot", "mots")))

    def encode_categories(self, names: tuple[str, ...]):
        """Category prompt: ``(tokens 1×L×768, mask 1×L, token groups per category)``; the last
        few are cached (a benchmark prompts every image with the same categories)."""
        from evalkit.zoo.uninext.prompt import category_caption, positive_map

        key = ("categories", tuple(names))
        if key not in self._prompt_cache:
            caption, spans = category_caption(names)
            groups = positive_map(self.tokenizer(caption), spans)
            limit = self.model.cfg.max_query_len  # tokens past the text length are truncated
            groups = [[t for t in g if t < limit] for g in groups]
            self._remember(key, (*self._encode_text(caption), groups))
        return self._prompt_cache[key]

    def encode_expression(self, text: str):
        """Expression prompt (cleaned as the official mapper): ``(1×L×768, 1×L)``."""
        from evalkit.zoo.uninext.prompt import clean_expression

        key = ("expression", text)
        if key not in self._prompt_cache:
            self._remember(key, self._encode_text(clean_expression(text)))
        return self._prompt_cache[key]

    def _remember(self, key, value, size: int = 8) -> None:
        if len(self._prompt_cache) >= size:
            self._prompt_cache.pop(next(iter(self._prompt_cache)))
        self._prompt_cache[key] = value

    @torch.no_grad()
    def _encode_text(self, text: str):
        tok = self.model.text_encoder.tokenize([text], device=self.device)
        with self.autocast():
            return self.model.encode_text(tok["input_ids"], tok["attention_mask"])

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"] = {k: v for k, v in self.options.items() if k != "overrides"}
        return d


def build_adapter(*, model_id: str, device: str = "cpu", weights: str | None = None,
                  **options: Any) -> UninextAdapter:
    """Factory named by the UNINEXT model cards (``evalkit.adapters.uninext:build_adapter``)."""
    from evalkit.zoo.cards import get_card

    card = get_card(model_id)
    overrides = dict(options.get("overrides") or {})
    model = _load_model(card, weights, overrides, bool(options.get("random_weights", False)))
    tokenizer = _tokenizer(card, options.get("tokenizer"))
    adapter = UninextAdapter(model_id=model_id, model=model, text_tokenizer=tokenizer, card=card,
                             device=device, weights=weights, **options)
    if not options.get("random_weights"):
        from evalkit.hub import weights_sha256

        adapter.weights_sha256 = weights_sha256(card, weights)
    return adapter
