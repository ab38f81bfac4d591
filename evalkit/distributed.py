"""Data-parallel evaluation under ``torchrun``.

``torchrun --nproc-per-node N -m evalkit run ...`` starts N processes; each takes a contiguous
shard of the pending samples (sizes differ by at most one, no padding, no duplicates — as
detectron2's inference sampler), writes its own prediction-store shard, and rank 0 merges the
shards and scores. Every collective has a timeout: a rank that dies or hangs turns into a
:class:`~evalkit.errors.DistributedError` naming the stage, instead of a hang.

The process group uses gloo on CPU and nccl when every rank has a CUDA device. torch is only
imported when ``WORLD_SIZE`` > 1.
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from typing import Any, Sequence

from .errors import DistributedError

__all__ = ["DistContext", "init_distributed", "shard_exact"]


def shard_exact(items: Sequence[Any], rank: int, world: int) -> list[Any]:
    """Contiguous shard ``rank`` of ``world``: exact cover, sizes differ by ≤ 1."""
    n = len(items)
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    stop = start + base + (1 if rank < extra else 0)
    return list(items[start:stop])


@dataclass
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None
    timeout_s: float = 1800.0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        if not self.enabled:
            return "single process"
        return f"distributed: {self.world} ranks ({self.backend}), this is rank {self.rank}"

    def barrier(self, stage: str) -> None:
        if not self.enabled:
            return
        import torch.distributed as dist

        try:
            if self.backend == "gloo":
                dist.monitored_barrier(timeout=_dt.timedelta(seconds=self.timeout_s))
            else:
                dist.barrier()
        except RuntimeError as e:  # gloo raises RuntimeError naming the missing rank(s)
            raise DistributedError(
                f"rank {self.rank}: timed out after {self.timeout_s:.0f} s waiting for the other "
                f"ranks at '{stage}' ({str(e).splitlines()[0]}). A rank probably crashed: see "
                f"its log; the finished samples are in the prediction store, rerun with --resume"
            ) from None

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def init_distributed(device: str = "cpu", timeout_s: float = 1800.0) -> DistContext:
    """Initialise from the torchrun environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(timeout_s=timeout_s)
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    import torch
    import torch.distributed as dist

    backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    try:
        dist.init_process_group(
            backend=backend, timeout=_dt.timedelta(seconds=timeout_s), rank=rank, world_size=world
        )
    except Exception as e:  # noqa: BLE001 - surface any rendezvous failure as one message
        raise DistributedError(
            f"rank {rank}: could not join the process group of {world} ranks ({backend}): {e}"
        ) from None
    return DistContext(rank, world, local_rank, backend, timeout_s)
