"""Helpers for the zoo-nets tests: official key manifests and synthetic state dicts."""
from __future__ import annotations

import torch
from manifest_helpers import manifest_rows


def manifest(name: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """key → (shape, dtype) of an official manifest; read from tests/data/official_keys."""
    return {key: (shape, dtype) for key, shape, dtype in manifest_rows(name)}


def synthetic_state_dict(entries: dict[str, tuple[tuple[int, ...], str]], prefix: str = "",
                         device: str = "cpu", seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors with the official names (prefix removed) and shapes."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, (shape, dtype) in entries.items():
        if not key.startswith(prefix):
            continue
        if device == "meta":
            t = torch.empty(shape, dtype=getattr(torch, dtype), device="meta")
        elif dtype.startswith("int"):
            t = torch.arange(int(torch.tensor(shape).prod()) if shape else 1).reshape(shape)
        else:
            t = torch.randn(shape, generator=g)
        out[key[len(prefix):]] = t
    return out


def count_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
