"""The common part of the adapters around ``transformers`` models (Grounding DINO, OWLv2,
Mask2Former, SAM 2 video): model card lookup, the model and its own processor (pinned hub
revision through :mod:`evalkit.hub`, or a tiny random configuration), the settings dataclass
behind the ``-a key=value`` options, and the frozen :class:`HfModel` bundle the procedures see.

The adapters have the shape of the built-in families (:mod:`evalkit.adapters.base`): they are
built by :meth:`~evalkit.adapters.factory.CardFactory.from_card` (card → ``load_model`` →
``from_parts`` → ``weights_digest``) and :meth:`~evalkit.adapters.base.ProcedureAdapter.predict`
dispatches each task to a procedure ``fn(model, context, frames, prompt) ->``
:class:`~evalkit.adapters.base.ProcedureResult`, ``model`` the family's :class:`HfModel` and
``context`` the prepared :class:`~evalkit.adapters.base.InferenceContext` (its ``settings``:
the family's resolved settings dataclass).

A family subclasses :class:`HfAdapter` and names, as data, its ``transformers`` model and
processor classes and its tiny configuration, its settings dataclass, its procedures and (where
they need more than the network and the processor) its bundle; its factory is
``build_adapter = Family.from_card`` and its cards' builder ``tiny_model = Family.tiny_network``.

Weights: every file of the card (``config.json``, ``model.safetensors``, the processor and
tokenizer files) is an ``hf://owner/repo/file@<commit sha>`` source, fetched one by one by
:func:`evalkit.hub.fetch_weights` (which honours ``HF_HOME`` / ``HF_HUB_CACHE`` /
``HF_HUB_OFFLINE``, verifies pinned hashes and names every place it looked when a file is
missing). The files of one revision land in one snapshot folder of the Hugging Face cache, which
``from_pretrained`` then reads — so the model and processor are exactly the pinned revision's,
whatever the hub's ``main`` branch holds today. ``--weights FOLDER`` instead loads a local
``save_pretrained`` folder.

Options: the fields of the family's settings dataclass, plus ``tiny`` (build the tiny random
configuration of :mod:`.tiny`: no download, for tests), ``task`` and ``dataset``. Anything else
is refused with the list of valid names (:func:`evalkit.adapters.options.refuse_unknown_options`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, WeightsError
from evalkit.types import Frames, Prompt

from ..base import InferenceContext, ProcedureAdapter
from ..factory import CardFactory
from ..options import refuse_unknown_options, settings_as_record

__all__ = ["HfAdapter", "HfModel", "resolve_settings", "load_pretrained", "category_lookup",
           "hf_native", "CONVERTER_VERSION"]

#: the converter named by the cards: transformers checkpoints load natively (no key mapping)
CONVERTER_VERSION = "1"

#: options every transformers adapter takes besides its settings fields
COMMON_OPTIONS = frozenset({"tiny", "task", "dataset"})


def hf_native(state_dict, expected=None):
    """The cards' converter: a ``transformers`` checkpoint is already in the layout
    ``from_pretrained`` reads, so the state dict is returned unchanged (with an empty report)."""
    return state_dict, {}


def resolve_settings(cls: type, options: dict[str, Any], family: str):
    """The frozen settings dataclass ``cls`` with the options that name its fields applied.

    A float field takes an int or a float, an int field an int, a str field a str; anything
    else raises :class:`EvalkitError` naming the option, the family and the expected type.
    """
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in options:
            continue
        v = options[f.name]
        typ = {"float": float, "int": int, "str": str}.get(str(f.type), None)
        ok = (typ is float and isinstance(v, (int, float)) and not isinstance(v, bool)) or \
             (typ is int and isinstance(v, int) and not isinstance(v, bool)) or \
             (typ is str and isinstance(v, str)) or typ is None
        if not ok:
            what = {"float": "a number", "int": "an integer", "str": "a string"}[str(f.type)]
            raise EvalkitError(f"{family} option {f.name} expects {what}, got {v!r}")
        values[f.name] = float(v) if typ is float else v
    return dataclasses.replace(cls(), **values)


def load_pretrained(card, model_cls, processor_cls, weights: str | None = None):
    """``(model, processor)`` of the card's pinned revision (or of a local folder).

    Every weight file of the card is fetched through :func:`evalkit.hub.fetch_weights`; they
    must all resolve into one folder (one hub snapshot), which both ``from_pretrained`` calls
    read with ``local_files_only`` (nothing else is downloaded).

    Raises:
        WeightsError: a file is missing (offline: with every place looked) or the card's files
            come from more than one folder.
    """
    from evalkit.hub import fetch_weights

    if weights is not None:
        folder = Path(weights).expanduser()
        if not (folder / "config.json").is_file():
            raise WeightsError(f"--weights {folder}: expected a save_pretrained folder of "
                               f"{card.id!r} holding config.json")
    else:
        folders = {fetch_weights(card, name=w.name).parent for w in card.weights}
        if len(folders) != 1:
            raise WeightsError(f"model {card.id!r}: the card's files resolved into several "
                               f"folders {sorted(map(str, folders))}; expected one hub snapshot "
                               f"(one repo, one revision)")
        folder = folders.pop()
    model = model_cls.from_pretrained(str(folder), local_files_only=True)
    processor = processor_cls.from_pretrained(str(folder), local_files_only=True)
    return model.eval(), processor


def category_lookup(id2label: dict, prompt_names: tuple[str, ...], prompt_ids: tuple[int, ...],
                    model_id: str) -> dict[int, int]:
    """Model class index → dataset category id, matching names case-insensitively (a closed
    vocabulary model such as Mask2Former-COCO evaluated on a benchmark naming its classes).

    Raises:
        EvalkitError: no class of the model is one of the benchmark's categories.
    """
    by_name = {n.strip().lower(): i for n, i in zip(prompt_names, prompt_ids)}
    out = {int(k): by_name[str(v).strip().lower()] for k, v in id2label.items()
           if str(v).strip().lower() in by_name}
    if not out:
        raise EvalkitError(
            f"model {model_id!r}: none of its {len(id2label)} classes "
            f"({', '.join(list(map(str, id2label.values()))[:8])}...) is a category of the "
            f"benchmark ({', '.join(prompt_names[:8])}...)")
    return out


@dataclass(frozen=True)
class HfModel:
    """What the procedures of a ``transformers`` adapter see of its model (a family adds its
    steps in a subclass: Grounding DINO's caption plan, Mask2Former's padded-canvas run).

    Attributes:
        net: the ``transformers`` model (``eval()`` mode, on ``device``).
        processor: the model's own processor (pre- and post-processing; for Mask2Former its
            image processor).
        device: where the inputs go (``"cpu"``, ``"cuda:0"``).
        model_id: the registered model id (error messages).
    """

    net: Any
    processor: Any
    device: str
    model_id: str


class HfAdapter(CardFactory, ProcedureAdapter):
    """One ``transformers`` model and its processor behind ``predict(frames, prompt)``.

    Class attributes set by each family (data: the classes are imported on use, so listing
    never imports ``transformers``):
        family: the card family the factory accepts; family_name: the family as written in
            messages (``Grounding DINO``).
        settings_cls: the frozen settings dataclass of the family's procedures.
        prompt_kinds: the prompt kinds accepted.
        model_class_name / processor_class_name: the ``transformers`` classes that
            ``from_pretrained`` the card's snapshot.
        tiny_config: the function of :mod:`.tiny` that builds the tiny random
            ``(model, processor)``.

    Attributes:
        card: the model card; model: the network (``eval()`` mode, on ``device``);
        processor: the model's own processor (pre- and post-processing); settings: the
        resolved settings (the same for every task of the family).
    """

    family_name: str = ""
    settings_cls: type = type(None)
    model_class_name: str = ""
    processor_class_name: str = ""
    tiny_config: str = ""

    def __init__(self, *, model_id: str, model, processor, card, device: str = "cpu",
                 weights: str | None = None, **options: Any):
        refuse_unknown_options(options, self.valid_options(), self.family_name)
        super().__init__(model_id=model_id, device=device, weights=weights, **options)
        self.card = card
        self.model = model.to(device).eval()
        self.processor = processor
        self.tasks = frozenset(card.tasks)
        self.settings = resolve_settings(self.settings_cls, options, self.family_name)

    # -- factory (the hooks of CardFactory.from_card) -----------------------------------------
    @classmethod
    def from_card(cls, *, model_id: str, device: str = "cpu", weights: str | None = None,
                  **options: Any) -> "HfAdapter":
        """The adapter factory named by the family's cards (``fn(*, model_id, device, weights,
        **options)``): ``tiny=True`` builds the tiny random configuration, otherwise the card's
        pinned revision is loaded. Unknown options are refused before anything is loaded."""
        refuse_unknown_options(options, cls.valid_options(), cls.family_name)
        return super().from_card(model_id=model_id, device=device, weights=weights, **options)

    @classmethod
    def random_weights_option(cls, options: dict[str, Any]) -> bool:
        """The random-weights switch of the transformers adapters is ``tiny``."""
        return bool(options.get("tiny"))

    @classmethod
    def load_model(cls, card, weights: str | None, overrides: dict[str, Any], random_weights: bool):
        """``(model, processor)``: both come from the same snapshot folder (or the same tiny
        configuration), so this hook loads the pair and :meth:`load_tokenizer` has nothing to
        add (the processor holds the tokenizer)."""
        cls.check_backend()
        if random_weights:
            return cls.build_tiny()
        return load_pretrained(card, cls.model_class(), cls.processor_class(), weights)

    @classmethod
    def load_tokenizer(cls, card, option: str | None):
        """Nothing: the processor loaded with the model tokenizes."""
        return None

    @classmethod
    def from_parts(cls, card, model, tokenizer, *, model_id: str, device: str, weights: str | None,
                   options: dict[str, Any]) -> "HfAdapter":
        net, processor = model
        return cls(model_id=model_id, model=net, processor=processor, card=card, device=device,
                   weights=weights, **options)

    @classmethod
    def weights_digest(cls, card, weights: str | None) -> str:
        """sha256 of the model file in use (provenance, prediction-store key)."""
        from evalkit.download import sha256_file
        from evalkit.hub import weights_sha256

        if weights is None:
            return weights_sha256(card)
        return sha256_file(Path(weights).expanduser() / card.model_weights.name)

    @classmethod
    def valid_options(cls) -> frozenset[str]:
        return COMMON_OPTIONS | {f.name for f in dataclasses.fields(cls.settings_cls)}

    @classmethod
    def check_backend(cls) -> None:
        """Raise :class:`EvalkitError` when a package the family's classes need is missing
        (hook; SAM 2 needs torchvision)."""

    @classmethod
    def model_class(cls):
        """The ``transformers`` model class (imported on use: listing never imports it)."""
        import transformers

        return getattr(transformers, cls.model_class_name)

    @classmethod
    def processor_class(cls):
        """The ``transformers`` processor class of the model."""
        import transformers

        return getattr(transformers, cls.processor_class_name)

    @classmethod
    def build_tiny(cls):
        """``(model, processor)`` of the tiny random configuration (:mod:`.tiny`)."""
        from . import tiny

        return getattr(tiny, cls.tiny_config)()

    @classmethod
    def tiny_network(cls, **_: Any):
        """The cards' builder: the tiny random architecture alone (its processor dropped)."""
        cls.check_backend()
        return cls.build_tiny()[0]

    # -- contract ---------------------------------------------------------------------------
    def accepted_options(self) -> frozenset[str]:
        return self.valid_options()

    def make_context(self, task: str, benchmark: str | None = None) -> InferenceContext:
        return InferenceContext(task=task, benchmark=benchmark, dataset=self._dataset_of(benchmark),
                                settings=self.settings)

    def _infer_task(self, frames: Frames, prompt: Prompt) -> str:
        raise EvalkitError(f"model {self.model_id!r}: call prepare(task) or build the adapter "
                           f"with task=... before predict")

    def bundle_parts(self) -> dict[str, Any]:
        """The :class:`HfModel` fields (a family's bundle adds its steps to them)."""
        return {"net": self.model, "processor": self.processor, "device": self.device,
                "model_id": self.model_id}

    def bundle(self) -> HfModel:
        return HfModel(**self.bundle_parts())

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["settings"] = settings_as_record(self.settings)
        d["hub"] = [s for w in self.card.weights for s in w.sources if s.startswith("hf://")][:1]
        d["random_config"] = self.random_weights_option(self.options)
        return d
