"""GLEE behind ``predict(frames, prompt)``: the adapter factory and task dispatch.

| prompt | frames | task | procedure |
|---|---|---|---|
| ``Categories`` | image | det, inst-seg | :func:`~evalkit.adapters.glee_image.detect` |
| ``Expression`` | image | rec, res | :func:`~evalkit.adapters.glee_image.ground` |
| ``Reference`` | image | interactive | :func:`~evalkit.adapters.glee_image.interactive` |
| ``Categories`` | video | vis, ow-track | :func:`~evalkit.adapters.glee_video.track` |
| ``Reference`` | video | vos | :func:`~evalkit.adapters.glee_vos.vos` |
| ``Expression`` | video | rvos | :func:`~evalkit.adapters.glee_vos.rvos` |

The task is the one the runner prepared (:meth:`~.base.Adapter.prepare`); without it, it is
inferred from the prompt and the number of frames (table above).

Category names are encoded as the dataset spells them (the official model reads the raw names,
``giant_panda`` included), except GLEE's rewrites of four ODinW vocabularies (:data:`PROMPT_NAMES`).

Per-dataset rules use the context's dataset: the ``dataset`` option, else the benchmark id
the runner prepared (``ovis-val``...); a rule keyed ``ovis`` applies to every name starting with it.
Test sizes come from the model card (``input_sizes[task]`` and its ``per_dataset`` entries: OVIS
720, BURST 720, TAO 640...; GLEE-Pro: the 1536² LSJ canvas of :mod:`.glee_lsj`); BURST takes the YouTube-VIS output path, TAO its own; LVIS keeps the
top 300 detections (as do vocabularies of ≥ 1000 names without a dataset), others 100.

Options (all part of the prediction store key): ``dataset``, ``input_size`` (override the card,
:mod:`.options`) and the settings of :class:`~.glee_settings.GLEESettings`
(``test_topk_per_image``, ``interactive_score``, ``video_window_size``); an unknown option is an
error listing the valid ones.
"""
from __future__ import annotations

from typing import Any

import torch

from ..errors import EvalkitError, UnsupportedTaskError
from ..types import Categories, Expression, Frames, Instances, Prompt, Reference, prompt_kind
from ..zoo.glee.model import TextPrompt
from .base import Adapter, InferenceContext
from .options import INPUT_SIZE, input_size_option, settings_as_record

__all__ = ["GLEEAdapter", "build_adapter", "ALL_TASKS", "PROMPT_NAMES"]

ALL_TASKS = frozenset({"det", "inst-seg", "rec", "res", "interactive", "vis", "ow-track", "vos", "rvos"})
_IMAGE_TASK = {"categories": "inst-seg", "expression": "res", "reference": "interactive"}
_VIDEO_TASK = {"categories": "vis", "expression": "rvos", "reference": "vos"}
#: GLEE's own prompts for four ODinW vocabularies (official ``dataset_name_dicts``), applied when
#: a prompt's names are exactly one of these vocabularies; other names are encoded as given
PROMPT_NAMES = {
    ("Cottontail-Rabbit",): ("rabbits",),
    ("hand",): ("hand hands",),
    ("CoW", "chanterelle"): ("mushroom CoW", "mushroom chanterelle"),
    ("package",): ("packages",),
}


