"""Helpers shared by the benchmark scripts (imported as a sibling module: the scripts run as
``python bench/<name>.py``, which puts this folder on ``sys.path``)."""
from __future__ import annotations

import os

__all__ = ["rss_mib"]


def rss_mib() -> float:
    """Resident set size of this process in MiB (Linux ``/proc/self/statm``), for the streaming
    memory measurements: flat over a video means nothing is kept per frame."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
