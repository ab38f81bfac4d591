"""Adapter factory of the tiny UNINEXT trained on the shapes suite (``uninext-tiny``).

The network and every inference procedure are UNINEXT's (:class:`evalkit.adapters.uninext.
UninextAdapter`); only the loading differs: the weights are our own module tree's state dict
(safetensors shipped inside the package, no conversion) and the tokenizer is the suite's
generated WordPiece vocabulary, so nothing is downloaded.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path

from evalkit.errors import WeightsError

from .uninext import UninextAdapter

__all__ = ["TinyLoading", "TinyUninextAdapter", "build_adapter", "load_state", "naming_weights", "weights_path",
           "file_sha256"]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_path(card, weights: str | None) -> Path:
    from evalkit.zoo.tiny import weights_file

    return Path(weights) if weights else weights_file(card.id)


def load_state(card, weights: str | None = None):
    """``(state dict, sha256)`` of a tiny model's shipped file (or ``weights``), checked against
    the card's pin.

    ``weights`` may be a safetensors file or a ``torch.save`` file (read without executing
    code, :func:`evalkit.hub.load_state_dict_safely`). The tiny networks run in float32 and are
    built around the tensors in place, so a half-precision file would only fail at the first
    forward pass, after a run directory was made: any floating tensor that is not float32 is
    refused here, naming it.
    """
    import torch

    from evalkit.hub import load_state_dict_safely

    path = weights_path(card, weights)
    if not path.is_file():
        raise WeightsError(f"model {card.id!r}: weights file {path} is missing (train it with "
                           f"`python -m evalkit.train --model {card.id}`)")
    sha = file_sha256(path)
    pin = card.model_weights.sha256
    if weights is None and pin and sha != pin:
        raise WeightsError(f"model {card.id!r}: {path} has sha256 {sha}, the card pins {pin} "
                           f"(retrain with `python -m evalkit.train --model {card.id}` or restore the file)")
    state = load_state_dict_safely(path)
    for k, v in state.items():
        if v.is_floating_point() and v.dtype != torch.float32:
            raise WeightsError(f"model {card.id!r}: weights file {path}: tensor {k!r} is "
                               f"{str(v.dtype).replace('torch.', '')}, expected float32 (the tiny "
                               f"models run in float32; save the state dict in float32)")
    return state, sha


@contextmanager
def naming_weights(card, weights: str | None):
    """Prefix a loading error (missing/unexpected keys, shapes) with the file it came from."""
    try:
        yield
    except WeightsError as e:
        raise WeightsError(f"model {card.id!r}: weights file {weights_path(card, weights)}: {e}") from None


class TinyLoading:
    """Loading hooks shared by the tiny models' card adapters: the shipped state dict (our
    names, no conversion), the suite's generated WordPiece vocabulary and the sha256 of the
    weights file in use (a mixin placed before the family's adapter class)."""

    @classmethod
    def load_model(cls, card, weights: str | None, overrides, random_weights: bool):
        from .factory import model_around

        state = load_state(card, weights)[0]
        with naming_weights(card, weights):
            return model_around(card, state)

    @classmethod
    def load_tokenizer(cls, card, option: str | None):
        from evalkit.zoo.tiny import tokenizer

        return tokenizer()

    @classmethod
    def weights_digest(cls, card, weights: str | None) -> str:
        return file_sha256(weights_path(card, weights))


class TinyUninextAdapter(TinyLoading, UninextAdapter):
    """UNINEXT's adapter, loaded from the shipped state dict and the suite's vocabulary."""


#: factory named by ``zoo/cards/uninext-tiny.json`` (the card adapters' one factory path)
build_adapter = TinyUninextAdapter.from_card
