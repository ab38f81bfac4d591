"""UniVS streaming rules checked on minimal cases whose expected values are derived by hand from
the official code (``MinghanLi/UniVS``); each test names the official function it encodes."""
from __future__ import annotations

import torch

from evalkit.zoo.univs.mask_decoder import PromptQueries, UnifiedVideoMaskDecoder


def _tiny_decoder(num_queries: int = 2) -> UnifiedVideoMaskDecoder:
    torch.manual_seed(0)
    return UnifiedVideoMaskDecoder(hidden_dim=8, nheads=1, dim_feedforward=8, dec_layers=1,
                                   num_queries=num_queries, mask_dim=8, text_dim=8).eval()


def test_rvos_averaged_prompt_mask_drives_the_next_layers_attention():
    """Official ``video_mask2former_transformer_decoder_univs.py:forward_prediction_heads``
    (task 'grounding', eval): ``outputs_mask[:, Ql:] = (outputs_mask[:, Ql:] +
    outputs_mask[:, l4p_indices]) / 2`` happens before ``attn_mask`` is computed from
    ``outputs_mask``, at every head call including the one before layer 0.

    Hand case (T=1, 1×2 pixels, no resizing since the mask size equals the level size):
    learnable query 0 mask [10, -10], query 1 [-10, -10], the prompt [-10, 1]; the prompt's
    embedding is closest to query 0, so its averaged mask is [0, -4.5]; sigmoid(0) = 0.5 is not
    < 0.5 (attend), sigmoid(-4.5) < 0.5 (blocked): layer 0's mask row is [False, True]. The raw
    prompt mask would give [True, False]. Query 1 is blocked everywhere, which the official loop
    turns into "attend everywhere" (``attn_mask[all blocked] = False``)."""
    dec = _tiny_decoder()
    masks = torch.tensor([[10.0, -10.0], [-10.0, -10.0], [-10.0, 1.0]]).view(3, 1, 1, 2)
    emb = torch.zeros(1, 3, 8)
    emb[0, 0, 0], emb[0, 1, 1], emb[0, 2, 0], emb[0, 2, 1] = 1.0, 1.0, 1.0, 0.2
    dec._heads = lambda output, mask_features: (masks.clone(), emb)
    seen = []
    cross = dec.layers[0].cross_attn
    orig = cross.forward

    def spy(tgt, memory=None, *, attn_mask=None, pos=None, query_pos=None):
        seen.append(attn_mask.clone())
        return orig(tgt, memory, attn_mask=attn_mask, pos=pos, query_pos=query_pos)

    cross.forward = spy
    src = [torch.randn(2, 1, 8) for _ in range(3)]
    pos = [torch.zeros(2, 1, 8) for _ in range(3)]
    x = torch.randn(1, 1, 8)
    prompts = PromptQueries(content=x, pos=x, tokens=torch.randn(1, 3, 1, 8), tokens_pos=None, kind="expression")
    with torch.no_grad():
        out = dec(src, pos, [(1, 2)] * 3, torch.randn(1, 8, 1, 2), prompts, sentence_embeddings=torch.randn(1, 8))
    assert seen[0].shape == (1, 3, 2)
    assert seen[0][0].tolist() == [[False, True], [False, False], [False, True]]
    assert out["pred_masks"][2].flatten().tolist() == [0.0, -4.5]


# -- VOS prompt memory (issue: first clip repetition, blank slots, per-frame slots) ------------

import numpy as np  # noqa: E402

from evalkit.adapters.univs_memory import PromptPool  # noqa: E402
from evalkit.types import Reference  # noqa: E402
from evalkit.zoo.univs.prompt_encoder import VisualPromptSampler  # noqa: E402
from univs_tiny import build_tiny_adapter, random_video  # noqa: E402


def _tok(v: float, r: int = 2, c: int = 3) -> torch.Tensor:
    return torch.full((r, c), v)


