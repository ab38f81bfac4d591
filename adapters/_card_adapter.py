"""The common part of the adapters of card-driven models with a BERT text encoder (UNINEXT,
UniRef++): model card lookup, model build, weights fetch → convert → cache → strict load,
tokenizer, device, test-time sizes and the task → procedure dispatch of ``predict``.

A family subclasses :class:`CardAdapter`, names its loader and converter (``"module:function"``,
imported on first use so listing adapters does not import the model code), and supplies its
procedures (:meth:`CardAdapter.procedures`) and its task inference for prompts without a task
(:meth:`CardAdapter._infer_task`); its factory is ``build_adapter = Family.from_card``. A family
with another text tokenizer overrides :meth:`CardAdapter.load_tokenizer`.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np
import torch

from evalkit.errors import EvalkitError, UnsupportedTaskError
from evalkit.types import Frames, Instances, Prompt

from .base import Adapter, InferenceContext
from .options import input_size_option

__all__ = ["CardAdapter", "bert_tokenizer"]


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


class CardAdapter(Adapter):
    """One zoo model of a model card behind ``predict(frames, prompt)``.

    Class attributes set by each family:
        family: the card family the factory accepts (``None``: any card).
        family_name: the family as written in error messages.
        loader: ``"module:function"`` building the model around converted weights,
            ``fn(state_dict, **builder_args) -> nn.Module`` (no random initialisation).
        converter: ``"module:function"`` mapping an official state dict onto ours,
            ``fn(official_sd, expected) -> (our_sd, report)``; its module's
            ``CONVERTER_VERSION`` keys the converted-weights cache.

    Attributes:
        card: the model card; model: the network (on ``device``, ``eval()`` mode);
        tokenizer: the text tokenizer; task / dataset / num_queries: the factory options.
    """

    family: str | None = None
    family_name: str = ""
    loader: str = ""
    converter: str = ""

    def __init__(self, *, model_id: str, model, text_tokenizer, card, device: str = "cpu",
                 weights: str | None = None, **options: Any):
        super().__init__(model_id=model_id, device=device, weights=weights, **options)
        self.card = card
        self.model = model.to(device).eval()
        # the text encoder loads its tokenizer lazily by name; hand it the resolved one
        self.model.text_encoder._tokenizer = text_tokenizer
        self.tokenizer = text_tokenizer
        self.tasks = frozenset(card.tasks)
        self.num_queries: int | None = options.get("num_queries")

    # -- factory ----------------------------------------------------------------------------
    @classmethod
    def from_card(cls, *, model_id: str, device: str = "cpu", weights: str | None = None,
                  **options: Any) -> "CardAdapter":
        """The adapter factory named by the family's model cards
        (``fn(*, model_id, device, weights, **options)``)."""
        from evalkit.zoo.cards import get_card

        card = get_card(model_id)
        if cls.family is not None and card.family != cls.family:
            raise EvalkitError(f"model {model_id!r} is not a {cls.family_name} model "
                               f"(family {card.family!r})")
        overrides = dict(options.get("overrides") or {})
        model = cls.load_model(card, weights, overrides, bool(options.get("random_weights", False)))
        tokenizer = cls.load_tokenizer(card, options.get("tokenizer"))
        adapter = cls(model_id=model_id, model=model, text_tokenizer=tokenizer, card=card,
                      device=device, weights=weights, **options)
        if not options.get("random_weights"):
            adapter.weights_sha256 = cls.weights_digest(card, weights)
        return adapter

    @classmethod
    def weights_digest(cls, card, weights: str | None) -> str:
        """sha256 of the weights in use (provenance, prediction-store key)."""
        from evalkit.hub import weights_sha256

        return weights_sha256(card, weights)

    @classmethod
    def load_model(cls, card, weights: str | None, overrides: dict[str, Any], random_weights: bool):
        """The card's model: random weights, or the official checkpoint fetched, converted
        (cached as safetensors) and loaded strictly, built around the weights."""
        from evalkit.zoo.api import build_model

        if random_weights:
            return build_model(card.id, **overrides).eval()
        import sys

        from evalkit.hub import load_converted
        from evalkit.registry import import_target

        convert = import_target(cls.converter)
        version = sys.modules[convert.__module__].CONVERTER_VERSION
        args = {**dict(card.builder_args or {}), **overrides}
        with torch.device("meta"):
            expected = build_model(card.id, **overrides)
        state = load_converted(card.id, weights, lambda sd: convert(sd, expected)[0], version=version)
        return import_target(cls.loader)(state, **args)

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

    def predict(self, frames: Frames, prompt: Prompt) -> Iterable[Instances]:
        task = self.task or self._infer_task(frames, prompt)
        if task not in self.tasks:
            raise UnsupportedTaskError(f"model {self.model_id!r} does not support task {task!r} "
                                       f"(supported: {', '.join(sorted(self.tasks))})")
        procedure, expected = self.procedures()[task]
        if not isinstance(prompt, expected):
            raise UnsupportedTaskError(f"task {task!r} of {self.model_id!r} expects a "
                                       f"{expected.__name__} prompt, got {type(prompt).__name__}")
        return procedure(self, self.context_for(task), frames, prompt)

    def procedures(self) -> dict[str, tuple[Callable, type]]:
        """task → (procedure ``fn(adapter, context, frames, prompt)``, expected prompt type);
        the procedure reads the task, dataset and settings from the :class:`InferenceContext`
        and the network and text encoders from the adapter."""
        raise NotImplementedError

    def _infer_task(self, frames: Frames, prompt: Prompt) -> str:
        """The task of a prompt when neither :meth:`prepare` nor the ``task`` option gave one."""
        raise NotImplementedError

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
        """``H×W×3`` uint8 frames → :class:`~evalkit.zoo.ops.ImageBatch` on the device.

        Every frame is resized (``ResizeShortestEdge`` of :meth:`input_size`), normalised and
        zero-padded right/bottom onto one canvas: the batch's largest resized frame, rounded up
        to ``model.size_divisibility`` when that is > 1 (detectron2 ``ImageList.from_tensors``
        semantics). The divisibility is the family's official rule, read from the model: UNINEXT
        asks its backbone (R50 0: no rounding; ConvNeXt / ViT 32), UniRef++ always pads to 32.
        """
        from evalkit.zoo.ops import preprocess

        short, longest = self.input_size(task)
        return preprocess(images, short_edge=short, max_size=longest,
                          size_divisibility=self.model.size_divisibility, device=self.device)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"] = {k: v for k, v in self.options.items() if k != "overrides"}
        return d
