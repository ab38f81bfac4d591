"""UniVS prompt-specified streaming (VOS, R-VOS) with clip length 1, a clip stride equal to the
clip length and visual feedback for expressions, as the official
``univs/inference/inference_video_vos.py`` and ``univs/modeling/prompt_encoder/prompt_encoder.py``
run them; expected values derived by hand from the functions named in each test."""
from __future__ import annotations

import numpy as np
import torch

from evalkit.adapters.univs_prompted import written_frames
from evalkit.types import Expression, Reference
from univs_tiny import build_tiny_adapter, random_video


def _mask():
    m = np.zeros((1, 48, 64), bool)
    m[0, 5:30, 5:40] = True
    return m


def test_written_frames_follow_save_vos_results():
    """``save_vos_results`` writes ``mask_logits[:, -T:min(-T + stride, -1)]`` of a clip that is
    not the last (``T`` its frames), all of the last: T 5 / stride 1 → the first frame; T 5 /
    stride 5 → frames 0-3 of 0-4 leave the window, 4 gets no file; T 1 → no file; last → all."""
    assert written_frames([7, 8, 9, 10, 11], False, 1) == ([7], [7])
    assert written_frames([0, 1, 2, 3, 4], False, 5) == ([0, 1, 2, 3, 4], [0, 1, 2, 3])
    assert written_frames([3], False, 1) == ([3], [])
    assert written_frames([5, 6], True, 1) == ([5, 6], [5, 6])


def test_vos_clip_length_one_runs_the_previous_frame_prompt_path():
    """``SAMPLING_FRAME_NUM`` 1 (formerly refused): clip 0 samples the given mask on frame 0
    (``is_first_clip``); every later clip ``t`` has no shared frame and runs
    ``process_per_video_inference_prev_frame`` (``update_prev_frame = num_frames == 1``): frame
    ``t-1``'s mask (on clip 1 the given mask itself) sampled on frame ``t``'s features. Only the
    last frame gets a file (``written_frames``), the others are empty."""
    a = build_tiny_adapter(clip_len=1, memory=2)
    sampled = []
    sample = a.model.sample_visual_prompt

    def spy(feats, frame, masks, **kw):
        sampled.append((int(feats.frame_indices[frame]), masks.clone()))
        return sample(feats, frame, masks, **kw)

    a.model.sample_visual_prompt = spy
    out = a.predict(random_video(4), Reference(object_ids=(3,), masks=_mask()))
    assert [f for f, _ in sampled] == [0, 1, 2, 3]
    # frame 0's summed logits (the given mask) > 0, re-sampled on frame 1's features
    assert torch.equal(sampled[1][1], (sampled[0][1] > 0).float())
    assert [len(i) for i in out] == [0, 0, 0, 1] and out[3].track_ids.tolist() == [3]


def test_vos_stride_equal_to_clip_length():
    """``CLIP_STRIDE`` = ``SAMPLING_FRAME_NUM`` = 3 on 7 frames (formerly refused): clips start at
    0, 3 and 6 (``stride = min(clip_stride, num_frames)``); clips 0 and 3 write their first two
    frames, the last clip its one frame, so frames 2 and 5 get no file."""
    a = build_tiny_adapter(clip_len=3, clip_stride=3, memory=3)
    starts = []
    decode = a.model.decode

    def spy(feats, prompts=None, **kw):
        starts.append(int(feats.frame_indices[0]))
        return decode(feats, prompts, **kw)

    a.model.decode = spy
    out = a.predict(random_video(7), Reference(object_ids=(3,), masks=_mask()))
    assert starts == [0, 3, 6]
    assert [len(i) for i in out] == [1, 1, 0, 1, 1, 0, 1]


def test_rvos_visual_feedback_joins_the_position_codes_of_each_frames_slot():
    """``forward_prompt_encoder`` (grounding, ``ENABLED_PREV_VISUAL_PROMPTS_FOR_GROUNDING``) unpacks
    ``process_per_batch`` 's ``(prompt_pe, prompt_feats, ...)`` as ``(feats, pe)``: the tokens
    put before the expression's are the position codes of each clip frame's slot. On clip
    [1, 2, 3] the pool is first built (``process_per_video_inference_prev_frame``: frame 0's mask
    on frame 1's features), then frames 1 and 2 are resampled (frame 3's slot copies frame 2's):
    the tokens of frame 1 are the position codes of the last sample on frame 1, not its features."""
    a = build_tiny_adapter(text_feedback=True)
    samples, tokens = [], []
    sample, decode = a.model.sample_visual_prompt, a.model.decode

    def sample_spy(feats, frame, masks, **kw):
        tok = sample(feats, frame, masks, **kw)
        samples.append((int(feats.frame_indices[0]), frame, tok))
        return tok

    def decode_spy(feats, prompts=None, **kw):
        tokens.append((int(feats.frame_indices[0]), prompts.tokens.clone()))
        return decode(feats, prompts, **kw)

    a.model.sample_visual_prompt, a.model.decode = sample_spy, decode_spy
    a.predict(random_video(5), Expression("the cat"))
    assert [(c, f) for c, f, _ in samples if c == 1] == [(1, 0), (1, 0), (1, 1)]
    r = a.settings("rvos").visual_prompt_pixels_per_image
    clip1 = dict(tokens)[1]
    last_on_frame1 = [tok for c, f, tok in samples if c == 1 and f == 0][-1]
    last_on_frame2 = [tok for c, f, tok in samples if c == 1 and f == 1][-1]
    torch.testing.assert_close(clip1[0, :r, 0], last_on_frame1.pos[0])
    torch.testing.assert_close(clip1[0, :r, 2], last_on_frame2.pos[0])  # frame 3: copy of frame 2
    assert not torch.allclose(clip1[0, :r, 0], last_on_frame1.feats[0])
    assert dict(tokens)[0].shape[1] == 78  # the first clip: the expression's tokens only


def test_rvos_text_tower_runs_once_per_video():
    """``PrepareTargets.process_inference`` encodes the expressions once per video (the 81
    templates in one pass of ``get_expression_prompt``); each clip only re-reads the features.
    (Already so before; kept as a guard.)"""
    a = build_tiny_adapter()
    enc = a.text_encoder
    calls = []
    encode = enc.encode_text

    def spy(*args, **kw):
        calls.append(1)
        return encode(*args, **kw)

    enc.encode_text = spy
    a.predict(random_video(7), Expression("the cat"))
    assert len(calls) == 1


def test_vps_pending_frames_are_bounded_by_the_output_window():
    """VPS frames wait for their output window (``save_results_vps``), so the streaming state
    grows up to a window (10 frames) plus the memory, then stays flat: 25 and 37 frames peak
    alike."""
    from evalkit.types import Categories

    stats = []
    for n in (25, 37):
        a = build_tiny_adapter(task="vps", stability=0.0, cls_threshold=0.0)
        a.predict(random_video(n), Categories(["cat", "dog", "the"], [1, 2, 5], thing=[True, True, False]))
        stats.append(a.last_stats)
    assert stats[0] == stats[1] and stats[0]["pending_frames"] <= 10 + a.settings("vps").num_prev_frames_memory + 3
