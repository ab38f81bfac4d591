"""The one adapter factory of the model cards: card → family hooks → model, tokenizer, adapter.

Every built-in family's registered factory (the card's ``adapter`` field, e.g.
``evalkit.adapters.uninext:build_adapter``) is ``Family.from_card`` of :class:`CardFactory`, so
UNINEXT, UniRef++, GLEE, the tiny models and the transformers adapters are built by the same
steps:

1. the card (:func:`evalkit.zoo.cards.get_card`), checked against the family the class serves;
2. the network: :meth:`CardFactory.load_model` — random weights (option ``random_weights``,
   :meth:`CardFactory.random_weights_option`; the transformers adapters' ``tiny``), or
   the official checkpoint fetched, converted by the card's ``converter`` (cached as
   safetensors by :func:`evalkit.hub.load_converted`) and loaded strictly into the card's
   ``builder`` built on the ``meta`` device (no random initialisation);
3. the text tokenizer: :meth:`CardFactory.load_tokenizer` (option ``tokenizer``);
4. the adapter: :meth:`CardFactory.from_parts`, then the weights' sha256 (provenance, store key)
   from :meth:`CardFactory.weights_digest`.

What differs between families is data on the card (builder, builder arguments, converter,
weight files, input sizes, tasks) and the hooks a family overrides: its tokenizer, a loader of
its own (GLEE loads through :func:`evalkit.zoo.api.load_model`; the tiny models read the
shipped state dict) and its adapter's constructor.
"""
from __future__ import annotations

from typing import Any

from evalkit.errors import EvalkitError

__all__ = ["CardFactory", "load_card_model", "model_around"]


def model_around(card, state, overrides: dict[str, Any] | None = None, expected=None):
    """The card's network built around ``state`` (our names) without random initialisation:
    built on the ``meta`` device (or ``expected``, such a model already built) and loaded
    strictly in place (:func:`evalkit.zoo.convert_utils.load_into_meta`); ``eval()`` mode."""
    import torch

    from evalkit.zoo.api import build_model
    from evalkit.zoo.convert_utils import load_into_meta

    if expected is None:
        with torch.device("meta"):
            expected = build_model(card.id, **(overrides or {}))
    return load_into_meta(expected, state, f"{card.id} weights")


def load_card_model(card, weights: str | None, overrides: dict[str, Any], random_weights: bool):
    """The card's network in ``eval()`` mode: random weights, or the official checkpoint
    fetched, converted with the card's converter (cached) and loaded strictly in place into the
    card's builder built on the ``meta`` device.

    Args:
        overrides: builder arguments replacing the card's ``builder_args`` (tiny test models).
    """
    import torch

    from evalkit.hub import converter_version, load_converted
    from evalkit.zoo.api import build_model

    if random_weights:
        return build_model(card.id, **overrides).eval()
    convert = card.converter_fn()
    with torch.device("meta"):
        expected = build_model(card.id, **overrides)
    state = load_converted(card.id, weights, lambda sd: convert(sd, expected)[0],
                           version=converter_version(convert))
    return model_around(card, state, expected=expected)


class CardFactory:
    """The factory steps shared by the card families' adapters (a mixin of the adapter class).

    Class attributes:
        family: the card family the factory accepts (``None``: any card).
        family_name: the family as written in error messages.
    """

    family: str | None = None
    family_name: str = ""

    @classmethod
    def from_card(cls, *, model_id: str, device: str = "cpu", weights: str | None = None,
                  **options: Any):
        """The adapter factory named by the family's model cards
        (``fn(*, model_id, device, weights, **options)``, as :data:`evalkit.registry.MODELS`
        calls it)."""
        from evalkit.zoo.cards import get_card

        card = get_card(model_id)
        if cls.family is not None and card.family != cls.family:
            raise EvalkitError(f"model {model_id!r} is not a {cls.family_name} model "
                               f"(family {card.family!r})")
        random_weights = cls.random_weights_option(options)
        model = cls.load_model(card, weights, dict(options.get("overrides") or {}), random_weights)
        tokenizer = cls.load_tokenizer(card, options.get("tokenizer"))
        adapter = cls.from_parts(card, model, tokenizer, model_id=model_id, device=device,
                                 weights=weights, options=options)
        if not random_weights:
            adapter.weights_sha256 = cls.weights_digest(card, weights)
        return adapter

    @classmethod
    def random_weights_option(cls, options: dict[str, Any]) -> bool:
        """Whether the options ask for random weights (hook; default the ``random_weights``
        option): then no checkpoint is loaded and no weights digest is recorded."""
        return bool(options.get("random_weights", False))

    @classmethod
    def load_model(cls, card, weights: str | None, overrides: dict[str, Any], random_weights: bool):
        """The network (hook; default :func:`load_card_model`)."""
        return load_card_model(card, weights, overrides, random_weights)

    @classmethod
    def load_tokenizer(cls, card, option: str | None):
        """The text tokenizer of the family (hook)."""
        raise NotImplementedError

    @classmethod
    def from_parts(cls, card, model, tokenizer, *, model_id: str, device: str, weights: str | None,
                   options: dict[str, Any]):
        """The adapter around the loaded parts (hook: the family's constructor)."""
        raise NotImplementedError

    @classmethod
    def weights_digest(cls, card, weights: str | None) -> str:
        """sha256 of the weights in use (provenance, prediction-store key)."""
        from evalkit.hub import weights_sha256

        return weights_sha256(card, weights)