def test_pool_new_frame_slot_is_a_copy_of_the_last_sampled_frame():
    """Official ``prompt_encoder.py:process_per_video_inference``: after ``zero_pad_prompt``
    appended a blank slot for the new frame, each shared frame ``key_fid`` overwrites
    ``prompt_feats[valid, :, -num_frames + key_fid:]`` (its slot and all later ones).
    ``extract_prompt_features_from_memoey_pool`` reads the first-appearance slot plus the last
    ``num_prev_frames_memory`` slots; frame ``t``'s query is the mean of slot ``t``.

    Hand case: memory 3; first clip [0, 1, 2] sampled on frame 0 (A = 1) → slots A A A; next
    clip [1, 2, 3]: blank slot 3, frame 1 gives B = 2 (slots 1..3), frame 2 gives C = 3 (slots
    2..3) → slots A B C C; tokens = slot 0 + slots 1..3 = A B C C; queries of frames 1, 2, 3 =
    2, 3, 3."""
    pool = PromptPool(memory=3)
    pool.first_frame = 0
    pool.open(2)
    pool.write(0, _tok(1.0), _tok(-1.0))
    feats, pos = pool.tokens()
    assert feats[:, 0].tolist() == [1.0] * 8 and pos[:, 0].tolist() == [-1.0] * 8  # 1 + 3 copies
    pool.open(3)
    assert pool.queries([3])[0][0, 0] == 0.0  # the new frame's slot is blank until sampled
    pool.write(1, _tok(2.0), _tok(-2.0))
    pool.write(2, _tok(3.0), _tok(-3.0))
    feats, pos = pool.tokens()
    assert feats[:, 0].tolist() == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0]
    content, content_pos = pool.queries([1, 2, 3])
    assert content[:, 0].tolist() == [2.0, 3.0, 3.0] and content_pos[:, 0].tolist() == [-2.0, -3.0, -3.0]
    # the window slides; the first-appearance slot stays (1 + memory slots held at most)
    pool.open(6)
    assert len(pool) == 4 and sorted(pool.slots) == [0, 4, 5, 6]
    assert pool.tokens()[0][:, 0].tolist() == [1.0, 1.0] + [0.0] * 6  # opened slots are blank (zero_pad_prompt)


def test_pool_first_slot_on_the_last_frame_reads_the_last_slot():
    """Official ``extract_prompt_features_from_memoey_pool``: ``first_appear_frame_idxs[
    first_appear_frame_idxs >= e_idx - 1] = -1`` (``e_idx`` slots): an appearance on the last
    slot's frame, or none (-1), reads the last slot. A blank slot's query mean is 0."""
    pool = PromptPool(memory=2)
    pool.first_frame = 4
    pool.open(4)
    assert pool.first_slot() == 4
    pool.first_frame = None
    assert pool.first_slot() == 4
    pool.first_frame = 3
    assert pool.first_slot() == 3
    feats, _ = pool.tokens(like=_tok(0.0))
    assert feats.shape == (6, 3) and not feats.any()
    assert not pool.queries([3, 4], like=_tok(0.0))[0].any()


def test_sampler_repeats_a_small_mask_cyclically_and_keeps_resize_lost_masks():
    """Official ``VisualPromptEncoder.get_dense_features``: fewer cells than ``R`` →
    ``feat_idx.repeat(R // n + 1)[:R]``; ``get_mask_prompt``: valid iff the canvas mask has a
    pixel > 0.5, cells ``>= min(0.5, max)`` of the nearest-resized mask (all cells when the
    resize lost every pixel). Features are the cell indices, so the picks read directly."""
    feats = torch.arange(8.0).view(1, 2, 4).expand(3, 2, 4).clone()  # C=3, 2×4 grid
    masks = torch.zeros(2, 16, 32)
    masks[0, 0, 0] = masks[0, 0, 8] = masks[0, 8, 24] = 1.0  # cells 0, 1, 7 (nearest picks 8i)
    masks[1, 1, 1] = 1.0  # lost by the nearest resize, but a valid mask
    tok = VisualPromptSampler(num_points=8)(feats, feats, masks)
    assert tok.feats[0, :, 0].tolist() == [0, 1, 7, 0, 1, 7, 0, 1]
    assert tok.valid.tolist() == [True, True]
    assert tok.feats[1, :, 0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]  # all 8 cells, evenly spaced = all


def _capture_visual_prompts(adapter):
    model = adapter.model
    seen = []
    decode = model.decode

    def spy(feats, prompts=None, **kw):
        seen.append((feats.frame_indices.tolist(), prompts))
        return decode(feats, prompts, **kw)

    model.decode = spy
    sampled = []
    sample = model.sample_visual_prompt

    def sample_spy(feats, frame, masks, **kw):
        tok = sample(feats, frame, masks, **kw)
        sampled.append((int(feats.frame_indices[frame]), tok))
        return tok

    model.sample_visual_prompt = sample_spy
    return seen, sampled


