"""Registers the built-in zoo entries (import paths and metadata only).

Every model card (``zoo/cards/*.json``) becomes one :data:`evalkit.registry.MODELS` entry whose
target is the card's adapter factory path; tags are the family, the tasks and the stage, so
``--model uninext`` or ``--model vos`` select groups. Reading the cards is plain JSON: listing
models never imports torch or model code.
"""
from __future__ import annotations

from evalkit.registry import MODELS

from .cards import list_cards


def register_cards() -> None:
    for card in list_cards():
        MODELS.register(
            card.id,
            card.adapter,
            tags=(card.family, *card.tasks, card.stage),
            description=card.description,
            model_id=card.id,
            family=card.family,
            variant=card.variant,
            stage=card.stage,
            tasks=list(card.tasks),
            card=str(card.path.name),
        )


register_cards()
