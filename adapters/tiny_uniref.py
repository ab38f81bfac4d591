"""Adapter factory of the tiny UniRef++ trained on the shapes suite (``uniref-pp-tiny``).

The network and every inference procedure are UniRef++'s (:class:`evalkit.adapters.uniref.
UnirefAdapter`); only the loading differs, as for ``uninext-tiny``
(:mod:`evalkit.adapters.tiny_uninext`): our own state dict shipped inside the package, pinned by
the card's sha256, and the suite's generated WordPiece vocabulary.
"""
from __future__ import annotations

from typing import Any

__all__ = ["build_adapter"]


def build_adapter(*, model_id: str, device: str = "cpu", weights: str | None = None, **options: Any):
    """Factory named by ``zoo/cards/uniref-pp-tiny.json``."""
    from evalkit.zoo.cards import get_card
    from evalkit.zoo.tiny import tokenizer
    from evalkit.zoo.uniref import load_uniref

    from .tiny_uninext import load_state, naming_weights
    from .uniref import UnirefAdapter

    card = get_card(model_id)
    state, sha = load_state(card, weights)
    with naming_weights(card, weights):
        model = load_uniref(state, **dict(card.builder_args))
    adapter = UnirefAdapter(model_id=model_id, model=model, text_tokenizer=tokenizer(), card=card,
                            device=device, weights=weights, **options)
    adapter.weights_sha256 = sha
    return adapter
