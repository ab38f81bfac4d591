"""One result type for every procedure (:class:`evalkit.adapters.base.ProcedureResult`): the
instances plus what the procedure counted, unwrapped by the one ``ProcedureAdapter.predict``
dispatch, which keeps the stats as ``adapter.last_stats`` for every family. The counts are
checked on cases small enough to derive by hand."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.adapters.base import ProcedureAdapter, ProcedureResult, streamed
from evalkit.types import Categories, ContractError, Frames, Instances, Reference

from test_adapter_options import FAMILIES, _skip_unshipped


def _frames(n: int, h: int = 20, w: int = 30) -> Frames:
    return Frames([np.zeros((h, w, 3), np.uint8) for _ in range(n)])


class _Toy(ProcedureAdapter):
    """A ProcedureAdapter whose procedures are given per test."""

    tasks = frozenset({"det", "vis"})
    prompt_kinds = frozenset({"categories"})

    def __init__(self, table):
        super().__init__(model_id="toy")
        self.table = table

    def procedures(self):
        return self.table

    def bundle(self):
        return None


@streamed
def _count_frames(model, ctx, frames, prompt):
    for size in frames.sizes:
        yield Instances.empty(size)
    return {"frames": len(frames)}


def test_a_streamed_procedure_fills_its_stats_when_exhausted():
    a = _Toy({"vis": (_count_frames, Categories)})
    assert a.last_stats == {}
    a.prepare("vis")
    out = a.predict(_frames(3), Categories(("x",), (1,)))
    assert a.last_stats == {}  # nothing has run yet: the frames stream as they are asked for
    first = next(out)
    assert isinstance(first, Instances) and a.last_stats == {}
    assert len(list(out)) == 2 and a.last_stats == {"frames": 3}
    with pytest.raises(TypeError):
        a.last_stats["frames"] = 0  # read-only: the record of the call, not a scratch pad
    # an empty clip runs nothing and records nothing
    assert a.predict(_frames(0), Categories(("x",), (1,))) == [] and a.last_stats == {}


def test_a_list_result_and_a_bare_list():
    def listed(model, ctx, frames, prompt):
        return ProcedureResult([Instances.empty(s) for s in frames.sizes], {"frames": len(frames)})

    def bare(model, ctx, frames, prompt):
        return [Instances.empty(s) for s in frames.sizes]

    a = _Toy({"det": (listed, Categories), "vis": (bare, Categories)})
    a.prepare("det")
    assert len(a.predict(_frames(2), Categories(("x",), (1,)))) == 2 and a.last_stats == {"frames": 2}
    a.prepare("vis")
    with pytest.raises(ContractError, match=r"procedure .*bare of task 'vis' returned list, expected a "
                                            r"ProcedureResult\(instances, stats\)"):
        a.predict(_frames(2), Categories(("x",), (1,)))


def test_tracker_stats_count_births_and_deaths():
    """``tracker_stats`` of the quasi-dense tracker (official ``QuasiDenseEmbedTracker``
    rules: birth above ``init_score_thr``, forgotten after ``memo_tracklet_frames`` unmatched
    frames). By hand, with ``memo_tracklet_frames=2``: frame 0 has two confident detections
    with orthogonal embeddings → tracks 0 and 1 start; frame 1 has one detection with track 0's
    embedding → matched (bi-softmax ≈ 1 > 0.5), no birth; frame 2 has none → track 1 (last seen
    on frame 0, 2 - 0 >= 2) is forgotten, track 0 (1 frame ago) is kept: 2 started, 1 ended."""
    from evalkit.adapters.trackers import QuasiDenseEmbedTracker
    from evalkit.adapters.uninext_video import tracker_stats

    tracker = QuasiDenseEmbedTracker(memo_tracklet_frames=2)
    e0, e1 = torch.tensor([10.0, 0.0]), torch.tensor([0.0, 10.0])
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]])
    tracker.match(boxes, torch.tensor([0.9, 0.85]), torch.tensor([0, 0]), torch.stack([e0, e1]), 0)
    assert tracker_stats(tracker, 1) == {"frames": 1, "tracks_started": 2, "tracks_ended": 0}
    out = tracker.match(boxes[:1], torch.tensor([0.9]), torch.tensor([0]), e0[None], 1)
    assert out.ids.tolist() == [0]
    tracker.match(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), torch.zeros(0, 2), 2)
    assert tracker_stats(tracker, 3) == {"frames": 3, "tracks_started": 2, "tracks_ended": 1}


def _one_object_video(n: int, h: int = 40, w: int = 48):
    rng = np.random.default_rng(0)
    frames = Frames([rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)])
    mask = np.zeros((1, h, w), bool)
    mask[0, 8:24, 10:30] = True
    return frames, Reference(object_ids=(3,), masks=mask, frame=0)


@pytest.mark.parametrize("family", ["UNINEXT", "UniRef++", "GLEE", "UniVS"])
def test_every_family_records_its_vos_counts(family):
    """Semi-supervised VOS of one object given on frame 0 of a 3-frame video: every family's
    ``last_stats`` is the counts of that call. By hand: 3 frames; 1 object; the network
    segments it on frames 1 and 2 only (the given frame takes the given mask): 2 passes /
    object-frames; a template / reference refresh at most once per segmented frame. UniVS
    reports the peak sizes of its streaming state instead: the tiny adapter's clip of 3
    frames is cached at once."""
    _skip_unshipped(family)
    a = FAMILIES[family]()
    a.prepare("vos")
    frames, ref = _one_object_video(3)
    out = list(a.predict(frames, ref))
    stats = dict(a.last_stats)
    assert len(out) == 3
    if family == "UNINEXT":
        assert {k: stats[k] for k in ("frames", "objects", "passes")} == {"frames": 3, "objects": 1, "passes": 2}
        assert 0 <= stats["template_updates"] <= 2
    elif family == "UniRef++":
        assert {k: stats[k] for k in ("frames", "objects", "segmented")} == {"frames": 3, "objects": 1,
                                                                              "segmented": 2}
        assert 0 <= stats["reference_updates"] <= 2
    elif family == "GLEE":
        assert stats == {"frames": 3, "objects": 1, "segmented": 2}
    else:
        assert stats["cached_frames"] == 3 and "entities" not in stats


@pytest.mark.parametrize("family", ["UNINEXT", "GLEE"])
def test_detection_counts_are_the_instances_output(family):
    _skip_unshipped(family)
    a = FAMILIES[family]()
    a.prepare("det")
    out = list(a.predict(_frames(2, 64, 64), Categories(("square", "circle"), (1, 2))))
    assert a.last_stats == {"frames": 2, "detections": sum(len(x) for x in out)}
