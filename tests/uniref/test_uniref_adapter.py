"""UniRef++ adapters end to end with random tiny weights: RES, FSS (1- and 5-shot), R-VOS and
VOS on small generated frames — output contract, the official procedures' control flow
(which references are used when), determinism and clear errors."""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from evalkit.errors import EvalkitError, UnsupportedTaskError
from evalkit.types import Categories, Expression, Frames, Instances, Reference, rle_to_mask

from uniref_helpers import box_mask, frame, tiny_adapter


def confident(adapter):
    """Make every query score ~1 and every mask cover the image (random weights otherwise give
    scores far below the thresholds), so the propagation paths run."""
    m = adapter.model
    with torch.no_grad():
        m.class_embed[-1].bias.fill_(8.0)
        m.dynamic_mask_head.controller.layers[-1].bias[-1] = 8.0  # bias of the last dynamic conv
    return adapter


def record_runs(adapter):
    """Wrap ``adapter.run`` to record, per call, whether language / mask references were used."""
    calls = []
    run = adapter.run

    def wrapped(self, vis, batch, *, language=None, mask=None):
        calls.append((language is not None, None if mask is None else mask.keys[0].shape[0],
                      None if mask is None else mask.keys[0].shape[1]))
        return run(vis, batch, language=language, mask=mask)

    adapter.run = types.MethodType(wrapped, adapter)
    return calls


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    return tiny_adapter(tmp_path_factory.mktemp("uniref"))


def _masks(inst: Instances) -> np.ndarray:
    if not len(inst.masks):
        return np.zeros((0, *inst.image_size), bool)
    return np.stack([rle_to_mask(r) for r in inst.masks])


def test_res_contract_and_determinism(adapter):
    adapter.prepare("res")
    frames = Frames([frame(0), frame(1, 40, 72)])
    a = list(adapter.predict(frames, Expression("The man, on the LEFT!")))
    b = list(adapter.predict(frames, Expression("the man on the left")))  # same after cleaning
    assert [i.image_size for i in a] == [(48, 64), (40, 72)]
    for x, y in zip(a, b):
        assert len(x) == 1 and x.masks[0]["size"] == list(x.image_size)
        assert (x.boxes[:, [0, 2]] <= x.image_size[1]).all() and (x.boxes >= 0).all()
        np.testing.assert_array_equal(x.boxes, y.boxes)
        assert x.masks == y.masks and x.scores == y.scores


def test_fss_one_and_five_shot(adapter):
    adapter.prepare("fss")
    sup5 = Frames([frame(10 + k) for k in range(5)])
    masks5 = np.stack([box_mask(48, 64, 4 + k, 6, 30, 40) for k in range(5)])
    q = Frames([frame(20)])
    one = list(adapter.predict(q, Reference(masks=masks5[:1], support=sup5[:1])))
    five = list(adapter.predict(q, Reference(masks=masks5, support=sup5)))
    assert len(one) == len(five) == 1 and len(one[0]) == 1 and one[0].image_size == (48, 64)
    from evalkit.adapters.uniref_image import support_reference

    model, ctx = adapter.bundle(), adapter.context  # a procedure's (model, context)
    r1 = support_reference(model, ctx, Reference(masks=masks5[:1], support=sup5[:1]))
    r5 = support_reference(model, ctx, Reference(masks=masks5, support=sup5))
    assert [k.shape[1] * 5 for k in r1.keys] == [k.shape[1] for k in r5.keys]
    assert r5.keys[0].shape[0] == 1 and r5.embeds[0].shape[0] == 1
    with pytest.raises(EvalkitError, match="support masks for"):
        list(adapter.predict(q, Reference(masks=masks5[:2], support=sup5)))
    with pytest.raises(EvalkitError, match="support mask 0 is"):
        list(adapter.predict(q, Reference(masks=np.zeros((1, 10, 10), bool), support=sup5[:1])))


def test_rvos_language_then_mask_references(tmp_path):
    ad = confident(tiny_adapter(tmp_path))
    ad.prepare("rvos")
    calls = record_runs(ad)
    frames = Frames([frame(i) for i in range(4)])
    out = list(ad.predict(frames, Expression("a red car")))
    assert len(out) == 4 and all(len(i) == 1 and i.track_ids.tolist() == [1] for i in out)
    assert all(_masks(i).any() for i in out)
    # frame 0: language only; then language + first- and previous-frame mask references (2 × tokens)
    assert calls[0] == (True, None, None)
    assert all(c[0] and c[1] == 1 for c in calls[1:])
    assert len({c[2] for c in calls[1:]}) == 1


