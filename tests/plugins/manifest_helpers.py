"""Test helpers: the official key manifests (``tests/data/official_keys/*.tsv``, test data in the
repository, so the converter checks run in every clone) and synthetic checkpoints built from them.

A manifest has one ``key<TAB>shape<TAB>dtype`` line per tensor of an official checkpoint; the
shape is comma-separated, empty for a 0-dim tensor.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

#: names, shapes and dtypes of the official checkpoints (facts, dumped from the official repos;
#: see README.md there for how each was made)
MANIFESTS = Path(__file__).resolve().parents[1] / "data" / "official_keys"

Row = tuple[str, tuple[int, ...], str]


def manifest_rows(name: str) -> list[Row]:
    """``(key, shape, dtype)`` rows of the manifest ``name``, in file order."""
    path = MANIFESTS / name
    if not path.is_file():
        raise FileNotFoundError(f"official key manifest {path} is missing from the test data")
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            key, shape, dtype = line.split("\t")
            rows.append((key, tuple(int(s) for s in shape.split(",")) if shape else (), dtype))
    return rows


def synthetic_checkpoint(rows: list[Row], seed: int = 0) -> dict:
    """A detectron2-style checkpoint (``{"model": state dict, "iteration": 0}``) of the
    Deformable-DETR families (UNINEXT, UniRef++) with tensors of exactly the manifest's names,
    shapes and dtypes: views into one tiled random buffer (values in [-0.02, 0.02]) at a per-key
    offset, so same-shaped tensors differ; BatchNorm variances positive; integer tensors
    ``arange``; the decoder's aliased head keys hold the same tensors as the heads, as in a real
    checkpoint."""
    g = torch.Generator().manual_seed(seed)
    pool = (torch.rand(1 << 16, generator=g) * 2 - 1) * 0.02
    largest = max(int(np.prod(shape)) if shape else 1 for _, shape, _ in rows)
    big = pool.repeat(-(-(largest + len(pool)) // len(pool)))
    sd = {}
    for i, (key, shape, dtype) in enumerate(rows):
        dt = getattr(torch, dtype)
        n = int(np.prod(shape)) if shape else 1
        if dt.is_floating_point:
            start = (i * 7919) % len(pool)
            t = big[start:start + n].view(shape).to(dt)
            sd[key] = t.abs() + 1.0 if key.endswith("running_var") else t
        else:
            sd[key] = torch.arange(n, dtype=dt).reshape(shape)
    alias = "detr.detr.transformer.decoder."
    for key in sd:
        if key.startswith(alias + "bbox_embed.") or key.startswith(alias + "class_embed."):
            sd[key] = sd["detr.detr." + key[len(alias):]]
    return {"model": sd, "iteration": 0}
