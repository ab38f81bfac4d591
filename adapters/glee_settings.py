"""GLEE inference settings as data: one frozen dataclass, fields named after the official config
keys or attributes (lower case) of ``FoundationVision/GLEE`` (``projects/GLEE/glee/config.py``
and ``projects/GLEE/glee/GLEE.py``), each default citing its source.

A user changes a field with an adapter option of the same name (``-a video_window_size=5``);
:func:`check_options` refuses names GLEE does not know (listing the valid ones, and the new name
of a renamed one), :func:`resolve` applies the options, and the resolved settings are recorded
in ``run.json`` (``model.settings``, :meth:`GLEEAdapter.describe`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from evalkit.errors import EvalkitError

from .options import INPUT_SIZE, refuse_unknown_options

__all__ = ["GLEESettings", "FACTORY_OPTIONS", "RENAMED", "check_options", "resolve"]


@dataclass(frozen=True)
class GLEESettings:
    """GLEE test-time settings.

    Attributes:
        video_window_size: frames per forward pass in videos (``MODEL.VIDEO_WINDOW_SIZE`` = 10,
            ``glee/config.py``; read as ``clip_length`` by ``GLEE.MinVIS_inference``).
        test_topk_per_image: detections kept per image (``self.test_topk_per_image``,
            ``GLEE.__init__`` 100, set to 300 by ``instance_inference`` for LVIS / TAO / BURST
            images); ``None``: that rule (300 on LVIS, or on a vocabulary of ≥ 1000 names when no
            dataset is known; else 100).
        interactive_score: evalkit's choice, not an official key: how interactive segmentation
            ranks the queries (``'ffn'``: the confidence head, default; ``'object'``: the
            similarity to the text "object" — the two rows of the paper's Table 7).
    """

    video_window_size: int = 10
    test_topk_per_image: int | None = None
    interactive_score: str = "ffn"


#: adapter options that are not settings
FACTORY_OPTIONS = frozenset({"dataset", INPUT_SIZE})
#: option names of earlier versions → the setting that replaced them
RENAMED = {"window": "video_window_size", "max_detections": "test_topk_per_image"}
_CHOICES = {"interactive_score": ("ffn", "object")}


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse unknown options and invalid values.

    Raises:
        EvalkitError: naming the unknown option(s) and listing the valid ones, or naming the
            option and what it expects.
    """
    refuse_unknown_options(options, FACTORY_OPTIONS | {f.name for f in fields(GLEESettings)}, "GLEE", RENAMED)
    for name, choices in _CHOICES.items():
        if name in options and options[name] not in choices:
            raise EvalkitError(f"GLEE option {name} must be {' or '.join(map(repr, choices))}, "
                               f"got {options[name]!r}")
    for name in ("video_window_size", "test_topk_per_image"):
        value = options.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise EvalkitError(f"GLEE option {name} expects a positive integer, got {value!r}")


def resolve(options: Mapping[str, Any]) -> GLEESettings:
    """The settings with the options naming their fields applied (checked by :func:`check_options`)."""
    return replace(GLEESettings(), **{f.name: options[f.name] for f in fields(GLEESettings) if f.name in options})
