"""Model cards: one JSON file per model beside this module, loaded as :class:`Card`.

``get_card("uninext-r50")`` returns the validated card; ``list_cards()`` every card, sorted by
id. Nothing here imports torch: listing models and reading cards stay cheap (``evalkit ls``).

The builder, converter and adapter of a card are ``"module:function"`` strings resolved on
demand with :func:`resolve_target`; a family whose code is not in this version gives a clear
:class:`~evalkit.errors.EvalkitError` instead of an ImportError traceback.
"""
from __future__ import annotations

import difflib
import importlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from evalkit.errors import EvalkitError, UnknownNameError

from ..cards_schema import validate_card

__all__ = ["Card", "WeightFile", "PaperResult", "get_card", "list_cards", "resolve_target",
           "CARDS_DIR"]

CARDS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class WeightFile:
    """One file a model needs.

    Attributes:
        name: file name in the cache (unique within the card).
        role: ``model`` | ``text-encoder`` | ``class-embeddings`` | ``tokenizer``.
        sources: ordered list of places to fetch it from; the first that works wins.
        sha256: pinned hash, or None when the card does not know it yet (see ``unpinned``).
        unpinned: why the hash is not pinned (None when pinned).
        tasks: tasks that need this file; empty = every task.
        member: file name inside a downloaded folder archive (SharePoint folders), if any.
    """

    name: str
    role: str
    sources: tuple[str, ...]
    sha256: str | None
    unpinned: str | None = None
    tasks: tuple[str, ...] = ()
    member: str | None = None
    notes: str = ""

    @property
    def pinned(self) -> bool:
        return self.sha256 is not None

    def needed_for(self, task: str | None) -> bool:
        return task is None or not self.tasks or task in self.tasks


@dataclass(frozen=True)
class PaperResult:
    """One number the paper reports for this checkpoint (``value`` as a float, ``printed``
    exactly as typeset, e.g. ``"77.90"``)."""

    table: str
    benchmark: str
    split: str
    metric: str
    value: float
    printed: str
    notes: str = ""


@dataclass(frozen=True)
class Card:
    """A validated model card (see :mod:`evalkit.zoo.cards_schema` for the fields)."""

    id: str
    family: str
    variant: str
    stage: str
    description: str
    builder: str
    builder_args: dict[str, Any]
    converter: str
    adapter: str
    license: str
    paper: dict[str, str]
    tasks: tuple[str, ...]
    input_sizes: dict[str, dict[str, Any]]
    weights: tuple[WeightFile, ...]
    paper_results: tuple[PaperResult, ...]
    notes: str = ""
    path: Path = field(default=CARDS_DIR, compare=False)

    @property
    def model_weights(self) -> WeightFile:
        """The checkpoint itself (the one file with role ``model``)."""
        return next(w for w in self.weights if w.role == "model")

    def weight(self, name: str) -> WeightFile:
        for w in self.weights:
            if w.name == name:
                return w
        raise EvalkitError(
            f"model {self.id!r} has no weight file {name!r} "
            f"(files: {', '.join(w.name for w in self.weights)}; card {self.path})"
        )

    def weights_for(self, task: str | None = None) -> list[WeightFile]:
        """Files needed to run ``task`` (all files when ``task`` is None)."""
        if task is not None and task not in self.tasks:
            from evalkit.errors import UnsupportedTaskError

            raise UnsupportedTaskError(
                f"model {self.id!r} does not support task {task!r} "
                f"(supported: {', '.join(self.tasks)})"
            )
        return [w for w in self.weights if w.needed_for(task)]

    def input_size(self, task: str, dataset: str | None = None) -> dict[str, Any]:
        """Test-time resize for ``task`` (and ``dataset``, e.g. ``ovis``, when the official
        configs differ per dataset): ``{"min_size": int, "max_size": int | None}`` (shorter
        side, cap on the longer side; ``"pad_square": int``: GLEE-Pro's LSJ test mapper, the frame
        padded to that square with the value 128, see ``evalkit.adapters.glee_lsj``) or ``{"square": int}`` (resize to a square)."""
        if task not in self.input_sizes:
            self.weights_for(task)  # raises the unsupported-task error
        size = self.input_sizes[task]
        per = size.get("per_dataset", {})
        if dataset:
            # an exact key, else the longest key the name starts with ("ovis" for "ovis-val")
            keys = [k for k in per if dataset == k or dataset.startswith(k)]
            if keys:
                size = per[max(keys, key=len)]
        return {k: v for k, v in size.items() if k != "per_dataset"}

    def build(self, **overrides: Any) -> Any:
        """Build the architecture: ``builder(**builder_args, **overrides)``."""
        return resolve_target(self.builder, self, "builder")(**{**self.builder_args, **overrides})

    def converter_fn(self) -> Callable[..., Any]:
        return resolve_target(self.converter, self, "converter")


