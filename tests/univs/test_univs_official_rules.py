"""UniVS inference rules that follow the official release where it differs from the paper's
summary: expression templates, prompt memory over clip overlaps, summed clip logits."""
from __future__ import annotations

import numpy as np
import torch

from evalkit.adapters.univs_templates import EXPRESSION_TEMPLATES
from evalkit.types import Expression, Reference
from univs_tiny import build_tiny_adapter, random_video


def test_expression_templates_are_the_81_clip_templates_with_bare_first():
    assert len(EXPRESSION_TEMPLATES) == 81 and len(set(EXPRESSION_TEMPLATES)) == 81
    assert EXPRESSION_TEMPLATES[0] == "{}." and all(t.count("{}") == 1 for t in EXPRESSION_TEMPLATES)
    assert "a photo of a {}." in EXPRESSION_TEMPLATES and "itap of my {}." in EXPRESSION_TEMPLATES


def test_expression_sentence_feature_is_the_mean_over_templates():
    a = build_tiny_adapter()
    enc = a.text_encoder
    words, sentence = a.encode_expression("the cat")
    assert words.shape == (1, 77, 48) and sentence.shape == (1, 48)
    # reference: one template at a time
    per = [enc.encode_text(enc.tokenize([t.replace("{}", "the cat")]), only_eot=False) for t in EXPRESSION_TEMPLATES]
    torch.testing.assert_close(sentence[0], torch.stack([p[1][0] for p in per]).mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(words, per[0][0], rtol=1e-5, atol=1e-6)
    # the first template alone (the former encoding) is a different sentence feature
    assert not torch.allclose(sentence[0], per[0][1][0], atol=1e-3)


def test_expression_with_braces_is_inserted_literally():
    a = build_tiny_adapter()
    _, s1 = a.encode_expression("a {cat}")
    enc = a.text_encoder
    ref = enc.encode_text(enc.tokenize([t.replace("{}", "a {cat}") for t in EXPRESSION_TEMPLATES]))
    torch.testing.assert_close(s1[0], ref.mean(0), rtol=1e-5, atol=1e-6)
    out = a.predict(random_video(4), Expression("a {cat}"))
    assert len(out) == 4


def _log_prompt_memory(adapter):
    """Wrap the model so each decode records the frames sampled into the pools since the
    previous decode, with the masks used (absolute frame indices)."""
    model = adapter.model
    events: list = []
    sample, decode = model.sample_visual_prompt, model.decode

    def sample_spy(feats, frame, masks, **kw):
        events.append(("sample", int(feats.frame_indices[frame]), masks.clone()))
        return sample(feats, frame, masks, **kw)

    def decode_spy(feats, prompts=None, **kw):
        res = decode(feats, prompts, **kw)
        events.append(("decode", feats.frame_indices.tolist(), res["pred_masks"][model.num_queries:].clone()))
        return res

    model.sample_visual_prompt, model.decode = sample_spy, decode_spy
    return events


def test_vos_pools_take_the_overlap_frames_from_the_accumulated_masks():
    """Official rule: before clip ``[s, s+T)`` the frames it shares with clip ``s-1`` are
    resampled from the masks summed over the clips that covered them so far."""
    a = build_tiny_adapter(temporal_consistency=-2.0)  # every prediction enters the memory
    events = _log_prompt_memory(a)
    m = np.zeros((1, 48, 64), bool)
    m[0, 10:30, 10:40] = True
    a.predict(random_video(5), Reference(object_ids=(1,), frame=0, masks=m))
    order = [(e[0], e[1]) for e in events]
    # clip 0 samples the given frame; clip s samples frames s and s+1 (clip_len 3, stride 1)
    assert order == [("sample", 0), ("decode", [0, 1, 2]), ("sample", 1), ("sample", 2), ("decode", [1, 2, 3]),
                     ("sample", 2), ("sample", 3), ("decode", [2, 3, 4])]
    # the mask resampled on frame 2 before the last clip: the kept (positive, one target) logits
    # of clips 0 and 1 on the canvas, summed, > 0
    decodes = [e[2] for e in events if e[0] == "decode"]
    canvas = events[5][2].shape[-2:]

    def up(x):
        return torch.nn.functional.interpolate(x[None, None], size=canvas, mode="bilinear", align_corners=False)[0, 0]

    # (the official write resizes each clip's masks to the canvas before the exclusivity)
    expected = (up(decodes[0][0, 2]).clamp(min=0) + up(decodes[1][0, 1]).clamp(min=0)) > 0
    assert torch.equal(events[5][2][0] > 0, expected)
    # and before the second clip, from clip 0 alone
    assert torch.equal(events[3][2][0] > 0, up(decodes[0][0, 2]) > 0)


def test_summed_and_mean_clip_logits_threshold_alike():
    """The official VIS output divides the summed logits by the number of predictions, the VOS
    and VPS outputs do not; the ``> 0`` decisions (also after resizing to the original frame,
    a linear map) are the same for both, which is why the accumulator only sums."""
    from evalkit.adapters.univs_memory import MaskAccumulator
    from evalkit.zoo.ops import ImageTransform

    g = torch.Generator().manual_seed(0)
    acc = MaskAccumulator()
    counts = torch.zeros(3)
    for clip in range(4):
        x = torch.randn(3, 8, 8, generator=g) * 3
        x[clip % 3] = float("nan")  # that target is inconsistent in this clip
        acc.add(0, x)
        counts += ~torch.isnan(x[:, 0, 0])
    total = acc.peek(0, 3)
    mean = total / counts[:, None, None]
    assert torch.equal(total > 0, mean > 0)
    t = ImageTransform((30, 20), (32, 21), (32, 32))
    up_sum = t.masks_to_original(total.repeat_interleave(4, 1).repeat_interleave(4, 2))
    up_mean = t.masks_to_original(mean.repeat_interleave(4, 1).repeat_interleave(4, 2))
    assert torch.equal(up_sum > 0, up_mean > 0)


def test_vos_overlaps_go_to_the_first_object_id_as_officially():
    """Clip 0 gives every pixel to object 9 (logit 5), the later clips to object 4 (logit 1.5):
    the summed logits of frames 1–2 are positive for both, larger for object 9. Officially
    (binary masks, arg-max of the first) the smaller id wins, not the more probable one."""
    a = build_tiny_adapter(temporal_consistency=-2.0)
    model = a.model
    ql = model.num_queries

    def fake_decode(feats, prompts=None, **kw):
        t, (h, w) = len(feats.frame_indices), feats.mask_features.shape[-2:]
        masks = torch.full((ql + 2, t, h, w), -5.0)
        first = int(feats.frame_indices[0]) == 0
        masks[ql if first else ql + 1] = 5.0 if first else 1.5  # target 0 is object 9, target 1 object 4
        return {"pred_masks": masks, "pred_embds": torch.ones(ql + 2, t, 32),
                "pred_logits": torch.zeros(ql + 2, 1)}

    model.decode = fake_decode
    m = np.zeros((2, 48, 64), bool)
    m[0, :20], m[1, 30:] = True, True
    out = a.predict(random_video(5), Reference(object_ids=(9, 4), frame=0, masks=m))
    for inst in out[1:]:
        owner = dict(zip(inst.track_ids.tolist(), inst.masks))
        assert owner[4].all() and not owner[9].any()


def test_vos_clip_predictions_are_made_exclusive_before_summing():
    from evalkit.adapters.univs_prompted import exclusive_masks

    x = torch.tensor([[[[3.0, 3.0, -1.0, 2.0]]], [[[2.0, -4.0, 5.0, 0.5]]], [[[0.5, -1.0, -1.0, -1.0]]]])
    out = exclusive_masks(x, torch.tensor([1.0, 1.0, 1.0]))
    # pixel 0 → target 0 (largest sigmoid), pixel 2 → target 1; target 2 owns nothing: dropped;
    # target 1 keeps 1 of its 3 positive pixels (≤ 25 % would drop it; 1/3 does not)
    assert out[:, 0, 0].tolist() == [[3.0, 3.0, 0.0, 2.0], [0.0, 0.0, 5.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    # weights decide between targets: a low-weight target loses its pixels, below 25 % it is dropped
    out = exclusive_masks(x[:2], torch.tensor([1.0, 0.01]))
    assert out[1].abs().sum() == 0 and out[0, 0, 0].tolist() == [3.0, 3.0, -1.0, 2.0]  # owner keeps its logit


def test_vis_prediction_writes_the_video_results(monkeypatch):
    import evalkit.adapters.univs_entity as entity
    from evalkit.types import Categories

    calls = []
    real = entity.video_results

    def spy(out, window_scores, quality, category_ids, topk):
        calls.append((len(out), {k: len(v) for k, v in window_scores.items()}, dict(quality), topk))
        return real(out, window_scores, quality, category_ids, topk)

    monkeypatch.setattr(entity, "video_results", spy)
    a = build_tiny_adapter(task="vis", topk=3, cls_threshold=0.0)
    a.class_embeddings = torch.randn(40, 48, generator=torch.Generator().manual_seed(1))
    out = a.predict(random_video(4), Categories([f"c{i}" for i in range(40)], list(range(1, 41))))
    assert len(calls) == 1 and calls[0][0] == 4 and calls[0][3] == 3
    # a 4-frame video has one output window (the last clip): one score snapshot per entity
    assert calls[0][1] and set(calls[0][1].values()) == {1}
    tracks = {int(t) for i in out if len(i) for t in i.track_ids}
    assert tracks and tracks <= set(calls[0][1]) and all((i.labels >= 1).all() for i in out if len(i))


def test_vps_pixels_go_to_the_largest_score_times_logit():
    """Entity 1 (score 0.9, logit 1.5) against entity 2 (score 0.5, logit 4) on one region:
    officially the product with the logit decides (entity 2), not with the probability; the
    thing entity 1 then keeps none of its mask and gives no segment (a one-frame window of
    ``univs_vps.vps_window``)."""
    from types import SimpleNamespace

    from evalkit.adapters.univs_entity import _Entity
    from evalkit.adapters.univs_vps import vps_window
    from evalkit.adapters.univs_video import VideoStream
    from evalkit.types import Categories
    from evalkit.zoo.ops import ImageTransform

    stream = SimpleNamespace(frames=SimpleNamespace(sizes=[(8, 8)]), boxes=VideoStream.boxes,
                             transform=lambda f: ImageTransform((8, 8), (8, 8), (8, 8)))
    ents = [_Entity(i + 1, None, torch.tensor([0.0, sc]), None, True) for i, sc in enumerate((0.9, 0.5))]
    logits = torch.full((2, 8, 8), -5.0)
    logits[0, 2:6, 2:6], logits[1, 2:6, 2:6] = 1.5, 4.0
    seen: set[int] = set()
    out = vps_window(stream, [0], {0: logits}, torch.stack([e.class_mean() for e in ents]), [1, 2],
                     Categories(["a", "b"], [1, 2]), 0.6, seen)[0]
    assert out.track_ids.tolist() == [2] and out.masks[0].sum() == 16 and seen == {2}