def test_vos_first_clip_gives_the_given_tokens_one_plus_clip_length_times():
    """Official: ``get_dense_features`` repeats the given frame's ``R`` tokens over the
    ``SAMPLING_FRAME_NUM`` slots and ``extract_prompt_features_from_memoey_pool`` takes the
    first-appearance slot plus the last ``max(NUM_PREV_FRAMES_MEMORY, SAMPLING_FRAME_NUM)``
    slots: with clip length 3 and memory 2, ProCA sees the given tokens 1 + 3 = 4 times (the
    former pool gave them once). An object given on frame 2 (mid-clip) is a blank prompt in
    that clip: zero tokens, query content = ``task_sot`` alone."""
    a = build_tiny_adapter(temporal_consistency=-2.0)
    seen, sampled = _capture_visual_prompts(a)
    m = np.zeros((2, 48, 64), bool)
    m[0, 10:30, 10:40] = True
    m[1, 5:20, 30:60] = True
    a.predict(random_video(5), Reference(object_ids=(1, 2), masks=m, frames_of_objects=(0, 2)))
    frames, prompts = seen[0]
    assert frames == [0, 1, 2]
    r = a.settings("vos").visual_prompt_pixels_per_image  # a call argument: the model is left as built
    given = sampled[0][1].feats[0]  # the given frame's R tokens (sampled on frame 0)
    assert sampled[0][0] == 0 and prompts.tokens.shape[1] == 4 * r
    for i in range(4):
        torch.testing.assert_close(prompts.tokens[0, i * r:(i + 1) * r, 0], given)
    task_sot = a.model.prompt_encoder.task_sot
    torch.testing.assert_close(prompts.content[0], (given.sum(0) / r + task_sot).expand(3, -1))
    assert not prompts.tokens[1].any() and not prompts.tokens_pos[1].any()
    torch.testing.assert_close(prompts.content[1], task_sot.expand(3, -1))
    # second clip [1, 2, 3]: object 2 (given on frame 2, now a shared frame) is sampled there;
    # its first-appearance slot is frame 2 and its earlier slot (frame 1) is blank
    frames, prompts = seen[1]
    assert frames == [1, 2, 3]
    on2 = [tok for f, tok in sampled[1:] if f == 2][0].feats[1]
    toks = prompts.tokens[1, :, 0]
    torch.testing.assert_close(toks[:r], on2)  # first slot = frame 2
    assert not toks[r:2 * r].any()  # slot of frame 0 (window 1..3 → slots 1, 2, 3): frame 1 blank
    torch.testing.assert_close(toks[2 * r:3 * r], on2)
    torch.testing.assert_close(toks[3 * r:], on2)  # the new frame 3 copies frame 2


# -- VSS --------------------------------------------------------------------------------------

def _vss_case(p_b: float):
    """Two learnable queries on one 64×96 frame (resized = canvas = original, stride-4 masks
    16×24): q0 = +2 on the left 12 columns, -2 on the right (class 'cat', score 0.9); q1 = +3
    everywhere (class 'dog', score ``p_b``); the other queries and scores are negligible."""
    import math

    a = build_tiny_adapter(task="vss", clip_len=1)
    ql = a.model.num_queries
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731

    def fake_decode(feats, prompts=None, **kw):
        t = len(feats.frame_indices)
        masks = torch.full((ql, t, 16, 24), -10.0)
        masks[0, :, :, :12], masks[0, :, :, 12:] = 2.0, -2.0
        masks[1] = 3.0
        scores = torch.full((ql, 3), -100.0)
        scores[0, 0], scores[1, 1] = logit(0.9), logit(p_b)
        return {"pred_masks": masks, "pred_embds": torch.zeros(ql, t, 32), "pred_logits": scores}

    a.model.decode = fake_decode
    from evalkit.types import Categories

    return a.predict(random_video(1, h=64, w=96), Categories(["cat", "dog", "the"], [1, 2, 5]))[0]


