"""A run folder is used by one process at a time (evalkit/run_lock.py)."""

import multiprocessing as mp
import os

import pytest

from evalkit.errors import EvalkitError
from evalkit.run_lock import RunLock


def _hold(path, ready, done):
    RunLock(path).acquire()
    ready.set()
    done.wait(30)


def test_second_process_on_a_run_folder_is_refused_with_the_holders_pid(tmp_path):
    ctx = mp.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(tmp_path, ready, done))
    p.start()
    try:
        assert ready.wait(60)
        with pytest.raises(EvalkitError, match=rf"in use by another evalkit process \(pid {p.pid}\)"):
            RunLock(tmp_path).acquire()
    finally:
        done.set()
        p.join(30)
    # the holder exited: its lock went with it, the stale file does not block
    RunLock(tmp_path).acquire().release()


def test_lock_is_released_and_reacquired_in_one_process(tmp_path):
    lock = RunLock(tmp_path).acquire()
    assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
    lock.release()
    RunLock(tmp_path).acquire().release()
