"""Rule-based conversion of official checkpoints onto our module trees.

A :class:`KeyMap` is an ordered list of rules; each official key is matched against the rules
in order and the *first* matching rule decides its fate:

* a **rename** (regex ``fullmatch`` + replacement template, optionally a tensor transform such as
  widening a stem to four input channels), or
* a **drop** with a stated reason (training-only heads, derived buffers, version-dependent keys).

:meth:`KeyMap.convert` returns our state dict and a :class:`ConversionReport`; it raises
:class:`~evalkit.errors.WeightsError` listing the keys when any official key is neither mapped
nor dropped, when an expected key of ours is missing or one produced is unexpected, when a
shape differs, or when two official keys that map to the same key of ours (aliased DETR heads)
hold different values.

Example::

    km = (KeyMap()
          .prefix("detr.detr.backbone.0.backbone.", "backbone.")
          .drop(r"criterion\\..*", "training-only loss state")
          .drop(r".*\\.position_ids", "non-persistent in transformers >= 4.31"))
    ours, report = km.convert(official_sd, expected=model)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

from evalkit.errors import WeightsError

__all__ = [
    "Rule", "KeyMap", "ConversionReport", "unwrap_checkpoint", "expected_shapes",
    "check_state_dict", "load_strict", "squeeze_leading",
]

Transform = Callable[[torch.Tensor], torch.Tensor]
_MAX_LISTED = 25


@dataclass(frozen=True)
class Rule:
    """One rule. ``target`` is a ``re`` replacement template (``\\1``, ``\\g<name>``) or
    ``None`` for a drop, in which case ``reason`` says why. With ``inner``, the pattern's
    ``rest`` group is mapped by that KeyMap and ``target`` is a plain prefix."""

    pattern: re.Pattern
    target: str | None
    reason: str = ""
    transform: Transform | None = None
    inner: "KeyMap | None" = None


def _listing(items: Iterable[Any]) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:_MAX_LISTED])
    more = f" ... (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
    return shown + more


@dataclass
class ConversionReport:
    """What happened to every key.

    Attributes:
        mapped: official key → our key.
        dropped: official key → reason.
        aliases: our key → the extra official keys that held the same tensor.
        unmapped: official keys no rule matched.
        missing: expected keys of ours no official key produced.
        unexpected: our keys produced that the target does not have.
        shape_mismatches: ``(official key, our key, got shape, expected shape)``.
        conflicts: our keys produced by several official keys with *different* values.
    """

    mapped: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_mismatches: list[tuple[str, str, tuple, tuple]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unmapped or self.missing or self.unexpected or self.shape_mismatches
                    or self.conflicts)

    def problems(self) -> list[str]:
        out = []
        if self.unmapped:
            out.append(f"{len(self.unmapped)} official key(s) neither mapped nor declared dropped: "
                       f"{_listing(self.unmapped)}")
        if self.missing:
            out.append(f"{len(self.missing)} key(s) of the model not provided by the checkpoint: "
                       f"{_listing(self.missing)}")
        if self.unexpected:
            out.append(f"{len(self.unexpected)} converted key(s) the model does not have: "
                       f"{_listing(self.unexpected)}")
        if self.shape_mismatches:
            out.append(f"{len(self.shape_mismatches)} shape mismatch(es): " + _listing(
                f"{o} -> {k}: checkpoint {tuple(g)} vs model {tuple(w)}"
                for o, k, g, w in self.shape_mismatches))
        if self.conflicts:
            out.append(f"{len(self.conflicts)} key(s) fed by aliased official keys with different "
                       f"values: {_listing(self.conflicts)}")
        return out

    def raise_if_failed(self, what: str = "checkpoint") -> None:
        if not self.ok:
            raise WeightsError(f"cannot convert {what}: " + "; ".join(self.problems()))


def expected_shapes(target: nn.Module | Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Key → shape of a module's state dict (works on the ``meta`` device) or of a mapping whose
    values are tensors or shapes."""
    if isinstance(target, nn.Module):
        target = target.state_dict(keep_vars=True)
    return {k: tuple(v.shape) if hasattr(v, "shape") else tuple(v) for k, v in target.items()}