def test_vss_mask_quality_is_computed_on_the_output_size_masks():
    """Official ``inference_video_entity.py:save_results_vss``: ``calculate_mask_quality_scores``
    runs on the masks after the bilinear resize to the canvas and the nearest resize to the
    output size. By hand: the ×4 bilinear upsampling (align_corners False) of q0's step puts
    output columns 46..49 at source 11.125..11.875, values 1.5, 0.5, -0.5, -1.5; per row 47
    values > 1 and 49 > -1, so q0's quality is 47/49 (1 at stride 4). At pixel (0, 0) 'cat'
    scores 0.9·q·sigmoid(2) and 'dog' p_b·sigmoid(3): with p_b·sigmoid(3) = 0.776 'dog' wins
    only if q < 0.979 (true for 47/49, not for 1); with 0.755 'cat' wins if q > 0.952."""
    import math

    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert 0.9 * sig(2) * 47 / 49 < 0.776 < 0.9 * sig(2) and 0.755 < 0.9 * sig(2) * 47 / 49
    inst = _vss_case(0.776 / sig(3))
    assert inst.labels[inst.masks[:, 0, 0]].tolist() == [2]  # 'dog' (stride-4 quality gave 'cat')
    inst = _vss_case(0.755 / sig(3))
    assert inst.labels[inst.masks[:, 0, 0]].tolist() == [1]


# -- VIS: memory, update rule, results --------------------------------------------------------

from evalkit.adapters.univs_memory import EmbeddingMemory  # noqa: E402
from evalkit.adapters.univs_vis import memory_update_mask, video_results  # noqa: E402
from evalkit.types import Instances  # noqa: E402


def test_vis_memory_slot_opens_as_the_mean_of_the_last_three():
    """Official ``inference_video_entity.py:pad_zero_annotations_for_next_clip``:
    ``gt_embds_pad = torch.mean(gt_embds[:, -3:], dim=1)``; then
    ``write_prompt_predictions_into_annotations_per_clip`` averages a consistent prediction into
    the (non-blank) slot: ``(slot + pred) / 2``. Slots (1, 0), (0, 1), (1, 1), (3, 3): the new slot
    is the mean of the last three, (4/3, 5/3); writing (2, 1) gives (5/3, 4/3)."""
    mem = EmbeddingMemory(slots=5, first=torch.tensor([1.0, 0.0]), open_with="mean3")
    for v in ([0.0, 1.0], [1.0, 1.0], [3.0, 3.0]):
        mem.slots.append(torch.tensor(v))
    mem.open_slot()
    torch.testing.assert_close(mem.slots[-1], torch.tensor([4 / 3, 5 / 3]))
    mem.write(torch.tensor([2.0, 1.0]))
    torch.testing.assert_close(mem.slots[-1], torch.tensor([5 / 3, 4 / 3]))
    blank = EmbeddingMemory(slots=5, first=torch.tensor([1.0, 0.0]))
    blank.open_slot()  # the VOS memory still opens blank
    assert blank.slots[-1].tolist() == [0.0, 0.0]


def test_vis_update_rule_weights_and_owned_area():
    """Official ``write_prompt_predictions_into_annotations_per_clip`` (VIS): ``cur_scores =
    logits.mean(1).max(-1) × sim_consistency × mask_quality``; pixels to the arg-max of
    ``cur_scores · sigmoid``; ``mask_area / original_area > OVERLAP_THRESHOLD_ENTITY`` with
    ``mask_area`` the owned area (NOT intersected with the own mask) and ``mask_over`` at least
    one owned pixel of the own mask.

    Three entities, three frames, each frame constant (4×4 at stride 4, canvas 16×16, 256
    pixels): logits e0 (5, -0.5, 5), e1 (-5, 1.5, -5), e2 (5, -5, -5). Qualities (> 1 / > -1):
    e0 512/768 = 2/3, e1 1, e2 1. With class scores (1, 0.2, 1) and similarities 1: weights
    2/3, 0.2, 1. Frame 0 → e2 (0.993 vs 0.662); frame 1 → e0 (2/3·σ(-0.5) = 0.252 > 0.2·σ(1.5)
    = 0.164; not background since σ(1.5) ≥ 0.5); frame 2 → e0. e0 owns 512 of its own area 512
    (ratio 1 > 0.5; the own-mask intersection alone, 256/512 = 0.5, would drop it); e1 owns
    nothing; e2 owns 256/256."""
    masks = torch.empty(3, 3, 4, 4)
    for e, vals in enumerate(((5.0, -0.5, 5.0), (-5.0, 1.5, -5.0), (5.0, -5.0, -5.0))):
        for t, v in enumerate(vals):
            masks[e, t] = v
    keep, quality = memory_update_mask(masks, torch.tensor([1.0, 0.2, 1.0]), torch.ones(3),
                                       torch.ones(3, dtype=torch.bool), (16, 16), (16, 16), 0.5)
    torch.testing.assert_close(quality, torch.tensor([2 / 3, 1.0, 1.0]))
    assert keep.tolist() == [True, False, True]
    # the similarity enters the weights: e2's similarity 0.5 halves its weight, so frame 0 goes to
    # e0 (2/3 > 1/2) and e2 owns nothing
    keep, _ = memory_update_mask(masks, torch.tensor([1.0, 0.2, 1.0]), torch.tensor([1.0, 1.0, 0.5]),
                                 torch.ones(3, dtype=torch.bool), (16, 16), (16, 16), 0.5)
    assert keep.tolist() == [True, False, False]


