"""Reading the text and JSON files of ground truths and results with errors that name them.

Every metric reads its files through these two functions, so a truncated JSON, a non-UTF-8
byte or a folder where a file belongs is one :class:`~evalkit.errors.ResultsError` naming
the file and the position, never a ``JSONDecodeError``/``UnicodeDecodeError`` from deep
inside a metric.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ResultsError

__all__ = ["read_text_file", "read_json_file"]


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
