"""Adapter options shared by every family: the one input-size option and the refusal of unknown
or renamed option names.

Every family takes its test-time input size from the model card and lets the user override it
with one option, ``input_size``: a pair ``(short_edge, max_size)`` (``-a input_size=[640,1333]``;
``max_size`` ``None``: no cap) or one integer, the short edge (the card's max size kept). The
names earlier versions used (``min_size`` / ``max_size`` for GLEE, ``min_size_test`` for UniVS)
are refused with an error naming ``input_size``.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Iterable, Mapping

from evalkit.errors import EvalkitError

__all__ = ["INPUT_SIZE", "INPUT_SIZE_RENAMED", "refuse_unknown_options", "input_size_option",
           "settings_as_record"]

#: the input-size option, the same name in every family
INPUT_SIZE = "input_size"
#: input-size option names of earlier versions → the one that replaced them
INPUT_SIZE_RENAMED = {"min_size": INPUT_SIZE, "max_size": INPUT_SIZE, "min_size_test": INPUT_SIZE}


def refuse_unknown_options(options: Iterable[str], valid: Iterable[str], family: str,
                           renamed: Mapping[str, str] | None = None) -> None:
    """Raise :class:`EvalkitError` naming the options not in ``valid`` and listing the valid
    ones (and the new name of a ``renamed`` one)."""
    valid = set(valid)
    unknown = sorted(set(options) - valid)
    if not unknown:
        return
    renamed = {**INPUT_SIZE_RENAMED, **(renamed or {})}
    moved = [f"{k!r} is now {renamed[k]!r}" for k in unknown if k in renamed]
    hint = f" ({'; '.join(moved)})" if moved else ""
    raise EvalkitError(f"unknown {family} option(s) {', '.join(map(repr, unknown))}{hint}; valid "
                       f"options: {', '.join(sorted(valid))}")


def input_size_option(value: Any, family: str, card_max: int | None = None) -> tuple[int, int | None]:
    """The ``input_size`` option → ``(short_edge, max_size)``.

    ``value`` is an integer (the short edge; ``card_max`` kept as the max size) or a pair
    ``(short_edge, max_size)`` of integers (``max_size`` may be ``None``: no cap).

    Raises:
        EvalkitError: ``value`` is neither (the message names the option and the family).
    """
    def _int(x) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and x > 0

    if _int(value):
        return int(value), card_max
    if isinstance(value, (list, tuple)) and len(value) == 2 and _int(value[0]) and (
            value[1] is None or _int(value[1])):
        return int(value[0]), (None if value[1] is None else int(value[1]))
    raise EvalkitError(f"{family} option {INPUT_SIZE} expects a short edge (positive integer) or "
                       f"[short_edge, max_size], got {value!r}")


def settings_as_record(settings: Any) -> dict[str, Any] | None:
    """A settings dataclass as the JSON-able ``run.json`` record: ``{"procedure": class name,
    **fields}`` (``None`` stays ``None``: a procedure without settings)."""
    return None if settings is None else {"procedure": type(settings).__name__, **asdict(settings)}