def test_rvos_threshold_and_ref_davis_procedure(tmp_path):
    ad = tiny_adapter(tmp_path, score_thres=1.01)  # nothing passes: language only, empty masks
    ad.prepare("rvos")
    calls = record_runs(ad)
    out = list(ad.predict(Frames([frame(i) for i in range(3)]), Expression("dog")))
    assert all(c == (True, None, None) for c in calls)
    assert not any(_masks(i).any() for i in out)
    dav = confident(tiny_adapter(tmp_path, dataset="ref-davis"))
    dav.prepare("rvos")
    calls = record_runs(dav)
    out = list(dav.predict(Frames([frame(i) for i in range(3)]), Expression("dog")))
    assert all(c == (True, None, None) for c in calls)  # official Ref-DAVIS: language on every frame
    assert all(_masks(i).any() for i in out)


def test_vos_objects_references_and_aggregation(tmp_path):
    ad = confident(tiny_adapter(tmp_path, dataset="davis17", object_batch=2))
    ad.prepare("vos")
    calls = record_runs(ad)
    given = np.stack([box_mask(48, 64, 5, 5, 20, 30), box_mask(48, 64, 25, 30, 40, 60)])
    prompt = Reference(object_ids=(3, 1), masks=given, frames_of_objects=(0, 2))
    out = list(ad.predict(Frames([frame(i) for i in range(5)]), prompt))
    assert [i.track_ids.tolist() for i in out] == [[3], [3], [1, 3], [1, 3], [1, 3]]
    # on its given frame an object's mask is the given one (through the network resolution)
    np.testing.assert_array_equal(_masks(out[0])[0], given[0])
    assert out[2].scores[0] == 1.0
    for inst in out:
        m = _masks(inst)
        assert m.sum(0).max() <= 1  # exclusive after soft aggregation
    # frame 1: object 3 tracked alone; frames 3-4: both tracked in one batch of 2
    assert [c[1] for c in calls] == [1, 1, 2, 2]
    assert all(not c[0] for c in calls)


def test_vos_thresholds_per_dataset(tmp_path):
    from evalkit.adapters.uniref_settings import vos_score_thres

    for name, thr in (("davis17-val", 0.3), ("ytvos18", 0.4), ("youtube-vos-2019", 0.4),
                      ("lvos-val", 0.5), ("mose-val", 0.4)):
        assert vos_score_thres(name, {}) == thr
    assert vos_score_thres("davis", {"score_thres": 0.9}) == 0.9
    ad = tiny_adapter(tmp_path, score_thres=1.01)
    ad.prepare("vos")
    out = list(ad.predict(Frames([frame(i) for i in range(3)]),
                          Reference(object_ids=(1,), masks=box_mask(48, 64, 5, 5, 20, 30)[None])))
    assert _masks(out[0]).any() and not _masks(out[1]).any() and not _masks(out[2]).any()


def test_streaming_and_errors(adapter):
    adapter.prepare("vos")
    gen = adapter.predict(Frames([frame(i) for i in range(3)]),
                          Reference(object_ids=(1,), masks=box_mask(48, 64, 5, 5, 20, 30)[None]))
    assert not isinstance(gen, list) and isinstance(next(iter(gen)), Instances)
    with pytest.raises(UnsupportedTaskError, match="does not support task 'det'"):
        adapter.check("det", Categories(("a",), (1,)))
    with pytest.raises(UnsupportedTaskError, match="categories"):
        adapter.check("res", "categories")
    adapter.prepare("res")
    with pytest.raises(UnsupportedTaskError, match="expects a Expression"):
        adapter.predict(Frames([frame(0)]), Reference(masks=box_mask(48, 64, 1, 1, 5, 5)[None]))
    adapter.prepare("vos")
    with pytest.raises(EvalkitError, match="mask of object 1 is"):
        list(adapter.predict(Frames([frame(0)]), Reference(masks=np.zeros((1, 8, 8), bool))))
