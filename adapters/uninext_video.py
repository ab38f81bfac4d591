"""UNINEXT video tasks with text prompts: referring VOS (expression, top-1 per frame) and the
tracker-based tasks (MOT / MOTS: quasi-dense bi-softmax tracker; VIS: IDOL tracker).

The trackers are shared with the other families (:mod:`evalkit.adapters.trackers`); until they
are available MOT, MOTS and VIS are not offered by the adapter (``check`` rejects them).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from evalkit.errors import UnsupportedTaskError
from evalkit.types import Categories, Expression, Frames, Instances

from .uninext_image import ground_frame, to_rles

__all__ = ["predict_rvos", "predict_mot", "predict_vis", "UNFINISHED_TASKS"]

#: tasks whose procedure is not implemented yet (they need the shared trackers)
UNFINISHED_TASKS = frozenset({"mot", "mots", "vis"})


def predict_rvos(adapter, task: str, frames: Frames, prompt: Expression) -> Iterator[Instances]:
    """R-VOS: on every frame the best query for the expression, mask probability > 0.5 (bilinear
    ×4, sigmoid, crop, nearest resize; official ``inference_rvos``). ``track_ids`` = 1."""
    for image in frames:
        inst, probs = ground_frame(adapter, task, image, prompt, with_masks=True, final="nearest")
        yield Instances(inst.image_size, inst.boxes, to_rles(probs > 0.5), inst.scores, None,
                        np.ones(1, np.int64))


def predict_mot(adapter, task: str, frames: Frames, prompt: Categories) -> Iterator[Instances]:
    raise UnsupportedTaskError(f"UNINEXT {task}: not implemented yet (needs the shared "
                               f"quasi-dense tracker)")


def predict_vis(adapter, task: str, frames: Frames, prompt: Categories) -> Iterator[Instances]:
    raise UnsupportedTaskError("UNINEXT vis: not implemented yet (needs the shared IDOL tracker)")
