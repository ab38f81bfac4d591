"""UniVS inference settings as data: one frozen dataclass, fields named after the official config
keys (lower case), defaults and per-task / per-benchmark values from the released test configs of
``MinghanLi/UniVS`` (``configs/univs_inf/vids/**`` and the test scripts ``tools/test/*.sh``, whose
command-line overrides win over the yaml files).

Where a benchmark has a line in ``tools/test/test_r50_stage3.sh`` (the paper's stage-3 model:
YouTube-VIS 21, OVIS, VSPW, VIPSeg, DAVIS 17, VIPOSeg, Ref-DAVIS) its overrides apply; input
sizes that differ per training stage (VIPOSeg: 640 in the stage-3 scripts, 720 in the stage-2
one) live on the model cards. YouTube-VOS 18 and MOSE have no test-script line, so their released
yaml files apply as they are.

Resolution order: the field default < the task's values (:data:`TASK_SETTINGS`) < the benchmark's
(:data:`BENCHMARK_SETTINGS`, matched by benchmark-id prefix) < the user's options (``-a key=value``;
the official key in either case, or one of the short names of :data:`ALIASES`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from evalkit.errors import EvalkitError

from .options import INPUT_SIZE_RENAMED, refuse_unknown_options

__all__ = ["UniVSSettings", "TASK_SETTINGS", "BENCHMARK_SETTINGS", "ALIASES", "SETTING_NAMES",
           "resolve_settings", "normalise_options", "prompt_sampling",
           "settings_source"]

_CFG = "univs/config.py"
_SCRIPT = "tools/test/test_r50_stage3.sh"


@dataclass(frozen=True)
class UniVSSettings:
    """UniVS streaming-inference settings; each default cites its official source.

    Attributes:
        sampling_frame_num: frames per clip (``INPUT.SAMPLING_FRAME_NUM``; 5 in ``test_r50_stage3.sh``).
        clip_stride: frames the window advances, at most a clip (:attr:`stride`;
            ``MODEL.BoxVIS.TEST.CLIP_STRIDE`` 1, ``univs/config.py``; VSS advances by a whole clip,
            official ``inference_video``).
        num_prev_frames_memory: slots of the prompt memory, at least a clip
            (``MODEL.UniVS.TEST.NUM_PREV_FRAMES_MEMORY``; 5 in ``test_r50_stage3.sh``).
        visual_prompt_pixels_per_image: prompt tokens sampled per target and frame
            (``MODEL.UniVS.VISUAL_PROMPT_PIXELS_PER_IMAGE``; 32 in ``univs/config.py``).
        temporal_consistency_threshold: minimum memory similarity of a prompt prediction
            (``MODEL.UniVS.TEST.TEMPORAL_CONSISTENCY_THRESHOLD``; 0.05 in ``univs/config.py``).
        box_nms_thresh: box-IoU NMS threshold on new detections (``MODEL.UniVS.TEST.BOX_NMS_THRESH`` 0.75).
        detect_newly_object_threshold: bi-softmax similarity above which a detection is an old entity
            (``MODEL.UniVS.TEST.DETECT_NEWLY_OBJECT_THRESHOLD`` 0.05).
        apply_cls_thres: minimum class score of a new entity (``MODEL.BoxVIS.TEST.APPLY_CLS_THRES`` 0.05).
        detections_per_image: detections kept per clip before NMS, and the floor of the per-video
            top-k of VIS results (``TEST.DETECTIONS_PER_IMAGE`` 100, ``configs/univs_inf/vids/Base.yaml``).
        stability_score_thresh: minimum mask quality of a detection
            (``MODEL.MASK_FORMER.TEST.STABILITY_SCORE_THRESH`` 0.0).
        overlap_threshold_entity: VIS: minimum visible fraction of an entity after overlap removal
            (``MODEL.MASK_FORMER.TEST.OVERLAP_THRESHOLD_ENTITY`` 0.5).
        overlap_threshold: VPS: the same for thing segments (``MODEL.MASK_FORMER.TEST.OVERLAP_THRESHOLD``
            0.8, ``configs/univs_inf/vids/Base.yaml``).
        detect_newly_interval_frames: frames between detections of new entities
            (``MODEL.UniVS.TEST.DETECT_NEWLY_INTERVAL_FRAMES`` 1).
        num_frames_window: VIS / VPS: sets the output window of the entity inference,
            ``(ceil(max(NUM_FRAMES_WINDOW, SAMPLING_FRAME_NUM) / 5) + 1) · 5`` frames
            (``MODEL.BoxVIS.TEST.NUM_FRAMES_WINDOW`` 5 in ``univs/config.py`` and in every released
            entity config, e.g. ``vis/univs_R50_yt21_c1+univs_entity.yaml``, ``vps/Base.yaml``).
        maskdec_self_attn_mask_type: ``'sep'`` or ``'sep-blocked'`` (``MODEL.UniVS.MASKDEC_SELF_ATTN_MASK_TYPE``).
        enabled_prev_visual_prompts_for_grounding: R-VOS: add the visual prompt tokens (their
            position codes, as the official code passes them) of the masks predicted so far to
            the expression's tokens
            (``MODEL.UniVS.TEST.ENABLED_PREV_VISUAL_PROMPTS_FOR_GROUNDING`` False).
        min_size_test: shortest edge of the resized frames (``INPUT.MIN_SIZE_TEST``) of the
            benchmarks whose test script sets it; ``None`` keeps the model card's input size for
            the task. Not a user option: the user's size is the ``input_size`` adapter option
            of every family (:mod:`.options`), which wins over both.
        use_semseg_pvos: PVOS (VIPOSeg): force stuff targets onto the pixels of their category in
            the learnable queries' semantic map (:mod:`.univs_semseg`). Not a config key: the
            official ``InferenceVideoVOS.__init__`` (``univs/inference/inference_video_vos.py``)
            hard-codes ``self.use_semseg_pvos = True`` and applies it when the dataset name
            contains 'viposeg'; here it is on for the ``pvos`` task (False elsewhere).
        cell_sampling: evalkit's choice, not an official key: how the prompt cells are chosen in a
            mask of at least ``visual_prompt_pixels_per_image`` cells. ``'evenly-spaced'``
            (default, deterministic runs) or ``'random'`` (``torch.randperm`` as the official
            ``get_dense_features``; seeded by the run's seed).
    """

    sampling_frame_num: int = 5
    clip_stride: int = 1
    num_prev_frames_memory: int = 5
    visual_prompt_pixels_per_image: int = 32
    temporal_consistency_threshold: float = 0.05
    box_nms_thresh: float = 0.75
    detect_newly_object_threshold: float = 0.05
    apply_cls_thres: float = 0.05
    detections_per_image: int = 100
    stability_score_thresh: float = 0.0
    overlap_threshold_entity: float = 0.5
    overlap_threshold: float = 0.8
    detect_newly_interval_frames: int = 1
    num_frames_window: int = 5
    maskdec_self_attn_mask_type: str = "sep"
    enabled_prev_visual_prompts_for_grounding: bool = False
    min_size_test: int | None = None
    use_semseg_pvos: bool = False
    cell_sampling: str = "evenly-spaced"

    @property
    def stride(self) -> int:
        """Frames the window advances: ``min(CLIP_STRIDE, SAMPLING_FRAME_NUM)`` (official
        ``inference_video`` / ``inference_video_vos``: ``stride = min(self.clip_stride, self.num_frames)``)."""
        return min(self.clip_stride, self.sampling_frame_num)

    @property
    def memory_slots(self) -> int:
        """Prompt-memory slots read by the decoder: ``max(NUM_PREV_FRAMES_MEMORY,
        SAMPLING_FRAME_NUM)`` (official decoder ``__init__`` and ``inference_video_vos``)."""
        return max(self.num_prev_frames_memory, self.sampling_frame_num)


#: per task: the released test config each value comes from (``configs/univs_inf/vids/``)
TASK_SETTINGS: dict[str, UniVSSettings] = {
    # vis/univs_R50_yt21_c1+univs_entity.yaml: APPLY_CLS_THRES 0.25, DETECTIONS_PER_IMAGE 35; its
    # base vis/univs_R50_yt21_c1+univs.yaml: STABILITY_SCORE_THRESH 0.25 (over vis/Base.yaml's 0.5);
    # vis/Base.yaml: PIXELS 128, BOX_NMS 0.85, NEWLY 0.1, CONSISTENCY 0.25
    "vis": UniVSSettings(visual_prompt_pixels_per_image=128, box_nms_thresh=0.85, detect_newly_object_threshold=0.1,
                         temporal_consistency_threshold=0.25, stability_score_thresh=0.25, apply_cls_thres=0.25,
                         detections_per_image=35),
    # vps/Base.yaml: PIXELS 64, BOX_NMS 0.75, NEWLY 0.05, CONSISTENCY 0.05, APPLY_CLS_THRES 0.15,
    # STABILITY 0.25, OVERLAP_THRESHOLD 0.6, DETECTIONS_PER_IMAGE 100
    "vps": UniVSSettings(visual_prompt_pixels_per_image=64, box_nms_thresh=0.75, detect_newly_object_threshold=0.05,
                         temporal_consistency_threshold=0.05, apply_cls_thres=0.15, stability_score_thresh=0.25,
                         overlap_threshold=0.6, detections_per_image=100),
    # vss/univs_R50_vss_c1+univs_entity.yaml: APPLY_CLS_THRES 0.05, DETECTIONS_PER_IMAGE 50;
    # vss/Base.yaml PIXELS 128; base CONSISTENCY 0.25 (vids/Base.yaml)
    "vss": UniVSSettings(visual_prompt_pixels_per_image=128, apply_cls_thres=0.05, detections_per_image=50,
                         temporal_consistency_threshold=0.25, box_nms_thresh=0.85, detect_newly_object_threshold=0.1),
    # vos/univs_R50_vos_ytvos18_c1+univs.yaml (inherited by davis17 and mose): PIXELS 256;
    # vos/Base.yaml: CONSISTENCY 0.5, equal to the fixed 0.5 the VOS inference uses on every clip
    # (no halving on the first clips there); vids/Base.yaml: BOX_NMS 0.85, NEWLY 0.1
    "vos": UniVSSettings(visual_prompt_pixels_per_image=256, temporal_consistency_threshold=0.5,
                         box_nms_thresh=0.85, detect_newly_object_threshold=0.1),
    # pvos/Base.yaml: PIXELS 256, APPLY_CLS_THRES 0.25, DETECTIONS_PER_IMAGE 75; OVERLAP_THRESHOLD
    # 0.8 (pvos/univs_R50_pvos_c1+univs.yaml). The consistency threshold of the VOS inference
    # (also PVOS) is a fixed 0.5 (inference_video_vos.py write_predictions_into_annotations_per_clip,
    # ``sim_threshold = 0.5``; the config key is read but unused there). use_semseg_pvos: True,
    # hard-coded in InferenceVideoVOS.__init__ (inference_video_vos.py) for VIPOSeg
    "pvos": UniVSSettings(visual_prompt_pixels_per_image=256, apply_cls_thres=0.25, detections_per_image=75,
                          temporal_consistency_threshold=0.5, box_nms_thresh=0.85,
                          detect_newly_object_threshold=0.1, use_semseg_pvos=True),
    # refvos/Base.yaml: PIXELS 32, 'sep-blocked', APPLY_CLS_THRES 0.05, DETECTIONS_PER_IMAGE 100;
    # test_r50_stage3.sh: ENABLED_PREV_VISUAL_PROMPTS_FOR_GROUNDING False; consistency: the fixed
    # 0.5 of inference_video_vos.py (R-VOS runs there too)
    "rvos": UniVSSettings(visual_prompt_pixels_per_image=32, maskdec_self_attn_mask_type="sep-blocked",
                          apply_cls_thres=0.05, temporal_consistency_threshold=0.5, box_nms_thresh=0.85,
                          detect_newly_object_threshold=0.1),
}

#: per benchmark-id prefix: values that differ from the task's (file and key in the comment)
BENCHMARK_SETTINGS: dict[str, dict[str, Any]] = {
    # vis/univs_R50_ovis_c1+univs_entity.yaml: APPLY_CLS_THRES 0.2, DETECTIONS_PER_IMAGE 50
    "ovis": {"apply_cls_thres": 0.2, "detections_per_image": 50},
    # vos/univs_R50_vos_ytvos18_c1+univs.yaml (no test-script line): SAMPLING_FRAME_NUM 4,
    # MIN_SIZE_TEST 720; vos/Base.yaml NUM_PREV_FRAMES_MEMORY 10
    "ytvos18": {"sampling_frame_num": 4, "min_size_test": 720, "num_prev_frames_memory": 10},
    # vos/univs_R50_vos_mose_c1+univs.yaml (no test-script line): SAMPLING_FRAME_NUM 2,
    # MIN_SIZE_TEST 720; vos/Base.yaml NUM_PREV_FRAMES_MEMORY 10
    "mose": {"sampling_frame_num": 2, "min_size_test": 720, "num_prev_frames_memory": 10},
    # test_r50_stage3.sh, univs_R50_vos_davis17_c1+univs.yaml line: SAMPLING_FRAME_NUM 5,
    # NUM_PREV_FRAMES_MEMORY 5, MIN_SIZE_TEST 640 (the yaml's 4 / 10 / 720 are overridden)
    "davis17": {"sampling_frame_num": 5, "num_prev_frames_memory": 5, "min_size_test": 640},
}

#: short option names accepted for the official keys
ALIASES: dict[str, str] = {
    "clip_len": "sampling_frame_num", "memory": "num_prev_frames_memory",
    "num_points": "visual_prompt_pixels_per_image", "temporal_consistency": "temporal_consistency_threshold",
    "box_nms": "box_nms_thresh", "newly_threshold": "detect_newly_object_threshold",
    "cls_threshold": "apply_cls_thres", "topk": "detections_per_image", "stability": "stability_score_thresh",
    "detect_interval": "detect_newly_interval_frames", "self_attn_mask": "maskdec_self_attn_mask_type",
    "text_feedback": "enabled_prev_visual_prompts_for_grounding",
}
SETTING_NAMES = tuple(f.name for f in fields(UniVSSettings))
_CHOICES = {"maskdec_self_attn_mask_type": ("sep", "sep-blocked"), "cell_sampling": ("evenly-spaced", "random")}
_TYPES = {f.name: f.type for f in fields(UniVSSettings)}


def _check_value(name: str, value: Any, given: str) -> Any:
    kind = _TYPES[name]
    ok = {"int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, (int, float)) and not isinstance(value, bool),
          "str": isinstance(value, str), "bool": isinstance(value, bool),
          "int | None": value is None or (isinstance(value, int) and not isinstance(value, bool))}[kind]
    if not ok:
        raise EvalkitError(f"UniVS option {given}={value!r}: expected {kind} (setting {name.upper()})")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise EvalkitError(f"UniVS option {given}={value!r}: expected one of {list(_CHOICES[name])}")
    if name in ("sampling_frame_num", "clip_stride", "num_prev_frames_memory", "visual_prompt_pixels_per_image",
                "detect_newly_interval_frames", "num_frames_window") and value < 1:
        raise EvalkitError(f"UniVS option {given}={value!r}: expected a positive integer")
    return float(value) if kind == "float" else value


def normalise_options(options: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """User options → ``{official setting name: value}`` (validated); ``extra`` names are
    adapter options that are not settings and are skipped. An unknown key is an error that
    lists the valid ones."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in extra:
            continue
        name = ALIASES.get(key, key.lower())
        # the input size has one option name in every family (``input_size``, an adapter
        # option); MIN_SIZE_TEST stays a setting the benchmark tables set
        if name not in SETTING_NAMES or name in INPUT_SIZE_RENAMED:
            valid = set(extra) | (set(SETTING_NAMES) - set(INPUT_SIZE_RENAMED)) | set(ALIASES)
            refuse_unknown_options([key.lower() if name in INPUT_SIZE_RENAMED else key], valid, "UniVS")
        out[name] = _check_value(name, value, key)
    return out


def _benchmark_key(benchmark: str | None) -> str | None:
    if benchmark:
        for prefix in BENCHMARK_SETTINGS:
            if benchmark.lower().startswith(prefix):
                return prefix
    return None


def settings_source(task: str, benchmark: str | None) -> str:
    """``"task:<task>"`` or ``"task:<task>+benchmark:<prefix>"``: which table rows were applied."""
    key = _benchmark_key(benchmark)
    return f"task:{task}" + (f"+benchmark:{key}" if key else "")


def resolve_settings(task: str, benchmark: str | None, options: dict[str, Any]) -> UniVSSettings:
    """Settings of ``task`` on ``benchmark`` (an id such as ``ovis-val``; ``None``: the task's)
    with the user's ``options`` (already normalised) applied last."""
    s = TASK_SETTINGS[task]
    key = _benchmark_key(benchmark)
    if key:
        s = replace(s, **BENCHMARK_SETTINGS[key])
    return replace(s, **options) if options else s


def prompt_sampling(s: UniVSSettings) -> dict[str, Any]:
    """Keyword arguments of ``UniVS.sample_visual_prompt`` for the task's settings."""
    return {"num_points": s.visual_prompt_pixels_per_image, "cell_sampling": s.cell_sampling}
