"""GLEE adapters end to end with random weights on tiny inputs: output frames, ids, determinism."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.adapters.glee import GLEEAdapter
from evalkit.adapters.glee_image import boxes_to_original, prompt_masks, to_instances
from evalkit.adapters.glee_video import associate, track
from evalkit.adapters.glee_vos import select_referred
from evalkit.errors import EvalkitError, UnsupportedTaskError
from evalkit.types import Categories, Expression, Frames, Reference, rle_to_mask
from evalkit.zoo.api import get_card
from evalkit.zoo.ops import ImageTransform

from glee_helpers import frames_array, tiny_adapter, tiny_glee, tiny_tokenizer

H, W = 50, 70
CATS = Categories(("cat", "dog", "object"), (5, 9, 11))


@pytest.fixture(scope="module")
def adapter():
    return tiny_adapter()


def _run(adapter, task, frames, prompt):
    adapter.prepare(task)
    return adapter.predict(frames, prompt)


def test_box_mapping_through_the_padded_canvas():
    tf = ImageTransform((50, 70), (64, 90), (64, 96))  # original, resized, padded
    box = torch.tensor([[0.5, 0.5, 0.5, 0.5]])  # canvas centre, half the canvas
    out = boxes_to_original(box, tf)[0]
    # canvas x: 24..72 px of 96, y: 16..48 of 64; then ×70/90 and ×50/64
    torch.testing.assert_close(out, torch.tensor([24 * 70 / 90, 16 * 50 / 64, 72 * 70 / 90, 48 * 50 / 64]))


def test_instance_segmentation(adapter):
    frames = Frames(frames_array(1, H, W))
    a = _run(adapter, "inst-seg", frames, CATS)[0]
    b = _run(adapter, "inst-seg", frames, CATS)[0]
    q = 16  # tiny model: 16 queries × 3 names < 100
    assert len(a) == q * 3 and a.image_size == (H, W)
    assert set(a.labels.tolist()) <= {5, 9, 11}
    assert all(tuple(r["size"]) == (H, W) for r in a.masks)
    assert ((a.scores >= 0) & (a.scores <= 1)).all()
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.scores, b.scores)
    det = _run(adapter, "det", frames, CATS)[0]
    assert det.masks is None and len(det) == len(a)


def test_referring_expression(adapter):
    r = _run(adapter, "res", Frames(frames_array(2, H, W)), Expression("the cat"))
    assert len(r) == 2 and all(len(x) == 1 and x.image_size == (H, W) for x in r)


def test_interactive_prompts(adapter):
    frames = Frames(frames_array(1, H, W))
    box = Reference(object_ids=(4, 7), boxes=np.array([[15, 10, 45, 30], [0, 0, 20, 20]], np.float32))
    r = _run(adapter, "interactive", frames, box)[0]
    assert r.track_ids.tolist() == [4, 7] and len(r.masks) == 2
    click = Reference(object_ids=(2,), points=[np.array([[20, 20], [60, 40]], np.float32)],
                      point_labels=[np.array([1, 0])])
    masks, mode = prompt_masks(click, (H, W))
    assert mode == "point" and masks[0, 20, 20] and not masks[0, 40, 60]  # negative click ignored
    assert masks[0].sum() == (2 * (H // 40)) * (2 * (W // 40))
    assert _run(adapter, "interactive", frames, click)[0].track_ids.tolist() == [2]


def test_vos_objects_start_on_their_key_frames(adapter):
    frames = Frames(frames_array(3, H, W))
    m = np.zeros((2, H, W), bool)
    m[0, 10:30, 15:45] = True
    m[1, 35:45, 5:20] = True
    ref = Reference(object_ids=(3, 8), masks=m, frames_of_objects=(0, 1))
    r = _run(adapter, "vos", frames, ref)
    assert [x.track_ids.tolist() for x in r] == [[3], [3, 8], [3, 8]]
    np.testing.assert_array_equal(rle_to_mask(r[0].masks[0]), m[0])  # key frame keeps its mask
    np.testing.assert_array_equal(rle_to_mask(r[1].masks[1]), m[1])
    later = np.stack([rle_to_mask(x) for x in r[2].masks])
    assert not (later[0] & later[1]).any()  # merged by soft aggregation: no overlap


def test_rvos_one_instance_per_frame(adapter):
    r = _run(adapter, "rvos", Frames(frames_array(3, H, W)), Expression("a dog"))
    assert [len(x) for x in r] == [1, 1, 1] and all(x.track_ids.tolist() == [1] for x in r)


def test_minvis_association_recovers_permuted_queries():
    g = torch.Generator().manual_seed(0)
    q, n = 6, 2
    emb = torch.randn(q, 8, generator=g)
    perms = [torch.arange(q), torch.randperm(q, generator=g), torch.randperm(q, generator=g)]
    logits = [torch.arange(q * n, dtype=torch.float32).view(q, n)[p] for p in perms]
    masks = [torch.arange(q, dtype=torch.float32)[p].view(q, 1, 1).expand(q, 2, 2) for p in perms]
    boxes = [torch.rand(q, 4, generator=g)[p] for p in perms]
    embeds = [emb[p] + 0.01 * torch.randn(q, 8, generator=g) for p in perms]
    m, b, video = associate(logits, masks, boxes, embeds)
    for t in range(3):  # every frame's queries are put back in frame 0's order
        torch.testing.assert_close(m[t], masks[0])
    torch.testing.assert_close(video, logits[0])


def test_video_tracking_outputs(adapter):
    frames = Frames(frames_array(3, H, W))
    adapter.prepare("vis")
    model = adapter.bundle()  # a procedure's (model, context)
    with torch.no_grad():
        vis_result = track(model, adapter.context, frames, CATS)
        tao_result = track(model, adapter.context_for("ow-track"), frames, CATS)
    vis, tao = vis_result.instances, tao_result.instances
    # 3 frames in one window of 10; the top 30 of 16 queries x 3 categories; TAO: the top
    # min(50, 16) queries (glee_helpers.TINY num_queries=16)
    assert dict(vis_result.stats) == {"frames": 3, "windows": 1, "tracks": 30}
    assert dict(tao_result.stats) == {"frames": 3, "windows": 1, "tracks": 16}
    assert [len(x) for x in vis] == [30, 30, 30]
    assert vis[0].track_ids.tolist() == list(range(1, 31))
    np.testing.assert_array_equal(vis[0].scores, vis[2].scores)  # one score per video track
    assert all(x.masks is None and set(x.labels.tolist()) <= {5, 9, 11} for x in tao)
    assert all(set(x.track_ids.tolist()) <= set(range(1, 49)) for x in tao)


def test_wrong_prompt_for_task_is_an_error(adapter):
    with pytest.raises(UnsupportedTaskError):
        _run(adapter, "rvos", Frames(frames_array(2, H, W)), CATS)
    adapter.context = None  # back to the prompt-inferred task for the next test


def test_referred_query_choice():
    emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]), dim=-1)
    probs = torch.tensor([0.5, 0.52, 0.1])
    assert select_referred(probs, emb, None) == 1  # first frame: the score alone
    assert select_referred(probs, emb, emb[0]) == 0  # then the previous query's similarity counts


def test_mask_logits_map_to_the_original_frame():
    tf = ImageTransform((50, 70), (64, 90), (64, 96))
    logits = torch.full((1, 64, 96), -5.0)
    logits[0, 16:48, 36:72] = 5.0  # canvas pixels; x beyond 90 would be padding
    inst = to_instances(tf, torch.tensor([0.5]), logits, torch.tensor([[0.5, 0.5, 0.25, 0.5]]), labels=[3])
    m = rle_to_mask(inst.masks[0])
    ys, xs = np.nonzero(m)
    assert abs(xs.min() - 36 * 70 / 90) <= 1 and abs(xs.max() + 1 - 72 * 70 / 90) <= 1
    assert abs(ys.min() - 16 * 50 / 64) <= 1 and abs(ys.max() + 1 - 48 * 50 / 64) <= 1
    # score = class probability x mean foreground probability (sigmoid(5) inside, up to edges)
    assert 0.45 < inst.scores[0] < 0.5 and inst.labels.tolist() == [3]


def test_test_sizes_come_from_the_card_and_the_dataset_option():
    model, tok = tiny_glee(), tiny_tokenizer()
    lite = get_card("glee-lite").input_sizes
    assert GLEEAdapter(model, tok, input_sizes=lite).input_size("inst-seg") == (800, 1333, 32)
    assert GLEEAdapter(model, tok, input_sizes=lite).input_size("vis") == (480, 1333, 32)
    assert GLEEAdapter(model, tok, input_sizes=lite, dataset="ovis").input_size("vis") == (720, 1333, 32)
    assert GLEEAdapter(model, tok, input_sizes=lite).input_size("ow-track") == (640, 1333, 32)
    assert GLEEAdapter(model, tok, input_sizes=lite, dataset="burst").input_size("ow-track") == (720, 1333, 32)
    bound = GLEEAdapter(model, tok, input_sizes=lite)
    bound.prepare("vis", "ovis-val")  # the runner prepares the benchmark: its id selects the OVIS size
    assert bound.task == "vis" and bound.input_size("vis") == (720, 1333, 32)
    pinned = GLEEAdapter(model, tok, input_sizes=lite, dataset="ytvis19")
    pinned.prepare("vis", "ovis-val")  # an explicit dataset option wins
    assert pinned.input_size("vis") == (480, 1333, 32)
    pro = get_card("glee-pro").input_sizes
    # the LSJ test mapper of the Pro configs: ResizeShortestEdge(1536, 1536) on a 1536² canvas
    assert GLEEAdapter(model, tok, input_sizes=pro).input_size("det") == (1536, 1536, 1536)
    assert GLEEAdapter(model, tok, input_sizes=pro).lsj_side("det") == 1536
    assert GLEEAdapter(model, tok, input_sizes=lite).lsj_side("det") is None
    with pytest.raises(EvalkitError, match=r"unknown GLEE option\(s\) 'bogus'; valid options: .*input_size"):
        GLEEAdapter(model, tok, input_sizes=lite, bogus=1)
    # the one input-size option: a short edge keeps the card's max size, a pair sets both
    assert GLEEAdapter(model, tok, input_sizes=lite, input_size=640).input_size("vis") == (640, 1333, 32)
    assert GLEEAdapter(model, tok, input_sizes=lite, input_size=[512, 900]).input_size("vis") == (512, 900, 32)
    with pytest.raises(EvalkitError, match=r"'min_size' is now 'input_size'"):
        GLEEAdapter(model, tok, input_sizes=lite, min_size=640)
