"""UniVS adapter: one model, six video tasks behind ``predict(frames, prompt)``.

| prompt | task | procedure (paper §4.2) | module |
|---|---|---|---|
| :class:`Reference` (masks/boxes/points/scribbles) | ``vos``, ``pvos`` | prompt-specified streaming | :mod:`.univs_prompted` |
| :class:`Expression` | ``rvos`` | expression prompt per clip (+ fed-back visual tokens, optional) | :mod:`.univs_prompted` |
| :class:`Categories` | ``vis``, ``vps`` | periodic detection + prompt-guided re-segmentation | :mod:`.univs_entity` |
| :class:`Categories` | ``vss`` | clip-wise semantic inference | :mod:`.univs_entity` |

The task of a Categories prompt is the one the runner prepared (:meth:`~.base.Adapter.prepare`)
(or the ``task`` option); without either, ``vps`` when the prompt flags thing/stuff categories,
else ``vis``. Each procedure is a function ``(model, context, frames, prompt) ->``
:class:`~.base.ProcedureResult` (instances plus the peak sizes of the streaming state) of the
frozen context :meth:`~.base.Adapter.prepare` returns, dispatched by
:meth:`~.base.ProcedureAdapter.predict`; it writes nothing on the adapter or the model.

The factory is the card families' one path (:class:`~.factory.CardFactory`, ``build_adapter =
UniVSAdapter.from_card``), with UniVS's hooks: the network (:meth:`UniVSAdapter.load_model`:
the checkpoint converted and strictly loaded, or random weights), its text side as the
"tokenizer" (:meth:`UniVSAdapter.load_tokenizer`: loaders of the RegionCLIP text tower, only
for ``rvos`` or to embed category names missing from the class-embedding file, and of the CLIP
class embeddings of the training vocabularies, rows sliced per dataset as
``combined_datasets_category_info`` of the official release lays them out; both run on first
use, so a VOS run fetches neither) and the sha256 of the checkpoint.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Callable, NamedTuple

import torch

from ..types import Categories, Expression, Frames, Prompt, Reference
from .base import ProcedureAdapter
from .factory import CardFactory
from .options import INPUT_SIZE, input_size_option
from .univs_context import UniVSContext
from .univs_settings import TASK_SETTINGS, UniVSSettings, normalise_options, resolve_settings, settings_source
from .univs_text import VOCABULARIES, UniVSText

__all__ = ["UniVSAdapter", "UniVSSettings", "UniVSTextParts", "TASK_SETTINGS", "VOCABULARIES", "build_adapter"]

#: adapter options that are not inference settings (the last three are the card factory's:
#: :meth:`~.factory.CardFactory.from_card`)
_NON_SETTINGS = ("task", "vocabulary", "benchmark", INPUT_SIZE, "random_weights", "overrides", "tokenizer")
#: a task the model card gives no size for: ``INPUT.MIN_SIZE_TEST`` / ``MAX_SIZE_TEST`` of the
#: released video test configs (``configs/univs_inf/vids/{vis,pvos,refvos}/Base.yaml``: 640 / 1333)
DEFAULT_INPUT_SIZE = {"min_size": 640, "max_size": 1333}


class UniVSTextParts(NamedTuple):
    """UniVS's text side as the card factory's tokenizer hook returns it: zero-argument loaders
    (run on first use, :class:`~.univs_text.UniVSText`), ``None`` where the card has no such file.

    Attributes:
        text_encoder: ``() -> RegionCLIPTextEncoder`` (weights loaded strictly), or ``None``.
        class_embeddings: ``() -> N×640`` float tensor of the class-embedding file, or ``None``.
    """

    text_encoder: Callable[[], Any] | None
    class_embeddings: Callable[[], torch.Tensor] | None


class UniVSAdapter(CardFactory, ProcedureAdapter):
    """UniVS behind the evalkit contract.

    Args:
        model: a :class:`~evalkit.zoo.univs.model.UniVS` (weights loaded).
        text_encoder: a RegionCLIP text tower (``encode_text``/``tokenize``), a zero-argument
            callable returning one (loaded on first use), or ``None``.
        class_embeddings: ``N×640`` CLIP embeddings of the training vocabularies, a callable
            returning them (loaded on first use), or ``None``.
        input_sizes: task → ``{"min_size", "max_size"}`` or ``{"square"}`` (model card).
        options: ``task``, ``vocabulary`` (a key of :data:`VOCABULARIES`), ``benchmark`` (whose
            released settings to use when no runner bound one), ``input_size`` (the one
            input-size option of every family, :mod:`.options`) and any
            :class:`~.univs_settings.UniVSSettings` field (official key, any case, or an alias),
            applied to every task; from the card factory also ``random_weights``,
            ``overrides`` (builder arguments) and ``tokenizer`` (a BPE merges file replacing the
            card's).
    """

    family = "univs"
    family_name = "UniVS"
    tasks = frozenset(TASK_SETTINGS)
    prompt_kinds = frozenset({"categories", "expression", "reference"})

    def __init__(self, model, *, model_id: str, device: str = "cpu", weights: str | None = None,
                 text_encoder=None, class_embeddings: torch.Tensor | None = None,
                 input_sizes: dict[str, dict[str, int]] | None = None, **options: Any):
        super().__init__(model_id=model_id, device=device, weights=weights, **options)
        #: the user's settings, by official name (validated against :class:`UniVSSettings`)
        self.setting_options = normalise_options(options, extra=_NON_SETTINGS)
        self.model = model.to(device).eval()
        #: class embeddings and text tower, loaded on first use (a VOS run never needs them)
        self.text = UniVSText(text_encoder, class_embeddings, device)
        self.input_sizes = input_sizes or {}

    # -- lazily loaded weights: views of :attr:`text` ------------------------------------------
    @property
    def text_encoder(self):
        return self.text.text_encoder

    @text_encoder.setter
    def text_encoder(self, value) -> None:
        self.text.text_encoder = value

    @property
    def class_embeddings(self) -> torch.Tensor | None:
        return self.text.class_embeddings

    @class_embeddings.setter
    def class_embeddings(self, value) -> None:
        self.text.class_embeddings = value

    # -- contract -----------------------------------------------------------------------------
    def make_context(self, task: str, benchmark: str | None = None) -> UniVSContext:
        """A :class:`~.univs_context.UniVSContext`: the settings of ``task`` on ``benchmark``
        (:func:`~.univs_settings.resolve_settings`), its input size, the ``vocabulary`` option,
        the device and the text prompts (:attr:`text`)."""
        s = self.settings(task, benchmark) if task in TASK_SETTINGS else None
        return UniVSContext(task=task, benchmark=benchmark, dataset=self._dataset_of(benchmark), settings=s,
                            input_size=None if s is None else self.input_size(task, s),
                            vocabulary=self.options.get("vocabulary"), device=self.device, text=self.text)

    def describe(self) -> dict[str, Any]:
        """Adds the resolved inference settings of the task being run (run.json)."""
        out = super().describe()
        if self.task in TASK_SETTINGS:
            out["task"] = self.task
            out["settings"] = asdict(self.settings(self.task))
            # which released config's values were used (univs_settings.BENCHMARK_SETTINGS)
            bench = self.options.get("benchmark") or self.benchmark
            out["settings_from"] = settings_source(self.task, bench)
        return out

    def settings(self, task: str, benchmark: str | None = None) -> UniVSSettings:
        """Resolved settings of ``task`` on ``benchmark`` (option ``benchmark`` first, else the
        prepared one) with the user's options (:func:`~.univs_settings.resolve_settings`)."""
        bench = self.options.get("benchmark") or benchmark or self.benchmark
        return resolve_settings(task, bench, self.setting_options)

    def _infer_task(self, frames: Frames, prompt: Prompt) -> str:
        """The task of a prompt without a prepared task: ``vos`` for a Reference, ``rvos`` for an
        Expression, ``vps`` for Categories flagging things/stuff, else ``vis``."""
        if isinstance(prompt, Reference):
            return "vos"
        if isinstance(prompt, Expression):
            return "rvos"
        return "vps" if prompt.thing is not None else "vis"

    def bundle(self):
        """The procedures see the network itself (:class:`~evalkit.zoo.univs.model.UniVS`):
        everything else they need (device, text prompts, settings) is in the context."""
        return self.model

    def procedures(self):
        from .univs_entity import predict_categories
        from .univs_prompted import predict_expression, predict_reference

        return {"vis": (predict_categories, Categories), "vps": (predict_categories, Categories),
                "vss": (predict_categories, Categories), "vos": (predict_reference, Reference),
                "pvos": (predict_reference, Reference), "rvos": (predict_expression, Expression)}

    def input_size(self, task: str, s: UniVSSettings | None = None) -> dict[str, int]:
        """``{"min_size", "max_size"}`` (or the card's ``{"square"}``) of ``task``: the model
        card's (:data:`DEFAULT_INPUT_SIZE` without one) < the benchmark's ``MIN_SIZE_TEST`` <
        the ``input_size`` option."""
        s = s or self.settings(task)
        size = dict(self.input_sizes.get(task, DEFAULT_INPUT_SIZE))
        if s.min_size_test is not None:
            size["min_size"] = s.min_size_test
        if INPUT_SIZE in self.options:
            short, longest = input_size_option(self.options[INPUT_SIZE], "UniVS", size.get("max_size"))
            size.update(min_size=short, max_size=longest)
        return size

    # -- text ---------------------------------------------------------------------------------
    def class_embeddings_for(self, categories: Categories) -> torch.Tensor:
        """``K×640`` CLIP embeddings of the prompt's categories (:meth:`UniVSText.class_embeddings_for`
        with the ``vocabulary`` option)."""
        return self.text.class_embeddings_for(categories, self.options.get("vocabulary"))

    def encode_expression(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(words 1×77×640, sentence 1×640)`` (:meth:`UniVSText.encode_expression`)."""
        return self.text.encode_expression(text)

    # -- factory hooks (:class:`~evalkit.adapters.factory.CardFactory`) ------------------------
    @classmethod
    def load_model(cls, card, weights: str | None, overrides: dict[str, Any], random_weights: bool):
        """The network: random weights (option ``random_weights``), else the official checkpoint
        fetched, converted by the card's converter and loaded strictly
        (:func:`evalkit.zoo.api.load_model`); ``overrides`` replace builder arguments."""
        from evalkit.zoo.api import build_model, load_model

        if random_weights:
            return build_model(card.id, **overrides).eval()
        return load_model(card.id, weights, **overrides)

    @classmethod
    def load_tokenizer(cls, card, option: str | None) -> UniVSTextParts:
        """The text side (:class:`UniVSTextParts`): loaders of the RegionCLIP text tower (its
        BPE merges: ``option``, else the card's ``.txt`` tokenizer file, else the tokenizer's
        default source) and of the class embeddings, for the card's weight files of roles
        ``text-encoder`` and ``class-embeddings``. Nothing is fetched here."""
        roles = {w.role: w.name for w in card.weights}

        def class_embeddings() -> torch.Tensor:
            from evalkit.hub import fetch_weights
            from evalkit.zoo.univs.convert import read_class_embeddings

            return read_class_embeddings(fetch_weights(card, None, roles["class-embeddings"]))

        def text_encoder():
            from evalkit.hub import fetch_weights, load_state_dict_safely
            from evalkit.zoo.convert_utils import load_strict
            from evalkit.zoo.text.regionclip import build_regionclip_rn50x4_text
            from evalkit.zoo.univs.convert import convert_text_encoder

            merges = [w for w in card.weights if w.role == "tokenizer" and w.name.endswith(".txt")]
            if option is not None:
                bpe = {"bpe": str(option)}
            else:
                bpe = {"bpe": str(fetch_weights(card, None, merges[0].name))} if merges else {}
            enc = build_regionclip_rn50x4_text(**bpe)
            official = load_state_dict_safely(fetch_weights(card, None, roles["text-encoder"]))
            sd, _ = convert_text_encoder(official, enc)
            load_strict(enc, sd, what=f"text encoder of {card.id!r}")
            return enc

        return UniVSTextParts(text_encoder if "text-encoder" in roles else None,
                              class_embeddings if "class-embeddings" in roles else None)

    @classmethod
    def from_parts(cls, card, model, tokenizer: UniVSTextParts, *, model_id: str, device: str,
                   weights: str | None, options: dict[str, Any]) -> "UniVSAdapter":
        return cls(model, model_id=model_id, device=device, weights=weights,
                   text_encoder=tokenizer.text_encoder, class_embeddings=tokenizer.class_embeddings,
                   input_sizes=dict(card.input_sizes), **options)


#: factory named by the UniVS model cards (``evalkit.adapters.univs:build_adapter``): the card
#: families' one factory path
build_adapter = UniVSAdapter.from_card
