"""The state of one ``evalkit run`` invocation, built once by the runner and read by its steps.

:func:`evalkit.runner.run_evaluation` resolves the configuration, the benchmark, the selection,
the run directory, the prediction store and (unless only scoring) the adapter, then hands one
:class:`RunState` to inference (``evalkit.runner._infer``) and to the finalisation steps
(:mod:`evalkit.finalise`). The fields are fixed once the state is built; only ``stats`` is
filled in as inference runs (detectron2's ``inference_on_dataset`` keeps its counters the same
way, in one place).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: importing the runner's parts here would be circular
    from .benchmarks.base import Benchmark
    from .distributed import DistContext
    from .runner import RunConfig
    from .selection import Selection
    from .store import PredictionStore

__all__ = ["RunState", "InferStats", "RunResult"]


@dataclass
class RunResult:
    """What :func:`evalkit.runner.run_evaluation` returns: the run directory, the metrics (None
    when not scored here), the status (``complete`` | ``partial`` | ``inferred`` |
    ``server-pending``; ``incomplete`` on ranks other than 0) and the sample counts."""

    run_dir: Path
    metrics: dict[str, float] | None
    status: str
    samples: dict[str, int]


@dataclass
class InferStats:
    """Counters of this invocation's inference on this rank (rank 0's reach run.json).

    ``data_s``: seconds spent loading samples (fingerprinting the data included);
    ``inference_s``: seconds in ``adapter.predict`` plus encoding and storing the records;
    ``frames`` / ``samples``: frames and samples predicted successfully; ``threads``: the torch
    CPU threads set (None when only scoring)."""

    data_s: float = 0.0
    inference_s: float = 0.0
    frames: int = 0
    samples: int = 0
    threads: int | None = None


@dataclass(frozen=True)
class RunState:
    """What the runner's steps share (one invocation, one rank).

    Attributes:
        cfg: the run configuration (recorded in run.json).
        bench: the benchmark split, data root resolved.
        selection: the samples this run covers (:mod:`evalkit.selection`; on resume, the run's own).
        store: the run's prediction store (``run_dir/predictions``).
        run_dir: the run directory.
        ctx: the distributed context (rank, world size; a single process is rank 0 of 1).
        adapter: the model behind ``predict`` (None under ``--mode score``).
        fingerprint: the data fingerprint (``bench.fingerprint()``).
        store_key: the store key (sha256 of the store's parts).
        resumed: whether an existing run is continued.
        argv: the command line recorded in run.json (None: ``sys.argv``).
        t_start: ``time.perf_counter()`` when the run started (total time).
        started: the start time, ISO 8601 UTC.
        stats: inference counters, filled by inference.
    """

    cfg: "RunConfig"
    bench: "Benchmark"
    selection: "Selection"
    store: "PredictionStore"
    run_dir: Path
    ctx: "DistContext"
    adapter: Any
    fingerprint: str
    store_key: str
    resumed: bool
    argv: list[str] | None
    t_start: float
    started: str
    stats: InferStats = field(default_factory=InferStats)

    @property
    def ids(self) -> list[str]:
        """The selected sample ids, in split order."""
        return list(self.selection.ids)

    @property
    def results_dir(self) -> Path:
        return self.run_dir / "results"

    def store_parts(self) -> dict:
        """The store's key components (what a re-scoring run knows of the model)."""
        return self.store.parts()

    def weights_sha256(self) -> str | None:
        """The weights the predictions were made with: this run's, or (re-scoring) the store's."""
        return self.adapter.weights_sha256 if self.adapter is not None else self.store_parts().get("weights_sha256")

    def dtype(self) -> str:
        """The precision the predictions were made in: this run's, or (re-scoring) the store's."""
        if self.adapter is not None:
            return self.cfg.dtype
        return self.store_parts().get("model_options", {}).get("dtype", "float32")