class GLEEAdapter(Adapter):
    """Wraps a built GLEE model (any variant) and a :class:`~evalkit.zoo.glee.text.GLEETokenizer`.

    Args:
        model: :class:`evalkit.zoo.glee.model.GLEE` (its weights as given; put in eval mode).
        tokenizer: text → ``(ids, mask)``.
        input_sizes: the card's ``input_sizes`` (task → ``min_size``/``max_size``/``pad_square``/
            ``per_dataset``).
        tasks: tasks the weights support (the card's ``tasks``).
    """

    prompt_kinds = frozenset({"categories", "expression", "reference"})

    def __init__(self, model, tokenizer, *, input_sizes: dict[str, Any], tasks=ALL_TASKS, model_id: str = "",
                 device: str = "cpu", weights: str | None = None, **options: Any):
        from .glee_settings import check_options, resolve

        check_options(options)
        super().__init__(model_id=model_id, device=device, weights=weights, **options)
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.input_sizes = dict(input_sizes)
        self.tasks = frozenset(tasks)
        #: the resolved settings (:class:`~.glee_settings.GLEESettings`; the same for every task)
        self.settings = resolve(options)
        self._class_cache: tuple[tuple[str, ...], Any] | None = None

    # -- configuration --------------------------------------------------------------------------
    def make_context(self, task: str, benchmark: str | None = None) -> InferenceContext:
        """Adds the settings and the input size of ``task`` on the dataset."""
        dataset = self._dataset_of(benchmark)
        return InferenceContext(task=task, benchmark=benchmark, dataset=dataset, settings=self.settings,
                                input_size=self.input_size(task, dataset))

    def dataset_is(self, prefix: str, dataset: str | None = None) -> bool:
        """Whether ``dataset`` (default: the prepared dataset / benchmark) is ``prefix`` or
        starts with it."""
        dataset = dataset or self.dataset
        return bool(dataset) and dataset.startswith(prefix)

    def resolve_task(self, frames: Frames, prompt: Prompt) -> str:
        kind = prompt_kind(prompt)
        if self.task is not None:
            return self.task
        return (_VIDEO_TASK if len(frames) > 1 else _IMAGE_TASK)[kind]

    def input_size(self, task: str, dataset: str | None = None) -> tuple[int, int, int]:
        """``(short edge, max size, size divisibility)`` of ``task`` on ``dataset`` (default:
        the prepared one) (card + options)."""
        spec = dict(self.input_sizes.get(task) or self.input_sizes.get("inst-seg") or {})
        per = spec.pop("per_dataset", None) or {}
        keys = [k for k in per if self.dataset_is(k, dataset)]
        if keys:
            spec.update(per[max(keys, key=len)])
        short, longest = int(spec.get("min_size", 800)), int(spec.get("max_size", 1333))
        if INPUT_SIZE in self.options:
            short, longest = input_size_option(self.options[INPUT_SIZE], "GLEE", longest)
        div = max(int(spec.get("pad_square") or 0), self.model.size_divisibility)
        return short, longest, div

    def lsj_side(self, task: str) -> int | None:
        """The side of the square LSJ canvas of ``task`` (card ``pad_square``: GLEE-Pro's
        ``coco_instance_lsj`` test mapper, :mod:`evalkit.adapters.glee_lsj`), else ``None``."""
        spec = dict(self.input_sizes.get(task) or self.input_sizes.get("inst-seg") or {})
        return int(spec["pad_square"]) if spec.get("pad_square") else None

    def describe(self) -> dict[str, Any]:
        """Adds the resolved settings (run.json)."""
        d = super().describe()
        d["settings"] = settings_as_record(self.settings)
        return d

    # -- text -----------------------------------------------------------------------------------
    def class_prompt(self, categories: Categories, batch: int):
        """Encoded category names (cached across calls for the same vocabulary)."""
        names = tuple(categories.names)
        names = PROMPT_NAMES.get(names, names)
        if self._class_cache is None or self._class_cache[0] != names:
            ids, mask = self.tokenizer(list(names))
            with torch.no_grad():
                tp = self.model.category_prompt(ids.to(self.device), mask.to(self.device), 1)
            self._class_cache = (names, tp)
        tp = self._class_cache[1]
        return TextPrompt(class_embeddings=tp.class_embeddings, fusion=tp.fusion.expand(batch, -1, -1))

    def expression_prompt(self, text: str, batch: int):
        ids, mask = self.tokenizer([text] * batch)
        return self.model.expression_prompt(ids.to(self.device), mask.to(self.device))

    # -- inference ------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, frames: Frames, prompt: Prompt) -> list[Instances]:
        task = self.resolve_task(frames, prompt)
        if task not in self.tasks:
            raise UnsupportedTaskError(f"model {self.model_id!r} does not support task {task!r} "
                                       f"(supported: {', '.join(sorted(self.tasks))})")
        if len(frames) == 0:
            return []
        if task in ("det", "inst-seg"):
            from .glee_image import detect
            return [detect(self, frames[i:i + 1], _expect(prompt, Categories, task), task)[0]
                    for i in range(len(frames))]
        if task in ("rec", "res"):
            from .glee_image import ground
            return [ground(self, frames[i:i + 1], _expect(prompt, Expression, task), task)[0]
                    for i in range(len(frames))]
        if task == "interactive":
            from .glee_image import interactive
            return interactive(self, frames, _expect(prompt, Reference, task))
        if task in ("vis", "ow-track"):
            from .glee_video import track
            return track(self, frames, _expect(prompt, Categories, task), task)
        if task == "vos":
            from .glee_vos import vos
            return vos(self, frames, _expect(prompt, Reference, task))
        if task == "rvos":
            from .glee_vos import rvos
            return rvos(self, frames, _expect(prompt, Expression, task))
        raise UnsupportedTaskError(f"GLEE has no procedure for task {task!r}")


def _expect(prompt: Prompt, cls, task: str):
    if not isinstance(prompt, cls):
        raise UnsupportedTaskError(f"GLEE task {task!r} needs a {cls.__name__} prompt, got "
                                   f"{type(prompt).__name__}")
    return prompt


def build_adapter(*, model_id: str, device: str = "cpu", weights: str | None = None, **options: Any) -> GLEEAdapter:
    """The factory named by the GLEE model cards: build the variant, fetch, convert and load the
    official weights strictly, and read the CLIP BPE merges (card weight ``clip-merges.txt``)."""
    from evalkit.hub import fetch_weights, weights_sha256
    from evalkit.zoo.api import get_card, load_model
    from evalkit.zoo.glee.text import GLEETokenizer

    card = get_card(model_id)
    model = load_model(model_id, weights, device=device)
    tokenizer = GLEETokenizer.from_merges(str(fetch_weights(card, name="clip-merges.txt")))
    adapter = GLEEAdapter(model, tokenizer, input_sizes=dict(card.input_sizes), tasks=card.tasks,
                          model_id=model_id, device=device, weights=weights, **options)
    adapter.weights_sha256 = weights_sha256(card, weights)
    return adapter
