"""Test helper: register a tiny random-weight model under a hidden id for end-to-end runs through
the runner (which builds adapters by registered id)."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import torch

from evalkit.registry import MODELS


@contextlib.contextmanager
def hidden_model(hidden_id: str, build_adapter: Callable[..., Any], /, **fixed: Any) -> Iterator[str]:
    """Register ``hidden_id`` (hidden) for the duration of the block: each build seeds torch with
    0 and calls ``build_adapter(**runner_options, **fixed)`` (``fixed`` wins, e.g. the real
    ``model_id`` whose card is used), then renames the adapter to ``hidden_id`` so run records
    name the hidden id."""
    def factory(**kw):
        torch.manual_seed(0)
        adapter = build_adapter(**{**kw, **fixed})
        adapter.model_id = hidden_id
        return adapter

    MODELS.register(hidden_id, factory, hidden=True, overwrite=True)
    try:
        yield hidden_id
    finally:
        MODELS.unregister(hidden_id)