def _frames(n=2):
    m = np.zeros((2, 4, 4), bool)
    m[:, 1:3, 1:3] = True
    return [Instances((4, 4), boxes=np.tile(np.array([[1, 1, 3, 3]], np.float32), (2, 1)), masks=m,
                      scores=np.zeros(2, np.float32), labels=np.full(2, -1), track_ids=np.array([1, 2]))
            for _ in range(n)]


def test_vis_video_scores_two_entities_and_the_thresholds_at_005_and_0005():
    """Official ``save_results_vis`` + ``comm.py:vis_clip_instances_to_coco_json_video`` (default
    ``apply_cls_thresh`` 0.05): per entity the class scores of its output windows are averaged
    (after ``calculate_mask_temporal_consistency_scores``, weight 1 here), a category is kept
    unless ``float(score) < 0.1 · 0.05`` (float32 0.005 = 0.00499999989 is below the float64
    0.005000000000000001: dropped), counted confident when ``score > 0.05`` (float32 0.05 =
    0.0500000007: confident), and scored ``score × quality / (int(max quality) + 1)``.

    Entity 1: one window (0.05, 0.005, 0.0051, 0.6), quality 2.5; entity 2: windows (0.2, 0.1, 0, 0)
    and (0.4, 0, 0, 0) → (0.3, 0.05, 0, 0), quality 1.2; int(2.5) + 1 = 3. Results: e1 c1 0.05·2.5/3,
    e1 c3 0.0051·2.5/3, e1 c4 0.6·2.5/3 = 0.5, e2 c1 0.3·1.2/3 = 0.12, e2 c2 0.05·0.4 = 0.02; 4
    confident → k = 6, all 5 kept."""
    ws = {1: [torch.tensor([0.05, 0.005, 0.0051, 0.6])],
          2: [torch.tensor([0.2, 0.1, 0.0, 0.0]), torch.tensor([0.4, 0.0, 0.0, 0.0])]}
    out = video_results(_frames(), ws, {1: 2.5, 2: 1.2}, [1, 2, 3, 4], topk=2)
    for inst in out:
        got = sorted(zip(inst.track_ids.tolist(), inst.labels.tolist(), inst.scores.tolist()))
        exp = [(1, 1, 0.05 * 2.5 / 3), (1, 3, 0.0051 * 2.5 / 3), (1, 4, 0.6 * 2.5 / 3), (2, 1, 0.3 * 0.4),
               (2, 2, 0.05 * 0.4)]
        assert [g[:2] for g in got] == [e[:2] for e in exp]
        np.testing.assert_allclose([g[2] for g in got], [e[2] for e in exp], rtol=1e-6)
        assert (inst.masks[inst.track_ids == 1] == inst.masks[:1]).all()  # categories share the mask


def test_vis_video_topk_cut():
    """``num_topk = max(int(n_confident · 1.5), test_topk_per_video)``; kept: score ≥
    ``sorted(desc)[min(num_topk, len - 1)]``. e1 (0.9, 0.01, 0.02), e2 (0.03, 0.04, 0), qualities 1
    (÷ 2): scores 0.45, 0.005, 0.01, 0.015, 0.02; one confident → k = max(1, 1) = 1 → cut = 0.02."""
    ws = {1: [torch.tensor([0.9, 0.01, 0.02])], 2: [torch.tensor([0.03, 0.04, 0.0])]}
    out = video_results(_frames(1), ws, {1: 1.0, 2: 1.0}, [7, 8, 9], topk=1)
    assert sorted(zip(out[0].track_ids.tolist(), out[0].labels.tolist())) == [(1, 7), (2, 8)]


# -- VOS memory and thresholds ------------------------------------------------------------------

from evalkit.adapters.univs_memory import FrameEmbeddingMemory  # noqa: E402


