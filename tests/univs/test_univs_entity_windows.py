"""UniVS entity inference (VIS / VPS) rules of the official
``univs/inference/inference_video_entity.py`` and ``univs/inference/comm.py``, on hand-built
cases whose expected values are derived by hand from the official functions named in each test."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from evalkit.adapters.univs_video import VideoStream
from evalkit.adapters.univs_vis import is_output_clip, output_window, video_results
from evalkit.adapters.univs_vps import relabel_things, vps_window
from evalkit.types import Categories, Instances
from evalkit.zoo.ops import ImageTransform
from univs_tiny import build_tiny_adapter, random_video


def _stream(n: int, size: int = 4):
    """Frames of ``size×size`` whose canvas is the frame itself (identity transform)."""
    return SimpleNamespace(frames=SimpleNamespace(sizes=[(size, size)] * n), boxes=VideoStream.boxes,
                           transform=lambda f: ImageTransform((size, size), (size, size), (size, size)))


def test_vps_window_scores_over_the_window_and_zero_logits_where_not_predicted():
    """``save_results_vps`` on a two-frame window. Entity 1 (thing 'a', class mean 0.8) has +4 on
    columns 0-1, -4 elsewhere, on both frames; entity 2 (stuff 'b', 0.6) has no prediction on frame
    0 (summed logits 0, the official zero padding) and +2 / -2 on columns 2-3 / 0-1 on frame 1.
    Quality over the window: entity 1 16/16 = 1, entity 2 |x > 1| / |x > -1| = 8 / (16 + 8) = 1/3.
    Scores: 0.8 and 0.6 · 1/3 · 0.75 (stuff never written as a thing) = 0.15. Frame 0, columns
    2-3: 0.8 · -4 < 0.15 · 0, and sigmoid(0) = 0.5 is not background, so entity 2 takes them.
    Frame 1: entity 1 on columns 0-1 (3.2 > -0.3), entity 2 on 2-3 (0.3 > -3.2). The former
    per-frame rule (no prediction = certainly not, quality of one frame) gave frame 0 no stuff and
    entity 2 the score 0.6 · 1 · 0.75 = 0.45."""
    f0 = torch.full((2, 4, 4), -4.0)
    f0[0, :, :2] = 4.0
    f0[1] = -float("inf")  # what the accumulator returns where nothing was predicted
    f1 = f0.clone()
    f1[1, :, :2], f1[1, :, 2:] = -2.0, 2.0
    cats = Categories(["a", "b"], [1, 2], thing=[True, False])
    done: set[int] = set()
    out = vps_window(_stream(2), [0, 1], {0: f0, 1: f1}, torch.tensor([[0.8, 0.1], [0.1, 0.6]]), [1, 2], cats,
                     0.6, done)
    left = np.zeros((4, 4), bool)
    left[:, :2] = True
    for inst in out:
        assert inst.track_ids.tolist() == [1, 2] and inst.labels.tolist() == [1, 2]
        assert inst.extra["is_thing"] == [True, False]
        np.testing.assert_allclose(inst.scores, [0.8, 0.15], rtol=1e-6)
        assert (inst.masks[0] == left).all() and (inst.masks[1] == ~left).all()
    assert done == {1}


def test_vps_thing_overlap_is_decided_over_the_window():
    """``save_results_vps``: ``mask_area / original_area`` of a thing counts every frame of the
    window. Things 1 (score 0.5) and 2 (0.9): thing 1 has +4 on columns 0-1 of both frames; thing
    2 is -4 on frame 0 and +4 on rows 0-2 of columns 0-1 of frame 1. Thing 1 wins 8 pixels on
    frame 0 and 2 (row 3) on frame 1 of its own 16: 10/16 = 0.625 >= 0.6, so it is kept on both
    frames (frame by frame it kept 2/8 = 0.25 < 0.6 on frame 1 and was dropped there)."""
    f0 = torch.full((2, 4, 4), -4.0)
    f0[0, :, :2] = 4.0
    f1 = f0.clone()
    f1[1, :3, :2] = 4.0
    out = vps_window(_stream(2), [0, 1], {0: f0, 1: f1}, torch.tensor([[0.5], [0.9]]), [1, 2],
                     Categories(["a"], [1]), 0.6, set())
    assert out[0].track_ids.tolist() == [1] and out[0].masks[0].sum() == 8
    assert out[1].track_ids.tolist() == [1, 2]
    assert out[1].masks[0].sum() == 2 and out[1].masks[0][3, :2].all() and out[1].masks[1].sum() == 6


def test_output_clips_and_window_length():
    """``inference_video``: ``num_frames_window_output = (ceil(max(NUM_FRAMES_WINDOW, T) / 5) + 1) · 5``
    (5, 5 → 10; 5, 12 → 20) and ``is_out = i > NUM_PREV_FRAMES_MEMORY and i % W == NUM_PREV_FRAMES_MEMORY``:
    with memory 5 and W 10 the clips starting at 15 and 25 write windows, 5 and 14 do not."""
    assert output_window(5, 5) == 10 and output_window(5, 12) == 20
    assert [i for i in range(30) if is_output_clip(i, 5, 10)] == [15, 25]


def test_vis_entity_never_visible_is_a_blank_result():
    """``vis_clip_instances_to_coco_json_video``: every entity gets results with
    ``[blank_rle_mask] * video_len`` where it has no mask. Entity 1, never visible, window class
    scores (0.6, 0.001), summed quality 0.5: category 0 (>= 0.005) scores 0.6 · 0.5 / (int(0.5) + 1)
    = 0.3, category 1 is dropped; the result is one all-blank track (a blank row on the first
    frame). Formerly it gave no result at all."""
    out = [Instances.empty((4, 4)), Instances.empty((4, 4))]
    final = video_results(out, {1: [torch.tensor([0.6, 0.001])]}, {1: 0.5}, [3, 7], 100)
    assert len(final[0]) == 1 and len(final[1]) == 0
    assert final[0].track_ids.tolist() == [1] and final[0].labels.tolist() == [3]
    np.testing.assert_allclose(final[0].scores, [0.3], rtol=1e-6)
    assert not final[0].masks.any() and final[0].boxes.tolist() == [[0, 0, 0, 0]]


def test_vps_things_take_their_final_category():
    """``vps_output_results``: a thing segment's ``category_id`` is ``gt_logits.mean(1).argmax`` at
    the end of the video (here 'b', a stuff class: the segment says stuff); stuff segments keep
    theirs."""
    m = np.zeros((2, 4, 4), bool)
    inst = Instances((4, 4), boxes=np.zeros((2, 4)), masks=m, scores=np.ones(2), labels=np.array([1, 2]),
                     track_ids=np.array([1, 2]), extra={"is_thing": [True, False]})
    relabel_things([inst, Instances.empty((4, 4))], {1: 1}, Categories(["a", "b"], [1, 2], thing=[True, False]))
    assert inst.labels.tolist() == [2, 2] and inst.extra["is_thing"] == [False, False]


def test_first_detection_only_once():
    """``detect_newly_entities_per_clip_instance``: ``is_first_frame = "masks" not in targets`` is
    true only for the video's first detection; afterwards a new entity needs IoU < 0.5 with every
    entity's memory mask, and with no entity ``miou.nelement()`` is 0, so none is ever added.
    Clip 0 has no confident detection, clip [1, 2, 3] a confident one: officially the video keeps
    no entity (the former rule treated "no entity yet" as a first detection and created one)."""
    a = build_tiny_adapter(task="vis", stability=0.0, cls_threshold=0.0)
    ql = a.model.num_queries

    def fake_decode(feats, prompts=None, **kw):
        t = len(feats.frame_indices)
        masks = torch.full((ql, t, 16, 24), -5.0)
        masks[0, :, :8, :12] = 5.0
        logits = torch.full((ql, 3), -100.0)
        if int(feats.frame_indices[0]) > 0:
            logits[0, 0] = 5.0
        emb = torch.zeros(ql, t, 32)
        emb[:, :, 0] = 1.0
        return {"pred_masks": masks, "pred_embds": emb, "pred_logits": logits}

    a.model.decode = fake_decode
    out = a.predict(random_video(4), Categories(["cat", "dog", "the"], [1, 2, 5]))
    assert a.last_stats["entities"] == 0 and all(len(i) == 0 for i in out)
