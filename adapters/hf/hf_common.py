"""The common part of the adapters around ``transformers`` models (Grounding DINO, OWLv2,
Mask2Former, SAM 2 video): model card lookup, the model and its own processor (pinned hub
revision through :mod:`evalkit.hub`, or a tiny random configuration), the settings dataclass
behind the ``-a key=value`` options, and the task → procedure dispatch of ``predict``.

A family subclasses :class:`HfAdapter` and names its ``transformers`` classes, its settings
dataclass and its procedures; its factory is ``build_adapter = Family.from_card``.

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
from pathlib import Path
from typing import Any, Callable, Iterable

from evalkit.errors import EvalkitError, UnsupportedTaskError, WeightsError
from evalkit.types import Frames, Instances, Prompt

from ..base import Adapter, InferenceContext
from ..options import refuse_unknown_options, settings_as_record

__all__ = ["HfAdapter", "resolve_settings", "load_pretrained", "category_lookup",
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


class HfAdapter(Adapter):
    """One ``transformers`` model and its processor behind ``predict(frames, prompt)``.

    Class attributes set by each family:
        family_name: the family as written in messages (``Grounding DINO``).
        settings_cls: the frozen settings dataclass of the family's procedures.
        prompt_kinds: the prompt kinds accepted.

    Attributes:
        card: the model card; model: the network (``eval()`` mode, on ``device``);
        processor: the model's own processor (pre- and post-processing); settings: the
        resolved settings (the same for every task of the family).
    """

    family_name: str = ""
    settings_cls: type = type(None)

    def __init__(self, *, model_id: str, model, processor, card, device: str = "cpu",
                 weights: str | None = None, **options: Any):
        refuse_unknown_options(options, self.valid_options(), self.family_name)
        super().__init__(model_id=model_id, device=device, weights=weights, **options)
        self.card = card
        self.model = model.to(device).eval()
        self.processor = processor
        self.tasks = frozenset(card.tasks)
        self.settings = resolve_settings(self.settings_cls, options, self.family_name)

    # -- factory ----------------------------------------------------------------------------
    @classmethod
    def from_card(cls, *, model_id: str, device: str = "cpu", weights: str | None = None,
                  **options: Any) -> "HfAdapter":
        """The adapter factory named by the family's cards (``fn(*, model_id, device, weights,
        **options)``): ``tiny=True`` builds the tiny random configuration, otherwise the card's
        pinned revision is loaded."""
        from evalkit.zoo.cards import get_card

        refuse_unknown_options(options, cls.valid_options(), cls.family_name)
        card = get_card(model_id)
        if options.get("tiny"):
            model, processor = cls.build_tiny()
        else:
            model, processor = load_pretrained(card, cls.model_class(), cls.processor_class(), weights)
        adapter = cls(model_id=model_id, model=model, processor=processor, card=card,
                      device=device, weights=weights, **options)
        if not options.get("tiny"):
            adapter.weights_sha256 = cls.weights_digest(card, weights)
        return adapter

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
    def model_class(cls):
        """The ``transformers`` model class (imported on use: listing never imports it)."""
        raise NotImplementedError

    @classmethod
    def processor_class(cls):
        """The ``transformers`` processor class of the model."""
        raise NotImplementedError

    @classmethod
    def build_tiny(cls):
        """``(model, processor)`` of the tiny random configuration (:mod:`.tiny`)."""
        raise NotImplementedError

    # -- contract ---------------------------------------------------------------------------
    def accepted_options(self) -> frozenset[str]:
        return self.valid_options()

    def make_context(self, task: str, benchmark: str | None = None) -> InferenceContext:
        return InferenceContext(task=task, benchmark=benchmark, dataset=self._dataset_of(benchmark),
                                settings=self.settings)

    def predict(self, frames: Frames, prompt: Prompt) -> Iterable[Instances]:
        task = self.task
        if task is None:
            raise EvalkitError(f"model {self.model_id!r}: call prepare(task) or build the adapter "
                               f"with task=... before predict")
        if task not in self.tasks:
            raise UnsupportedTaskError(f"model {self.model_id!r} does not support task {task!r} "
                                       f"(supported: {', '.join(sorted(self.tasks))})")
        procedure, expected = self.procedures()[task]
        if not isinstance(prompt, expected):
            raise UnsupportedTaskError(f"task {task!r} of {self.model_id!r} expects a "
                                       f"{expected.__name__} prompt, got {type(prompt).__name__}")
        return procedure(self, self.context_for(task), frames, prompt)

    def procedures(self) -> dict[str, tuple[Callable, type]]:
        """task → (procedure ``fn(adapter, context, frames, prompt)``, expected prompt type)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["settings"] = settings_as_record(self.settings)
        d["hub"] = [s for w in self.card.weights for s in w.sources if s.startswith("hf://")][:1]
        d["random_config"] = bool(self.options.get("tiny"))
        return d