def test_vos_frame_memory_opens_new_frames_as_the_mean_of_the_last_stride_and_halves_on_rejects():
    """Official ``inference_video_vos.py:write_targets_into_annotations_per_clip``: new frames'
    embeddings = ``targets['embds'][:, -num_frames_newly:].mean(1)`` (``num_frames_newly`` =
    stride); ``write_predictions_into_annotations_per_clip``: ``(embds + matched) /
    (nonblank + 1)`` with ``matched`` zeroed for inconsistent targets. Stride 2, slots of frames
    0..2 = (1, 0), (0, 2), (2, 2): frames 3, 4 open as mean of frames 1, 2 = (1, 2); a rejected
    prediction halves the clip's slots."""
    mem = FrameEmbeddingMemory(memory=3, stride=2)
    mem.assign([0, 1, 2], torch.tensor([[1.0, 0.0], [0.0, 2.0], [2.0, 2.0]]))
    mem.open([2, 3, 4], torch.zeros(2))
    assert mem.frames[3].tolist() == [1.0, 2.0] and mem.frames[4].tolist() == [1.0, 2.0]
    mem.update([2, 3, 4], torch.ones(3, 2), consistent=False)
    assert mem.frames[2].tolist() == [1.0, 1.0] and mem.frames[4].tolist() == [0.5, 1.0]
    mem.update([2, 3, 4], torch.full((3, 2), 3.0), consistent=True)
    assert mem.frames[2].tolist() == [2.0, 2.0]


def _block_a_then_b_decode(ql: int, cos: float, logits: bool = False):
    """A stand-in for ``model.decode``: the prompt query (index ``ql``) predicts the top-left
    block A with embedding e = (1, 0, ...) on the clip starting at frame 0 and the bottom-right
    block B at cosine ``cos`` to e on every later clip; ``logits`` adds zero ``pred_logits``."""

    def fake_decode(feats, prompts=None, **kw):
        t = len(feats.frame_indices)
        masks = torch.full((ql + 1, t, 16, 24), -5.0)
        emb = torch.zeros(ql + 1, t, 32)
        if int(feats.frame_indices[0]) == 0:
            masks[ql, :, :8, :12] = 5.0
            emb[ql, :, 0] = 1.0
        else:
            masks[ql, :, 8:, 12:] = 5.0
            emb[ql, :, 0], emb[ql, :, 1] = cos, (1 - cos ** 2) ** 0.5
        out = {"pred_masks": masks, "pred_embds": emb}
        if logits:
            out["pred_logits"] = torch.zeros(ql + 1, 1)
        return out

    return fake_decode


def _vos_fake_case(cos: float):
    """Target given on frame 0 (top-left block A); the first clip predicts A with embedding
    e = (1, 0, ...); every later clip predicts the bottom-right block B with an embedding at
    cosine ``cos`` to e."""
    a = build_tiny_adapter()
    ql = a.model.num_queries

    a.model.decode = _block_a_then_b_decode(ql, cos)
    m = np.zeros((1, 48, 64), bool)
    m[0, :24, :32] = True
    return a.predict(random_video(5), Reference(object_ids=(1,), masks=m))


def test_vos_consistency_threshold_is_05_on_the_first_clips_too():
    """Official ``write_predictions_into_annotations_per_clip`` (prompt queries): ``sim_threshold
    = 0.5`` on every clip (the former code halved it to 0.25 while ``first_frame_idx <
    SAMPLING_FRAME_NUM``). Clip [1, 2, 3] predicts B with cosine 0.4 to a memory of e's: rejected,
    so frame 1 keeps clip 0's A only; with cosine 0.6 it is accepted and B appears."""
    out = _vos_fake_case(0.4)
    assert not out[1].masks[0][30:, 45:].any() and out[1].masks[0][:20, :30].all()
    out = _vos_fake_case(0.6)
    assert out[1].masks[0][30:, 45:].all()


# -- input size and padding (official test mapper + ImageList) --------------------------------

import pytest  # noqa: E402

from evalkit.adapters.univs_video import VideoStream  # noqa: E402
from evalkit.types import Frames  # noqa: E402


