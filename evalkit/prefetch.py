"""Sample prefetching: build samples (and decode single images) in worker threads, in order.

Image decoding (PIL releases the GIL while decoding JPEG/PNG) overlaps inference, so the
model never waits on the decoder. Video samples stay lazy: their frames are decoded on demand
inside ``predict``, keeping one frame in memory at a time.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Sequence

from .types import Frames, Sample

__all__ = ["prefetch_samples"]


def _load(bench, sid: str) -> tuple[str, Sample | None, BaseException | None]:
    try:
        sample = bench.load_sample(sid)
        if len(sample.frames) == 1:  # decode now, in this worker thread
            f = sample.frames
            sample.frames = Frames([f[0]], f.ids, f.sizes)
        return sid, sample, None
    except Exception as e:  # noqa: BLE001 - handed to the runner, which decides
        return sid, None, e


def prefetch_samples(bench, ids: Sequence[str], num_workers: int = 2,
                     lookahead: int | None = None) -> Iterator[tuple[str, Sample | None, BaseException | None]]:
    """Yield ``(sample_id, sample, error)`` in the order of ``ids``.

    At most ``lookahead`` (default ``2 * num_workers``) samples are in flight, bounding memory.
    ``num_workers=0`` loads synchronously in the calling thread.
    """
    if num_workers <= 0:
        for sid in ids:
            yield _load(bench, sid)
        return
    lookahead = lookahead or 2 * num_workers
    with ThreadPoolExecutor(num_workers, thread_name_prefix="evalkit-data") as pool:
        queue: deque = deque()
        it = iter(ids)
        for sid in it:
            queue.append(pool.submit(_load, bench, sid))
            if len(queue) >= lookahead:
                break
        while queue:
            fut = queue.popleft()
            nxt = next(it, None)
            if nxt is not None:
                queue.append(pool.submit(_load, bench, nxt))
            yield fut.result()
