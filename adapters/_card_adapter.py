"""The common part of the adapters of card-driven models with a BERT text encoder (UNINEXT,
UniRef++): test-time sizes, preprocessing and the model bundle the procedures receive; the
factory (card lookup, model build, weights fetch → convert → cache → strict load, tokenizer) is
the shared :meth:`~evalkit.adapters.factory.CardFactory.from_card`.

A family subclasses :class:`CardAdapter` (the network, its builder arguments and converter come
from the model card) and supplies its procedures (:meth:`~.base.ProcedureAdapter.procedures`),
its bundle
(:meth:`~.base.ProcedureAdapter.bundle`, a :class:`CardModel` subclass) and its task inference
for prompts without a task; its factory is ``build_adapter = Family.from_card``. A family with
another text tokenizer overrides :meth:`CardAdapter.load_tokenizer`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import InferenceContext, ProcedureAdapter
from .factory import CardFactory
from .options import input_size_option

__all__ = ["CardAdapter", "CardModel", "bert_tokenizer", "card_preprocess"]


def bert_tokenizer(card, option: str | None):
    """The WordPiece tokenizer of the text encoder: ``option`` is a ``vocab.txt`` file, a
    folder or a hub id; ``None`` fetches the card's ``bert-base-uncased-vocab.txt``."""
    from pathlib import Path

    from transformers import BertTokenizerFast

    if option is None:
        from evalkit.hub import fetch_weights

        option = str(fetch_weights(card, name="bert-base-uncased-vocab.txt"))
    path = Path(option)
    if path.is_file():
        import transformers

        # transformers 5 reads a word-piece vocabulary from ``vocab`` and silently ignores
        # ``vocab_file`` (every token would become [UNK]); 4.x takes ``vocab_file``
        key = "vocab" if int(transformers.__version__.split(".")[0]) >= 5 else "vocab_file"
        return BertTokenizerFast(**{key: str(path)}, do_lower_case=True)
    if path.is_dir():
        return BertTokenizerFast.from_pretrained(str(path))
    return BertTokenizerFast.from_pretrained(option)  # a hub id


def card_preprocess(images: list[np.ndarray], input_size: tuple[int, int | None], size_divisibility: int,
                    device: str):
    """``H×W×3`` uint8 frames → :class:`~evalkit.zoo.ops.ImageBatch` on ``device``.

    Every frame is resized (``ResizeShortestEdge`` of ``input_size`` = ``(short_edge,
    max_size)``), normalised and zero-padded right/bottom onto one canvas: the batch's largest
    resized frame, rounded up to ``size_divisibility`` when that is > 1 (detectron2
    ``ImageList.from_tensors`` semantics). The divisibility is the family's official rule, read
    from the model: UNINEXT asks its backbone (R50 0: no rounding; ConvNeXt / ViT 32), UniRef++
    always pads to 32.
    """
    from evalkit.zoo.ops import preprocess

    short, longest = input_size
    return preprocess(images, short_edge=short, max_size=longest, size_divisibility=size_divisibility,
                      device=device)


@dataclass(frozen=True)
class CardModel:
    """What the procedures of a card family see of its model (the family adds its steps).

    Attributes:
        net: the network (``nn.Module`` in ``eval()`` mode on ``device``), used for its
            decoding methods (``decode_masks``, ``encode_template``...) and ``cfg``.
        device: where the inputs go (``"cpu"``, ``"cuda:0"``).
    """

    net: Any
    device: str

    def preprocess(self, images: list[np.ndarray], ctx: InferenceContext):
        """Frames → :class:`~evalkit.zoo.ops.ImageBatch` at the context's input size
        (:func:`card_preprocess`)."""
        return card_preprocess(images, ctx.input_size, self.net.size_divisibility, self.device)


class CardAdapter(CardFactory, ProcedureAdapter):
    """One zoo model of a model card behind ``predict(frames, prompt)``.

    Class attributes set by each family:
        family: the card family the factory accepts (``None``: any card).
        family_name: the family as written in error messages.

    The network, its converter and builder arguments come from the card
    (:func:`~evalkit.adapters.factory.load_card_model`).

    Attributes:
        card: the model card; model: the network (on ``device``, ``eval()`` mode);
        tokenizer: the text tokenizer (handed to the text encoder at each call, never stored
        on it); num_queries: the factory option.
    """

    def __init__(self, *, model_id: str, model, text_tokenizer, card, device: str = "cpu",
                 weights: str | None = None, **options: Any):
        super().__init__(model_id=model_id, device=device, weights=weights, **options)
        self.card = card
        self.model = model.to(device).eval()
        self.tokenizer = text_tokenizer
        self.tasks = frozenset(card.tasks)
        self.num_queries: int | None = options.get("num_queries")

    @classmethod
    def from_parts(cls, card, model, tokenizer, *, model_id: str, device: str, weights: str | None,
                   options: dict[str, Any]) -> "CardAdapter":
        return cls(model_id=model_id, model=model, text_tokenizer=tokenizer, card=card, device=device,
                   weights=weights, **options)

    @classmethod
    def load_tokenizer(cls, card, option: str | None):
        """The text tokenizer (option ``tokenizer``); BERT WordPiece unless a family overrides it."""
        return bert_tokenizer(card, option)

    # -- contract ---------------------------------------------------------------------------
    def make_context(self, task: str, benchmark: str | None = None) -> InferenceContext:
        """Adds the task's resolved settings (:meth:`settings`) and input size on the dataset."""
        dataset = self._dataset_of(benchmark)
        return InferenceContext(task=task, benchmark=benchmark, dataset=dataset,
                                settings=self.settings(task, dataset),
                                input_size=self.input_size(task, dataset))

    def settings(self, task: str, dataset: str | None = None):
        """The procedure settings of ``task`` (``None``: the procedure has none)."""
        return None

    # -- shared steps -----------------------------------------------------------------------
    def input_size(self, task: str, dataset: str | None = None) -> tuple[int, int | None]:
        """``(short_edge, max_size)`` of ``task`` (card, per ``dataset``, default the adapter's;
        option ``input_size``)."""
        value = self.options.get("input_size")
        if isinstance(value, (list, tuple)):  # both given: the card is not consulted
            return input_size_option(value, self.family_name or self.model_id)
        size = self.card.input_size(task, dataset or self.dataset)
        if value is not None:  # the short edge only: the card's max size is kept
            return input_size_option(value, self.family_name or self.model_id, size.get("max_size"))
        return int(size["min_size"]), size.get("max_size")

    def preprocess(self, images: list[np.ndarray], task: str):
        """``H×W×3`` uint8 frames → :class:`~evalkit.zoo.ops.ImageBatch` as ``task``'s
        procedures receive them (:meth:`CardModel.preprocess` in ``task``'s context)."""
        return self.bundle().preprocess(images, self.context_for(task))

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Texts → the text encoder's ``input_ids`` / ``attention_mask`` (``B×L`` int64 on the
        device), with this adapter's tokenizer."""
        return self.model.text_encoder.tokenize(texts, device=self.device, tokenizer=self.tokenizer)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"] = {k: v for k, v in self.options.items() if k != "overrides"}
        return d
