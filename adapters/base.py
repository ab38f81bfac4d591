"""The Adapter interface: an inference procedure behind ``predict(frames, prompt)``.

An adapter wraps a zoo model (or anything else) and declares which tasks and prompt kinds it
supports. The runner calls :meth:`Adapter.check` before inference, so an unsupported request
is a clear error, never an empty result.

Models are registered in :data:`evalkit.registry.MODELS` with a factory target
``fn(*, model_id, device="cpu", weights=None, **options) -> Adapter`` (one factory may serve
several registered ids, e.g. every UNINEXT variant).
"""
from __future__ import annotations

from typing import Any, Iterable

from ..errors import UnsupportedTaskError
from ..types import Frames, Instances, Prompt, prompt_kind

__all__ = ["Adapter"]


class Adapter:
    """Base class.

    Attributes:
        model_id: registered model id.
        tasks: tasks supported (``det``, ``inst-seg``, ``rec``, ``res``, ``sot``, ``vos``,
            ``rvos``, ``mot``, ``mots``, ``vis``, ``vss``, ``vps``, ``pvos``, ``fss``,
            ``interactive``, ``ow-track``).
        prompt_kinds: ``categories`` / ``expression`` / ``reference``.
        weights_sha256: hash of the weights in use (provenance, prediction-store key).
        options: inference options that change outputs (part of the store key).
    """

    model_id: str = ""
    tasks: frozenset[str] = frozenset()
    prompt_kinds: frozenset[str] = frozenset()
    #: the ``-a key=value`` options this adapter reads; ``None``: not declared (anything is
    #: passed through). Adapters with a settings dataclass return its fields from
    #: :meth:`accepted_options` instead.
    option_keys: frozenset[str] | None = None

    def __init__(self, *, model_id: str | None = None, device: str = "cpu", weights: str | None = None,
                 **options: Any):
        if model_id:
            self.model_id = model_id
        self.device = device
        self.weights = weights
        self.weights_sha256: str | None = None
        self.options = options

    def check(self, task: str, prompt: Prompt | str) -> None:
        kind = prompt if isinstance(prompt, str) else prompt_kind(prompt)
        if task not in self.tasks:
            raise UnsupportedTaskError(
                f"model {self.model_id!r} does not support task {task!r} "
                f"(supported: {', '.join(sorted(self.tasks))})"
            )
        if kind not in self.prompt_kinds:
            raise UnsupportedTaskError(
                f"model {self.model_id!r} does not accept {kind} prompts "
                f"(accepted: {', '.join(sorted(self.prompt_kinds))})"
            )

    def accepted_options(self) -> frozenset[str] | None:
        """Names of the options this adapter understands (``None``: undeclared). The runner
        refuses any other ``-a`` option before a run directory is made: a misspelt option must
        not be silently ignored (it would also enter the store key)."""
        return self.option_keys

    def bind(self, benchmark_id: str, task: str) -> None:
        """Called by the runner before inference: which benchmark (and task) the samples come
        from. Adapters with per-dataset rules (test sizes, thresholds) read ``self.dataset``,
        which defaults to the benchmark id (``davis17-val``, ``ovis-val``...) unless the user set
        the ``dataset`` option."""
        self.benchmark = benchmark_id
        if getattr(self, "dataset", None) is None:
            self.dataset = benchmark_id

    def predict(self, frames: Frames, prompt: Prompt) -> list[Instances] | Iterable[Instances]:
        """One :class:`Instances` per frame of ``frames``, in the original-image frame."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Resolved configuration for run.json."""
        return {"model_id": self.model_id, "device": self.device, "weights": self.weights,
                "weights_sha256": self.weights_sha256, "options": self.options}
