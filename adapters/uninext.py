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
    ``task``: the task when :meth:`prepare` was not called; ``dataset``: dataset name for
    per-dataset sizes and rules (``ovis``, ``ytvos``...); ``tokenizer``: a ``vocab.txt`` file
    or a folder (default: the card's file); ``random_weights``: skip loading (tests, speed);
    ``overrides``: builder overrides (tiny test configurations); ``input_size``:
    ``(short_edge, max_size)`` for every task; ``num_queries``: fewer decoder queries;
    ``precision``: ``"fp32"`` (default) or ``"bf16"`` (as ``evalkit run --dtype bfloat16``:
    autocast on the device around the network, its official float32 islands kept in float32).

Procedure settings (thresholds, tracker parameters) are the official evaluation's, as data in
:mod:`.uninext_settings`; any of their fields is also an option (``init_score_thr=0.5``), an
unknown option is an error listing the valid ones, and :meth:`UninextAdapter.describe` records
the resolved settings of the task.

Input canvas: each frame is resized and padded as the official inference does, per backbone
(:attr:`evalkit.zoo.uninext.model.UNINEXT.size_divisibility`: R50 unpadded, ConvNeXt / ViT to a
multiple of 32) — the same rule on the image, video, SOT and VOS paths.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ContextManager

import torch

from evalkit.errors import EvalkitError
from evalkit.types import Categories, Expression, Frames, Prompt, Reference

from ._card_adapter import CardAdapter, CardModel

__all__ = ["UninextAdapter", "UninextModel", "build_adapter"]


@dataclass(frozen=True)
class UninextModel(CardModel):
    """UNINEXT as its procedures see it (``net``: :class:`evalkit.zoo.uninext.model.UNINEXT`).

    Attributes:
        run: ``fn(batch, prompt 1×L×C, prompt_mask 1×L, *, pooled, task) -> outputs`` — the
            network on one preprocessed frame, outputs in float32 (:meth:`UninextAdapter.run`).
        encode_categories: ``fn(names) -> (tokens 1×L×768, mask 1×L, token groups per name)``.
        encode_expression: ``fn(text) -> (tokens 1×L×768, mask 1×L)``.
        autocast: ``fn() -> context manager``, the precision scope of network calls.
    """

    run: Callable[..., dict]
    encode_categories: Callable[[tuple[str, ...]], tuple]
    encode_expression: Callable[[str], tuple]
    autocast: Callable[[], ContextManager]


class UninextAdapter(CardAdapter):
    """UNINEXT inference procedures (see the module docstring)."""

    family_name = "UNINEXT"

    def __init__(self, *, model_id: str, model, text_tokenizer, card, device: str = "cpu",
                 weights: str | None = None, **options: Any):
        from .uninext_settings import check_options

        check_options(options)
        super().__init__(model_id=model_id, model=model, text_tokenizer=text_tokenizer, card=card,
                         device=device, weights=weights, **options)
        kinds = {"categories", "expression"}
        if model.video:
            kinds.add("reference")
        self.prompt_kinds = frozenset(kinds)
        self._prompt_cache: dict = {}

    def bundle(self) -> UninextModel:
        return UninextModel(net=self.model, device=self.device, run=self.run,
                            encode_categories=self.encode_categories,
                            encode_expression=self.encode_expression, autocast=self.autocast)

    def procedures(self):
        from . import uninext_image, uninext_sot, uninext_video

        return {"det": (uninext_image.predict_categories, Categories),
                "inst-seg": (uninext_image.predict_categories, Categories),
                "rec": (uninext_image.predict_expression, Expression),
                "res": (uninext_image.predict_expression, Expression),
                "sot": (uninext_sot.predict_sot, Reference), "vos": (uninext_sot.predict_vos, Reference),
                "rvos": (uninext_video.predict_rvos, Expression),
                "mot": (uninext_video.predict_mot, Categories),
                "mots": (uninext_video.predict_mot, Categories),
                "vis": (uninext_video.predict_vis, Categories)}

    def _infer_task(self, frames: Frames, prompt: Prompt) -> str:
        if isinstance(prompt, Categories):
            if len(frames) == 1:
                return "inst-seg"
            raise EvalkitError("a category prompt on a video is ambiguous (mot, mots or vis): "
                               "call prepare(task) or build the adapter with task=...")
        if isinstance(prompt, Expression):
            return "res" if len(frames) == 1 else "rvos"
        return "vos" if prompt.masks is not None else "sot"

    # -- shared steps -----------------------------------------------------------------------
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
        """The precision context of network calls (option ``precision``, the per-adapter form of
        ``evalkit run --dtype``: the same autocast scope and float32 islands)."""
        from evalkit.precision import mixed_precision

        precision = self.options.get("precision", "fp32")
        if precision not in ("fp32", "bf16"):
            raise EvalkitError(f"UNINEXT option precision must be 'fp32' or 'bf16', got {precision!r}")
        return mixed_precision("bfloat16" if precision == "bf16" else "float32", self.device)

    def settings(self, task: str, dataset: str | None = None):
        """The procedure settings of ``task`` (:mod:`.uninext_settings`) with the options applied
        (the same on every dataset)."""
        from .uninext_settings import resolve

        return resolve(task, self.options)

    def use_iou_branch(self, task: str) -> bool:
        """``MODEL.USE_IOU_BRANCH`` of the task's evaluation (False for VIS / OVIS / MOT)."""
        return self.settings(task).use_iou_branch

    def describe(self) -> dict[str, Any]:
        from .uninext_settings import settings_record

        d = super().describe()
        d["settings"] = settings_record(self.task, self.options)
        return d

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
        tok = self.tokenize([text])
        with self.autocast():
            return self.model.encode_text(tok["input_ids"], tok["attention_mask"])


#: factory named by the UNINEXT model cards (``evalkit.adapters.uninext:build_adapter``)
build_adapter = UninextAdapter.from_card
