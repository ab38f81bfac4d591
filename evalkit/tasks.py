"""The task names: one list, used by model cards, benchmarks and metrics.

A task name says what a model is asked to do and how the answer is scored; it is the key
that pairs a model (its card's ``tasks``) with a benchmark split (its registry ``task``) and a
metric (its catalog ``task``). Names follow the papers' abbreviations (UNINEXT Table 1, UniVS
Table 1). Importing this module imports nothing heavy (listing must not import torch).
"""
from __future__ import annotations

from .errors import EvalkitError

__all__ = ["TASKS", "IMAGE_TASKS", "VIDEO_TASKS", "check_task", "is_image_task"]

#: Tasks on single images, name → one-line description.
IMAGE_TASKS: dict[str, str] = {
    "det": "object detection (boxes and categories)",
    "inst-seg": "instance segmentation (masks and categories)",
    "rec": "referring expression comprehension (one box per expression)",
    "res": "referring expression segmentation (one mask per expression)",
    "fss": "few-shot segmentation (masks of the support images' class)",
    "interactive": "interactive segmentation (a mask from clicks, a box or a scribble)",
}
#: Tasks on videos, name → one-line description.
VIDEO_TASKS: dict[str, str] = {
    "sot": "single object tracking (a box per frame from the first frame's box)",
    "vos": "semi-supervised video object segmentation (masks from the first frame's masks)",
    "rvos": "referring video object segmentation (masks of the object an expression names)",
    "mot": "multiple object tracking (boxes with track ids)",
    "mots": "multiple object tracking and segmentation (masks with track ids)",
    "vis": "video instance segmentation (mask tubes with categories and scores)",
    "vss": "video semantic segmentation (a class per pixel)",
    "vps": "video panoptic segmentation (things and stuff with track ids)",
    "pvos": "panoptic video object segmentation (VIPOSeg: reference masks, things and stuff)",
    "ow-track": "open-world tracking (class-agnostic tracks, TETA / BURST)",
}
#: Every task name, name → description.
TASKS: dict[str, str] = {**IMAGE_TASKS, **VIDEO_TASKS}


def check_task(task: str, where: str) -> str:
    """``task`` if it is a known task name, else an :class:`EvalkitError` naming ``where`` (e.g. the
    benchmark or metric being registered) and the valid names."""
    if task not in TASKS:
        raise EvalkitError(f"{where}: unknown task {task!r} (known: {', '.join(sorted(TASKS))})")
    return task


def is_image_task(task: str) -> bool:
    """True for a task on single images (:data:`IMAGE_TASKS`)."""
    return task in IMAGE_TASKS
