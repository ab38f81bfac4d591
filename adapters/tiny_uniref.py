"""Adapter factory of the tiny UniRef++ trained on the shapes suite (``uniref-pp-tiny``).

The network and every inference procedure are UniRef++'s (:class:`evalkit.adapters.uniref.
UnirefAdapter`); only the loading differs, as for ``uninext-tiny``
(:mod:`evalkit.adapters.tiny_uninext`): our own state dict shipped inside the package, pinned by
the card's sha256, and the suite's generated WordPiece vocabulary.
"""
from __future__ import annotations

from .tiny_uninext import TinyLoading, load_state, naming_weights
from .uniref import UnirefAdapter

__all__ = ["TinyUnirefAdapter", "build_adapter"]


class TinyUnirefAdapter(TinyLoading, UnirefAdapter):
    """UniRef++'s adapter, loaded from the shipped state dict and the suite's vocabulary."""

    @classmethod
    def load_model(cls, card, weights: str | None, overrides, random_weights: bool):
        from evalkit.zoo.uniref import load_uniref

        state = load_state(card, weights)[0]
        with naming_weights(card, weights):
            return load_uniref(state, **dict(card.builder_args))


#: factory named by ``zoo/cards/uniref-pp-tiny.json`` (the card adapters' one factory path)
build_adapter = TinyUnirefAdapter.from_card
