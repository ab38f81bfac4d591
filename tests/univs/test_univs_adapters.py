"""UniVS adapters end to end with a tiny random-weight model on tiny videos."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.errors import EvalkitError, UnsupportedTaskError
from evalkit.types import Categories, ContractError, Expression, Reference
from univs_tiny import build_tiny_adapter, random_video

H, W = 48, 64


@pytest.fixture(scope="module")
def adapter():
    return build_tiny_adapter()


def _masks():
    m = np.zeros((2, H, W), bool)
    m[0, 5:20, 5:30] = True
    m[1, 25:40, 30:60] = True
    return m


def test_vos_masks_returns_given_masks_and_track_ids(adapter):
    m = _masks()
    out = adapter.predict(random_video(6), Reference(object_ids=(3, 5), frame=0, masks=m))
    assert len(out) == 6
    assert out[0].track_ids.tolist() == [3, 5]
    # the reference frame holds the given masks as logits 1 / 0 on the canvas; officially
    # (save_vos_results) they are resized bilinearly to the frame and thresholded at 0, which
    # grows them by at most one pixel
    grown = m.copy()
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
        grown |= np.roll(m, (dy, dx), axis=(1, 2))
    assert (out[0].masks >= m).all() and (out[0].masks <= grown).all()
    for inst in out:
        assert inst.image_size == (H, W) and inst.masks.shape == (2, H, W)
        assert not (inst.masks[0] & inst.masks[1]).any()  # aggregated: one owner per pixel
        assert inst.boxes.shape == (2, 4) and np.all((inst.scores >= 0) & (inst.scores <= 1))


def test_vos_objects_appearing_later(adapter):
    out = adapter.predict(random_video(6), Reference(object_ids=(1, 2), masks=_masks(), frames_of_objects=(1, 3)))
    assert len(out[0]) == 0
    assert out[1].track_ids.tolist() == [1] and out[2].track_ids.tolist() == [1]
    assert out[3].track_ids.tolist() == [1, 2]
    m = _masks()[1]  # on its own frame: the given mask, grown by at most a pixel (see above)
    grown = m.copy()
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
        grown |= np.roll(m, (dy, dx), axis=(0, 1))
    assert (out[3].masks[1] <= grown).all() and (out[3].masks[1] >= (m & ~out[3].masks[0])).all()


@pytest.mark.parametrize("kind", ["boxes", "points", "scribbles"])
def test_vos_other_visual_prompts(adapter, kind):
    prompt = {"boxes": dict(boxes=np.array([[4, 4, 30, 30]], np.float32)),
              "points": dict(points=[np.array([[10, 10], [20, 12]], np.float32)]),
              "scribbles": dict(scribbles=[np.array([[5, 5], [25, 20]], np.float32)])}[kind]
    out = adapter.predict(random_video(4), Reference(object_ids=(7,), **prompt))
    assert [i.track_ids.tolist() for i in out] == [[7]] * 4


def test_streaming_memory_is_flat_in_video_length(adapter):
    stats = []
    for n in (5, 13):
        adapter.predict(random_video(n), Reference(object_ids=(1, 2), masks=_masks()))
        stats.append(dict(adapter.last_stats))
    assert stats[0] == stats[1]
    s = adapter.settings("vos")
    assert stats[1]["cached_frames"] <= s.sampling_frame_num and stats[1]["pending_frames"] <= s.sampling_frame_num
    # one slot per frame of the last max(memory, clip_len) frames, plus the first appearance
    assert stats[1]["pool_len"] == 1 + s.memory_slots


@pytest.mark.parametrize("feedback", [False, True])
def test_rvos_expression(feedback):
    a = build_tiny_adapter(text_feedback=feedback)
    out = a.predict(random_video(5), Expression("the cat"))
    assert [i.track_ids.tolist() for i in out] == [[1]] * 5
    assert all(i.masks.shape == (1, H, W) for i in out)
    assert a.last_stats["pool_len"] <= 1 + a.settings("rvos").memory_slots


def _cats(thing=None):
    return Categories(["cat", "dog", "the"], [1, 2, 5], thing=thing)


def test_vis_entities(adapter):
    a = build_tiny_adapter(stability=0.0, cls_threshold=0.0)
    a.prepare("vis")
    out = a.predict(random_video(6), _cats())
    assert len(out) == 6 and a.last_stats["entities"] >= 1
    for inst in out:
        assert set(inst.labels.tolist()) <= {1, 2, 5}
        pairs = list(zip(inst.track_ids.tolist(), inst.labels.tolist()))
        assert len(pairs) == len(set(pairs))  # one instance per (entity, category)
        for t in set(inst.track_ids.tolist()):  # an entity's categories share its mask
            same = inst.masks[inst.track_ids == t]
            assert (same == same[:1]).all()
    tracks = {t for inst in out for t in inst.track_ids.tolist()}
    assert tracks <= set(range(1, a.last_stats["entities"] + 1))


def test_vps_things_and_stuff():
    a = build_tiny_adapter(stability=0.0, cls_threshold=0.0, task="vps")
    desc = a.describe()
    assert desc["task"] == "vps" and desc["settings"]["visual_prompt_pixels_per_image"] == 64 and desc["settings"]["stability_score_thresh"] == 0.0
    out = a.predict(random_video(5), _cats(thing=[True, True, False]))
    for inst in out:
        if len(inst):
            assert inst.masks.sum(0).max() <= 1  # a panoptic partition (void allowed)
            assert len(inst.extra["is_thing"]) == len(inst)
            for lab, tid, th in zip(inst.labels, inst.track_ids, inst.extra["is_thing"]):
                if not th:
                    assert tid == lab  # stuff: one segment per category


def test_vss_partitions_every_frame():
    a = build_tiny_adapter(task="vss")
    out = a.predict(random_video(5), _cats())
    for inst in out:
        assert inst.masks.sum(0).min() == 1 and inst.masks.sum(0).max() == 1
        assert inst.track_ids is None and set(inst.labels.tolist()) <= {1, 2, 5}


def test_errors_are_clear(adapter):
    with pytest.raises(UnsupportedTaskError):
        adapter.check("sot", "reference")
    with pytest.raises(EvalkitError, match="unknown UniVS option"):
        build_tiny_adapter(clip_length=3)
    with pytest.raises(ContractError, match="mask 0 is"):
        adapter.predict(random_video(2), Reference(object_ids=(1,), masks=np.zeros((1, 10, 10), bool)))
    no_text = build_tiny_adapter()
    no_text.text_encoder = None
    with pytest.raises(EvalkitError, match="vocabulary"):
        no_text.class_embeddings_for(_cats())
    with pytest.raises(EvalkitError, match="text encoder"):
        no_text.predict(random_video(2), Expression("a dog"))


def test_class_embedding_slices(adapter):
    a = build_tiny_adapter()
    a.class_embeddings = torch.arange(3938.0)[:, None].expand(-1, 48)
    ovis = Categories([f"c{i}" for i in range(25)], list(range(1, 26)))
    assert a.class_embeddings_for(ovis)[0, 0] == 2243
    yt19 = Categories(["person", "sedan"] + [f"c{i}" for i in range(38)], list(range(1, 41)))
    yt21 = Categories(["airplane", "flying_disc"] + [f"c{i}" for i in range(38)], list(range(1, 41)))
    assert a.class_embeddings_for(yt19)[0, 0] == 3048 and a.class_embeddings_for(yt21)[0, 0] == 2203
    b = build_tiny_adapter(vocabulary="coco")
    b.class_embeddings = a.class_embeddings
    assert b.class_embeddings_for(ovis)[0, 0] == 2641


def test_card_factory_loads_class_embeddings_lazily(monkeypatch, tmp_path):
    """``build_adapter`` of the card is the card families' one factory path
    (:class:`~evalkit.adapters.factory.CardFactory`): the network from the ``load_model`` hook,
    the weights' digest from ``weights_digest``, the class-embedding file (a bare tensor, as
    released) fetched only when a category prompt needs it."""
    import evalkit.hub
    from evalkit.adapters.factory import CardFactory
    from evalkit.adapters.univs import UniVSAdapter, build_adapter
    from evalkit.zoo.univs.convert import read_class_embeddings
    from evalkit.zoo.univs.model import build_univs
    from univs_tiny import TINY

    assert issubclass(UniVSAdapter, CardFactory) and build_adapter == UniVSAdapter.from_card
    emb = torch.randn(3938, 48)
    torch.save(emb, tmp_path / "cls.pth")
    fetched, loaded = [], []

    def fake_fetch(card, weights=None, name=None):
        fetched.append(name)
        return tmp_path / "cls.pth"

    monkeypatch.setattr(UniVSAdapter, "load_model", classmethod(
        lambda cls, card, weights, overrides, random: loaded.append(card.id) or build_univs("r50", **TINY)))
    monkeypatch.setattr(UniVSAdapter, "weights_digest", classmethod(lambda cls, card, weights: "0" * 64))
    monkeypatch.setattr(evalkit.hub, "fetch_weights", fake_fetch)
    a = build_adapter(model_id="univs-r50", clip_len=2, stability=0.0, cls_threshold=0.0, task="vis")
    assert loaded == ["univs-r50"] and a.weights_sha256 == "0" * 64
    assert fetched == [] and a.input_sizes["pvos"]["min_size"] == 640  # test_r50_stage3.sh
    a.input_sizes = {"vis": {"min_size": 64, "max_size": 128}}
    ovis = Categories([f"c{i}" for i in range(25)], list(range(1, 26)))
    out = a.predict(random_video(3), ovis)
    assert fetched == ["combined_datasets_cls_emb_rn50x4.pth"] and len(out) == 3
    assert torch.equal(a.class_embeddings, emb)
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(EvalkitError, match="class-embedding"):
        read_class_embeddings(tmp_path / "bad.pth")
    with pytest.raises(EvalkitError, match="is not a UniVS model"):
        build_adapter(model_id="uninext-tiny")


def test_card_factory_random_weights_and_overrides():
    """The factory's own options reach UniVS's ``load_model`` hook (random weights, builder
    overrides: no file is fetched, no digest) and are not refused as unknown settings."""
    from evalkit.adapters.univs import build_adapter
    from univs_tiny import TINY

    a = build_adapter(model_id="univs-r50", random_weights=True, overrides=TINY, clip_len=2)
    assert a.weights_sha256 is None and a.model.num_queries == TINY["num_queries"]
    assert a.settings("vos").sampling_frame_num == 2


def test_square_canvas_of_stage2_swin_inputs():
    """Stage-2 Swin cards ask for a square canvas: long side capped, padded to s×s."""
    a = build_tiny_adapter()
    a.input_sizes = {"vos": {"min_size": 40, "square": 64}}
    from evalkit.adapters.univs_video import VideoStream

    stream = VideoStream(a.model, random_video(2), a.input_sizes["vos"], "cpu", 2)
    assert stream.canvas == (64, 64) and stream.resized == (40, 53)
    assert stream.clip([0, 1]).mask_features.shape[-2:] == (16, 16)
    out = a.predict(random_video(3), Reference(object_ids=(1,), masks=_masks()[:1]))
    assert out[0].masks.shape == (1, H, W)