class KeyMap:
    """An ordered list of :class:`Rule`; builder methods return ``self`` for chaining."""

    def __init__(self, rules: Iterable[Rule] = ()):
        self.rules: list[Rule] = list(rules)

    def rename(self, pattern: str, target: str, transform: Transform | None = None) -> "KeyMap":
        """Keys matching ``pattern`` (full match) become ``target`` (a replacement template)."""
        self.rules.append(Rule(re.compile(pattern), target, transform=transform))
        return self

    def prefix(self, old: str, new: str, transform: Transform | None = None) -> "KeyMap":
        """Keys starting with ``old`` get ``new`` instead of that prefix."""
        return self.rename(re.escape(old) + r"(?P<rest>.*)", new.replace("\\", "\\\\") + r"\g<rest>",
                           transform)

    def keep(self, pattern: str) -> "KeyMap":
        """Keys matching ``pattern`` keep their name."""
        self.rules.append(Rule(re.compile(pattern), r"\g<0>"))
        return self

    def drop(self, pattern: str, reason: str) -> "KeyMap":
        """Keys matching ``pattern`` are dropped knowingly; ``reason`` is recorded."""
        if not reason:
            raise ValueError("a dropped key needs a reason")
        self.rules.append(Rule(re.compile(pattern), None, reason))
        return self

    def extend(self, other: "KeyMap | Iterable[Rule]") -> "KeyMap":
        self.rules.extend(other.rules if isinstance(other, KeyMap) else other)
        return self

    def nested(self, official_prefix: str, our_prefix: str, inner: "KeyMap") -> "KeyMap":
        """Apply ``inner`` (written for a sub-module's own keys, e.g. a backbone's rules) under
        prefixes: official ``official_prefix + k`` → ``our_prefix + inner(k)``. A key under
        the prefix that ``inner`` does not match falls through to the following rules."""
        self.rules.append(Rule(re.compile(re.escape(official_prefix) + "(?P<rest>.*)"),
                               our_prefix, inner=inner))
        return self

    def map_key(self, key: str) -> tuple[Rule | None, str | None]:
        """The rule deciding ``key`` and its new name (``None`` for a drop)."""
        for rule in self.rules:
            m = rule.pattern.fullmatch(key)
            if m is None:
                continue
            if rule.inner is not None:
                inner_rule, inner_new = rule.inner.map_key(m.group("rest"))
                if inner_rule is None:
                    continue
                return inner_rule, (None if inner_new is None else rule.target + inner_new)
            return rule, (None if rule.target is None else m.expand(rule.target))
        return None, None

    def convert(self, official: Mapping[str, torch.Tensor],
                expected: nn.Module | Mapping[str, Any] | None = None, *,
                what: str = "checkpoint", strict: bool = True) -> tuple[dict[str, torch.Tensor], ConversionReport]:
        """Map ``official`` (a flat state dict) onto our names.

        Args:
            expected: our model (any device, ``meta`` included) or key → shape; when given,
                missing/unexpected keys and shapes are checked.
            what: how the checkpoint is named in error messages.
            strict: raise :class:`WeightsError` on any problem (else only report it).
        """
        rep = ConversionReport()
        out: dict[str, torch.Tensor] = {}
        source: dict[str, str] = {}
        for key, value in official.items():
            rule, new = self.map_key(key)
            if rule is None:
                rep.unmapped.append(key)
                continue
            if new is None:
                rep.dropped[key] = rule.reason
                continue
            if rule.transform is not None:
                value = rule.transform(value)
            if new in out:
                same = out[new].shape == value.shape and (
                    # meta tensors (shape-only conversion checks) carry no values to compare
                    value.is_meta or out[new].is_meta or torch.equal(out[new], value))
                if same:
                    rep.aliases.setdefault(new, []).append(key)
                else:
                    rep.conflicts.append(f"{new} ({source[new]} vs {key})")
                continue
            out[new] = value
            source[new] = key
            rep.mapped[key] = new
        if expected is not None:
            shapes = expected_shapes(expected)
            rep.missing = [k for k in shapes if k not in out]
            rep.unexpected = [k for k in out if k not in shapes]
            rep.shape_mismatches = [
                (source[k], k, tuple(v.shape), shapes[k])
                for k, v in out.items() if k in shapes and tuple(v.shape) != shapes[k]
            ]
        if strict:
            rep.raise_if_failed(what)
        return out, rep


