"""The UNINEXT adapter end to end with random weights on tiny inputs: coordinate frames,
category / object ids, result types, streaming and determinism; plus the post-processing on
hand-made network outputs whose correct answer is known."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.adapters.uninext import build_adapter
from evalkit.errors import UnsupportedTaskError
from evalkit.types import Categories, Expression, Frames, Instances, Reference, rle_to_mask

from uninext_helpers import TINY, write_vocab

H, W = 100, 150  # original frames; input_size (64, 128) resizes them to 64×96


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    vocab = write_vocab(tmp_path_factory.mktemp("uninext_vocab"))
    torch.manual_seed(0)
    return build_adapter(model_id="uninext-r50", random_weights=True, tokenizer=str(vocab),
                         overrides={**TINY, "template_size": 64}, input_size=(64, 128))


def _frames(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(n)]


def _masks(inst: Instances) -> np.ndarray:
    return np.stack([rle_to_mask(r) for r in inst.masks]) if inst.masks else np.zeros((0, H, W), bool)


def test_input_sizes_come_from_the_card(tmp_path):
    vocab = write_vocab(tmp_path)
    ad = build_adapter(model_id="uninext-r50", random_weights=True, tokenizer=str(vocab),
                       overrides={**TINY, "template_size": 64}, dataset="ovis")
    assert ad.input_size("det") == (800, 1333) and ad.input_size("vos") == (480, 1333)
    assert ad.input_size("vis") == (720, 1333)  # the per-dataset size of OVIS
    assert "reference" in ad.prompt_kinds and "sot" in ad.tasks


def test_unsupported_requests_are_clear_errors(adapter):
    with pytest.raises(UnsupportedTaskError, match="vss"):
        adapter.check("vss", Categories(("car",), (3,)))
    adapter.prepare("det")
    with pytest.raises(UnsupportedTaskError, match="Categories"):
        adapter.predict(Frames(_frames(1)), Expression("a car"))


def _crafted_run(adapter, monkeypatch, logits, boxes, masks, iou=None):
    """Make the network return the given outputs (batch of one) for any input."""
    def run(batch, prompt, prompt_mask, *, pooled, task):
        assert tuple(batch.images.shape[-2:]) == (64, 96)
        return {"logits": logits[None], "boxes": boxes[None], "iou": iou, "masks": masks[None]}
    monkeypatch.setattr(adapter, "run", run)
    monkeypatch.setattr(adapter.model, "decode_masks", lambda out, b, q: out["masks"][b][q])


def test_detection_frames_nms_and_category_ids(adapter, monkeypatch):
    # caption "person. car": [CLS] person . car [SEP] → person = token 1, car = token 3
    logits = torch.full((4, 16), -10.0)
    logits[0, 3] = 5.0   # query 0: car
    logits[1, 1] = 4.0   # query 1: person, same box (another class: not suppressed)
    logits[2, 3] = 3.0   # query 2: car, almost the same box → removed by NMS 0.7
    logits[3, 1] = -3.0  # query 3: a weak person far away
    boxes = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.51, 0.5, 0.5, 0.5],
                          [0.1, 0.1, 0.1, 0.1]])
    masks = torch.full((4, 16, 24), -10.0)
    masks[0, :8] = 10.0  # top half of the canvas (= of the image: no padding here)
    _crafted_run(adapter, monkeypatch, logits, boxes, masks)
    adapter.prepare("inst-seg")
    inst = next(iter(adapter.predict(Frames(_frames(1)), Categories(("person", "car"), (7, 42)))))
    assert inst.image_size == (H, W)
    # 3 surviving queries × 2 classes, by score; query 2 is gone
    assert len(inst) == 6 and inst.labels[:3].tolist() == [42, 7, 7]
    np.testing.assert_allclose(inst.boxes[0], [37.5, 25.0, 112.5, 75.0], atol=1e-4)
    np.testing.assert_allclose(inst.boxes[1], [37.5, 25.0, 112.5, 75.0], atol=1e-4)
    np.testing.assert_allclose(inst.boxes[2], [7.5, 5.0, 22.5, 15.0], atol=1e-4)
    assert np.isclose(inst.scores[0], 1 / (1 + np.exp(-5.0)), atol=1e-6)
    m = _masks(inst)[0]
    assert m.shape == (H, W) and m[:50].all() and not m[50:].any()


def test_instance_segmentation_runs_end_to_end(adapter):
    frames = Frames(_frames(1))
    prompt = Categories(("person", "traffic light", "car"), (1, 10, 3))
    adapter.prepare("inst-seg")
    a = list(adapter.predict(frames, prompt))
    b = list(adapter.predict(frames, prompt))
    assert len(a) == 1 and 0 < len(a[0]) <= 100
    assert a[0].to_json() == b[0].to_json()  # deterministic on CPU
    inst = a[0]
    assert set(inst.labels.tolist()) <= {1, 10, 3}
    assert (inst.boxes[:, 0::2] >= 0).all() and (inst.boxes[:, 0::2] <= W).all()
    assert (inst.boxes[:, 1::2] >= 0).all() and (inst.boxes[:, 1::2] <= H).all()
    assert all(r["size"] == [H, W] for r in inst.masks)
    assert np.all(np.diff(inst.scores) <= 0)
    adapter.prepare("det")
    det = next(iter(adapter.predict(frames, prompt)))
    assert det.masks is None and np.array_equal(det.boxes, inst.boxes)


def test_referring_expressions(adapter):
    frames = Frames(_frames(1))
    adapter.prepare("rec")
    rec = list(adapter.predict(frames, Expression("the man on the left")))[0]
    assert len(rec) == 1 and rec.masks is None and rec.labels is None
    adapter.prepare("res")  # cleaned to the same text
    res = list(adapter.predict(frames, Expression("The man, on the LEFT!")))[0]
    np.testing.assert_array_equal(res.boxes, rec.boxes)
    assert res.masks[0]["size"] == [H, W]


def test_sot_streams_and_starts_from_the_given_box(adapter):
    loads = []
    imgs = _frames(4, seed=1)

    def source(i):
        def load():
            loads.append(i)
            return imgs[i]
        return load

    frames = Frames([source(i) for i in range(4)], sizes=[(H, W)] * 4)
    prompt = Reference(boxes=np.array([[-5.0, 10.0, 60.0, 40.0]]), frame=1, object_ids=(3,))
    adapter.prepare("sot")
    gen = adapter.predict(frames, prompt)
    first = next(gen)
    assert loads == [0] and len(first) == 0  # before the reference frame: nothing
    out = [first, *gen]
    assert loads == [0, 1, 2, 3]
    np.testing.assert_allclose(out[1].boxes, [[0.0, 10.0, 60.0, 40.0]])  # clipped
    for inst in out[1:]:
        assert len(inst) == 1 and inst.track_ids.tolist() == [3] and inst.image_size == (H, W)
        assert (inst.boxes[:, 0::2] <= W).all() and (inst.boxes[:, 1::2] <= H).all()


def test_vos_objects_appear_on_their_frames(adapter):
    masks = np.zeros((2, H, W), bool)
    masks[0, 10:40, 20:70] = True
    masks[1, 60:90, 90:140] = True
    prompt = Reference(object_ids=(4, 9), masks=masks, frames_of_objects=(0, 2))
    adapter.prepare("vos")
    out = list(adapter.predict(Frames(_frames(4, seed=2)), prompt))
    assert [o.track_ids.tolist() for o in out] == [[4], [4], [4, 9], [4, 9]]
    m0 = _masks(out[0])
    # the given mask on its frame (after the round trip through the network's resolution)
    assert (m0[0] & masks[0]).sum() / (m0[0] | masks[0]).sum() > 0.9
    m2 = _masks(out[2])
    inner = np.zeros_like(masks[1])
    inner[62:88, 92:138] = True
    assert m2[1][inner].all()  # object 9's given mask wins over object 4's prediction
    for o in out:
        m = _masks(o)
        assert m.shape[1:] == (H, W) and (m.sum(0) <= 1).all()  # exclusive labels


def test_rvos_one_mask_per_frame(adapter):
    prompt = Expression("a red car on the left")
    adapter.prepare("rvos")
    out = list(adapter.predict(Frames(_frames(3, seed=3)), prompt))
    assert len(out) == 3
    for o in out:
        assert len(o) == 1 and o.track_ids.tolist() == [1] and o.masks[0]["size"] == [H, W]


def test_bf16_precision_runs_and_stays_close(tmp_path):
    vocab = write_vocab(tmp_path)
    opts = dict(random_weights=True, tokenizer=str(vocab), overrides={**TINY, "template_size": 64},
                input_size=(64, 128))
    torch.manual_seed(0)
    fp32 = build_adapter(model_id="uninext-r50", **opts)
    bf16 = build_adapter(model_id="uninext-r50", precision="bf16", **opts)
    bf16.model.load_state_dict(fp32.model.state_dict())
    frames = Frames(_frames(1))
    a = next(iter(fp32.predict(frames, Expression("a car"))))
    b = next(iter(bf16.predict(frames, Expression("a car"))))
    assert b.boxes.dtype == np.float32 and np.isfinite(b.boxes).all()
    assert abs(float(a.scores[0]) - float(b.scores[0])) < 0.05


def test_sot_template_refresh_schedule(adapter, monkeypatch):
    calls = []
    encode = adapter.model.encode_template
    monkeypatch.setattr(adapter.model, "encode_template", lambda *a: calls.append(1) or encode(*a))
    prompt = Reference(boxes=np.array([[20.0, 20.0, 60.0, 50.0]]))
    adapter.prepare("sot")
    list(adapter.predict(Frames(_frames(5, seed=4)), prompt))
    assert len(calls) == 1  # the first frame's template only: refreshes come every 200 frames
    calls.clear()
    monkeypatch.setitem(adapter.options, "update_interval", 2)
    monkeypatch.setitem(adapter.options, "update_thr", -1.0)
    adapter.prepare("sot")  # the settings are resolved once, into the prepared context
    list(adapter.predict(Frames(_frames(5, seed=4)), prompt))
    assert len(calls) == 3  # frames 0 (given), 2 and 4 (refreshed)
