"""The prediction store: per-sample records, appended crash-safely, one shard per rank.

Layout (inside a run directory)::

    predictions/store.json                  key + the components it hashes (atomic)
    predictions/shard-<rank>-of-<world>.jsonl

Each line of a shard is one JSON record::

    {"sample_id": str, "instances": [Instances.to_json(), ...], "meta": {...}, "time_s": float}
    {"sample_id": str, "error": "Type: message", "meta": {...}}          # a failed sample

Lines are written with one ``write`` call, then flushed and fsync'ed, so a crash (even
SIGKILL) leaves at most one truncated last line, which reading drops and
:meth:`PredictionStore.open_shard` cuts off before appending. A damaged line anywhere else (a
disk that filled mid-write, a file edited by hand) is not silently skipped: reading names the
shard and line and says to ``--resume``, and :meth:`PredictionStore.repair` (run by
``--resume``) drops such lines so their samples are inferred again.

Reading: :meth:`PredictionStore.index` scans the shards once, line by line, and keeps per
sample only where its record is (shard, byte offset) and which samples failed;
:meth:`PredictionStore.iter_predictions` then reads and decodes one record at a time, so the
runner never holds every prediction (:meth:`PredictionStore.read` puts every record in memory,
for tests and small tools); :meth:`PredictionStore.parts` is what a re-scoring run knows of the
model.

A store belongs to one key: a sha256 of model id + weights sha256 + model options + benchmark
id + data fingerprint; resuming with a different key is refused, so predictions of different
models or data never mix.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import EvalkitError
from .fileio import atomic_write_json
from .types import Instances

__all__ = ["PredictionStore", "StoreIndex", "store_key", "encode_record"]

log = logging.getLogger("evalkit.run")


def encode_record(record: dict) -> str:
    """One shard line (compact JSON + newline). Raises ``ValueError``/``TypeError`` for values
    JSON cannot hold (NaN, infinity, arbitrary objects): callers encode inside their
    per-sample error handling."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"


def _user_os_error(e: OSError, path: Path, doing: str) -> EvalkitError:
    return EvalkitError(f"cannot {doing} {path}: {e.strerror or e} (errno {e.errno}); finished "
                        f"samples are kept, free the space or fix the permissions and continue "
                        f"with --resume {path.parent.parent}")


def store_key(model: str, weights_sha256: str | None, model_options: dict, benchmark: str,
              data_fingerprint: str) -> tuple[str, dict]:
    """The store key and the components it is made of."""
    parts = {
        "model": model,
        "weights_sha256": weights_sha256,
        "model_options": model_options,
        "benchmark": benchmark,
        "data_fingerprint": data_fingerprint,
    }
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest(), parts


@dataclass
class _Shard:
    path: Path
    f: Any

    def append(self, record: dict) -> None:
        self.append_line(encode_record(record))

    def append_line(self, line: str) -> None:
        """Append one encoded record durably (one write, flush, fsync). A failed write (disk
        full) may leave a partial last line, which the next open cuts off."""
        try:
            self.f.write(line)
            self.f.flush()
            os.fsync(self.f.fileno())
        except OSError as e:
            raise _user_os_error(e, self.path, "append to the prediction store") from None

    def close(self) -> None:
        self.f.close()