# -- checkpoint containers ------------------------------------------------------------------
def unwrap_checkpoint(obj: Any, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The flat ``name → tensor`` dict inside a checkpoint object.

    Accepts a bare state dict or a wrapper with ``"model"`` / ``"state_dict"`` / ``"module"``
    (detectron2, Lightning, DeepSpeed); strips a leading ``module.`` (DataParallel) from every
    key when all keys carry it. Non-tensor entries of a bare dict are an error.
    """
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{what}: expected a dict of tensors, got {type(obj).__name__}")
    for wrapper in ("model", "state_dict", "module"):
        inner = obj.get(wrapper)
        if isinstance(inner, Mapping) and inner and all(
                isinstance(v, torch.Tensor) for v in inner.values()):
            obj = inner
            break
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{what}: entries that are not tensors: {_listing(bad)} "
                           f"(expected a state dict, or one under 'model'/'state_dict')")
    sd = dict(obj)
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def convert_checkpoint_with(official: Mapping[str, Any], expected: nn.Module | None, key_map: "KeyMap", *,
                            what: str, strict: bool = True) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Convert a checkpoint with the family's rules ``key_map`` (the family converter chooses
    them, e.g. from its model's config). ``official``: the loaded checkpoint (wrapped in
    ``"model"``/``"state_dict"`` or bare); ``expected``: our model for the key/shape check, or
    ``None`` (nothing checked); ``what`` names it in errors."""
    sd = unwrap_checkpoint(official, what=what)
    return key_map.convert(sd, expected, what=what, strict=strict)


def check_state_dict(sd: Mapping[str, torch.Tensor], expected: nn.Module | Mapping[str, Any],
                     what: str = "weights") -> None:
    """Raise :class:`WeightsError` listing missing/unexpected keys and shape mismatches of
    ``sd`` against ``expected`` (a module, possibly on the meta device, or key → shape)."""
    shapes = expected_shapes(expected)
    ConversionReport(
        missing=[k for k in shapes if k not in sd],
        unexpected=[k for k in sd if k not in shapes],
        shape_mismatches=[(k, k, tuple(v.shape), shapes[k]) for k, v in sd.items()
                          if k in shapes and tuple(v.shape) != shapes[k]],
    ).raise_if_failed(what)


def load_strict(model: nn.Module, sd: Mapping[str, torch.Tensor], what: str = "weights") -> None:
    """``model.load_state_dict(sd, strict=True)`` with a :class:`WeightsError` that lists the
    missing/unexpected keys and shape mismatches instead of a RuntimeError."""
    check_state_dict(sd, model, what)
    model.load_state_dict(sd, strict=True)


def load_into_meta(model: nn.Module, sd: Mapping[str, torch.Tensor], what: str = "weights") -> nn.Module:
    """Load ``sd`` strictly into ``model`` built on the ``meta`` device, taking the tensors
    over in place (``assign``: no random initialisation, no copy), then let every submodule
    recreate the non-persistent buffers state dicts do not hold: a module that has such buffers
    defines ``init_non_persistent_buffers()`` (BERT's ``position_ids`` / ``token_type_ids``:
    :class:`~evalkit.zoo.text.bert.BertTextEncoder`; Swin's ``relative_position_index``:
    :class:`~evalkit.zoo.backbones.swin.WindowAttention`). Returns the model in ``eval()`` mode
    on the weights' device.

    Raises:
        WeightsError: missing/unexpected keys or shape mismatches (see :func:`check_state_dict`).
        RuntimeError: a buffer still on ``meta`` after loading (its module has no
            ``init_non_persistent_buffers``).
    """
    check_state_dict(sd, model, what)
    model.load_state_dict(sd, strict=True, assign=True)
    for m in model.modules():
        init = getattr(m, "init_non_persistent_buffers", None)
        if callable(init):
            init()
    leftover = [k for k, b in model.named_buffers() if b.is_meta]
    if leftover:
        raise RuntimeError(f"buffers left uninitialised after loading: {leftover} (their module "
                           f"needs an init_non_persistent_buffers() method)")
    return model.eval()


# -- tensor transforms ----------------------------------------------------------------------
def squeeze_leading(t: torch.Tensor) -> torch.Tensor:
    """``1×D → D`` (parameters the official code stores as ``nn.Embedding(1, D)``)."""
    if t.dim() >= 2 and t.shape[0] == 1:
        return t[0]
    return t
