"""UniVS procedures are functions of (model, context, frames, prompt) returning instances plus
stats: they read everything from the frozen context and write nothing on the adapter or model."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from evalkit.adapters.base import ProcedureResult
from evalkit.adapters.univs_context import UniVSContext
from evalkit.adapters.univs_entity import predict_categories
from evalkit.adapters.univs_prompted import predict_expression, predict_reference
from evalkit.types import Categories, Expression, Reference
from univs_tiny import build_tiny_adapter, random_video


def _plain(obj) -> dict:
    """An object's attributes of plain value types (what a per-task switch would write)."""
    return {k: v for k, v in vars(obj).items() if isinstance(v, (bool, int, float, str, tuple, type(None)))}


def _snapshot(adapter) -> dict:
    model = adapter.model
    out = {("adapter", k): v for k, v in _plain(adapter).items()}
    out.update({(name, k): v for name, mod in model.named_modules() for k, v in _plain(mod).items()})
    out.update({("visual_sampler", k): v for k, v in _plain(model.visual_sampler).items()})
    out[("adapter", "attributes")] = tuple(sorted(vars(adapter)))
    return out


def test_context_is_frozen_and_carries_what_procedures_need():
    a = build_tiny_adapter()
    ctx = a.prepare("vos", "davis17-val")
    assert isinstance(ctx, UniVSContext)
    # the user's clip_len 3 over DAVIS 17's 5; the benchmark's MIN_SIZE_TEST 640 over the card's 64
    assert ctx.settings.sampling_frame_num == 3 and ctx.input_size == {"min_size": 640, "max_size": 128}
    assert ctx.device == "cpu" and ctx.text is a.text
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.settings = None


@pytest.mark.parametrize("task", ["vos", "rvos", "vis", "vss"])
def test_procedures_return_instances_and_stats_and_write_nothing(task):
    a = build_tiny_adapter(stability=0.0, cls_threshold=0.0)
    ctx = a.prepare(task)
    m = np.zeros((1, 48, 64), bool)
    m[0, 5:20, 5:30] = True
    fn, prompt = {"vos": (predict_reference, Reference(object_ids=(1,), masks=m)),
                  "rvos": (predict_expression, Expression("the cat")),
                  "vis": (predict_categories, Categories(["cat", "dog", "the"], [1, 2, 5])),
                  "vss": (predict_categories, Categories(["cat", "dog", "the"], [1, 2, 5]))}[task]
    before = _snapshot(a)
    params = {k: v.clone() for k, v in a.model.state_dict().items()}
    res = fn(a.model, ctx, random_video(5), prompt)
    assert isinstance(res, ProcedureResult) and len(res.instances) == 5
    # the stats are the bounded streaming state: a clip of cached frames at most
    assert res.stats["cached_frames"] <= ctx.settings.sampling_frame_num
    assert ("entities" in res.stats) == (task == "vis")
    assert _snapshot(a) == before and a.last_stats == {}
    assert all(torch.equal(v, params[k]) for k, v in a.model.state_dict().items())
    # predict() (the one ProcedureAdapter dispatch) returns the same instances and keeps the
    # result's stats as the adapter-side record of the call
    out = a.predict(random_video(5), prompt)
    assert a.last_stats == res.stats and len(out) == 5
