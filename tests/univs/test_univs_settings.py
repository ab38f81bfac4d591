"""UniVS settings resolved from the released test configs (values read from the official files by
hand; each assertion names the file and key)."""
from __future__ import annotations

import pytest

from evalkit.adapters.univs_settings import normalise_options, resolve_settings
from evalkit.errors import EvalkitError
from univs_tiny import build_tiny_adapter


def test_vos_uses_256_prompt_pixels_on_every_released_vos_benchmark():
    # vos/univs_R50_vos_ytvos18_c1+univs.yaml VISUAL_PROMPT_PIXELS_PER_IMAGE 256, inherited by the
    # davis17 and mose yamls (the former TASK_SETTINGS['vos'] had 128)
    for bench in ("davis17-val", "ytvos18-val", "mose-val", None):
        assert resolve_settings("vos", bench, {}).visual_prompt_pixels_per_image == 256


def test_per_benchmark_values():
    davis = resolve_settings("vos", "davis17-val", {})
    # test_r50_stage3.sh overrides for the davis17 yaml: SAMPLING_FRAME_NUM 5, NUM_PREV_FRAMES_MEMORY 5, 640
    assert (davis.sampling_frame_num, davis.num_prev_frames_memory, davis.min_size_test) == (5, 5, 640)
    assert davis.temporal_consistency_threshold == 0.5  # vos/Base.yaml
    mose = resolve_settings("vos", "mose-val", {})
    # vos/univs_R50_vos_mose_c1+univs.yaml SAMPLING_FRAME_NUM 2, MIN_SIZE_TEST 720; vos/Base.yaml memory 10
    assert (mose.sampling_frame_num, mose.min_size_test, mose.num_prev_frames_memory) == (2, 720, 10)
    assert mose.memory_slots == 10
    yt21, ovis = resolve_settings("vis", "ytvis21-val", {}), resolve_settings("vis", "ovis-val", {})
    # vis/univs_R50_yt21_c1+univs_entity.yaml APPLY_CLS_THRES 0.25, DETECTIONS_PER_IMAGE 35;
    # vis/univs_R50_ovis_c1+univs_entity.yaml 0.2 and 50; vis/univs_R50_yt21_c1+univs.yaml STABILITY 0.25
    assert (yt21.apply_cls_thres, yt21.detections_per_image, yt21.stability_score_thresh) == (0.25, 35, 0.25)
    assert (ovis.apply_cls_thres, ovis.detections_per_image, ovis.stability_score_thresh) == (0.2, 50, 0.25)
    vps = resolve_settings("vps", "vipseg-val", {})
    # vps/Base.yaml: 64 pixels, BOX_NMS 0.75, NEWLY 0.05, CONSISTENCY 0.05, APPLY 0.15, STABILITY 0.25, OVERLAP 0.6
    assert (vps.visual_prompt_pixels_per_image, vps.box_nms_thresh, vps.detect_newly_object_threshold,
            vps.temporal_consistency_threshold, vps.apply_cls_thres, vps.stability_score_thresh,
            vps.overlap_threshold) == (64, 0.75, 0.05, 0.05, 0.15, 0.25, 0.6)
    rvos = resolve_settings("rvos", "ref-davis17-val", {})
    # refvos/Base.yaml: 32 pixels, 'sep-blocked'; test_r50_stage3.sh: grounding feedback False
    assert (rvos.visual_prompt_pixels_per_image, rvos.maskdec_self_attn_mask_type,
            rvos.enabled_prev_visual_prompts_for_grounding) == (32, "sep-blocked", False)
    # pvos/Base.yaml 256 pixels, DETECTIONS_PER_IMAGE 75 (the input size is the card's: the
    # stage-3 scripts test VIPOSeg at MIN_SIZE_TEST 640, the stage-2 test_r50.sh at 720)
    pvos = resolve_settings("pvos", "viposeg-val", {})
    assert (pvos.visual_prompt_pixels_per_image, pvos.detections_per_image, pvos.min_size_test) == (256, 75, None)
    from evalkit.zoo.api import get_card

    assert get_card("univs-r50").input_sizes["pvos"]["min_size"] == 640
    assert get_card("univs-r50-stage2").input_sizes["pvos"]["min_size"] == 720


def test_options_by_official_key_alias_or_any_case_and_errors():
    assert normalise_options({"VISUAL_PROMPT_PIXELS_PER_IMAGE": 64, "clip_len": 3}) == \
        {"visual_prompt_pixels_per_image": 64, "sampling_frame_num": 3}
    with pytest.raises(EvalkitError, match=r"unknown UniVS option\(s\) 'bogus'; valid options: .*visual_prompt_pixels_per_image"):
        normalise_options({"bogus": 1})
    with pytest.raises(EvalkitError, match="expected int"):
        normalise_options({"sampling_frame_num": 2.5})
    with pytest.raises(EvalkitError, match="expected one of"):
        normalise_options({"cell_sampling": "grid"})
    a = build_tiny_adapter(NUM_PREV_FRAMES_MEMORY=4, benchmark="ovis-val")
    s = a.settings("vis")
    assert s.num_prev_frames_memory == 4 and s.apply_cls_thres == 0.2


def test_bound_benchmark_selects_its_settings_and_run_json_records_them():
    a = build_tiny_adapter()
    a.prepare("vos", "mose-val")
    desc = a.describe()
    # the tiny adapter's clip_len 3 (a user option) wins over MOSE's 2; memory 2 likewise
    assert desc["settings"]["sampling_frame_num"] == 3 and desc["settings"]["min_size_test"] == 720
    assert desc["settings"]["visual_prompt_pixels_per_image"] == 256
    assert desc["settings_from"] == "task:vos+benchmark:mose"


def test_input_size_is_the_one_size_option_and_min_size_test_names_it():
    # the tiny card size 64/128, MOSE's released MIN_SIZE_TEST 720, then the user's input_size
    a = build_tiny_adapter()
    a.prepare("vos", "mose-val")
    assert a.input_size("vos") == {"min_size": 720, "max_size": 128}
    b = build_tiny_adapter(input_size=[96, 160])
    b.prepare("vos", "mose-val")
    assert b.input_size("vos") == {"min_size": 96, "max_size": 160}
    with pytest.raises(EvalkitError, match=r"unknown UniVS option\(s\) 'min_size_test' \('min_size_test' is now "
                                           r"'input_size'\); valid options: .*input_size"):
        build_tiny_adapter(MIN_SIZE_TEST=720)
