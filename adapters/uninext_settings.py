"""UNINEXT inference settings as data: one frozen dataclass per procedure and per tracker.

Field names are the official config keys (lower case; ``TRACK.INIT_SCORE_THR`` →
``init_score_thr``) or, for values the official code passes as literals, the keyword of the
call they are passed to (``QuasiDenseEmbedTracker(match_score_thr=0.5, ...)``). Every default
is the value of the official *evaluation* (the eval configs under
``projects/UNINEXT/configs/eval-vid/``, the launch scripts ``assets/infer*.sh`` and
``tools_bin/grid_search_bdd.py``, else ``uninext/config.py``), cited beside it.

A user changes any field with an adapter option of the same name (``-a init_score_thr=0.5``);
:func:`resolve` applies the options to the settings of one task, :func:`check_options` refuses
names no UNINEXT procedure has (listing the valid ones). The resolved settings of the task are
recorded in ``run.json`` (``model.settings``, :meth:`UninextAdapter.describe`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from evalkit.errors import EvalkitError

from .options import refuse_unknown_options, settings_as_record

__all__ = ["QuasiDenseTrackerSettings", "IDOLTrackerSettings", "DetectionSettings",
           "GroundingSettings", "MOTSettings", "VISSettings", "SOTSettings", "VOSSettings",
           "TASK_SETTINGS", "FACTORY_OPTIONS", "RENAMED", "setting_names", "check_options",
           "resolve", "settings_record"]

@dataclass(frozen=True)
class QuasiDenseTrackerSettings:
    """``QuasiDenseEmbedTracker`` of the BDD100K MOT / MOTS evaluation (``UNINEXT_VID.forward``,
    ``dataset_name == "bdd_track"``, ``uninext_vid.py``).

    Attributes:
        init_score_thr: birth threshold ``TRACK.INIT_SCORE_THR`` = 0.4: the released evaluation
            (``tools_bin/grid_search_bdd.py``: ``for init_thr in [0.4]`` on the command line;
            ``assets/TEST.md`` MOTS converts ``instances_predictions_init_0.40_obj_0.30.pkl``);
            ``config.py`` has 0.5, which no released evaluation used.
        obj_score_thr: ``TRACK.OBJ_SCORE_THR`` = 0.3 (grid search and ``config.py``).
        match_score_thr ... match_metric: literals of the ``QuasiDenseEmbedTracker(...)`` call.
    """

    init_score_thr: float = 0.4
    obj_score_thr: float = 0.3
    match_score_thr: float = 0.5
    memo_tracklet_frames: int = 10
    memo_backdrop_frames: int = 1
    memo_momentum: float = 1.0
    nms_conf_thr: float = 0.5
    nms_backdrop_iou_thr: float = 0.3
    nms_class_iou_thr: float = 0.7
    with_cats: bool = True
    match_metric: str = "bisoftmax"


@dataclass(frozen=True)
class IDOLTrackerSettings:
    """``IDOL_Tracker`` of the YouTube-VIS / OVIS evaluation (``UNINEXT_VID.forward``,
    ``dataset_name in ["vis19", "vis21", "ovis"]``).

    Attributes:
        init_score_thr, obj_score_thr, nms_thr_pre, nms_thr_post, addnew_score_thr,
            memo_tracklet_frames, memo_momentum: literals of the ``IDOL_Tracker(...)`` call.
        match_score_thr, match_metric: the ``IDOL_Tracker`` defaults (``models/tracker.py``),
            which that call keeps.
        long_match: ``MODEL.IDOL.INFERENCE_TW`` (True, ``config.py``).
        frame_weight: ``INFERENCE_TW | INFERENCE_FW`` (True).
        temporal_weight: ``MODEL.IDOL.INFERENCE_TW`` (True).
        memory_len: ``MODEL.IDOL.MEMORY_LEN`` (3).
    """

    init_score_thr: float = 0.2
    obj_score_thr: float = 0.1
    nms_thr_pre: float = 0.5
    nms_thr_post: float = 0.05
    addnew_score_thr: float = 0.2
    match_score_thr: float = 0.5
    memo_tracklet_frames: int = 10
    memo_momentum: float = 0.8
    match_metric: str = "bisoftmax"
    long_match: bool = True
    frame_weight: bool = True
    temporal_weight: bool = True
    memory_len: int = 3


@dataclass(frozen=True)
class DetectionSettings:
    """Detection / instance segmentation (``UNINEXT_IMG.inference``, ``uninext_img.py``).

    Attributes:
        nms_thresh: class-aware box NMS before the top-k (``ops.batched_nms(..., 0.7)``).
        max_num_inst: detections per image (``max_num_inst = 100``).
        use_iou_branch: ``MODEL.USE_IOU_BRANCH`` (True in ``image_joint_r50.yaml``; the image
            evaluation of ``assets/infer.sh`` does not override it).
    """

    nms_thresh: float = 0.7
    max_num_inst: int = 100
    use_iou_branch: bool = True


@dataclass(frozen=True)
class GroundingSettings:
    """REC / RES / R-VOS: the top-1 query (``max_num_inst = 1``), no threshold.

    Attributes:
        use_iou_branch: ``MODEL.USE_IOU_BRANCH`` (True; ``infer.sh`` R-VOS does not override it).
    """

    use_iou_branch: bool = True


@dataclass(frozen=True)
class MOTSettings:
    """BDD100K MOT / MOTS (``UNINEXT_VID.inference_mot``).

    Attributes:
        inference_select_thres: queries handed to the tracker score above this
            (``MODEL.IDOL.INFERENCE_SELECT_THRES`` 0.1), else the single best one.
        nms_thresh: class-aware box NMS on them (``ops.batched_nms(..., 0.7)``).
        use_iou_branch: ``MODEL.USE_IOU_BRANCH False`` on the grid-search command line.
        tracker: :class:`QuasiDenseTrackerSettings`.
    """

    inference_select_thres: float = 0.1
    nms_thresh: float = 0.7
    use_iou_branch: bool = False
    tracker: QuasiDenseTrackerSettings = field(default_factory=QuasiDenseTrackerSettings)


@dataclass(frozen=True)
class VISSettings:
    """YouTube-VIS / OVIS (``UNINEXT_VID.inference_vis`` and ``post_process_vis``).

    Attributes:
        inference_select_thres: ``MODEL.IDOL.INFERENCE_SELECT_THRES`` (0.1; ``config.py``'s
            comment "0.05 for ytvis" is not applied by any released command).
        nms_thresh: box NMS before the tracker (``ops.batched_nms(..., 0.9)``).
        apply_cls_thres: ``MODEL.IDOL.APPLY_CLS_THRES`` (0.05).
        multi_cls_on: ``MODEL.IDOL.MULTI_CLS_ON`` (True).
        use_iou_branch: ``MODEL.USE_IOU_BRANCH False`` on the VIS / OVIS command lines.
        tracker: :class:`IDOLTrackerSettings`.
    """

    inference_select_thres: float = 0.1
    nms_thresh: float = 0.9
    apply_cls_thres: float = 0.05
    multi_cls_on: bool = True
    use_iou_branch: bool = False
    tracker: IDOLTrackerSettings = field(default_factory=IDOLTrackerSettings)


@dataclass(frozen=True)
class SOTSettings:
    """Single-object tracking (the SOT branch of ``UNINEXT_VID.forward``).

    Attributes:
        online_update: ``SOT.ONLINE_UPDATE True`` (``assets/infer.sh`` SOT; ``config.py`` False):
            a second, refreshed template joins the first one.
        update_interval: ``SOT.UPDATE_INTERVAL`` (200): frames ``i`` with ``i % 200 == 0``.
        update_thr: ``SOT.UPDATE_THR`` (0.7): the refresh needs ``score > update_thr``.
        use_iou_branch: ``MODEL.USE_IOU_BRANCH`` (True).
    """

    online_update: bool = True
    update_interval: int = 200
    update_thr: float = 0.7
    use_iou_branch: bool = True


@dataclass(frozen=True)
class VOSSettings:
    """Semi-supervised VOS, ``SOT.INFERENCE_ON_3F True`` (``assets/infer.sh`` VOS;
    ``UNINEXT_VID.inference_ytbvos_3f``).

    Attributes:
        update_thr: ``SOT.UPDATE_THR`` (0.7): the previous-frame template of an object is
            refreshed unless its score ``< update_thr``.
        inst_thr_vos: ``SOT.INST_THR_VOS`` (0.5): an object scoring below it gets an empty
            mask — officially on YouTube-VOS only (``dataset_name == "ytbvos18"``), so it is
            applied when the dataset is YouTube-VOS.
        use_iou_branch: ``MODEL.USE_IOU_BRANCH`` (True).
    """

    update_thr: float = 0.7
    inst_thr_vos: float = 0.5
    use_iou_branch: bool = True


#: task → its procedure's settings (defaults)
TASK_SETTINGS: dict[str, Any] = {
    "det": DetectionSettings(), "inst-seg": DetectionSettings(),
    "rec": GroundingSettings(), "res": GroundingSettings(), "rvos": GroundingSettings(),
    "mot": MOTSettings(), "mots": MOTSettings(), "vis": VISSettings(),
    "sot": SOTSettings(), "vos": VOSSettings(),
}

#: adapter options that are not procedure settings (factory and runtime options)
FACTORY_OPTIONS = frozenset({"task", "dataset", "tokenizer", "random_weights", "overrides",
                             "input_size", "num_queries", "precision"})

#: option names of earlier versions → the setting that replaced them
RENAMED = {"mot_init_score_thr": "init_score_thr", "mot_obj_score_thr": "obj_score_thr",
           "select_threshold": "inference_select_thres", "update_threshold": "update_thr",
           "blank_below": "inst_thr_vos"}


def _leaf_fields(settings) -> dict[str, Any]:
    """``{name: field}`` of a settings object and of its nested ``tracker``."""
    out = {}
    for f in fields(settings):
        if f.name == "tracker":
            out.update({g.name: g for g in fields(getattr(settings, "tracker"))})
        else:
            out[f.name] = f
    return out


def setting_names(tasks=None) -> frozenset[str]:
    """Every option name that sets a field of the procedures of ``tasks`` (default: all)."""
    names: set[str] = set()
    for task, s in TASK_SETTINGS.items():
        if tasks is None or task in tasks:
            names |= set(_leaf_fields(s))
    return frozenset(names)


def check_options(options: Mapping[str, Any], tasks=None, family: str = "UNINEXT") -> None:
    """Refuse adapter options no procedure of ``tasks`` knows.

    Raises:
        EvalkitError: naming the unknown option(s) and listing the valid ones (or the new name
            of a renamed one).
    """
    refuse_unknown_options(options, FACTORY_OPTIONS | setting_names(tasks), family, RENAMED)


def _coerce(name: str, f, value):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    ok = {"float": isinstance(value, (int, float)) and not isinstance(value, bool),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "bool": isinstance(value, bool), "str": isinstance(value, str)}.get(kind, True)
    if not ok:
        raise EvalkitError(f"UNINEXT option {name} expects a {kind}, got {value!r}")
    return float(value) if kind == "float" else value


def resolve(task: str, options: Mapping[str, Any]):
    """The settings of ``task`` with every option naming one of its fields applied (options of
    other procedures are left to them)."""
    if task not in TASK_SETTINGS:
        raise EvalkitError(f"UNINEXT has no settings for task {task!r} "
                           f"(tasks: {', '.join(sorted(TASK_SETTINGS))})")
    base = TASK_SETTINGS[task]
    own = {f.name for f in fields(base) if f.name != "tracker"}
    top, inner = {}, {}
    for name, f in _leaf_fields(base).items():
        if name in options:
            (top if name in own else inner)[name] = _coerce(name, f, options[name])
    if inner:
        top["tracker"] = replace(base.tracker, **inner)
    return replace(base, **top)


def settings_record(task: str | None, options: Mapping[str, Any]) -> dict[str, Any] | None:
    """The resolved settings of ``task`` as a JSON-able dict (``None`` before a task is known)."""
    if task is None or task not in TASK_SETTINGS:
        return None
    return settings_as_record(resolve(task, options))
