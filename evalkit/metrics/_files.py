"""Reading the text and JSON files of ground truths and results with errors that name them.

Every metric reads its files through these two functions, so a truncated JSON, a non-UTF-8
byte or a folder where a file belongs is one :class:`~evalkit.errors.ResultsError` naming
the file and the position, never a ``JSONDecodeError``/``UnicodeDecodeError`` from deep
inside a metric.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..errors import ResultsError

__all__ = ["read_text_file", "read_json_file", "folder_error", "warn_if_empty", "require_id"]

log = logging.getLogger("evalkit.metrics")


def read_text_file(path: str | Path, what: str) -> str:
    """The UTF-8 text of ``path`` (``what``: "ground truth", "results", ... for the message)."""
    path = Path(path)
    if path.is_dir():
        raise ResultsError(f"{what}: expected a file at {path}, found a folder")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ResultsError(f"{what} file not found: {path}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ResultsError(f"{what} file {path}: not UTF-8 text (byte {data[e.start]:#04x} at "
                           f"line {line}, offset {e.start})") from None


def read_json_file(path: str | Path, what: str) -> Any:
    """The parsed JSON of ``path``; malformed or truncated JSON names the line and column."""
    text = read_text_file(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{what} file {path} is not valid JSON (truncated?): {e.msg} at line "
                           f"{e.lineno} column {e.colno}") from None


def folder_error(path: str | Path, what: str) -> str:
    """The message for a folder that is not there: a file in its place (``--results x.json``
    where a folder of PNGs is expected) is named as such."""
    path = Path(path)
    if path.is_file():
        return f"{what}: expected a folder at {path}, found a file"
    return f"{what} folder {path} does not exist"


def warn_if_empty(entries: Any, name: str) -> None:
    """Warn (on ``evalkit.metrics``) when a results list is empty: the score is then 0 (or
    undefined) everywhere, which is right for a model that found nothing but is far more often
    a results file written before any prediction was made. The official tools differ (pycocotools
    ``loadRes([])`` fails with an IndexError), so evalkit scores it and says so."""
    if isinstance(entries, (list, tuple)) and not entries:
        log.warning("%s holds no results: every metric is 0 or undefined", name)


def require_id(value: Any, at: str, field: str) -> Any:
    """``value`` if it can be an id (an int or a str, not a bool): a list or dict id would fail
    deep inside a metric as ``unhashable type`` with no entry named. ``at`` names the entry."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        import numpy as np

        if not isinstance(value, np.integer):
            raise ResultsError(f"{at}: {field} must be an integer or a string, got {value!r:.80}")
    return value