@pytest.mark.parametrize("hw, size, resized, canvas", [
    # detectron2 ResizeShortestEdge(640, 1333): scale 640/206, 320·scale = 994.17 → int(x + 0.5)
    # = 994; ImageList.from_tensors(..., size_divisibility=32) (MASK_FORMER.SIZE_DIVISIBILITY 32
    # in configs/univs_inf/vids/Base.yaml, for every backbone, R50 included) → 1024
    ((206, 320), {"min_size": 640, "max_size": 1333}, (640, 994), (640, 1024)),
    ((128, 213), {"min_size": 640, "max_size": 1333}, (640, 1065), (640, 1088)),
    ((480, 854), {"min_size": 640, "max_size": 1333}, (640, 1139), (640, 1152)),  # DAVIS
    # the long side caps: scale 1333/1920, 480·scale = 333.25 → 333
    ((480, 1920), {"min_size": 640, "max_size": 1333}, (333, 1333), (352, 1344)),
    # LSJ square test path (SQUARE_ENABLED): ResizeShortestEdge(640, min(1333, 1024)) and
    # padding_constraints square_size 1024
    ((206, 320), {"square": 1024}, (640, 994), (1024, 1024)),
    ((480, 1920), {"square": 1024}, (256, 1024), (1024, 1024)),
])
def test_univs_input_size_and_padding(hw, size, resized, canvas):
    from evalkit.zoo.univs.model import build_univs
    from univs_tiny import TINY

    model = build_univs("r50", **TINY)
    frames = Frames([np.zeros((*hw, 3), np.uint8)], ids=["0"])
    stream = VideoStream(model, frames, size, "cpu", 1)
    assert stream.resized == resized and stream.canvas == canvas


def _rvos_fake_case(cos: float):
    """R-VOS: clip 0 predicts block A with embedding e; later clips predict block B at cosine
    ``cos`` to e."""
    from evalkit.types import Expression

    a = build_tiny_adapter()
    ql = a.model.num_queries

    a.model.decode = _block_a_then_b_decode(ql, cos, logits=True)
    return a.predict(random_video(5), Expression("the cat"))


def test_rvos_later_clips_add_only_consistent_predictions():
    """Official ``inference_video_vos.py:write_predictions_into_annotations_per_clip`` for task
    'grounding': the first clip assigns its masks (all expressions appear on frame 0); later
    clips are ``has_appeared`` and pass ``check_consistency_with_prev_frames`` at
    ``sim_threshold = 0.5`` before ``gt_mask_logits += matched_masks``. Logits ±5: cosine 0.4
    rejects clips 1.. so frames 1 and 2 keep clip 0's A (+5) and frame 4 is empty (the former
    code summed every clip); cosine 0.6 adds them: frame 2 sums A-clip -5 and two B-clips +5 on B
    (+5: B), -5 on A; frame 1 sums to 0 on both (nothing)."""
    out = _rvos_fake_case(0.4)
    for f in (1, 2):
        assert not out[f].masks[0][30:, 45:].any() and out[f].masks[0][:20, :30].all()
    assert not out[4].masks[0].any()  # frame 4 only seen by rejected clips
    out = _rvos_fake_case(0.6)
    assert out[2].masks[0][30:, 45:].all() and not out[2].masks[0][:20, :30].any()
    assert not out[1].masks[0].any() and out[4].masks[0][30:, 45:].all()


def test_vps_class_and_thing_flag_follow_the_mean_class_slots():
    """Official ``save_results_vps``: ``pred_cls = gt_logits.mean(1)``; the class (and so thing or
    stuff) is its arg-max at output time, stuff scores × 0.75 unless already output as a thing.
    One entity detected as 'a' (thing, slot 0.6/0.1), then two slots at 0.1/0.9 ('b', stuff):
    mean (0.6 + 0.1 + 0.1) / 3 = 0.267 < (0.1 + 0.9 + 0.9) / 3 = 0.633 → a stuff segment of 'b'
    with track id = category id 2 (the entity's flag at detection said thing 'a')."""
    from types import SimpleNamespace

    from evalkit.adapters.univs_entity import _Entity
    from evalkit.adapters.univs_video import VideoStream
    from evalkit.adapters.univs_vps import vps_window
    from evalkit.types import Categories
    from evalkit.zoo.ops import ImageTransform

    stream = SimpleNamespace(frames=SimpleNamespace(sizes=[(8, 8)]), boxes=VideoStream.boxes,
                             transform=lambda f: ImageTransform((8, 8), (8, 8), (8, 8)))
    ent = _Entity(1, None, torch.tensor([0.6, 0.1]), None, True)
    ent.pad_scores()
    ent.scores = torch.tensor([0.1, 0.9])
    ent.pad_scores()
    torch.testing.assert_close(ent.class_mean(), torch.tensor([0.8 / 3, 1.9 / 3]))
    logits = torch.full((1, 8, 8), -5.0)
    logits[0, 2:6, 2:6] = 4.0
    out = vps_window(stream, [0], {0: logits}, ent.class_mean()[None], [1],
                     Categories(["a", "b"], [1, 2], thing=[True, False]), 0.6, set())[0]
    assert out.labels.tolist() == [2] and out.track_ids.tolist() == [2] and out.extra["is_thing"] == [False]


