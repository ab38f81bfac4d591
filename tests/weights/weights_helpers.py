"""Helpers shared by the weights tests (test-made cards, hashing)."""
from __future__ import annotations

import copy
import hashlib
from pathlib import Path

from evalkit.zoo.cards import _card_from_json
from evalkit.zoo.cards_schema import validate_card

BASE_CARD = {
    "id": "uninext-test", "family": "uninext", "variant": "test", "stage": "video-joint",
    "description": "test card", "builder": "evalkit.zoo.uninext.model:build_uninext",
    "builder_args": {}, "converter": "evalkit.zoo.uninext.convert:convert_uninext",
    "adapter": "evalkit.adapters.uninext:build_adapter", "license": "MIT",
    "paper": {"title": "t", "venue": "v"}, "tasks": ["det", "rvos"],
    "input_sizes": {"det": {"min_size": 800, "max_size": 1333},
                    "rvos": {"min_size": 480, "max_size": None}},
    "weights": [], "paper_results": [],
}


def make_card(weights: list[dict], **fields):
    """A validated Card built in memory (same path as the shipped cards)."""
    data = copy.deepcopy(BASE_CARD)
    data.update(fields)
    data["weights"] = weights
    validate_card(data, "test-card")
    return _card_from_json(data, Path("test-card.json"))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
