"""Restricted copies of a split's ground truth, for scoring a partial run (``--limit``,
``--samples``): the numbers of a partial run must equal the official scorer run on a copy of
the split that holds only the samples run, so each family writes that copy (or selects the
samples with the metric's own sequence option, where the official tool has one).

Copies go to ``<results>/gt_subset*`` beside the results they are scored with; folders of
per-sequence files are linked, not copied (DAVIS-sized PNG folders stay on disk once).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterable

from ._io import atomic_write_json

__all__ = ["fresh_dir", "link_children", "filter_json"]


def fresh_dir(path: Path) -> Path:
    """An empty folder at ``path`` (an earlier restricted copy is removed first)."""
    path = Path(path)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def link_children(src: Path, names: Iterable[str], dst: Path) -> Path:
    """``dst/<name>`` → ``src/<name>`` for each name (a symbolic link; a copy where the file
    system has none). ``dst`` is made fresh; names may hold ``/`` (nested folders)."""
    dst = fresh_dir(dst)
    for name in names:
        s, d = Path(src) / name, dst / name
        d.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(s.resolve(), d, target_is_directory=s.is_dir())
        except OSError:
            if s.is_dir():
                shutil.copytree(s, d)
            else:
                shutil.copy2(s, d)
    return dst


def filter_json(src: Path, out: Path, keep: dict[str, Callable[[Any], bool]]) -> Path:
    """Copy of a JSON object file with each list ``data[key]`` filtered by ``keep[key]``
    (other keys unchanged), written atomically to ``out``."""
    data = json.loads(Path(src).read_text())
    for key, pred in keep.items():
        if isinstance(data.get(key), list):
            data[key] = [x for x in data[key] if pred(x)]
    return atomic_write_json(out, data)
