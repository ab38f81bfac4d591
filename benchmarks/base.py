"""The Benchmark interface: a reader of the official on-disk layout, a writer of the official
results format, and the metric it is scored with.

A benchmark split is registered in :data:`evalkit.registry.BENCHMARKS` with
``target="evalkit.benchmarks.<module>:<Class>"`` and metadata ``options`` (constructor keyword
arguments, e.g. ``{"split": "testA"}``), ``task``, ``prompt`` (``categories`` | ``expression``
| ``reference``), ``metric`` (a metric id, or ``None`` for server-scored splits), ``server``
(bool), ``dataset`` (the folder name under the data root) and ``paper`` (the tables it appears
in). :func:`build_benchmark` resolves the data root and constructs it.

Data root resolution (first hit wins): ``--data-root`` / ``data_root=`` argument,
``EVALKIT_DATA_<DATASET>`` (per-dataset path, dataset upper-cased, ``-`` → ``_``),
``EVALKIT_DATA``, ``./datasets``. Under the root each dataset lives in the folder the
UNINEXT/GLEE repos use (``coco/``, ``refcoco/``, ``DAVIS/`` ...).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import DatasetError
from ..types import Instances, Sample

__all__ = ["Benchmark", "build_benchmark", "check_sample_ids", "resolve_data_root", "file_fingerprint"]


def resolve_data_root(dataset: str, data_root: str | os.PathLike | None = None) -> Path:
    """Folder holding ``dataset`` (see module docstring for the order of precedence)."""
    key = "EVALKIT_DATA_" + dataset.upper().replace("-", "_").replace(".", "_")
    if data_root is not None:
        return Path(data_root) / dataset
    if os.environ.get(key):
        return Path(os.environ[key])
    if os.environ.get("EVALKIT_DATA"):
        return Path(os.environ["EVALKIT_DATA"]) / dataset
    return Path("datasets") / dataset


def file_fingerprint(paths: Iterable[Path], extra: str = "") -> str:
    """sha256 over the *contents* of annotation files (and an extra string, e.g. sample ids).

    Images are not hashed (too slow on COCO-sized sets): their ids come in via ``extra``.
    """
    h = hashlib.sha256(extra.encode())
    for p in sorted(Path(p) for p in paths):
        h.update(str(p.name).encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


class Benchmark:
    """Base class of every benchmark split.

    Subclasses set the class attributes or receive them from the registry entry, and implement
    :meth:`validate`, :meth:`sample_ids`, :meth:`load_sample`, :meth:`write_stream` (with
    :meth:`result_key` where the format does not sort sample ids as strings) and
    (for locally scored splits) :meth:`gt_path` / :meth:`results_path`, and :meth:`subset_gt`
    where a partial run can be scored.

    Args:
        root: the dataset folder (already resolved, see :func:`resolve_data_root`).
        id: the registered id (``coco-val2017-det``).
        options: split options from the registry entry.
    """

    task: str = ""
    prompt: str = ""
    metric: str | None = None
    server: bool = False
    #: a ground-truth file the writer derives into the results folder (covering exactly the
    #: predicted samples) when the metric reads a per-sample GT the dataset does not ship
    derived_gt: str | None = None

    def __init__(self, root: Path, id: str = "", **options: Any):
        self.root = Path(root)
        self.id = id
        self.options = options

    # -- reading -----------------------------------------------------------------------------
    def validate(self) -> None:
        """Check the files on disk; raise DatasetError naming the path, the expected layout
        and the first bad entry. Must be cheap enough to run before every ``evalkit run``."""
        raise NotImplementedError

    def sample_ids(self) -> list[str]:
        """Deterministic, sorted-by-definition list of unique sample ids (sharding, resume)."""
        raise NotImplementedError

    def load_sample(self, sample_id: str) -> Sample:
        """Build one :class:`Sample`; frames are lazy (decoded on access)."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """Content hash identifying the data (annotation files + sample ids)."""
        raise NotImplementedError

    # -- writing and scoring -----------------------------------------------------------------
    def result_key(self, sample_id: str) -> Any:
        """Sort key of a sample in the results files: the order :meth:`write_stream` receives
        the samples in (the order the official files list them; sample ids as strings by
        default, numeric ids as numbers where the format sorts them so)."""
        return sample_id

    def write_stream(self, stream: "Iterable[tuple[str, list[Instances], dict]]", results_dir: Path) -> list[Path]:
        """Write the official results / submission files into ``results_dir`` from ``stream``:
        ``(sample id, per-frame Instances, the sample's Sample.meta with "time_s")`` one sample
        at a time, sorted by :meth:`result_key` (checked: :func:`evalkit.benchmarks._stream.in_order`).
        A writer holds only what its format needs at once (one video for a PNG folder, one
        entry for a JSON array: :class:`evalkit.benchmarks._stream.StreamedJson`); returns the
        paths written (each atomically).

        A benchmark written before the stream form that overrides only :meth:`write_results`
        is fed by collecting the stream into its dicts."""
        if type(self).write_results is Benchmark.write_results:
            raise NotImplementedError(f"{type(self).__name__} implements neither write_stream nor write_results")
        predictions: dict[str, list[Instances]] = {}
        metas: dict[str, dict] = {}
        for sid, preds, meta in stream:
            predictions[sid], metas[sid] = preds, meta
        return self.write_results(predictions, metas, results_dir)

    def write_results(
        self, predictions: Mapping[str, list[Instances]], samples_meta: Mapping[str, dict], results_dir: Path
    ) -> list[Path]:
        """:meth:`write_stream` fed from whole dicts (sample id → per-frame Instances, sample id
        → ``Sample.meta``), for callers that hold every prediction anyway (tests, notebooks)."""
        ids = sorted(predictions, key=self.result_key)
        return self.write_stream(((i, predictions[i], samples_meta.get(i) or {}) for i in ids), results_dir)

    def gt_path(self) -> Path:
        """The ground truth the metric reads (a file or folder)."""
        raise NotImplementedError

    def results_path(self, results_dir: Path) -> Path:
        """The results file/folder (inside ``results_dir``) the metric reads."""
        raise NotImplementedError

    def metric_options(self) -> dict[str, Any]:
        """Extra options passed to the metric (e.g. the split of a REC benchmark)."""
        return {}

    def results_options(self, results_dir: Path) -> dict[str, Any]:
        """Metric options that depend on the results written (e.g. the sequences that have
        results; :meth:`subset_gt` cuts them to the samples of a partial run)."""
        return {}

    def score(self, results_dir: Path, samples: Sequence[str] | None = None) -> dict[str, float]:
        """Score the official-format results in ``results_dir`` with :attr:`metric`.

        With ``samples`` (the ids a partial run covers: ``--limit``, ``--samples``) the ground
        truth is restricted to them (:meth:`subset_gt`), so that the numbers equal scoring a
        copy of the split that holds only them. The ground truth is :meth:`gt_path`, or, for a
        benchmark with :attr:`derived_gt`, the file its writer derived into ``results_dir``."""
        if self.metric is None:
            raise DatasetError(f"{self.id} is scored by its server; no local metric")
        from ..metrics import compute

        results_dir = Path(results_dir)
        if self.derived_gt is None:
            gt = self.gt_path()
        else:
            gt = results_dir / self.derived_gt
            if not gt.is_file():
                raise DatasetError(f"{self.id}: {gt} is missing; it is written with the results by write_results")
        options = {**self.metric_options(), **self.results_options(results_dir)}
        if samples is not None:
            samples = check_sample_ids(self, samples)
            gt, restrict = self.subset_gt(gt, samples, results_dir)
            options.update(restrict)
        return compute(self.metric, gt, self.results_path(results_dir), **options)

    def subset_gt(self, gt: Any, sample_ids: list[str], results_dir: Path) -> tuple[Any, dict[str, Any]]:
        """``(ground truth, metric options)`` restricted to ``sample_ids``: a restricted copy
        of the ground truth written under ``results_dir/gt_subset*`` or metric options that
        select the samples (a ``sequences`` list), whichever the metric reads. Every locally
        scored family overrides it; the default accepts the whole split and refuses a subset
        rather than score it against the whole split."""
        if set(sample_ids) == set(self.sample_ids()):
            return gt, {}
        raise DatasetError(f"{self.id}: scoring a subset of the samples is not supported by "
                           f"{type(self).__name__} (run the whole split)")


def check_sample_ids(bench: Benchmark, samples: Sequence[str]) -> list[str]:
    """``samples`` as a list, after checking each is a sample id of ``bench`` (DatasetError
    naming the first unknown one)."""
    known = set(bench.sample_ids())
    out = [str(s) for s in samples]
    unknown = [s for s in out if s not in known]
    if unknown:
        raise DatasetError(f"{bench.id}: {unknown[0]!r} is not a sample id of the split "
                           f"({len(known)} samples, e.g. {', '.join(sorted(known)[:3])})")
    return out


def build_benchmark(benchmark_id: str, data_root: str | os.PathLike | None = None) -> Benchmark:
    """Construct a registered benchmark split with its data root resolved."""
    from ..registry import BENCHMARKS

    entry = BENCHMARKS.get(benchmark_id)
    cls = entry.load()
    meta = entry.meta
    root = resolve_data_root(meta.get("dataset", benchmark_id), data_root)
    bench = cls(root, id=benchmark_id, **meta.get("options", {}))
    for attr in ("task", "prompt", "metric", "server"):
        if attr in meta or (attr == "task" and entry.task):
            setattr(bench, attr, meta.get(attr, entry.task))
    return bench
