"""The runner: benchmark reader → adapter.predict → prediction store → official results →
metric → run record. It knows neither datasets nor metrics (TrackEval's separation).

    from evalkit.runner import RunConfig, run_evaluation
    res = run_evaluation(RunConfig(model="uninext-r50", benchmark="davis17-val"))
    res.run_dir, res.metrics, res.status

Guarantees:
* every finished sample is in the prediction store before the next one starts (crash-safe),
  so ``resume`` after any crash (SIGKILL included) infers each sample once;
* metrics always cover the whole selected set: resumed runs merge old and new predictions;
  a partial selection (``limit``, ``samples``: :mod:`evalkit.selection`) is scored against the
  ground truth of its samples only, and a resume never replaces a finished run's metrics with
  those of another selection;
* final files (results, ``metrics.json``, ``run.json``) are written atomically;
* a run directory is never overwritten: a new run gets a new timestamped folder.

The steps share one :class:`evalkit.run_state.RunState`; the end of a run (collect, write the
official results as the predictions stream out of the store, score, record) is
:mod:`evalkit.finalise`. The store is read only through :class:`evalkit.store.PredictionStore`.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .contract import predict_checked
from .datasets import validate_with_hint
from .distributed import DistContext, init_distributed, shard_exact
from .errors import EvalkitError
from .fileio import atomic_write_json
from .hostenv import apply_threads, check_device, seed_everything
from .prefetch import prefetch_samples
from .run_lock import RunLock
from .run_state import InferStats, RunResult, RunState
from .selection import SELECTION_FILE, Selection, resume_selection, select_samples
from .store import PredictionStore, encode_record, store_key
from .types import ContractError, Instances

__all__ = ["RunConfig", "RunResult", "run_evaluation", "find_latest_run"]

MODES = ("all", "infer", "score")
log = logging.getLogger("evalkit.run")


@dataclass
class RunConfig:
    """Everything that defines a run (also recorded in run.json)."""

    model: str
    benchmark: str
    data_root: str | None = None
    output_dir: str | None = None
    runs_root: str = "runs"
    mode: str = "all"
    limit: int | None = None
    samples: str | list[str] | None = None  # ids, "a,b,c" or "@file" (evalkit.selection)
    resume: str | bool | None = None  # True/"latest": newest matching run; a path: that run
    device: str = "cpu"
    threads: int | None = None  # torch CPU threads; None: evalkit.hostenv.default_threads
    num_workers: int = 2
    seed: int = 0
    on_error: str = "raise"
    quiet: bool = False
    weights: str | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    dist_timeout_s: float = 1800.0
    dtype: str = "float32"  # autocast dtype of the networks (evalkit.precision)


def _timestamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _run_order(run_dir: Path) -> tuple[str, int, str]:
    """Sort key of a run folder ``<YYYYmmdd-HHMMSS>[-k]`` (:func:`_claim_run_dir`): by time, then
    by ``k`` as a number, so ``…-10`` comes after ``…-2``; other names sort by name."""
    m = re.fullmatch(r"(\d{8}-\d{6})(?:-(\d+))?", run_dir.name)
    if m:
        return m[1], int(m[2] or 0), ""
    return run_dir.name, 0, run_dir.name


def find_latest_run(runs_root: Path, benchmark: str, model: str) -> Path | None:
    """The newest run folder of ``benchmark``/``model`` under ``runs_root`` that holds a prediction
    store, or None."""
    base = Path(runs_root) / benchmark / model
    runs = sorted((p for p in base.glob("*") if PredictionStore(p / "predictions").exists()), key=_run_order)
    return runs[-1] if runs else None


def _check_writable(path: Path) -> None:
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise EvalkitError(f"output directory {path} is not writable (no write permission on {probe})")


def _resolve_run_dir(cfg: RunConfig) -> tuple[Path, bool]:
    """(run directory, resumed?) — never an existing directory unless resuming."""
    if cfg.resume:
        if cfg.resume is True or cfg.resume == "latest":
            if cfg.output_dir:
                run_dir = Path(cfg.output_dir)
            else:
                run_dir = find_latest_run(Path(cfg.runs_root), cfg.benchmark, cfg.model)
                if run_dir is None:
                    raise EvalkitError(
                        f"--resume: no earlier run of {cfg.model} on {cfg.benchmark} under "
                        f"{Path(cfg.runs_root) / cfg.benchmark / cfg.model}"
                    )
        else:
            run_dir = Path(cfg.resume)
        if not PredictionStore(run_dir / "predictions").exists():
            raise EvalkitError(f"--resume: {run_dir} is not a run directory (no predictions/store.json)")
        return run_dir, True
    if cfg.mode == "score":
        raise EvalkitError("--mode score needs an existing run: pass --resume RUN_DIR (or --resume for the latest)")
    if cfg.output_dir:
        run_dir = Path(cfg.output_dir)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise EvalkitError(
                f"output directory {run_dir} exists and is not empty; evalkit never overwrites a "
                f"run: choose another --output-dir or continue it with --resume {run_dir}"
            )
        _check_writable(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            # the run is claimed by creating predictions/ exclusively: of two processes given
            # the same empty --output-dir, the second one stops here
            (run_dir / "predictions").mkdir()
        except FileExistsError:
            raise EvalkitError(f"output directory {run_dir} is being used by another run; choose "
                               f"another --output-dir") from None
        except OSError as e:
            raise EvalkitError(f"cannot create output directory {run_dir}: {e.strerror}") from None
        return run_dir, False
    base = Path(cfg.runs_root) / cfg.benchmark / cfg.model
    _check_writable(base)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EvalkitError(f"cannot create output directory {base}: {e.strerror}") from None
    return _claim_run_dir(base), False


def _claim_run_dir(base: Path) -> Path:
    """A new folder ``base/<timestamp>[-k]`` created exclusively: ``mkdir`` is atomic, so of two
    processes starting in the same second one gets ``<timestamp>`` and the other
    ``<timestamp>-1`` (an ``exists()`` check followed by a create would let both share one)."""
    stamp = _timestamp()
    for k in range(10_000):
        run_dir = base / (stamp if k == 0 else f"{stamp}-{k}")
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            continue
        except OSError as e:
            raise EvalkitError(f"cannot create output directory {run_dir}: {e.strerror}") from None
    raise EvalkitError(f"cannot create a run directory under {base}: 10000 runs started at {stamp}")


def _build_adapter(cfg: RunConfig):
    from .registry import MODELS

    factory = MODELS.load(cfg.model)
    adapter = factory(model_id=cfg.model, device=cfg.device, weights=cfg.weights, **cfg.model_options)
    if not getattr(adapter, "model_id", ""):
        adapter.model_id = cfg.model
    accepted = adapter.accepted_options() if hasattr(adapter, "accepted_options") else None
    unknown = sorted(set(cfg.model_options) - set(accepted)) if accepted is not None else []
    if unknown:
        raise EvalkitError(f"model {cfg.model!r} has no option {', '.join(map(repr, unknown))} "
                           f"(-a/--model-arg accepts: {', '.join(sorted(accepted)) or 'none'})")
    return adapter


class _Progress:
    """rich progress bar with ETA and throughput (nothing when quiet)."""

    def __init__(self, total: int, label: str, quiet: bool):
        self.bar = None
        if quiet or total == 0:
            return
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), transient=False,
        )
        self.t0 = time.perf_counter()
        self.task = self.bar.add_task(label, total=total, rate="")
        self.bar.start()

    def advance(self, n_done: int) -> None:
        if self.bar is None:
            return
        rate = n_done / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.update(self.task, advance=1, rate=f"{rate:.2f} samples/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _setup_log(run_dir: Path, ctx: DistContext) -> logging.Handler | None:
    if not ctx.is_main:
        return None
    h = logging.FileHandler(run_dir / "log.txt", encoding="utf-8")
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(h)
    log.setLevel(logging.INFO)
    return h


def run_evaluation(cfg: RunConfig, argv: list[str] | None = None) -> RunResult:
    """Run (or resume, or re-score) one model on one benchmark. See the module docstring."""
    if cfg.mode not in MODES:
        raise EvalkitError(f"--mode must be one of {', '.join(MODES)}, got {cfg.mode!r}")
    if cfg.on_error not in ("raise", "skip"):
        raise EvalkitError(f"--on-error must be raise or skip, got {cfg.on_error!r}")
    from .precision import check_dtype

    check_dtype(cfg.dtype, cfg.device)
    from .benchmarks.base import build_benchmark
    from .registry import MODELS

    t_start = time.perf_counter()
    started = _now_iso()
    if cfg.mode != "score":
        check_device(cfg.device)  # a CPU-only torch asked for cuda: one line, with the install command
    MODELS.get(cfg.model)  # unknown model: fail before touching the data
    bench = build_benchmark(cfg.benchmark, cfg.data_root)
    validate_with_hint(bench, cfg.benchmark, cfg.data_root)  # missing data: which roots, how to get it
    ids = list(bench.sample_ids())
    if len(set(ids)) != len(ids):
        raise EvalkitError(f"benchmark {cfg.benchmark}: sample ids are not unique")
    selection = select_samples(ids, cfg.benchmark, cfg.limit, cfg.samples)

    ctx = init_distributed(cfg.device, cfg.dist_timeout_s)
    try:
        return _run(cfg, bench, ids, selection, ctx, t_start, started, argv)
    finally:
        ctx.close()


def _run(cfg, bench, split_ids, selection: Selection, ctx: DistContext, t_start, started, argv) -> RunResult:
    # before the model is built (its random init, samplers); torch is imported here if needed
    seed_everything(cfg.seed + ctx.rank)
    threads = apply_threads(cfg.threads) if cfg.mode != "score" else None
    adapter = None
    if cfg.mode != "score":
        adapter = _build_adapter(cfg)
        adapter.prepare(bench.task, bench)
    t_fp = time.perf_counter()
    fingerprint = bench.fingerprint()
    data_s = time.perf_counter() - t_fp

    with ExitStack() as held:  # the main rank's lock on the run folder, until the run returns
        run_dir = None
        resumed = False
        error: BaseException | None = None
        if ctx.is_main:
            try:
                run_dir, resumed = _resolve_run_dir(cfg)
                held.enter_context(RunLock(run_dir))  # a second process on this folder is refused
                if resumed:  # the run's own selection, or one that extends it (never another)
                    explicit = cfg.limit is not None or cfg.samples is not None
                    selection = resume_selection(run_dir, selection, explicit, split_ids)
            except BaseException as e:  # noqa: BLE001 - re-raised after telling the other ranks
                error = e
        run_dir, resumed, selection, err_msg = ctx.broadcast(
            (run_dir, resumed, selection, None if error is None else str(error)))
        if error is not None:
            raise error
        if err_msg is not None:
            raise EvalkitError(err_msg)
        run_dir = Path(run_dir)
        handler = _setup_log(run_dir, ctx)
        store = PredictionStore(run_dir / "predictions")
        try:
            if adapter is not None:
                weights_sha = adapter.weights_sha256
                model_opts = dict(adapter.options)
                if cfg.dtype != "float32":  # changes the outputs: part of the store key
                    model_opts["dtype"] = cfg.dtype
            else:  # re-scoring: the model is the one the store's predictions were made with
                parts = store.parts()
                weights_sha, model_opts = parts.get("weights_sha256"), parts.get("model_options", {})
            key, parts = store_key(cfg.model, weights_sha, model_opts, cfg.benchmark, fingerprint)
            state = RunState(cfg, bench, selection, store, run_dir, ctx, adapter, fingerprint, key, resumed, argv,
                             t_start, started, InferStats(data_s=data_s, threads=threads))
            if ctx.is_main:
                store.init(key, parts)
                # recorded once the store is known to hold this model and data
                atomic_write_json(run_dir / SELECTION_FILE, selection.record(max_ids=len(selection.ids)))
                if resumed:
                    _tidy_for_resume(state)
                log.info("evalkit run: model %s on %s (%s), mode %s, %d samples%s", cfg.model,
                         cfg.benchmark, ctx.describe(), cfg.mode, len(state.ids),
                         f" (resuming {run_dir})" if resumed else "")
            ctx.barrier("store initialisation")
            if not cfg.quiet and ctx.is_main:
                _banner(state)

            if cfg.mode != "score":
                done = store.done_ids()
                pending = [i for i in state.ids if i not in done]
                mine = shard_exact(pending, ctx.rank, ctx.world)
                from .precision import mixed_precision

                with mixed_precision(cfg.dtype, cfg.device):
                    _infer(state, mine, skipped=len(state.ids) - len(pending))
            ctx.barrier("end of inference")

            result = RunResult(run_dir, None, "incomplete", {})
            if ctx.is_main:
                from .finalise import finalise

                result = finalise(state)
            ctx.barrier("scoring")
            return result
        finally:
            if handler is not None:
                log.removeHandler(handler)
                handler.close()


def _tidy_for_resume(state: RunState) -> None:
    """Before continuing a run: drop damaged store lines (their samples are inferred again)
    and the temporary files a killed results writer left in ``results/`` (they would be zipped
    into a submission otherwise)."""
    from .fileio import remove_stale_temp_files

    if state.cfg.mode != "score":
        dropped = state.store.repair()
        if dropped:
            log.warning("resume: %d damaged prediction records dropped from %s", dropped, state.store.dir)
    for p in remove_stale_temp_files(state.results_dir):
        log.info("resume: removed the stale temporary file %s", p)


def _banner(state: RunState) -> None:
    from rich.console import Console

    cfg, ctx, selection, run_dir, resumed = state.cfg, state.ctx, state.selection, state.run_dir, state.resumed
    Console(stderr=True).print(
        f"[bold]evalkit run[/bold] model [cyan]{cfg.model}[/cyan] on [cyan]{cfg.benchmark}[/cyan] — "
        f"mode {cfg.mode}, {ctx.describe()}, device {cfg.device}"
        f"{'' if cfg.dtype == 'float32' else f' ({cfg.dtype} autocast)'}, {selection.describe()}"
        f"\n  run dir: {run_dir}{' (resumed)' if resumed else ''}"
    )


def _infer(state: RunState, mine: list[str], skipped: int) -> None:
    """Infer the samples ``mine`` (this rank's share of the pending ones), appending each
    record to this rank's shard before the next sample starts; counters go to ``state.stats``."""
    cfg, bench, adapter, ctx, stats = state.cfg, state.bench, state.adapter, state.ctx, state.stats
    shard = state.store.open_shard(ctx.rank, ctx.world)
    label = "infer" if not ctx.enabled else f"infer rank {ctx.rank}/{ctx.world}"
    bar = _Progress(len(mine), label, cfg.quiet or not ctx.is_main)
    if skipped and ctx.is_main:
        log.info("resume: %d samples already in the store, %d to infer", skipped, len(mine))
    try:
        t_wait = time.perf_counter()
        for k, (sid, sample, load_err) in enumerate(prefetch_samples(bench, mine, cfg.num_workers)):
            stats.data_s += time.perf_counter() - t_wait
            t0 = time.perf_counter()
            try:
                if load_err is not None:
                    raise load_err
                preds = predict_checked(adapter, sample, bench.task)  # evalkit.contract
                rec = {"sample_id": sid, "instances": [p.to_json() for p in preds],
                       "meta": sample.meta, "time_s": round(time.perf_counter() - t0, 6)}
                # serialised here, inside the per-sample try: a value JSON cannot hold (NaN in
                # the meta, a numpy object) is this sample's failure, not the run's
                line = encode_record(rec)
            except ContractError as e:  # the adapter broke the contract on this sample
                if cfg.on_error == "raise":
                    raise
                rec, line = _failure(sid, sample, e)
            except EvalkitError:  # the data or the configuration: no sample can succeed
                raise
            except Exception as e:  # noqa: BLE001 - a model failure on one sample
                if cfg.on_error == "raise":
                    raise
                rec, line = _failure(sid, sample, e)
            store_t = time.perf_counter()
            shard.append_line(line)
            stats.inference_s += store_t - t0
            if "error" not in rec:
                stats.samples += 1
                stats.frames += len(rec["instances"])
            bar.advance(k + 1)
            t_wait = time.perf_counter()
    finally:
        bar.close()
        shard.close()


def _failure(sid, sample, e: BaseException) -> tuple[dict, str]:
    """The store record (and its line) of a sample that failed under ``--on-error skip``."""
    log.warning("sample %s failed: %s: %s", sid, type(e).__name__, e)
    rec = {"sample_id": sid, "error": f"{type(e).__name__}: {e}"}
    try:
        line = encode_record({**rec, "meta": getattr(sample, "meta", None) or {}})
    except (TypeError, ValueError):  # the meta itself cannot be stored
        line = encode_record({**rec, "meta": {}})
    return rec, line
