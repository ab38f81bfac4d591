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
    ``task``: the task when :meth:`prepare` was not called; ``dataset``: dataset name for
    per-dataset rules (VOS score thresholds: ``ytvos``/``youtube-vos`` 0.4, ``davis`` 0.3,
    ``lvos`` 0.5, ``mose`` 0.4; Ref-DAVIS procedure for ``ref-davis``); the procedure settings
    of :mod:`.uniref_settings` (``score_thres``: the VOS / R-VOS score threshold;
    ``rvos_propagation``: use mask references in R-VOS, default True except for Ref-DAVIS, as
    the official evaluation; ``object_batch``); ``tokenizer``: a ``vocab.txt`` file or a folder
    (default: the card's file); ``random_weights``: skip loading (tests, speed);
    ``overrides``: builder overrides (tiny test configurations); ``input_size``:
    ``(short_edge, max_size)`` or the short edge for every task (:mod:`.options`);
    ``num_queries``: fewer decoder queries. An unknown option is an error listing the valid ones.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

from evalkit.errors import UnsupportedTaskError
from evalkit.types import Expression, Frames, Prompt, Reference

from ._card_adapter import CardAdapter, CardModel

__all__ = ["UnirefAdapter", "UnirefModel", "build_adapter"]


@dataclass(frozen=True)
class UnirefModel(CardModel):
    """UniRef++ as its procedures see it (``net``: :class:`evalkit.zoo.uniref.model.UniRef`).

    Attributes:
        features: ``fn(batch) -> VisualFeatures`` of a preprocessed batch (backbone + encoder).
        run: ``fn(vis, batch, *, language=None, mask=None) -> outputs`` — fusion, transformer
            and heads on one frame for a batch of references (:meth:`UnirefAdapter.run`).
        mask_reference: ``fn(vis, batch, masks, given=False) -> ReferenceFeatures`` of
            original-frame masks (``H×W`` bool each).
        encode_expression: ``fn(text) -> language reference`` (cleaned, cached).
    """

    features: Callable
    run: Callable[..., dict]
    mask_reference: Callable
    encode_expression: Callable


class UnirefAdapter(CardAdapter):
    """UniRef++ inference procedures (see the module docstring)."""

    prompt_kinds = frozenset({"expression", "reference"})
    family = "uniref"
    family_name = "UniRef++"

    def __init__(self, *, model_id: str, model, text_tokenizer, card, device: str = "cpu",
                 weights: str | None = None, **options: Any):
        from .uniref_settings import check_options

        check_options(options)
        super().__init__(model_id=model_id, model=model, text_tokenizer=text_tokenizer, card=card,
                         device=device, weights=weights, **options)

    def settings(self, task: str, dataset: str | None = None):
        """The procedure settings of ``task`` on ``dataset`` (default the adapter's;
        :mod:`.uniref_settings`), the options applied; ``None`` for the image tasks."""
        from .uniref_settings import resolve

        return resolve(task, dataset or self.dataset, self.options)

    def describe(self) -> dict[str, Any]:
        """Adds the resolved settings of the task (score threshold, R-VOS propagation) for run.json."""
        from .uniref_settings import settings_record

        d = super().describe()
        d["settings"] = settings_record(self.task, self.dataset, self.options)
        return d

    def bundle(self) -> UnirefModel:
        return UnirefModel(net=self.model, device=self.device, features=self.features, run=self.run,
                           mask_reference=self.mask_reference, encode_expression=self.encode_expression)

    def procedures(self):
        from . import uniref_image, uniref_video

        return {"res": (uniref_image.predict_res, Expression), "fss": (uniref_image.predict_fss, Reference),
                "rvos": (uniref_video.predict_rvos, Expression), "vos": (uniref_video.predict_vos, Reference)}

    def _infer_task(self, frames: Frames, prompt: Prompt) -> str:
        if isinstance(prompt, Expression):
            return "res" if len(frames) == 1 else "rvos"
        if isinstance(prompt, Reference):
            return "fss" if prompt.support is not None else "vos"
        raise UnsupportedTaskError(f"model {self.model_id!r} does not accept {type(prompt).__name__} "
                                   f"prompts (accepted: expression, reference)")

    # -- shared steps -----------------------------------------------------------------------
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
            tok = self.tokenize([clean_expression(text)])
            return self.model.encode_text(tok["input_ids"], tok["attention_mask"])


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


#: factory named by the UniRef++ model cards (``evalkit.adapters.uniref:build_adapter``)
build_adapter = UnirefAdapter.from_card
