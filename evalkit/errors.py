"""User-facing errors.

Every error a user can cause (a bad name, a broken dataset, a malformed results file, missing
weights) derives from :class:`EvalkitError`. The CLI prints such errors as one line and exits
non-zero; other exceptions are bugs and print a traceback.
"""
from __future__ import annotations


class EvalkitError(Exception):
    """An error caused by the user's input; the message says what was expected and where."""

    exit_code = 2


class UnknownNameError(EvalkitError, KeyError):
    """An id that is not registered (model, benchmark, metric...)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DatasetError(EvalkitError):
    """A dataset on disk does not follow the official layout."""


class ResultsError(EvalkitError):
    """A results / ground-truth file given to a metric is malformed or inconsistent."""


class WeightsError(EvalkitError):
    """Weights cannot be found, downloaded, verified or loaded safely."""


class UnsupportedTaskError(EvalkitError):
    """An adapter was asked for a task or prompt kind it does not support."""


class DistributedError(EvalkitError):
    """A distributed run failed (timeout waiting for ranks, inconsistent shards)."""


class StorageError(EvalkitError):
    """The file system refused a read or write (disk full, read-only, no permission)."""


#: errno values that describe the user's file system, not a bug: reported as one line.
_USER_ERRNOS = {"ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EFBIG", "ENAMETOOLONG",
                "EISDIR", "ENOTDIR", "ENOENT", "EMFILE", "ENFILE", "EIO"}


def storage_error(exc: OSError) -> StorageError | None:
    """The one-line user error for an ``OSError`` caused by the file system (``None`` for other
    ``OSError``\\ s, which stay bugs). It names the file when the OS reported one."""
    import errno as _errno

    name = _errno.errorcode.get(exc.errno or -1)
    if name not in _USER_ERRNOS:
        return None
    where = f" {exc.filename}" if exc.filename else ""
    hint = {"ENOSPC": "free some space", "EDQUOT": "free some space",
            "EROFS": "the file system is read-only: use a writable --runs-root/--output-dir",
            "EACCES": "check the permissions", "EPERM": "check the permissions"}.get(name, "")
    return StorageError(f"cannot access{where}: {exc.strerror or exc} ({name})"
                        + (f"; {hint}" if hint else "")
                        + "; finished samples are kept, continue with --resume")
