"""Crash-safe file writing: atomic replace for final files, fsync'ed appends for logs.

Every final file goes through :func:`atomic_write`: a temporary file beside the target (named
``.<name>.<random>.tmp``, see :func:`is_temp_file`), fsync, ``os.replace``, fsync of the
folder. Two consequences the callers rely on:

* a reader (or a crash) sees the old file or the complete new one, never a partial file;
* a SIGKILL between the temporary write and the replace can leave a ``.tmp`` behind: the
  runner removes them with :func:`remove_stale_temp_files` on ``--resume``, and archives made
  with :func:`evalkit.benchmarks._io.zip_folder` skip them.

Files get the permissions an ``open()`` would give under the user's umask (``0666 & ~umask``):
``tempfile.mkstemp`` creates them ``0600``, which would make a shared runs folder unreadable
to the rest of a group.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_write_json", "fsync_dir",
           "file_mode", "is_temp_file", "remove_stale_temp_files"]

#: ``.<target name>.<mkstemp's 8 random characters>.tmp``: the temporary names made here.
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
_umask_lock = threading.Lock()


def file_mode() -> int:
    """``0o666 & ~umask``: the mode ``open(path, "w")`` gives a new file. Linux reports the
    umask in ``/proc/self/status``; elsewhere it can only be read by setting it, which is done
    under a lock and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:
        current = os.umask(0o022)
        os.umask(current)
    return 0o666 & ~current


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it survives a power loss (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_temp_file(path: str | os.PathLike) -> bool:
    """True for a temporary file left by :func:`atomic_write` (``.name.XXXXXXXX.tmp``)."""
    return bool(_TEMP_NAME.match(Path(path).name))


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files a killed writer left anywhere below ``folder``; returns them.
    Only for folders no other process is writing to (a resumed run's ``results/``)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.rglob("*.tmp"):
        if p.is_file() and is_temp_file(p):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **kw: Any) -> Iterator[Any]:
    """Write to a temporary file beside ``path`` and ``os.replace`` it into place on success.

    Readers see either the old file or the complete new one, never a partial file. The file
    gets the umask's permissions (see the module docstring); on any error (a full disk
    included) the temporary file is removed and the old file, if any, is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, mode, **kw) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`); returns the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically, newlines as given (no platform
    translation: official result formats use ``\\n``); returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, sort_keys=False, allow_nan=False)
        f.write("\n")