def test_vis_pools_first_built_from_the_left_frame_on_the_next_frames_features():
    """Official ``prompt_encoder.py:process_per_video_inference_prev_frame``, run once when the
    entities' prompt memory is first built (``"prompt_feats" not in targets``): the mask of the
    frame the window just left (frame 0, ``masks[:, -(num_frames + clip_stride) + key_fid]``) is
    sampled on the features of the clip's first frame (``img_emb_per_video[key_fid]``, frame 1)
    into frame 0's own slot; then the shared frames 1, 2 are sampled as usual."""
    from evalkit.types import Categories

    a = build_tiny_adapter(task="vis", stability=0.0, cls_threshold=0.0)
    a.class_embeddings = torch.randn(40, 48, generator=torch.Generator().manual_seed(1))
    model = a.model
    sampled, decoded = [], []
    sample, decode = model.sample_visual_prompt, model.decode

    def sample_spy(feats, frame, masks, **kw):
        sampled.append((int(feats.frame_indices[frame]), masks.clone()))
        return sample(feats, frame, masks, **kw)

    def decode_spy(feats, prompts=None, **kw):
        res = decode(feats, prompts, **kw)
        decoded.append((feats.frame_indices.tolist(), res["pred_masks"].clone()))
        return res

    model.sample_visual_prompt, model.decode = sample_spy, decode_spy
    a.predict(random_video(5), Categories([f"c{i}" for i in range(40)], list(range(1, 41))))
    assert a.last_stats["entities"] >= 1
    # clip 0 samples nothing (new entities start blank); clip [1, 2, 3] samples on frames 1, 1, 2
    assert [f for f, _ in sampled[:3]] == [1, 1, 2]
    first = sampled[0][1]
    assert first.shape[-2:] == (64, 96) and bool((first > 0).any())


def test_vis_new_entity_test_reads_the_accumulated_memory_masks():
    """Official ``detect_newly_entities_per_clip_instance``: an unmatched confident detection is a
    new entity only if its IoU with every entity's ``gt_mask_logits`` on the clip's frames (the
    sums of all clips so far, > 0) is < 0.5. Clip 0 creates entity 1 from query 0 (block A,
    embedding e0). In clip [1, 2, 3] the entity's prompt prediction is inconsistent (orthogonal
    embedding), query 1 (embedding 10·e0, mask -1 but +5 on a far block) takes the match, and
    query 0 predicts A again with a new embedding: on frames 1 and 2 the accumulated logits are
    +5 (clip 0) - 1 (query 1) > 0 on A, IoU 1, so no new entity (the former test used this
    clip's logits only, where the entity is empty on A, and created a second entity)."""
    from evalkit.types import Categories

    a = build_tiny_adapter(task="vis", stability=0.0, cls_threshold=0.0)
    ql = a.model.num_queries

    def fake_decode(feats, prompts=None, **kw):
        t = len(feats.frame_indices)
        q = ql + (0 if prompts is None else len(prompts))
        masks = torch.full((q, t, 16, 24), -1.0)
        emb = torch.zeros(q, t, 32)
        logits = torch.full((q, 3), -100.0)
        masks[0] = -5.0
        masks[0, :, :8, :12] = 5.0
        logits[0, 0] = 5.0
        first = int(feats.frame_indices[0]) == 0
        emb[0, :, 0 if first else 1] = 1.0
        masks[1, :, 12:, 18:] = 5.0
        emb[1, :, 0] = 10.0
        if q > ql:
            masks[ql:] = -5.0
            emb[ql:, :, 2] = 1.0
        return {"pred_masks": masks, "pred_embds": emb, "pred_logits": logits}

    a.model.decode = fake_decode
    a.predict(random_video(4), Categories(["cat", "dog", "the"], [1, 2, 5]))
    assert a.last_stats["entities"] == 1
