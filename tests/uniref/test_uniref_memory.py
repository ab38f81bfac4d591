"""Constant memory over a 600-frame video (the paper's point against memory-bank VOS methods):
UniRef++ keeps, per object, only the first- and previous-frame references. Measured on CPU at a
tiny size: the live tensors (count and bytes, found through the garbage collector) are the same
after 100 and after 600 frames, and the process's resident memory does not grow. A 120-frame
version runs in the quick suite; the 600-frame one is marked ``slow`` (about a minute on a
loaded 2-core machine)."""
from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from evalkit.types import Frames, Reference

from uniref_helpers import box_mask, frame, tiny_adapter

def live_tensors() -> tuple[int, int]:
    gc.collect()
    n = nbytes = 0
    seen = set()
    for obj in gc.get_objects():
        if isinstance(obj, torch.Tensor) and not obj.is_meta:
            n += 1
            storage = obj.untyped_storage()
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                nbytes += storage.nbytes()
    return n, nbytes


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.parametrize("n_frames, first", [(120, 40), pytest.param(600, 100, marks=pytest.mark.slow)])
def test_vos_memory_is_constant_over_the_video(tmp_path, n_frames, first):
    adapter = tiny_adapter(tmp_path, input_size=(32, 48), dataset="davis17", score_thres=0.0)
    adapter.prepare("vos")
    # frames are generated on access (lazy sources): the video is never all in memory
    frames = Frames([lambda i=i: frame(i) for i in range(n_frames)])
    given = np.stack([box_mask(48, 64, 5, 5, 20, 30), box_mask(48, 64, 25, 30, 40, 60)])
    stream = adapter.predict(frames, Reference(object_ids=(1, 2), masks=given))
    samples = {}
    n = 0
    for inst in stream:
        n += 1
        assert inst.track_ids.tolist() == [1, 2]
        if n in (first, n_frames):
            samples[n] = (live_tensors(), rss_bytes())
    assert n == n_frames
    (t_early, rss_early), (t_late, rss_late) = samples[first], samples[n_frames]
    assert t_late == t_early, f"live tensors grew: {t_early} -> {t_late} (count, bytes)"
    grown = (rss_late - rss_early) / 2**20
    assert grown < 32, f"resident memory grew by {grown:.1f} MiB"
