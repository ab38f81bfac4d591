"""Results written as the predictions stream: a JSON document whose arrays arrive one entry at a
time, and the order check of a writer's input stream.

A results writer (``Benchmark.write_stream``) receives ``(sample id, per-frame Instances, meta)``
one sample at a time, in the order of :meth:`Benchmark.result_key`, and keeps only what its
format needs at once (one video's frames for a PNG folder, nothing for a COCO results array).
:class:`StreamedJson` writes exactly the bytes ``json.dumps(document, separators=(",", ":"))``
would — the compact form of ``benchmarks/_io.atomic_write_json`` — without holding the
document: array entries are encoded one by one (the encoder joins a list's items with ``,``, so
entry-wise encoding is byte-identical), the first array goes straight to the atomic temporary
file of :func:`evalkit.fileio.atomic_write` and later arrays to anonymous spool files copied in
at :meth:`StreamedJson.close`. Nothing appears at the target path until ``close``; an error
leaves the old file (if any) and no temporary file behind.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..errors import ResultsError
from ..fileio import atomic_write
from ..types import Instances

__all__ = ["StreamedJson", "Stream", "in_order"]

#: what a results writer consumes: (sample id, per-frame Instances, the sample's meta + time_s)
Stream = Iterable[tuple[str, list[Instances], dict]]


#: ``json.dumps(obj, separators=(",", ":"))`` builds this encoder on every call; one instance
#: spares that per entry (a COCO results file has hundreds of thousands)
_dumps = json.JSONEncoder(separators=(",", ":")).encode


class StreamedJson:
    """A JSON results file written entry by entry, atomically (see the module docstring).

    ``fields=None``: the document is a bare array, fed with ``add(entry)``. Otherwise the
    document is the object ``{**head, fields[0]: [...], fields[1]: [...], ..., **tail}`` (that
    key order), fed with ``add(entry, field)``. Use as a context manager (an error inside
    the block discards the file), or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike, fields: Sequence[str] | None = None,
                 head: dict | None = None, tail: dict | None = None):
        self.path = Path(path)
        self.fields = None if fields is None else list(fields)
        self.head, self.tail = dict(head or {}), dict(tail or {})
        clash = set(self.head) & set(self.tail) | (set(self.head) | set(self.tail)) & set(self.fields or ())
        if clash or (self.fields is None and (self.head or self.tail)):
            raise ValueError(f"StreamedJson {self.path}: fields {self.fields}, head and tail keys must differ")
        self._stack = ExitStack()
        self._out = self._stack.enter_context(atomic_write(self.path, "w", encoding="utf-8"))
        names = [None] if self.fields is None else self.fields
        # the first array is written in place; the others wait in spool files
        self._spool = {n: (self._out if k == 0 else
                           self._stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8",
                                                                            dir=self.path.parent)))
                       for k, n in enumerate(names)}
        self._count = dict.fromkeys(names, 0)
        self._out.write(self._open(names[0]))

    def _open(self, field: str | None) -> str:
        """The text before the array of ``field``: ``[`` or ``{<head>,"field":[``."""
        if field is None:
            return "["
        k = self.fields.index(field)
        if k == 0:
            pre = "".join(f"{_dumps(key)}:{_dumps(v)}," for key, v in self.head.items())
            return "{" + pre + f"{_dumps(field)}:["
        return f",{_dumps(field)}:["

    def add(self, entry: Any, field: str | None = None) -> None:
        """Append one array entry (of ``field`` for an object document)."""
        if field not in self._spool:
            raise ValueError(f"StreamedJson {self.path}: no array field {field!r} (fields: {self.fields})")
        f = self._spool[field]
        f.write(("," if self._count[field] else "") + _dumps(entry))
        self._count[field] += 1

    def extend(self, entries: Iterable[Any], field: str | None = None) -> None:
        for e in entries:
            self.add(e, field)

    def close(self) -> Path:
        """Finish the document and move it into place; returns the path."""
        out = self._out
        out.write("]")
        for name in (self.fields or [])[1:]:
            f = self._spool[name]
            out.write(self._open(name))
            f.seek(0)
            shutil.copyfileobj(f, out)
            out.write("]")
        if self.fields is not None:
            out.write("".join(f",{_dumps(k)}:{_dumps(v)}" for k, v in self.tail.items()) + "}")
        self._stack.close()  # atomic_write: fsync, rename, fsync the folder
        return self.path

    def __enter__(self) -> "StreamedJson":
        return self

    def __exit__(self, typ, exc, tb) -> bool:
        if typ is None:
            self.close()
        else:
            self._stack.__exit__(typ, exc, tb)
        return False


def in_order(stream: Stream, key: Callable[[str], Any], where: str) -> Iterator[tuple[str, list[Instances], dict]]:
    """``stream`` as it comes, checking that the sample ids come in strictly increasing ``key``
    order (the order a writer's format lists them in, :meth:`Benchmark.result_key`): a writer
    that streams cannot re-sort, so a stream out of order is an error, not a silently different
    file."""
    last = None
    for sid, preds, meta in stream:
        k = key(sid)
        if last is not None and not last[0] < k:
            raise ResultsError(f"{where}: results stream out of order: sample {sid!r} after {last[1]!r} "
                               f"(the writer expects its samples sorted by result_key, each once)")
        last = (k, sid)
        yield sid, preds, meta or {}
