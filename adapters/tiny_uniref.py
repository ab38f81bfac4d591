"""Adapter factory of the tiny UniRef++ trained on the shapes suite (``uniref-pp-tiny``).

The network and every inference procedure are UniRef++'s (:class:`evalkit.adapters.uniref.
UnirefAdapter`); only the loading differs, as for ``uninext-tiny``
(:mod:`evalkit.adapters.tiny_uninext`): our own state dict shipped inside the package, pinned by
the card's sha256, and the suite's generated WordPiece vocabulary.
"""
from __future__ import annotations

from .tiny_uninext import TinyLoading
from .uniref import UnirefAdapter

__all__ = ["TinyUnirefAdapter", "build_adapter"]


class TinyUnirefAdapter(TinyLoading, UnirefAdapter):
    """UniRef++'s adapter, loaded from the shipped state dict and the suite's vocabulary."""


#: factory named by ``zoo/cards/uniref-pp-tiny.json`` (the card adapters' one factory path)
build_adapter = TinyUnirefAdapter.from_card
