"""UniVS PVOS (VIPOSeg) stuff rule and the first-clip writing rule, on minimal cases whose
expected values are derived by hand from the official
``univs/inference/inference_video_vos.py:InferenceVideoVOS.write_predictions_into_annotations_per_clip``
(``use_semseg_pvos``, hard-coded True in ``__init__``), and the VIPOSeg reader filling the
objects' categories."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from evalkit.adapters.univs_prompted import exclusive_masks
from evalkit.adapters.univs_semseg import semantic_map
from evalkit.errors import DatasetError
from evalkit.types import ContractError, Reference
from univs_tiny import build_tiny_adapter, random_video


# -- the semantic map ------------------------------------------------------------------------

def test_semantic_map_weighs_class_scores_by_mask_quality():
    """Official: ``pred_logits_quality = sigmoid(logits) * calculate_mask_quality_scores(masks)``,
    ``semseg = einsum("qc,qthw->cthw", ·, sigmoid(masks))``, ``sem_mask = argmax(0)``.

    Hand case, one frame of 1×3 pixels (canvas = decoder size, no resizing): q0 logits
    [5, 5, -5] (quality |>1| / |>-1| = 2/2 = 1), class scores (0.5, 0, 0); q1 logits [0, 3, 3]
    (quality 2/3), scores (0, 0, 0.6). Pixel 1: class 0 = 0.5·σ(5) = 0.4967, class 2 =
    0.6·(2/3)·σ(3) = 0.3810 → class 0 (without the quality, 0.6·σ(3) = 0.5715 would give 2).
    Pixel 0: 0.4967 vs 0.4·σ(0) = 0.2 → 0; pixel 2: 0.5·σ(-5) = 0.0033 vs 0.3810 → 2."""
    masks = torch.tensor([[5.0, 5.0, -5.0], [0.0, 3.0, 3.0]]).view(2, 1, 1, 3)
    scores = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.0, 0.6]])
    sem = semantic_map(scores, masks, (1, 3), (1, 3))
    assert sem.shape == (1, 1, 3) and sem.flatten().tolist() == [0, 0, 2]
    # the quality is counted on the resized frame only: a padding column of q1 at 3 would
    # raise q1's quality to 3/4 (0.6·0.75·σ(3) = 0.4287, still < 0.4967) — and at -5, as here,
    # it is outside the crop and changes nothing
    padded = torch.tensor([[5.0, 5.0, -5.0, -5.0], [0.0, 3.0, 3.0, -5.0]]).view(2, 1, 1, 4)
    assert semantic_map(scores, padded, (1, 4), (1, 3)).flatten().tolist()[:3] == [0, 0, 2]


# -- STEP 2: exclusivity of the targets seen before, stuff forced ------------------------------

def test_stuff_target_forced_before_the_exclusivity_of_seen_targets():
    """Official STEP 2 (task 'sot'): ``original_area = (matched_masks > 0).sum().clamp(min=1)``
    before the stuff forcing; then ``matched_masks_sigmoid[i][sem_mask == label] = 1``,
    ``matched_masks[i][sem_mask == label] = 10``; owner = argmax of sigmoid · sim² · quality;
    kept when ``area / original_area > 0.25`` and ``area > 0``.

    Hand case, 1×3 pixels: stuff target 0 logits [-2, -2, 3], weight 0.25, its category's pixel
    is pixel 1; thing target 1 logits [4, 4, -3], weight 0.2. Pixel 0: 0.25·σ(-2) = 0.0298 <
    0.2·σ(4) = 0.1964 → 1; pixel 1 (forced): 0.25·1 = 0.25 > 0.1964 → 0; pixel 2: 0.25·σ(3) =
    0.2381 > 0.2·σ(-3) = 0.0095 → 0. Areas 2 (original 1) and 1 (original 2): both kept;
    target 0 keeps logit 10 on pixel 1. Unforced, pixel 1 goes to target 1."""
    x = torch.tensor([[-2.0, -2.0, 3.0], [4.0, 4.0, -3.0]]).view(2, 1, 1, 3)
    w = torch.tensor([0.25, 0.2])
    forced = torch.zeros(2, 1, 1, 3, dtype=torch.bool)
    forced[0, 0, 0, 1] = True
    out = exclusive_masks(x, w, forced=forced)
    assert out.flatten(1).tolist() == [[0.0, 10.0, 3.0], [4.0, 0.0, 0.0]]
    assert exclusive_masks(x, w).flatten(1).tolist() == [[0.0, 0.0, 3.0], [4.0, 4.0, 0.0]]
    # no positive logit of its own (original area 0, clamped to 1): the forced pixel it owns
    # is 1/1 > 0.25 of it, so it is kept (a test "original > 0" would drop it)
    x0 = torch.tensor([[-2.0, -2.0, -2.0], [4.0, 4.0, -3.0]]).view(2, 1, 1, 3)
    assert exclusive_masks(x0, w, forced=forced).flatten(1).tolist() == [[0.0, 10.0, 0.0], [4.0, 0.0, 0.0]]


# -- through the procedure (tiny adapter, stand-in decoder) -----------------------------------

def _case(cats: tuple[int, ...], thing: tuple[bool, ...], decode, masks: np.ndarray, ids=(1,), **options):
    """Three 64×96 frames (resized = canvas = original; decoder masks 16×24), one clip of 3."""
    a = build_tiny_adapter(task="pvos", clip_len=3, **options)
    a.class_embeddings = torch.zeros(3938, 48)  # the vipseg rows exist (the stand-in ignores them)
    a.model.decode = decode(a.model.num_queries, len(ids))
    ref = Reference(object_ids=ids, masks=masks, category_ids=cats, thing=thing)
    return a.predict(random_video(3, h=64, w=96), ref)


def _stuff_decode(ql: int, k: int):
    """Learnable q0 predicts the bottom-right block (decoder rows 8:, cols 12:) with VIPSeg class 0
    ('wall'), q1 the rest with class 5; the prompt query predicts the bottom-left block (rows 8:,
    cols :12), disjoint from its given mask (the top-left canvas block rows :24, cols :32)."""

    def fake_decode(feats, prompts=None, class_embeddings=None, **kw):
        t = len(feats.frame_indices)
        masks = torch.full((ql + k, t, 16, 24), -5.0)
        masks[0, :, 8:, 12:] = 5.0
        masks[1] = 5.0
        masks[1, :, 8:, 12:] = -5.0
        masks[ql, :, 8:, :12] = 5.0
        out = {"pred_masks": masks, "pred_embds": torch.ones(ql + k, t, 32)}
        if class_embeddings is not None:
            assert class_embeddings.shape == (124, 48)  # rows 2924..3047 (combined_datasets_category_info)
            logits = torch.full((ql + k, 124), -10.0)
            logits[0, 0], logits[1, 5] = 10.0, 10.0
            out["pred_logits"] = logits
        return out

    return fake_decode


def _given_top_left() -> np.ndarray:
    m = np.zeros((1, 64, 96), bool)
    m[0, :24, :32] = True
    return m


def test_stuff_target_written_after_its_frame_despite_low_iou_and_forced_on_its_category():
    """Official STEP 1: ``if (not is_above and not isstuff) or faf_i_ == 0: continue`` and, for a
    stuff target, ``cur_mask[sem_mask[faf_i_:] == cur_label] = 10.`` before writing
    ``gt_mask_logits[obj, faf_i_:]``. The prediction (bottom-left) has IoU 0 with the given mask
    (top-left): a thing is not written after frame 0 (frames 1-2 empty); the stuff target of class
    0 is written: its own bottom-left prediction plus the bottom-right pixels the semantic map
    gives class 0, i.e. the bottom half; the top half (class 5 in the map) stays empty."""
    stuff = _case((0,), (False,), _stuff_decode, _given_top_left())
    thing = _case((2,), (True,), _stuff_decode, _given_top_left())
    for f in (1, 2):
        m = stuff[f].masks[0]
        assert m[36:, 4:44].all() and m[36:, 52:].all()  # own prediction + forced pixels
        assert not m[:28].any()
        assert not thing[f].masks[0].any()
    assert stuff[0].masks[0][:24, :32].all() and not stuff[0].masks[0][24:].any()  # the given mask


def test_pvos_stuff_rule_needs_the_categories_and_can_be_switched_off():
    """A PVOS reference without categories is refused (the rule cannot be applied); with the
    option off the stuff target is a thing (frames 1-2 empty, as in the thing case above)."""
    from evalkit.adapters.univs_settings import resolve_settings

    # on for PVOS only (official: hard-coded True, applied when the dataset is VIPOSeg)
    assert resolve_settings("pvos", "viposeg-val", {}).use_semseg_pvos
    assert not resolve_settings("vos", "davis17-val", {}).use_semseg_pvos
    a = build_tiny_adapter(task="pvos", clip_len=3)
    with pytest.raises(ContractError, match="category_ids"):
        a.predict(random_video(3, h=64, w=96), Reference(object_ids=(1,), masks=_given_top_left()))
    off = _case((0,), (False,), _stuff_decode, _given_top_left(), use_semseg_pvos=False)
    assert not off[1].masks[0].any() and not off[2].masks[0].any()


def _stolen_decode(ql: int, k: int):
    """Both targets are given the top-left canvas block G (16×16 = 256 px; decoder rows :4, cols
    :4). Target 1's prompt predicts +3 everywhere; target 2's predicts G at +10, -10 elsewhere."""

    def fake_decode(feats, prompts=None, **kw):
        t = len(feats.frame_indices)
        masks = torch.full((ql + k, t, 16, 24), -5.0)
        masks[ql] = 3.0
        masks[ql + 1] = -10.0
        masks[ql + 1, :, :4, :4] = 10.0
        return {"pred_masks": masks, "pred_embds": torch.ones(ql + k, t, 32)}

    return fake_decode


def test_first_clip_target_judged_on_its_owned_pixels_of_the_given_frame():
    """Official STEP 1 (task 'sot'): ``is_above_miou`` compares ``0.15 · min(area / 96², 1)`` with
    the IoU of the given mask and ``matched_masks_binary`` (the pixels the target owns after the
    exclusivity) on the given frame, and keeps no minimum area. Target 1 predicts the whole
    canvas: IoU with G = 256/6144 = 0.0417, weight 0.0417² · 1 = 0.00174, so outside G it owns
    the canvas (σ(3) · 0.00174 = 0.00166 > σ(-10) · ~1 = 0.00005) but not G (target 2: σ(10)).
    Its owned IoU on frame 0 is 0 < 0.15 · 256/9216 = 0.0042: not written after frame 0, so
    frames 1-2 have no target 1 (the former rule, on the IoU before the exclusivity, 0.0417,
    wrote 95 % of the frame); target 2 keeps G."""
    m = np.zeros((2, 64, 96), bool)
    m[:, :16, :16] = True
    out = _case((2, 2), (True, True), _stolen_decode, m, ids=(1, 2), use_semseg_pvos=False)
    for f in (1, 2):
        owner = dict(zip(out[f].track_ids.tolist(), out[f].masks))
        assert not owner[1].any()
        assert owner[2][2:14, 2:14].all() and not owner[2][:, 20:].any()


# -- the VIPOSeg reader ----------------------------------------------------------------------

def test_viposeg_reader_gives_each_object_its_class_and_thing_flag(generated_datasets):
    """``obj_class.json`` of the generated set: video 1_abcd objects 1, 2, 3 → classes 60
    (thing), 28 (stuff), 102 (thing, unseen); 2_efgh object 1 → 9 (stuff, unseen); thing/stuff
    of VIPSeg (UniVS ``VIPseg_CATEGORIES``: id 61 'isthing' 1, id 29 0, id 103 1, id 10 0)."""
    from evalkit.benchmarks.base import build_benchmark

    root, _ = generated_datasets
    b = build_benchmark("viposeg-val", root)
    r = b.load_sample("1_abcd").prompt
    assert (r.object_ids, r.category_ids, r.thing) == ((1, 2, 3), (60, 28, 102), (True, False, True))
    r = b.load_sample("2_efgh").prompt
    assert (r.category_ids, r.thing) == ((9,), (False,))
    # another VOS benchmark's reference is unchanged
    d = build_benchmark("davis17-val", root)
    r = d.load_sample(d.sample_ids()[0]).prompt
    assert r.category_ids is None and r.thing is None


def _mini_viposeg(root, classes):
    base = root / "VIPOSeg" / "valid"
    for sub in ("JPEGImages", "Annotations", "Annotations_gt"):
        (base / sub / "v1").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(base / "JPEGImages/v1/00000.jpg")
    lab = np.zeros((8, 8), np.uint8)
    lab[:4] = 1
    im = Image.fromarray(lab, mode="P")
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.save(base / "Annotations/v1/00000.png")
    im.save(base / "Annotations_gt/v1/00000.png")
    (base / "obj_class.json").write_text(json.dumps(classes))
    return root


@pytest.mark.parametrize("classes, match", [
    ({"v2": {"1": 3}}, "no object classes for video 'v1'"),
    ({"v1": {"2": 3}}, "object 1: expected a VIPSeg class index 0..123, got None"),
    ({"v1": {"1": 124}}, "object 1: expected a VIPSeg class index 0..123, got 124"),
    ({"v1": {"1": "wall"}}, "got 'wall'"),
])
def test_viposeg_reader_refuses_bad_object_classes(tmp_path, classes, match):
    from evalkit.benchmarks.viposeg import VipOSeg

    b = VipOSeg(_mini_viposeg(tmp_path, classes) / "VIPOSeg", "viposeg-val")
    with pytest.raises(DatasetError, match=match) as e:
        b.load_sample("v1")
    assert "obj_class.json" in str(e.value)


def test_reference_category_fields_are_checked():
    m = np.zeros((2, 4, 4), bool)
    r = Reference(object_ids=(1, 2), masks=m, category_ids=[3, np.int64(5)], thing=[1, 0])
    assert r.category_ids == (3, 5) and r.thing == (True, False)
    with pytest.raises(ContractError, match="1 category_ids for 2 object ids"):
        Reference(object_ids=(1, 2), masks=m, category_ids=(3,))
    with pytest.raises(ContractError, match="thing` flags need category_ids"):
        Reference(object_ids=(1, 2), masks=m, thing=(True, False))
    with pytest.raises(ContractError, match="3 thing flags for 2"):
        Reference(object_ids=(1, 2), masks=m, category_ids=(3, 5), thing=(True, False, True))