class PredictionStore:
    """Per-run prediction store (see module docstring)."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)

    # -- key ---------------------------------------------------------------------------------
    def init(self, key: str, parts: dict) -> None:
        """Create the store, or check that an existing one has the same key."""
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "store.json"
        if meta.exists():
            old = self._meta()
            if old.get("key") != key:
                diff = [k for k in parts if old.get("parts", {}).get(k) != parts[k]]
                raise EvalkitError(
                    f"cannot resume from {self.dir.parent}: its predictions were made with a "
                    f"different {', '.join(diff) or 'configuration'}; start a new run instead"
                )
        else:
            atomic_write_json(meta, {"key": key, "parts": parts})

    def exists(self) -> bool:
        """Whether a store was initialised here (its ``store.json`` is written)."""
        return (self.dir / "store.json").is_file()

    def key(self) -> str | None:
        meta = self.dir / "store.json"
        return self._meta()["key"] if meta.exists() else None

    def _meta(self) -> dict:
        """store.json, checked (it is written atomically, so damage means an outside edit)."""
        meta = self.dir / "store.json"
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise EvalkitError(f"{meta}: the prediction store's key file is damaged ({e}); "
                               f"this run cannot be resumed, start a new one") from None
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise EvalkitError(f"{meta}: the prediction store's key file lacks its 'key' field; "
                               f"this run cannot be resumed, start a new one")
        return data

    # -- writing -----------------------------------------------------------------------------
    def shard_path(self, rank: int, world: int) -> Path:
        return self.dir / f"shard-{rank}-of-{world}.jsonl"

    def open_shard(self, rank: int, world: int) -> _Shard:
        """Open this rank's shard for appending, cutting off a truncated last line."""
        path = self.shard_path(rank, world)
        if path.exists():
            _truncate_partial_line(path)
        f = open(path, "a", encoding="utf-8")
        return _Shard(path, f)

    # -- reading -----------------------------------------------------------------------------
    def parts(self) -> dict:
        """The components the store key hashes (model, weights sha256, model options,
        benchmark, data fingerprint): what a re-scoring run takes from the store."""
        return self._meta().get("parts", {})

    def records(self) -> Iterator[dict]:
        """Every complete record of every shard (a truncated last line is skipped: a crash
        leaves one). A damaged line before the last raises :class:`EvalkitError` naming the
        shard and line: ``--resume`` repairs it (:meth:`repair`)."""
        for path in self._shards():
            for lineno, rec, _, _ in _parse_shard(path):
                if rec is None:
                    raise _damaged(path, lineno, self.dir)
                yield rec

    def repair(self) -> int:
        """Rewrite every shard without its damaged lines (and truncated last line); their
        samples are then missing and get inferred again. Returns the number of lines
        dropped. Called by the runner before resuming, on rank 0 only."""
        from .fileio import atomic_write

        dropped = 0
        for path in self._shards():
            bad = [n for n, rec, _, _ in _parse_shard(path) if rec is None]
            if not bad and _ends_clean(path):
                continue
            for n in bad:
                log.warning("%s:%d: damaged prediction record dropped; its sample is inferred "
                            "again", path, n)
            with atomic_write(path, "wb") as f:
                for _, rec, raw, _ in _parse_shard(path):
                    if rec is not None:
                        f.write(raw + b"\n")
            dropped += len(bad)
        return dropped

    def read(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """(sample id → success record, sample id → failure record), every record in memory.
        A later success replaces an earlier failure (a resumed run retries failed samples).
        The runner uses :meth:`index` and :meth:`iter_predictions` instead, which hold one
        record at a time."""
        done: dict[str, dict] = {}
        failed: dict[str, dict] = {}
        for rec in self.records():
            sid = str(rec["sample_id"])
            if "error" in rec:
                if sid not in done:
                    failed[sid] = rec
            else:
                done[sid] = rec
                failed.pop(sid, None)
        return done, failed

    def index(self) -> "StoreIndex":
        """Where each sample's record is (shard, byte offset) and which failed, from one pass
        over the shards that keeps no record (the rule of :meth:`read`: a later success
        replaces an earlier failure; of two successes the later one counts)."""
        done: dict[str, tuple[Path, int]] = {}
        failed: dict[str, str] = {}
        for path in self._shards():
            for lineno, rec, _, offset in _parse_shard(path):
                if rec is None:
                    raise _damaged(path, lineno, self.dir)
                sid = str(rec["sample_id"])
                if "error" in rec:
                    if sid not in done:
                        failed[sid] = str(rec["error"])
                else:
                    done[sid] = (path, offset)
                    failed.pop(sid, None)
        return StoreIndex(done, failed)

    def done_ids(self) -> set[str]:
        """Ids of the samples with a successful record (not inferred again on resume)."""
        return set(self.index().done)

    def iter_predictions(self, ids: Iterable[str], index: "StoreIndex | None" = None
                         ) -> Iterator[tuple[str, list[Instances], dict]]:
        """``(sample id, per-frame Instances, meta)`` of each of ``ids`` that has a successful
        record, in the order of ``ids``, one record read and decoded at a time (masks stay
        RLE). ``meta`` is the sample's ``Sample.meta`` plus ``time_s``, its inference time
        (GOT-10k's ``*_time.txt`` files report it). ``index``: a :meth:`index` already taken."""
        index = self.index() if index is None else index
        handles: dict[Path, Any] = {}
        try:
            for sid in ids:
                where = index.done.get(sid)
                if where is None:
                    continue
                path, offset = where
                f = handles.get(path)
                if f is None:
                    f = handles[path] = open(path, "rb")
                f.seek(offset)
                rec = json.loads(f.readline())
                yield (sid, [Instances.from_json(d) for d in rec["instances"]],
                       {**rec.get("meta", {}), "time_s": rec.get("time_s")})
        finally:
            for f in handles.values():
                f.close()

    def _shards(self) -> list[Path]:
        return sorted(self.dir.glob("shard-*.jsonl"))


@dataclass(frozen=True)
class StoreIndex:
    """What the store holds, without the records: ``done`` maps each successfully predicted
    sample id to ``(shard path, byte offset of its line)``, ``failed`` each sample whose last
    attempt failed (and none succeeded) to its error message."""

    done: dict[str, tuple[Path, int]]
    failed: dict[str, str]


def _damaged(path: Path, lineno: int, store_dir: Path) -> EvalkitError:
    return EvalkitError(
        f"{path}:{lineno}: damaged prediction record (not a JSON object with a "
        f"sample_id); continue the run with --resume {store_dir.parent} to infer "
        f"that sample again"
    )


def _ends_clean(path: Path) -> bool:
    """True when the shard is empty or ends with a newline (no truncated last line); reads
    only the last byte, not the whole shard again."""
    with open(path, "rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return True
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _truncate_partial_line(path: Path) -> None:
    if _ends_clean(path):  # the usual case: no need to read the shard
        return
    with open(path, "rb+") as f:
        data = f.read()
        cut = data.rfind(b"\n") + 1  # 0 when no complete line
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())


def _parse_shard(path: Path) -> Iterator[tuple[int, dict | None, bytes, int]]:
    """``(line number, record or None when damaged, raw bytes, byte offset)`` of each complete
    line of a shard, read line by line (a shard is never held whole); blank lines are skipped,
    the truncated last line (no newline yet) is not yielded."""
    offset = 0
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            start, offset = offset, offset + len(line)
            if not line.endswith(b"\n"):
                return  # the partial last line a crash leaves
            raw = line[:-1]
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (UnicodeDecodeError, ValueError):
                rec = None
            if not isinstance(rec, dict) or not isinstance(rec.get("sample_id"), (str, int)) \
                    or not ("instances" in rec or "error" in rec):
                rec = None
            yield n, rec, raw, start
