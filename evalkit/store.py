"""The prediction store: per-sample records, appended crash-safely, one shard per rank.

Layout (inside a run directory)::

    predictions/store.json                  key + the components it hashes (atomic)
    predictions/shard-<rank>-of-<world>.jsonl

Each line of a shard is one JSON record::

    {"sample_id": str, "instances": [Instances.to_json(), ...], "meta": {...}, "time_s": float}
    {"sample_id": str, "error": "Type: message", "meta": {...}}          # a failed sample

Lines are written with one ``write`` call, then flushed and fsync'ed, so a crash (even
SIGKILL) leaves at most one truncated last line, which :meth:`PredictionStore.read` drops and
:meth:`PredictionStore.open_shard` cuts off before appending. A store belongs to one key: a
sha256 of model id + weights sha256 + model options + benchmark id + data fingerprint;
resuming with a different key is refused, so predictions of different models or data never
mix.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import EvalkitError
from .fileio import atomic_write_json

__all__ = ["PredictionStore", "store_key"]


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
        line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
        self.f.write(line)
        self.f.flush()
        os.fsync(self.f.fileno())

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
            old = json.loads(meta.read_text())
            if old.get("key") != key:
                diff = [k for k in parts if old.get("parts", {}).get(k) != parts[k]]
                raise EvalkitError(
                    f"cannot resume from {self.dir.parent}: its predictions were made with a "
                    f"different {', '.join(diff) or 'configuration'}; start a new run instead"
                )
        else:
            atomic_write_json(meta, {"key": key, "parts": parts})

    def key(self) -> str | None:
        meta = self.dir / "store.json"
        return json.loads(meta.read_text())["key"] if meta.exists() else None

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
    def records(self) -> Iterator[dict]:
        """Every complete record of every shard (truncated last lines are skipped)."""
        for path in sorted(self.dir.glob("shard-*.jsonl")):
            with open(path, "rb") as f:
                data = f.read()
            lines = data.split(b"\n")
            # the last element is b"" when the file ends with a newline, else a partial line
            for raw in lines[:-1]:
                if raw.strip():
                    yield json.loads(raw)

    def read(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """(sample id → success record, sample id → failure record). A later success
        replaces an earlier failure (a resumed run retries failed samples)."""
        done: dict[str, dict] = {}
        failed: dict[str, dict] = {}
        for rec in self.records():
            sid = rec["sample_id"]
            if "error" in rec:
                if sid not in done:
                    failed[sid] = rec
            else:
                done[sid] = rec
                failed.pop(sid, None)
        return done, failed


def _truncate_partial_line(path: Path) -> None:
    with open(path, "rb+") as f:
        data = f.read()
        if not data or data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1  # 0 when no complete line
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
