"""One process at a time in a run folder.

Two ``evalkit run --resume DIR`` started on the same folder would both repair, append to and
finalise the same prediction store: records interleave and one process's results files replace
the other's. The main rank holds an exclusive ``flock`` on ``DIR/.lock`` from the moment the folder
is resolved until the run returns; a second process is refused at once with the holder's pid.
The kernel drops the lock when the holder exits, killed or not, so a stale lock file never
blocks a later resume.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .errors import EvalkitError

LOCK_FILE = ".lock"


class RunLock:
    """An exclusive, non-blocking lock on ``run_dir/.lock``, taken by :meth:`acquire` (or on
    entering a ``with`` block) and dropped by :meth:`release` (or on leaving it)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise EvalkitError(
                f"run folder {self.path.parent} is in use by another evalkit process (pid {holder}); "
                f"wait for it to finish, or start a new run without --resume"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
