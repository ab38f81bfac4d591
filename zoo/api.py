"""The zoo's public entry points: build, convert and load a model by id.

Model metadata comes from model cards (:func:`evalkit.zoo.cards.get_card`). This module uses
these card attributes:

* ``card.builder`` — ``"module:function"``; ``function(**card.builder_args, **overrides)``
  returns the ``nn.Module`` (random initialisation, nothing downloaded).
* ``card.builder_args`` — dict of keyword arguments for the builder.
* ``card.converter`` — ``"module:function"`` or ``None``. The function is called as
  ``function(official_sd, expected)`` where ``official_sd`` is the flat official state dict
  (wrappers such as ``{"model": ...}`` and ``module.`` prefixes already removed) and
  ``expected`` is a freshly built model (on the ``meta`` device when only converting), to be
  used for key names and shapes only.
  It returns ``(our_sd, report)`` — typically ``KeyMap.convert(official_sd, expected)`` from
  :mod:`evalkit.zoo.convert_utils` — or just ``our_sd``. ``None`` means the released weights
  already use our names.

Weights are located by :func:`evalkit.hub.fetch_weights` and read by
:func:`evalkit.hub.load_state_dict_safely` (safetensors, or ``torch.load(weights_only=True)``).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from evalkit.registry import import_target

from .convert_utils import ConversionReport, check_state_dict, expected_shapes, load_strict, unwrap_checkpoint

__all__ = ["build_model", "convert_checkpoint", "load_model", "get_card"]


def get_card(model_id: str) -> Any:
    """The model card of ``model_id`` (imported lazily: cards are data, loaded on demand)."""
    from evalkit.zoo.cards import get_card as _get_card

    return _get_card(model_id)


def build_model(model_id: str, **overrides: Any) -> nn.Module:
    """Build the architecture of ``model_id`` with random weights (no download).

    ``overrides`` replace entries of the card's ``builder_args`` (e.g. ``num_classes``).
    """
    card = get_card(model_id)
    builder = import_target(card.builder)
    args = {**dict(getattr(card, "builder_args", None) or {}), **overrides}
    model = builder(**args)
    if not isinstance(model, nn.Module):
        raise TypeError(f"builder {card.builder} of {model_id!r} returned {type(model).__name__}, "
                        f"not an nn.Module")
    return model


def _build_meta(model_id: str, **overrides: Any) -> nn.Module:
    # Shapes only: building on the meta device allocates nothing, even for ViT-H.
    with torch.device("meta"):
        return build_model(model_id, **overrides)


def _run_converter(card: Any, official_sd: dict[str, torch.Tensor],
                   expected: nn.Module) -> tuple[dict[str, torch.Tensor], ConversionReport | None]:
    conv = getattr(card, "converter", None)
    if conv is None:
        return dict(official_sd), None
    out = import_target(conv)(official_sd, expected)
    if isinstance(out, tuple):
        sd, report = out
    else:
        sd, report = out, None
    return dict(sd), report


def convert_checkpoint(model_id: str, official_state_dict: Mapping[str, Any], **overrides: Any) -> dict[str, torch.Tensor]:
    """Map an official checkpoint of ``model_id`` onto our module tree.

    Args:
        official_state_dict: the loaded official checkpoint (bare state dict, or wrapped in
            ``"model"``/``"state_dict"``; a ``module.`` prefix is removed).
        overrides: builder overrides (must match those the model will be built with).

    Returns:
        our state dict, loadable with ``strict=True``.

    Raises:
        WeightsError: listing official keys that are neither mapped nor declared dropped,
            missing/unexpected keys and shape mismatches.
    """
    card = get_card(model_id)
    sd = unwrap_checkpoint(official_state_dict, what=f"checkpoint of {model_id!r}")
    expected = _build_meta(model_id, **overrides)
    ours, _ = _run_converter(card, sd, expected)
    check_state_dict(ours, expected, f"the converted checkpoint of {model_id!r}")
    return ours


def _is_ours(sd: Mapping[str, torch.Tensor], expected: nn.Module) -> bool:
    shapes = expected_shapes(expected)
    return set(sd) == set(shapes) and all(tuple(v.shape) == shapes[k] for k, v in sd.items())


def load_model(model_id: str, weights: str | None = None, *, device: str | torch.device = "cpu",
               **overrides: Any) -> nn.Module:
    """Build ``model_id``, fetch its weights, convert them and load them strictly.

    Args:
        weights: a weights source overriding the card's (``hf://repo/path@rev``, URL or local
            path), as :func:`evalkit.hub.fetch_weights` accepts.
        device: where the returned model lives; it is in ``eval()`` mode.

    A checkpoint whose keys and shapes already equal our state dict (weights we converted and
    published) is loaded as is; anything else goes through the card's converter.
    """
    from evalkit.hub import fetch_weights, load_state_dict_safely

    card = get_card(model_id)
    path = fetch_weights(card, weights=weights)
    raw = load_state_dict_safely(path)
    sd = unwrap_checkpoint(raw, what=f"weights {path}")
    model = build_model(model_id, **overrides)
    if not _is_ours(sd, model):
        sd, _ = _run_converter(card, sd, model)
    load_strict(model, sd, what=f"weights {path} for {model_id!r}")
    return model.to(device).eval()
