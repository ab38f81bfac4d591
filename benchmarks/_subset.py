"""Restricted copies of a split's ground truth, for scoring a partial run (``--limit``,
``--samples``): the numbers of a partial run must equal the official scorer run on a copy of
the split that holds only the samples run, so each family writes that copy (or selects the
samples with the metric's own sequence option, where the official tool has one).

Copies go to ``<results>/gt_subset*`` beside the results they are scored with; the files of
per-sequence folders are linked, not copied (PNG folders stay on disk once).
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
    """``dst/<name>`` mirroring ``src/<name>`` for each name: folders are made for real and
    their files linked (symbolic links; copies where the file system has none), so that
    tools walking the tree with ``rglob`` (which does not enter linked folders) see every
    file. ``dst`` is made fresh; names may hold ``/`` (nested folders)."""
    dst = fresh_dir(dst)
    for name in names:
        s = Path(src) / name
        files = [(p, p.relative_to(src)) for p in sorted(s.rglob("*")) if p.is_file()] if s.is_dir() \
            else [(s, Path(name))]
        for f, rel in files:
            d = dst / rel
            d.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.symlink(f.resolve(), d)
            except OSError:
                shutil.copy2(f, d)
    return dst


def filter_json(src: Path, out: Path, keep: dict[str, Callable[[Any], bool]]) -> Path:
    """Copy of a JSON object file with each list ``data[key]`` filtered by ``keep[key]``
    (other keys unchanged), written atomically to ``out``."""
    data = json.loads(Path(src).read_text())
    for key, pred in keep.items():
        if isinstance(data.get(key), list):
            data[key] = [x for x in data[key] if pred(x)]
    return atomic_write_json(out, data)
