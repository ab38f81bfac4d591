"""GLEE behind ``predict(frames, prompt)``: the adapter factory and task dispatch.

Every procedure is a function ``fn(model, context, frames, prompt)`` of the model bundle
(:class:`GLEEModel`) and the run's :class:`~evalkit.adapters.base.InferenceContext`:

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

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from ..types import Categories, Expression, Frames, Prompt, Reference, prompt_kind
from ..zoo.glee.model import TextPrompt
from .base import InferenceContext, ProcedureAdapter
from .factory import CardFactory
from .options import INPUT_SIZE, input_size_option, settings_as_record

__all__ = ["GLEEAdapter", "GLEEModel", "GLEEInputSize", "build_adapter", "ALL_TASKS", "PROMPT_NAMES"]

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


class GLEEInputSize(NamedTuple):
    """The test-time input of a GLEE task (:attr:`InferenceContext.input_size`).

    Attributes:
        short_edge / max_size: ``ResizeShortestEdge`` of the task (card, dataset, option).
        size_divisibility: the canvas is padded to a multiple of it (32, or the LSJ side).
        lsj_side: the side of GLEE-Pro's square LSJ canvas (:mod:`.glee_lsj`), else ``None``.
    """

    short_edge: int
    max_size: int
    size_divisibility: int
    lsj_side: int | None


@dataclass(frozen=True)
class GLEEModel:
    """GLEE as its procedures see it.

    Attributes:
        net: :class:`evalkit.zoo.glee.model.GLEE` (``eval()`` mode, on ``device``).
        device: where the inputs go.
        class_prompt: ``fn(categories, batch) -> TextPrompt`` of the category names (cached).
        expression_prompt: ``fn(text, batch) -> TextPrompt`` of a referring expression.
    """

    net: Any
    device: str
    class_prompt: Any
    expression_prompt: Any

    def preprocess(self, frames: Frames, ctx: InferenceContext):
        """Resize (short edge / max size of the context), normalise and pad ``frames``: to a
        multiple of 32 with zeros (``ImageList.from_tensors(images, MaskDINO.SIZE_DIVISIBILITY)``),
        or — for the LSJ configs of GLEE-Pro — onto the square canvas of
        :func:`~.glee_lsj.lsj_canvas`. Returns an :class:`~evalkit.zoo.ops.ImageBatch`."""
        from ..zoo.ops import preprocess

        from .glee_lsj import lsj_canvas

        size = ctx.input_size
        batch = preprocess([frames[i] for i in range(len(frames))], size.short_edge, size.max_size,
                           size_divisibility=size.size_divisibility, device=self.device)
        return batch if size.lsj_side is None else lsj_canvas(batch, size.lsj_side)


class GLEEAdapter(CardFactory, ProcedureAdapter):
    """Wraps a built GLEE model (any variant) and a :class:`~evalkit.zoo.glee.text.GLEETokenizer`.

    Args:
        model: :class:`evalkit.zoo.glee.model.GLEE` (its weights as given; put in eval mode).
        tokenizer: text → ``(ids, mask)``.
        input_sizes: the card's ``input_sizes`` (task → ``min_size``/``max_size``/``pad_square``/
            ``per_dataset``).
        tasks: tasks the weights support (the card's ``tasks``).
    """

    family = "glee"
    family_name = "GLEE"
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

    # -- factory hooks (:class:`~evalkit.adapters.factory.CardFactory`) ------------------------
    @classmethod
    def load_model(cls, card, weights: str | None, overrides: dict[str, Any], random_weights: bool):
        """The official checkpoint fetched, converted and loaded strictly
        (:func:`evalkit.zoo.api.load_model`)."""
        from evalkit.zoo.api import load_model

        return load_model(card.id, weights)

    @classmethod
    def load_tokenizer(cls, card, option: str | None):
        """The CLIP BPE tokenizer of the card's ``clip-merges.txt``."""
        from evalkit.hub import fetch_weights
        from evalkit.zoo.glee.text import GLEETokenizer

        return GLEETokenizer.from_merges(str(fetch_weights(card, name="clip-merges.txt")))

    @classmethod
    def from_parts(cls, card, model, tokenizer, *, model_id: str, device: str, weights: str | None,
                   options: dict[str, Any]) -> "GLEEAdapter":
        return cls(model, tokenizer, input_sizes=dict(card.input_sizes), tasks=card.tasks, model_id=model_id,
                   device=device, weights=weights, **options)

    # -- configuration --------------------------------------------------------------------------
    def make_context(self, task: str, benchmark: str | None = None) -> InferenceContext:
        """Adds the settings and the input size of ``task`` on the dataset."""
        dataset = self._dataset_of(benchmark)
        short, longest, div = self.input_size(task, dataset)
        return InferenceContext(task=task, benchmark=benchmark, dataset=dataset, settings=self.settings,
                                input_size=GLEEInputSize(short, longest, div, self.lsj_side(task)))

    def _infer_task(self, frames: Frames, prompt: Prompt) -> str:
        return (_VIDEO_TASK if len(frames) > 1 else _IMAGE_TASK)[prompt_kind(prompt)]

    def input_size(self, task: str, dataset: str | None = None) -> tuple[int, int, int]:
        """``(short edge, max size, size divisibility)`` of ``task`` on ``dataset`` (default:
        the prepared one) (card + options)."""
        spec = dict(self.input_sizes.get(task) or self.input_sizes.get("inst-seg") or {})
        per = spec.pop("per_dataset", None) or {}
        dataset = dataset or self.dataset
        keys = [k for k in per if dataset and dataset.startswith(k)]
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

    # -- the model bundle -----------------------------------------------------------------------
    def bundle(self) -> GLEEModel:
        return GLEEModel(net=self.model, device=self.device, class_prompt=self.class_prompt,
                         expression_prompt=self.expression_prompt)

    def procedures(self):
        from . import glee_image, glee_video, glee_vos

        return {"det": (glee_image.detect, Categories), "inst-seg": (glee_image.detect, Categories),
                "rec": (glee_image.ground, Expression), "res": (glee_image.ground, Expression),
                "interactive": (glee_image.interactive, Reference),
                "vis": (glee_video.track, Categories), "ow-track": (glee_video.track, Categories),
                "vos": (glee_vos.vos, Reference), "rvos": (glee_vos.rvos, Expression)}

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


#: factory named by the GLEE model cards: the card families' one factory path (the official
#: weights fetched, converted and loaded strictly; the CLIP BPE merges of the card)
build_adapter = GLEEAdapter.from_card
