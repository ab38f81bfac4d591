"""UniRef++ inference settings as data: one frozen dataclass per video procedure.

The official evaluation (``projects/UniRef/uniref/uniref.py`` of ``FoundationVision/UniRef``)
has no config keys for these values: they are locals of the inference functions, and the fields
are named after those locals (``score_thres``). The image tasks (``res``, ``fss``) take the
top-1 query and have no setting.

A user changes a field with an adapter option of the same name (``-a score_thres=0.5``);
:func:`resolve` gives the settings of one task on one dataset, :func:`check_options` refuses
names no UniRef++ procedure has (listing the valid ones), and the resolved settings of the task
are recorded in ``run.json`` (``model.settings``, :meth:`UnirefAdapter.describe`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Any, Mapping

from evalkit.errors import EvalkitError

from .options import INPUT_SIZE, refuse_unknown_options, settings_as_record

__all__ = ["VOSSettings", "RVOSSettings", "VOS_SCORE_THRES", "FACTORY_OPTIONS", "RENAMED",
           "check_options", "resolve", "settings_record", "vos_score_thres", "rvos_propagation"]

log = logging.getLogger(__name__)

#: official ``inference_vos_3f``: ``score_thres`` per ``dataset_name`` (matched here by name
#: prefix: ``ytbvos18``/``ytbvos19`` 0.4, ``davis17`` 0.3, ``vos-lvos`` 0.5, ``mose`` 0.4)
VOS_SCORE_THRES = {"ytvos": 0.4, "ytbvos": 0.4, "youtube-vos": 0.4, "youtubevos": 0.4,
                   "davis": 0.3, "lvos": 0.5, "mose": 0.4}
#: a dataset the official code does not know raises there; here it warns and takes YouTube-VOS's
_UNKNOWN_VOS_SCORE_THRES = 0.4


@dataclass(frozen=True)
class VOSSettings:
    """Semi-supervised VOS (official ``inference_vos_3f``).

    Attributes:
        score_thres: an object's probabilities are zeroed where its top-1 score is at most
            this; ``None``: by dataset (:data:`VOS_SCORE_THRES`).
        object_batch: objects run together through fusion + transformer (evalkit's choice, not
            an official value: the official loop runs them one by one; outputs are the same).
    """

    score_thres: float | None = None
    object_batch: int = 8


@dataclass(frozen=True)
class RVOSSettings:
    """Referring VOS (official ``inference_rvos_vl``).

    Attributes:
        score_thres: a frame's prediction becomes the mask reference when its score exceeds
            this (``score_thres = 0.3`` of ``inference_rvos_vl``); ``None`` (resolved without
            propagation): no threshold.
        rvos_propagation: use the mask references (``inference_rvos_vl``); ``False`` runs the
            expression alone on every frame with no threshold, as the official Ref-DAVIS
            evaluation (``inference_rvos``); ``None``: ``False`` on Ref-DAVIS, else ``True``.
    """

    score_thres: float | None = 0.3
    rvos_propagation: bool | None = None


#: task → its procedure's settings class
TASK_SETTINGS = {"vos": VOSSettings, "rvos": RVOSSettings}
#: adapter options that are not procedure settings (factory and runtime options)
FACTORY_OPTIONS = frozenset({"task", "dataset", "tokenizer", "random_weights", "overrides",
                             INPUT_SIZE, "num_queries"})
#: option names of earlier versions → the setting that replaced them
RENAMED = {"score_threshold": "score_thres"}
_KINDS = {"score_thres": (int, float), "object_batch": (int,), "rvos_propagation": (bool,)}


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse options no UniRef++ procedure knows and values of the wrong type.

    Raises:
        EvalkitError: naming the unknown option(s) and listing the valid ones (or the new name
            of a renamed one), or naming the option and the type it expects.
    """
    names = {f.name for cls in TASK_SETTINGS.values() for f in fields(cls)}
    refuse_unknown_options(options, FACTORY_OPTIONS | names, "UniRef++", RENAMED)
    for name, kinds in _KINDS.items():
        value = options.get(name)
        if value is not None and (not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool))):
            raise EvalkitError(f"UniRef++ option {name} expects a {kinds[-1].__name__}, got {value!r}")
    if options.get("object_batch") is not None and options["object_batch"] < 1:
        raise EvalkitError(f"UniRef++ option object_batch expects a positive integer, got {options['object_batch']!r}")


def vos_score_thres(dataset: str | None, options: Mapping[str, Any]) -> float:
    """The VOS ``score_thres``: the option, else by ``dataset`` name prefix (a shapes-suite split
    follows the rules of the dataset whose layout it mirrors)."""
    if options.get("score_thres") is not None:
        return float(options["score_thres"])
    name = (dataset or "").lower().removeprefix("shapes-")
    for prefix, thr in VOS_SCORE_THRES.items():
        if name.startswith(prefix):
            return thr
    log.warning("UniRef++ VOS: no score threshold known for dataset %r; using %.1f (pass "
                "dataset=... or score_thres=...)", dataset, _UNKNOWN_VOS_SCORE_THRES)
    return _UNKNOWN_VOS_SCORE_THRES


def rvos_propagation(dataset: str | None, options: Mapping[str, Any]) -> bool:
    """Option ``rvos_propagation``, else True except on Ref-DAVIS."""
    propagate = options.get("rvos_propagation")
    if propagate is None:
        name = (dataset or "").lower().replace("_", "-")
        propagate = not name.startswith(("ref-davis", "refdavis"))
    return bool(propagate)


def resolve(task: str, dataset: str | None, options: Mapping[str, Any]):
    """The settings of ``task`` on ``dataset`` with the options applied, every ``None``
    resolved; ``None`` for the image tasks (no setting)."""
    if task == "vos":
        return VOSSettings(score_thres=vos_score_thres(dataset, options),
                           object_batch=int(options.get("object_batch") or VOSSettings.object_batch))
    if task == "rvos":
        propagate = rvos_propagation(dataset, options)
        # without propagation (official ``inference_rvos``) no frame is thresholded
        given = options.get("score_thres")
        thr = float(RVOSSettings.score_thres if given is None else given) if propagate else None
        return RVOSSettings(score_thres=thr, rvos_propagation=propagate)
    return None


def settings_record(task: str | None, dataset: str | None, options: Mapping[str, Any]) -> dict | None:
    """The resolved settings of ``task`` as a JSON-able dict (``None``: no task or no setting)."""
    return settings_as_record(resolve(task, dataset, options) if task else None)
