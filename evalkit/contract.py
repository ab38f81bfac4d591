"""The contract check of ``adapter.predict(frames, prompt)`` on one sample.

The runner calls :func:`predict_checked` for every sample; a violation stops the run (or, with
``--on-error skip``, fails that sample) at the first offending sample with one line: the sample
id, the frame, the field, what was expected and what came back, e.g.

    sample 17: frame 0: labels: expected category ids of the benchmark (1, 2, ..., 9), got 0

Two levels:

* every adapter: ``predict`` returns one :class:`~evalkit.types.Instances` per frame (a list,
  tuple or generator), each for its frame's original size; an :class:`Instances` that cannot
  be built (mask size ≠ frame size, a non-binary mask, boxes not ``N x 4``, NaN) is reported
  with the sample id (:class:`Instances` validates itself on construction);
* adapters from outside evalkit (a user's model, a plugin): the fields each task's writer and
  metric need (:data:`TASK_FIELDS`), scores in ``[0, 1]``, labels among the prompt's category
  ids, track ids among a VOS reference's object ids, and box plausibility: ``x2 >= x1``,
  not normalised to ``[0, 1]``, inside the frame within a 10 % margin. evalkit's own adapters
  follow their official post-processing, which leaves boxes unclipped (GLEE, UNINEXT video),
  so the plausibility rules, which would be heuristics there, are not applied to them.

Nothing here imports torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .types import Categories, ContractError, Instances, Reference

__all__ = ["TASK_FIELDS", "predict_checked", "check_predictions"]


@dataclass(frozen=True)
class Fields:
    """What one task's predictions must carry (from the benchmarks' writers and metrics).

    Attributes:
        geometry: ``boxes``, ``masks`` or ``boxes|masks`` (either: the COCO box writer takes a
            mask's box).
        labels: ``always``; ``multi`` (only when the prompt has several categories: MOT of one
            class implies it); ``None``.
        scores: ``always`` (the metric ranks by score: COCO AP, YouTube-VIS AP); ``multi``
            (only with several instances in a frame: the writer keeps the best, REC/RES/SOT);
            ``None``.
        track_ids: needed (video tasks whose results are per object / track).
    """

    geometry: str
    labels: str | None = None
    scores: str | None = None
    track_ids: bool = False


#: task → the fields its predictions need (benchmarks/_common.py coco_records and
#: single_instance, _vos.py label_map, ytvis.py tracks_to_ytvis, tao.py, shapes/mot.py, vspw.py,
#: vipseg.py, fss.py)
TASK_FIELDS: dict[str, Fields] = {
    "det": Fields("boxes|masks", labels="always", scores="always"),
    "inst-seg": Fields("masks", labels="always", scores="always"),
    "rec": Fields("boxes|masks", scores="multi"),
    "res": Fields("masks", scores="multi"),
    "fss": Fields("masks", scores="multi"),
    "interactive": Fields("masks", scores="multi"),
    "sot": Fields("boxes", scores="multi"),
    "vos": Fields("masks", track_ids=True),
    "rvos": Fields("masks", scores="multi"),
    "mot": Fields("boxes", labels="multi", track_ids=True),
    "mots": Fields("masks", labels="multi", track_ids=True),
    "vis": Fields("masks", labels="always", scores="always", track_ids=True),
    "vss": Fields("masks", labels="always"),
    "vps": Fields("masks", labels="always"),
    "pvos": Fields("masks", track_ids=True),
    "ow-track": Fields("boxes|masks", scores="always", track_ids=True),
}

#: a box may reach this fraction of the frame's side beyond its border (unclipped predictions
#: of an object at the border) before it is taken for another coordinate frame
_MARGIN = 0.1


def _is_builtin(adapter: Any) -> bool:
    from .user_model import UserAdapter

    if isinstance(adapter, UserAdapter):
        return False
    module = type(adapter).__module__
    return module == "evalkit" or module.startswith("evalkit.")


def predict_checked(adapter: Any, sample, task: str) -> list[Instances]:
    """``adapter.predict(sample.frames, sample.prompt)`` as a list, checked by
    :func:`check_predictions`; a :class:`ContractError` raised while the adapter builds its
    :class:`Instances` is re-raised with the sample id."""
    try:
        out = adapter.predict(sample.frames, sample.prompt)
        preds = _as_list(out, len(sample.frames))
    except ContractError as e:
        if str(e).startswith(f"sample {sample.id}:"):
            raise
        raise ContractError(f"sample {sample.id}: {e}") from e
    check_predictions(sample, preds, task, strict=not _is_builtin(adapter))
    return preds


def _as_list(out: Any, n_frames: int) -> list:
    expected = f"expected a list with one Instances per frame ({n_frames} frame{'s' * (n_frames != 1)})"
    if isinstance(out, Instances):
        raise ContractError(f"predict() returned one Instances, not a list; {expected}: return [instances]")
    if out is None or isinstance(out, (dict, str, bytes, np.ndarray)) or not hasattr(out, "__iter__"):
        raise ContractError(f"predict() returned {type(out).__name__}; {expected}")
    return list(out)


def check_predictions(sample, preds: list, task: str, strict: bool = True) -> None:
    """Raise :class:`ContractError` at the first violation in ``preds`` (one per frame of
    ``sample``); ``strict`` adds the per-task rules of the module docstring."""
    sizes = sample.frames.sizes
    if len(preds) != len(sizes):
        raise ContractError(
            f"sample {sample.id}: the adapter returned {len(preds)} Instances for {len(sizes)} frames "
            f"(expected one per frame{', empty ones included' if len(preds) < len(sizes) else ''})"
        )
    for i, (p, s) in enumerate(zip(preds, sizes)):
        if not isinstance(p, Instances):
            raise ContractError(f"sample {sample.id}: frame {i}: expected Instances, got {type(p).__name__}")
        if tuple(p.image_size) != tuple(s):
            raise ContractError(
                f"sample {sample.id}: frame {i}: predictions are for a {p.image_size} image but the "
                f"original frame is {tuple(s)} (adapters must map back to the original frame)"
            )
        if strict and len(p):
            problem = _frame_problem(p, task, sample.prompt)
            if problem:
                raise ContractError(f"sample {sample.id}: frame {i}: {problem}")


def _frame_problem(p: Instances, task: str, prompt) -> str | None:
    """The first violation in one frame's (non-empty) predictions, as ``field: expected ..., got ...``."""
    f = TASK_FIELDS.get(task)
    if f is not None:
        need = f.geometry.split("|")
        if all(getattr(p, g) is None for g in need):
            return f"{' or '.join(need)}: expected {len(p)} per instance for the {task} task, got None"
        several_classes = isinstance(prompt, Categories) and len(prompt.ids) > 1
        if p.labels is None and (f.labels == "always" or (f.labels == "multi" and several_classes)):
            return f"labels: expected {len(p)} category ids for the {task} task, got None"
        if p.scores is None and (f.scores == "always" or (f.scores == "multi" and len(p) > 1)):
            why = "the metric ranks predictions by score" if f.scores == "always" else \
                "the writer keeps the best-scoring of several instances"
            return f"scores: expected {len(p)} scores in [0, 1] ({why}), got None"
        if p.track_ids is None and f.track_ids:
            return f"track_ids: expected {len(p)} track ids for the {task} task (a video task), got None"
    if p.scores is not None and ((p.scores < 0) | (p.scores > 1)).any():
        return (f"scores: expected values in [0, 1], got values in [{p.scores.min():.4g}, {p.scores.max():.4g}] "
                f"(logits? apply the sigmoid/softmax)")
    if p.labels is not None and isinstance(prompt, Categories):
        bad = sorted(set(p.labels.tolist()) - set(prompt.ids))
        if bad:
            return (f"labels: expected category ids of the benchmark ({_ids(prompt.ids)}), got {_ids(bad)} "
                    f"(contiguous model indices? map index k to prompt.ids[k])")
    if p.track_ids is not None and task == "vos" and isinstance(prompt, Reference):
        bad = sorted(set(p.track_ids.tolist()) - set(prompt.object_ids))
        if bad:
            return f"track_ids: expected the reference's object ids ({_ids(prompt.object_ids)}), got {_ids(bad)}"
    if p.boxes is not None:
        return _box_problem(p.boxes, p.image_size, task)
    return None


def _ids(ids) -> str:
    ids = list(ids)
    return ", ".join(map(str, ids)) if len(ids) <= 6 else ", ".join(map(str, ids[:3])) + f", ..., {ids[-1]}"


def _box_problem(boxes: np.ndarray, size: tuple[int, int], task: str) -> str | None:
    """Boxes that are not ``xyxy`` in original-image pixels: ``x2 < x1`` (xywh or cxcywh),
    every coordinate in ``[0, 1]`` on a frame larger than a few pixels (normalised), or a
    coordinate beyond the frame by more than 10 % of its side (the resized or padded input's
    frame). SOT boxes may leave the frame with the target: only the first two rules apply."""
    h, w = size
    fmt = lambda b: "[" + ", ".join(f"{v:.4g}" for v in b) + "]"  # noqa: E731
    flipped = np.nonzero((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))[0]
    if len(flipped):
        k = int(flipped[0])
        return (f"boxes: box {k} {fmt(boxes[k])} has x2 < x1 or y2 < y1; expected xyxy (x1, y1, x2, y2) "
                f"pixels (xywh? evalkit.types.box_convert(boxes, 'xywh', 'xyxy'))")
    if min(h, w) > 4 and boxes.max() <= 1.0 and boxes.min() >= 0.0 and (boxes[:, 2:] > boxes[:, :2]).any():
        return (f"boxes: expected xyxy pixels of the {h}x{w} (HxW) frame, got every coordinate in [0, 1] "
                f"(normalised? multiply x by {w} and y by {h})")
    if task == "sot":
        return None
    mx, my = _MARGIN * w, _MARGIN * h
    out = np.nonzero((boxes[:, 0] < -mx) | (boxes[:, 2] > w + mx) | (boxes[:, 1] < -my) | (boxes[:, 3] > h + my))[0]
    if len(out):
        k = int(out[0])
        return (f"boxes: box {k} {fmt(boxes[k])} lies outside the {h}x{w} (HxW) frame; expected xyxy in "
                f"original-image pixels (boxes of a resized or padded input must be mapped back)")
    return None
