"""The Adapter interface: an inference procedure behind ``predict(frames, prompt)``.

An adapter wraps a zoo model (or anything else) and declares which tasks and prompt kinds it
supports. The runner calls :meth:`Adapter.prepare` once before inference: it validates the task
and prompt kind (an unsupported request is a clear error, never an empty result) and returns the
immutable :class:`InferenceContext` of the run — the task, the benchmark, the dataset whose
rules apply, the resolved procedure settings and the input size. It is the only place an
adapter's per-run state is set (``adapter.context``); procedures read the context, not options.

The built-in families (UNINEXT, UniRef++, GLEE, UniVS, the tiny models and the `transformers` models of
``adapters/hf``) are :class:`ProcedureAdapter` subclasses: each task is a *procedure*, a function
``fn(model, context, frames, prompt) ->`` :class:`ProcedureResult` (the instances per frame and
what the procedure counted) of the family's model bundle (the network and the steps around it,
:meth:`ProcedureAdapter.bundle`; UniVS: the network) and the frozen context; a procedure reads
nothing else of the adapter and writes nothing on it or on the network.
:meth:`ProcedureAdapter.predict` unwraps the result: it returns the instances and keeps the
stats as ``adapter.last_stats``.

Models are registered in :data:`evalkit.registry.MODELS` with a factory target
``fn(*, model_id, device="cpu", weights=None, **options) -> Adapter``; the cards' models all go
through :meth:`evalkit.adapters.factory.CardFactory.from_card`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Generator, Iterable, Iterator, Mapping

from ..errors import UnsupportedTaskError
from ..types import ContractError, Frames, Instances, Prompt, prompt_kind

__all__ = ["Adapter", "InferenceContext", "ProcedureAdapter", "ProcedureResult", "streamed"]


@dataclass(frozen=True)
class InferenceContext:
    """What a procedure needs besides the model and the sample, fixed for a run.

    Attributes:
        task: the task being run (``vos``, ``inst-seg``...).
        benchmark: the benchmark id the samples come from (``davis17-val``), or ``None``.
        dataset: the dataset whose per-dataset rules apply: the ``dataset`` option, else the
            benchmark id (rules match by name prefix: ``ovis`` matches ``ovis-val``).
        settings: the resolved settings of the task's procedure (a frozen dataclass of the
            family's ``*_settings`` module), or ``None`` for a procedure without settings.
        input_size: the resolved test-time input size of the task, in the family's form
            (card adapters ``(short_edge, max_size)``; GLEE
            :class:`~evalkit.adapters.glee.GLEEInputSize`; UniVS ``{"min_size", "max_size"}``
            or ``{"square"}``).
        vocabulary: the class-embedding vocabulary (UniVS ``vocabulary`` option), else ``None``;
            category names come with each sample's prompt.
    """

    task: str
    benchmark: str | None = None
    dataset: str | None = None
    settings: Any = None
    input_size: Any = None
    vocabulary: str | None = None

    def dataset_is(self, prefix: str) -> bool:
        """Whether a per-dataset rule keyed ``prefix`` applies: the dataset is ``prefix`` or
        starts with it (``ovis`` matches ``ovis-val``); ``False`` without a dataset."""
        return bool(self.dataset) and self.dataset.startswith(prefix)


@dataclass(frozen=True)
class ProcedureResult:
    """What every procedure returns: the instances and what it counted on the way.

    Attributes:
        instances: one :class:`~evalkit.types.Instances` per frame (original-image frame): a
            list, or an iterator for a procedure that yields each frame as it is done (video
            procedures: memory stays flat in the video's length).
        stats: counts of this call, name → int (frames run, tracks started, peak sizes of a
            streaming state...), the keys documented by each procedure. Read-only; for an
            iterator (:meth:`streamed`) it is empty until the iterator is exhausted, then it
            holds the procedure's counts.
    """

    instances: list[Instances] | Iterator[Instances]
    stats: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.stats, MappingProxyType):  # read-only for whoever holds it
            object.__setattr__(self, "stats", MappingProxyType(dict(self.stats)))

    @classmethod
    def streamed(cls, frames: Generator[Instances, None, Mapping[str, int]]) -> "ProcedureResult":
        """The result of a generator that yields one :class:`Instances` per frame and returns
        its stats (the generator's ``return`` value): ``instances`` passes the frames on as the
        consumer asks for them, ``stats`` is filled when the last one has been taken."""
        counts: dict[str, int] = {}

        def run() -> Iterator[Instances]:
            counts.update((yield from frames) or {})

        return cls(run(), MappingProxyType(counts))


def streamed(fn: Callable[..., Generator[Instances, None, Mapping[str, int]]]) -> Callable[..., ProcedureResult]:
    """A procedure from a generator function ``fn(model, context, frames, prompt)`` that yields
    one :class:`Instances` per frame and returns its stats (:meth:`ProcedureResult.streamed`)."""

    @functools.wraps(fn)
    def procedure(model, context, frames, prompt) -> ProcedureResult:
        return ProcedureResult.streamed(fn(model, context, frames, prompt))

    return procedure


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
        #: the run's context, set by :meth:`prepare` only
        self.context: InferenceContext | None = None

    # -- the run's context --------------------------------------------------------------------
    def prepare(self, task: str, benchmark=None) -> InferenceContext:
        """Validate ``task`` (and the benchmark's prompt kind) and fix the run's context.

        Args:
            task: the task to run.
            benchmark: a :class:`~evalkit.benchmarks.base.Benchmark` (its ``id`` and ``prompt``
                kind are used), a benchmark id, or ``None``.

        Returns:
            the :class:`InferenceContext`, also kept as ``adapter.context`` for
            :meth:`predict`.

        Raises:
            UnsupportedTaskError: the task or the benchmark's prompt kind is not supported.
        """
        bench_id = benchmark if isinstance(benchmark, str) or benchmark is None else benchmark.id
        kind = None if isinstance(benchmark, str) or benchmark is None else benchmark.prompt
        if kind:
            self.check(task, kind)
        else:
            self._check_task(task)
        self.context = self.make_context(task, bench_id or None)
        return self.context

    def make_context(self, task: str, benchmark: str | None = None) -> InferenceContext:
        """The context of ``task`` on ``benchmark`` with the options applied (no state is
        changed; families add their settings and input size)."""
        return InferenceContext(task=task, benchmark=benchmark, dataset=self._dataset_of(benchmark))

    def _dataset_of(self, benchmark: str | None) -> str | None:
        return self.options.get("dataset") or benchmark

    def context_for(self, task: str) -> InferenceContext:
        """The prepared context when it is ``task``'s, else ``task``'s without a benchmark (a
        caller that did not :meth:`prepare`; the context is not kept)."""
        if self.context is not None and self.context.task == task:
            return self.context
        return self.make_context(task, None)

    @property
    def task(self) -> str | None:
        """The prepared task, else the ``task`` option (read-only: set it with :meth:`prepare`)."""
        return self.context.task if self.context is not None else self.options.get("task")

    @property
    def dataset(self) -> str | None:
        """The dataset whose rules apply: the ``dataset`` option, else the prepared benchmark."""
        return self.context.dataset if self.context is not None else self.options.get("dataset")

    @property
    def benchmark(self) -> str | None:
        return self.context.benchmark if self.context is not None else None

    def _check_task(self, task: str) -> None:
        if task not in self.tasks:
            raise UnsupportedTaskError(
                f"model {self.model_id!r} does not support task {task!r} "
                f"(supported: {', '.join(sorted(self.tasks))})"
            )

    def check(self, task: str, prompt: Prompt | str) -> None:
        """Validation only: raise :class:`UnsupportedTaskError` unless ``task`` and the prompt
        (or prompt kind) are supported. Changes nothing."""
        kind = prompt if isinstance(prompt, str) else prompt_kind(prompt)
        self._check_task(task)
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

    def predict(self, frames: Frames, prompt: Prompt) -> list[Instances] | Iterable[Instances]:
        """One :class:`Instances` per frame of ``frames``, in the original-image frame."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Resolved configuration for run.json."""
        return {"model_id": self.model_id, "device": self.device, "weights": self.weights,
                "weights_sha256": self.weights_sha256, "options": self.options}


class ProcedureAdapter(Adapter):
    """An adapter whose tasks are procedures ``fn(model, context, frames, prompt) ->``
    :class:`ProcedureResult`, with the one ``predict`` dispatch of the built-in families.

    A family supplies :meth:`procedures` (task → procedure and the prompt type it takes),
    :meth:`bundle` (what the procedures see of the model) and :meth:`_infer_task` (the task of
    a prompt when neither :meth:`prepare` nor the ``task`` option gave one).

    Attributes:
        last_stats: the stats of the last :meth:`predict` (its :attr:`ProcedureResult.stats`;
            for a streamed video complete once its instances have all been taken), ``{}``
            before the first call and after an empty clip. The adapter-side record of the
            call, for logs and benchmarks; procedures never write it.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.last_stats: Mapping[str, int] = MappingProxyType({})

    def procedures(self) -> dict[str, tuple[Callable, type]]:
        """task → (procedure ``fn(model, context, frames, prompt) -> ProcedureResult``,
        expected prompt type)."""
        raise NotImplementedError

    def bundle(self) -> Any:
        """The model as the procedures see it: the network and the family's steps around it
        (prompt encoding, preprocessing), a frozen dataclass of the family; or the network
        itself where the context holds the rest (UniVS)."""
        raise NotImplementedError

    def _infer_task(self, frames: Frames, prompt: Prompt) -> str:
        raise NotImplementedError

    def predict(self, frames: Frames, prompt: Prompt) -> list[Instances] | Iterable[Instances]:
        task = self.task or self._infer_task(frames, prompt)
        self._check_task(task)
        procedures = self.procedures()
        if task not in procedures:
            raise UnsupportedTaskError(f"model {self.model_id!r} has no procedure for task {task!r}")
        procedure, expected = procedures[task]
        if not isinstance(prompt, expected):
            raise UnsupportedTaskError(f"task {task!r} of {self.model_id!r} expects a "
                                       f"{expected.__name__} prompt, got {type(prompt).__name__}")
        if len(frames) == 0:
            self.last_stats = MappingProxyType({})
            return []
        result = procedure(self.bundle(), self.context_for(task), frames, prompt)
        if not isinstance(result, ProcedureResult):
            name = getattr(procedure, "__qualname__", repr(procedure))
            raise ContractError(f"procedure {name} of task {task!r} returned {type(result).__name__}, "
                                f"expected a ProcedureResult(instances, stats)")
        self.last_stats = result.stats
        return result.instances
