"""``Adapter.prepare(task, benchmark)``: the one place a run's state is set, an immutable context
with the resolved settings and input size; ``check()`` only validates."""
from __future__ import annotations

import dataclasses

import pytest

from evalkit.errors import UnsupportedTaskError

from test_adapter_options import FAMILIES, _skip_unshipped


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_prepare_returns_a_frozen_context_and_check_changes_nothing(family):
    _skip_unshipped(family)
    a = FAMILIES[family]()
    task = "vos" if family != "GLEE" else "vis"
    ctx = a.prepare(task, "mose-val")
    assert a.context is ctx and (ctx.task, ctx.benchmark, ctx.dataset) == (task, "mose-val", "mose-val")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.task = "det"
    with pytest.raises(UnsupportedTaskError):
        a.check("no-such-task", "categories")
    a.check(task, "reference" if task == "vos" else "categories")
    assert a.context is ctx and a.task == task  # validation only
    with pytest.raises(AttributeError):
        a.task = "det"  # the task is the context's: set it with prepare


def test_context_holds_the_resolved_settings_and_sizes():
    from univs_tiny import build_tiny_adapter

    from evalkit.adapters.uninext_settings import VOSSettings

    _skip_unshipped("UniRef++")
    uniref = FAMILIES["UniRef++"]()
    # official inference_vos_3f: davis17 0.3, mose 0.4 (a shapes split follows the layout it mirrors)
    assert uniref.prepare("vos", "shapes-davis").settings.score_thres == 0.3
    assert uniref.prepare("vos", "mose-val").settings.score_thres == 0.4
    assert uniref.prepare("res").settings is None
    _skip_unshipped("UNINEXT")
    uninext = FAMILIES["UNINEXT"](update_thr=0.5)
    ctx = uninext.prepare("vos", "shapes-davis")
    assert ctx.settings == dataclasses.replace(VOSSettings(), update_thr=0.5)
    assert ctx.input_size == uninext.input_size("vos")
    # UniVS: the tiny card's 64/128, MOSE's released MIN_SIZE_TEST 720 (test script), clip_len 3
    univs = build_tiny_adapter(clip_len=3)
    ctx = univs.prepare("vos", "mose-val")
    assert ctx.input_size == {"min_size": 720, "max_size": 128} and ctx.settings.sampling_frame_num == 3


def test_univs_per_task_switches_are_call_arguments_not_model_writes():
    import numpy as np

    from evalkit.types import Reference
    from univs_tiny import build_tiny_adapter, random_video

    a = build_tiny_adapter(num_points=8, maskdec_self_attn_mask_type="sep-blocked", cell_sampling="random")
    built = (a.model.visual_sampler.num_points, a.model.visual_sampler.cell_sampling, a.model.mask_decoder.self_attn_mask)
    seen = []
    sample = a.model.sample_visual_prompt
    a.model.sample_visual_prompt = lambda *args, **kw: seen.append(kw) or sample(*args, **kw)
    m = np.zeros((1, 48, 64), bool)
    m[0, 10:30, 10:40] = True
    a.prepare("vos")
    a.predict(random_video(3), Reference(object_ids=(1,), masks=m))
    assert seen and all(kw == {"num_points": 8, "cell_sampling": "random"} for kw in seen)
    # the network is left as built: the settings went in as arguments
    assert (a.model.visual_sampler.num_points, a.model.visual_sampler.cell_sampling,
            a.model.mask_decoder.self_attn_mask) == built != (8, "random", "sep-blocked")
