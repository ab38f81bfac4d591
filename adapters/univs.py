"""UniVS adapter: one model, six video tasks behind ``predict(frames, prompt)``.

| prompt | task | procedure (paper §4.2) | module |
|---|---|---|---|
| :class:`Reference` (masks/boxes/points/scribbles) | ``vos``, ``pvos`` | prompt-specified streaming | :mod:`.univs_prompted` |
| :class:`Expression` | ``rvos`` | expression prompt per clip (+ fed-back visual tokens, optional) | :mod:`.univs_prompted` |
| :class:`Categories` | ``vis``, ``vps`` | periodic detection + prompt-guided re-segmentation | :mod:`.univs_entity` |
| :class:`Categories` | ``vss`` | clip-wise semantic inference | :mod:`.univs_entity` |

The task of a Categories prompt is the one the runner prepared (:meth:`~.base.Adapter.prepare`)
(or the ``task`` option); without either, ``vps`` when the prompt flags thing/stuff categories,
else ``vis``.

Weights: the checkpoint (converted and strictly loaded), the RegionCLIP text tower (only for
``rvos``, or to embed category names missing from the class-embedding file) and the CLIP class
embeddings of the training vocabularies (rows sliced per dataset as
``combined_datasets_category_info`` of the official release lays them out).
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch

from evalkit.errors import EvalkitError, WeightsError

from ..types import Categories, Expression, Frames, Instances, Prompt, Reference, prompt_kind
from .base import Adapter, InferenceContext
from .options import INPUT_SIZE, input_size_option
from .univs_settings import TASK_SETTINGS, UniVSSettings, normalise_options, resolve_settings, settings_source

__all__ = ["UniVSAdapter", "UniVSSettings", "TASK_SETTINGS", "VOCABULARIES", "build_adapter"]

#: vocabulary → (number of categories, first row) in the class-embedding file
VOCABULARIES: dict[str, tuple[int, int]] = {
    "imagenet": (1000, 0), "lvis": (1203, 1000), "burst": (1203, 1000), "ytvis21": (40, 2203),
    "ovis": (25, 2243), "bdd_track": (8, 2268), "objects365": (365, 2276), "coco_panoptic": (133, 2641),
    "coco": (80, 2641), "ade20k": (150, 2774), "vipseg": (124, 2924), "vspw": (124, 2924),
    "viposeg": (124, 2924), "ytvis19": (40, 3048), "entityseg_instance": (206, 3088),
    "entityseg_panoptic": (644, 3294),
}
#: adapter options that are not inference settings
_NON_SETTINGS = ("task", "vocabulary", "benchmark", INPUT_SIZE)
#: a task the model card gives no size for: ``INPUT.MIN_SIZE_TEST`` / ``MAX_SIZE_TEST`` of the
#: released video test configs (``configs/univs_inf/vids/{vis,pvos,refvos}/Base.yaml``: 640 / 1333)
DEFAULT_INPUT_SIZE = {"min_size": 640, "max_size": 1333}
# names present in only one of the two 40-class YouTube-VIS vocabularies
_YTVIS19_ONLY = {"sedan", "hand", "ape", "eagle", "owl"}
_YTVIS21_ONLY = {"flying_disc", "whale", "squirrel", "bird", "car"}


class UniVSAdapter(Adapter):
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
            applied to every task.
    """

    tasks = frozenset(TASK_SETTINGS)
    prompt_kinds = frozenset({"categories", "expression", "reference"})

    def __init__(self, model, *, model_id: str, device: str = "cpu", weights: str | None = None,
                 text_encoder=None, class_embeddings: torch.Tensor | None = None,
                 input_sizes: dict[str, dict[str, int]] | None = None, **options: Any):
        super().__init__(model_id=model_id, device=device, weights=weights, **options)
        #: the user's settings, by official name (validated against :class:`UniVSSettings`)
        self.setting_options = normalise_options(options, extra=_NON_SETTINGS)
        self.model = model.to(device).eval()
        self._text_encoder = text_encoder
        self._class_embeddings = class_embeddings
        self.input_sizes = input_sizes or {}
        #: peak sizes of the last prediction's streaming state (written by the procedures)
        self.last_stats: dict[str, int] = {}

    # -- lazily loaded weights (a VOS run never needs the text tower) -------------------------
    @property
    def text_encoder(self):
        if callable(self._text_encoder) and not isinstance(self._text_encoder, torch.nn.Module):
            self._text_encoder = self._text_encoder()
        if self._text_encoder is not None:
            self._text_encoder = self._text_encoder.to(self.device).eval()
        return self._text_encoder

    @text_encoder.setter
    def text_encoder(self, value) -> None:
        self._text_encoder = value

    @property
    def class_embeddings(self) -> torch.Tensor | None:
        if callable(self._class_embeddings):
            self._class_embeddings = self._class_embeddings()
        return self._class_embeddings

    @class_embeddings.setter
    def class_embeddings(self, value) -> None:
        self._class_embeddings = value

    # -- contract -----------------------------------------------------------------------------
    def make_context(self, task: str, benchmark: str | None = None) -> InferenceContext:
        """Adds the settings of ``task`` on ``benchmark`` (:func:`~.univs_settings.resolve_settings`),
        its input size and the ``vocabulary`` option."""
        s = self.settings(task, benchmark) if task in TASK_SETTINGS else None
        return InferenceContext(task=task, benchmark=benchmark, dataset=self._dataset_of(benchmark), settings=s,
                                input_size=None if s is None else self.input_size(task, s),
                                vocabulary=self.options.get("vocabulary"))

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

    def task_of(self, prompt: Prompt) -> str:
        if isinstance(prompt, Reference):
            return self.task if self.task in ("vos", "pvos") else "vos"
        if isinstance(prompt, Expression):
            return "rvos"
        if self.task in ("vis", "vps", "vss"):
            return self.task
        return "vps" if prompt.thing is not None else "vis"

    @torch.no_grad()
    def predict(self, frames: Frames, prompt: Prompt) -> list[Instances]:
        kind = prompt_kind(prompt)
        task = self.task_of(prompt)
        self.check(task, kind)
        if len(frames) == 0:
            return []
        from .univs_video import VideoStream

        ctx = self.context_for(task)
        stream = VideoStream(self.model, frames, ctx.input_size, self.device, ctx.settings.sampling_frame_num)
        if isinstance(prompt, Categories):
            from .univs_entity import predict_categories

            return predict_categories(self, ctx, stream, prompt)
        from .univs_prompted import predict_expression, predict_reference

        if isinstance(prompt, Expression):
            return predict_expression(self, ctx, stream, prompt)
        return predict_reference(self, ctx, stream, prompt)

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
    def vocabulary_of(self, categories: Categories) -> str | None:
        """The class-embedding slice for ``categories`` (option ``vocabulary``, else the only
        vocabulary of that size; the two 40-class YouTube-VIS ones are told apart by names)."""
        if "vocabulary" in self.options:
            v = self.options["vocabulary"]
            if v not in VOCABULARIES:
                raise EvalkitError(f"unknown vocabulary {v!r}; expected one of {sorted(VOCABULARIES)}")
            return v
        n = len(categories.names)
        sizes = {VOCABULARIES[k] for k in VOCABULARIES if VOCABULARIES[k][0] == n}
        if len(sizes) == 1:
            return next(k for k in VOCABULARIES if VOCABULARIES[k] in sizes)
        if n == 40:
            names = {x.strip().lower().replace(" ", "_") for x in categories.names}
            if names & _YTVIS19_ONLY:
                return "ytvis19"
            if names & _YTVIS21_ONLY:
                return "ytvis21"
        return None

    def class_embeddings_for(self, categories: Categories) -> torch.Tensor:
        """``K×640`` CLIP embeddings of the prompt's categories (rows in prompt order)."""
        vocab = self.vocabulary_of(categories)
        if self.class_embeddings is not None and vocab is not None:
            n, start = VOCABULARIES[vocab]
            if start + n > len(self.class_embeddings):
                raise WeightsError(f"class-embedding file has {len(self.class_embeddings)} rows; vocabulary "
                                   f"{vocab!r} needs rows {start}..{start + n - 1}")
            return self.class_embeddings[start:start + n].to(self.device)
        if self.text_encoder is None:
            raise EvalkitError(
                f"no CLIP embeddings for these {len(categories.names)} categories: pass the option "
                f"'vocabulary' (one of {sorted(VOCABULARIES)}) or provide the RegionCLIP text encoder")
        texts = [f"a photo of a {name.replace('_', ' ')}." for name in categories.names]
        return self.text_encoder.encode_text(self.text_encoder.tokenize(texts))

    def encode_expression(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(words 1×77×640, sentence 1×640)`` CLIP features of an expression, as officially
        (``TextPromptEncoder.get_expression_prompt``): the expression is put into each of the 81
        prompt templates (:data:`~.univs_templates.EXPRESSION_TEMPLATES`, one batched pass of
        the text tower); the sentence feature is the mean of the 81 end-of-text features, the
        word features are those of the first template, ``"<expression>."``."""
        from .univs_templates import EXPRESSION_TEMPLATES

        if self.text_encoder is None:
            raise EvalkitError("referring segmentation needs the RegionCLIP text encoder "
                               "(weight file with role 'text-encoder')")
        # str.replace, not format: an expression may contain braces
        texts = [t.replace("{}", text) for t in EXPRESSION_TEMPLATES]
        words, sentences = self.text_encoder.encode_text(self.text_encoder.tokenize(texts), only_eot=False)
        return words[:1], sentences.mean(0, keepdim=True)


def _load_file(card, name: str):
    from evalkit.hub import fetch_weights, load_state_dict_safely

    return load_state_dict_safely(fetch_weights(card, None, name))


def build_adapter(*, model_id: str, device: str = "cpu", weights: str | None = None,
                  **options: Any) -> UniVSAdapter:
    """Card adapter factory: builds the model and loads (converts) its checkpoint strictly; the
    class embeddings and the text tower (with its BPE merges) are fetched on first use."""
    from evalkit.zoo import load_model
    from evalkit.zoo.api import get_card

    card = get_card(model_id)
    model = load_model(model_id, weights, device=device)
    roles = {w.role: w.name for w in card.weights}

    def class_embeddings() -> torch.Tensor:
        from evalkit.hub import fetch_weights
        from evalkit.zoo.univs.convert import read_class_embeddings

        return read_class_embeddings(fetch_weights(card, None, roles["class-embeddings"]))

    def text_encoder():
        from evalkit.hub import fetch_weights
        from evalkit.zoo.convert_utils import load_strict
        from evalkit.zoo.text.regionclip import build_regionclip_rn50x4_text
        from evalkit.zoo.univs.convert import convert_text_encoder

        enc = build_regionclip_rn50x4_text()
        sd, _ = convert_text_encoder(_load_file(card, roles["text-encoder"]), enc)
        load_strict(enc, sd, what=f"text encoder of {model_id!r}")
        merges = [w for w in card.weights if w.role == "tokenizer" and w.name.endswith(".txt")]
        if merges:
            enc.bpe = str(fetch_weights(card, None, merges[0].name))
        return enc

    return UniVSAdapter(model, model_id=model_id, device=device, weights=weights,
                        text_encoder=text_encoder if "text-encoder" in roles else None,
                        class_embeddings=class_embeddings if "class-embeddings" in roles else None,
                        input_sizes=dict(card.input_sizes), **options)
