"""The host side of a run: torch CPU threads, the device check, seeding.

* :func:`apply_threads` caps torch's intra-op threads. Left uncapped, torch starts one thread
  per core, and on a small or shared machine the tiny models then spend most of their time in
  thread hand-offs: ``bench/threads.py`` measures it (numbers in ``docs/cpu_gpu.md``), which is
  where :func:`default_threads` comes from.
* :func:`check_device` turns "Torch not compiled with CUDA enabled" (an AssertionError deep in
  torch) into one line saying which torch is installed and how to install a CUDA build.
* :func:`seed_everything` seeds ``random``, numpy and torch; torch is imported for it, so the
  seed reaches torch even when nothing has imported it yet (a single-process run seeds before
  the model is built, i.e. before any torch import).
"""
from __future__ import annotations

import logging
import os
import random

from .errors import EvalkitError

__all__ = ["default_threads", "MAX_DEFAULT_THREADS", "available_cpus", "resolve_threads", "apply_threads",
           "check_device", "seed_everything", "CUDA_INSTALL"]

log = logging.getLogger("evalkit.run")

#: the most torch intra-op threads `run` uses when ``--threads`` is not given.
MAX_DEFAULT_THREADS = 8


def default_threads(cpus: int) -> int:
    """torch threads when ``--threads`` is not given: half the usable CPUs (at least 1, at most
    :data:`MAX_DEFAULT_THREADS`). The other half is left to the data-loading threads and to
    whatever else runs: torch's OpenMP threads spin while they wait, so as many threads as
    CPUs on a machine that is not idle is far slower, not faster. Measured with
    ``bench/threads.py`` on 2 shared CPUs (docs/cpu_gpu.md): uninext-tiny on 4 shapes-davis
    videos took 14.8 s of inference with 1 thread and 176.5 s with 2 (torch's own default) at a
    load average of 7; at a lighter load (3 videos) 4.7 s vs 3.7 s: 2 threads gain 1.3x at best
    and lose 12x under contention. Machines with more CPUs were not measured here: pass
    ``--threads`` (or run the bench) there."""
    return max(1, min(MAX_DEFAULT_THREADS, cpus // 2))


#: the install command printed when a CUDA device is asked for and torch has no CUDA
CUDA_INSTALL = "pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu124"


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's core count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def resolve_threads(threads: int | None) -> int:
    """``threads`` if given (must be >= 1), else :func:`default_threads` of the usable CPUs."""
    if threads is None:
        return default_threads(available_cpus())
    if int(threads) < 1:
        raise EvalkitError(f"--threads must be a positive number of CPU threads, got {threads}")
    return int(threads)


def apply_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count; returns the number set (torch imported here)."""
    n = resolve_threads(threads)
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def check_device(device: str) -> None:
    """Raise one-line :class:`EvalkitError` when ``device`` cannot be used by this torch.

    ``cpu`` is always fine; ``cuda``/``cuda:N`` needs a CUDA build of torch, a visible GPU and
    ``N`` below the number of visible GPUs. Other names are passed through to torch.
    """
    dev = str(device).strip().lower()
    if not dev.startswith("cuda"):
        return
    import torch

    if torch.version.cuda is None:
        raise EvalkitError(
            f"--device {device}: the installed torch {torch.__version__} is a CPU-only build; install "
            f"a CUDA build (`{CUDA_INSTALL}`, pick the cuXXX of your driver at "
            f"https://pytorch.org/get-started/locally/) or run with --device cpu"
        )
    if not torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise EvalkitError(
            f"--device {device}: torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU"
            + (f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else "")
            + "; check `nvidia-smi` and the driver, or run with --device cpu"
        )
    _, _, index = dev.partition(":")
    if index:
        n = torch.cuda.device_count()
        if not index.isdigit() or int(index) >= n:
            raise EvalkitError(f"--device {device}: expected cuda:0 ... cuda:{n - 1} ({n} GPU(s) visible)")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and every GPU)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:
        pass
    try:
        import torch
    except ImportError:  # score-only installs may lack torch: nothing to seed there
        return
    torch.manual_seed(seed)  # also seeds every CUDA device (torch.cuda.manual_seed_all)