def resolve_target(target: str, card: Card, what: str) -> Any:
    """Import ``"module:attr"`` named by ``card``'s ``what`` field.

    A missing module of the family (the code is not in this version) or a missing attribute
    raises :class:`EvalkitError` saying so; a missing third-party dependency inside an existing
    module names that dependency.
    """
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise EvalkitError(
                f"model {card.id!r}: {card.family} architecture not implemented in this version "
                f"({what} {target!r} not found: no module {missing!r})"
            ) from None
        raise EvalkitError(
            f"model {card.id!r}: {what} {target!r} needs the package {missing!r}, which is not "
            f"installed"
        ) from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise EvalkitError(
                f"model {card.id!r}: {card.family} architecture not implemented in this version "
                f"({what} {target!r}: module {module_name!r} has no {part!r})"
            )
        obj = getattr(obj, part)
    return obj


def _card_from_json(data: dict[str, Any], path: Path) -> Card:
    weights = tuple(
        WeightFile(
            name=w["name"], role=w["role"], sources=tuple(w["sources"]), sha256=w["sha256"],
            unpinned=w.get("unpinned"), tasks=tuple(w.get("tasks", ())), member=w.get("member"),
            notes=w.get("notes", ""),
        )
        for w in data["weights"]
    )
    results = tuple(
        PaperResult(r["table"], r["benchmark"], r.get("split", ""), r["metric"],
                    float(r["value"]), r["printed"], r.get("notes", ""))
        for r in data["paper_results"]
    )
    return Card(
        id=data["id"], family=data["family"], variant=data["variant"], stage=data["stage"],
        description=data["description"], builder=data["builder"],
        builder_args=dict(data["builder_args"]), converter=data["converter"],
        adapter=data["adapter"], license=data["license"], paper=dict(data["paper"]),
        tasks=tuple(data["tasks"]), input_sizes=dict(data["input_sizes"]), weights=weights,
        paper_results=results, notes=data.get("notes", ""), path=path,
    )


def load_card_file(path: Path) -> Card:
    """Read and validate one card file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvalkitError(f"invalid model card {path}: not valid JSON ({exc})") from None
    validate_card(data, str(path))
    if data["id"] != Path(path).stem:
        raise EvalkitError(
            f"invalid model card {path}: id {data['id']!r} differs from the file name"
        )
    return _card_from_json(data, Path(path))


@lru_cache(maxsize=None)
def _all_cards() -> dict[str, Card]:
    return {p.stem: load_card_file(p) for p in sorted(CARDS_DIR.glob("*.json"))}


def list_cards() -> list[Card]:
    """Every card, sorted by id."""
    return [c for _, c in sorted(_all_cards().items())]


def get_card(model_id: str) -> Card:
    """The card of ``model_id``; unknown ids raise :class:`UnknownNameError` with close
    matches."""
    cards = _all_cards()
    if model_id in cards:
        return cards[model_id]
    close = difflib.get_close_matches(model_id, list(cards), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownNameError(
        f"no model card {model_id!r}.{hint} Known models: {', '.join(sorted(cards))}"
    )
