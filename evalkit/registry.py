"""Registries of models, adapters, benchmarks and metrics.

Entries are registered *lazily*: an entry holds an import path (``"package.module:attr"``) and
metadata (id, tags, task, description), so listing never imports torch or model code. The
target is imported the first time :meth:`Registry.load` is called.

Registries are populated on first use from

1. built-in *providers*: modules whose import registers entries (each registry names them);
2. installed plugins: entry points in the groups ``evalkit.models``, ``evalkit.adapters``,
   ``evalkit.benchmarks`` and ``evalkit.metrics``; an entry point's object, if callable, is
   called without arguments, otherwise importing it is enough;
3. the ``EVALKIT_PLUGINS`` environment variable: comma-separated module names to import.

A registry may have a *resolver* for names with a colon, which no registered id has: the model
registry resolves ``path/to/file.py:factory`` and ``package.module:factory`` to a hidden entry
of a user's own model (:mod:`evalkit.user_model`).

Selection (:meth:`Registry.select`) accepts ids, tag names, group names and ``fnmatch``
patterns (``'ref*'``); an unknown name raises :class:`~evalkit.errors.UnknownNameError` with
close matches ("did you mean") and the list of valid names.
"""
from __future__ import annotations

import difflib
import fnmatch
import importlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .errors import EvalkitError, UnknownNameError

__all__ = ["Entry", "Registry", "MODELS", "ADAPTERS", "BENCHMARKS", "METRICS", "import_target", "task_pairs"]


def import_target(target: str | Callable) -> Any:
    """Import ``"pkg.module:attr"`` (or return ``target`` when it is already an object)."""
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


@dataclass
class Entry:
    """One registered name.

    Attributes:
        id: the public name (``uninext-r50``, ``davis17-val``, ``coco-bbox``).
        target: ``"module:attr"`` import path or the object itself.
        tags: tags and groups the entry belongs to (selection by tag).
        task: the task it serves (``det``, ``vos``, ...), if any.
        description: one line for ``evalkit ls``.
        meta: free metadata (JSON-serialisable), shown by ``evalkit ls --json``.
    """

    id: str
    target: str | Callable
    kind: str
    tags: tuple[str, ...] = ()
    task: str | None = None
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    hidden: bool = False

    def load(self) -> Any:
        try:
            return import_target(self.target)
        except ModuleNotFoundError as e:
            target = self.target if isinstance(self.target, str) else ""
            if e.name and target.startswith(e.name):
                raise EvalkitError(
                    f"{self.kind} {self.id!r} is registered, but its implementation ({target}) "
                    f"is not available in this version of evalkit"
                ) from None
            raise EvalkitError(
                f"{self.kind} {self.id!r} needs the Python package {e.name!r}, which is not "
                f"installed (pip install {e.name})"
            ) from None
        except AttributeError as e:
            raise EvalkitError(f"{self.kind} {self.id!r}: cannot load {self.target}: {e}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "task": self.task,
            "tags": list(self.tags),
            "description": self.description,
            **({"meta": self.meta} if self.meta else {}),
        }


class Registry:
    """A thread-safe, lazily populated name → :class:`Entry` mapping."""

    def __init__(self, kind: str, providers: Iterable[str] = (), entry_point_group: str | None = None,
                 resolver: str | None = None):
        self.kind = kind
        self._resolver = resolver  # "module:function(registry, name) -> Entry" for names with a colon
        self._providers = list(providers)
        self._group = entry_point_group
        self._entries: dict[str, Entry] = {}
        self._groups: dict[str, tuple[str, ...]] = {}
        self._group_desc: dict[str, str] = {}
        self._lock = threading.RLock()
        self._populated = False

    # -- registration ------------------------------------------------------------------------
    def register(
        self,
        id: str,
        target: str | Callable,
        *,
        tags: Iterable[str] = (),
        task: str | None = None,
        description: str = "",
        overwrite: bool = False,
        hidden: bool = False,
        **meta: Any,
    ) -> Entry:
        """Register ``id``; a second registration of the same id is an error unless
        ``overwrite``. ``hidden`` entries resolve by exact id but are not listed (tests)."""
        with self._lock:
            if id in self._entries and not overwrite:
                raise EvalkitError(f"{self.kind} {id!r} is registered twice")
            e = Entry(id, target, self.kind, tuple(tags), task, description, dict(meta), hidden)
            self._entries[id] = e
            return e

    def register_group(self, name: str, members: Iterable[str], description: str = "") -> None:
        """A named group (``uninext-20``): selecting it selects the members, in order."""
        with self._lock:
            self._groups[name] = tuple(members)
            self._group_desc[name] = description

    def unregister(self, id: str) -> None:
        with self._lock:
            self._entries.pop(id, None)

    # -- population --------------------------------------------------------------------------
    def _populate(self) -> None:
        if self._populated:
            return
        with self._lock:
            if self._populated:
                return
            self._populated = True
            for mod in self._providers:
                importlib.import_module(mod)
            if self._group:
                from importlib.metadata import entry_points

                for ep in entry_points(group=self._group):
                    obj = ep.load()
                    if callable(obj) and not isinstance(obj, type):
                        obj()
            for mod in filter(None, os.environ.get("EVALKIT_PLUGINS", "").split(",")):
                importlib.import_module(mod.strip())

    # -- lookup ------------------------------------------------------------------------------
    def ids(self, include_hidden: bool = False) -> list[str]:
        self._populate()
        return sorted(i for i, e in self._entries.items() if include_hidden or not e.hidden)

    def groups(self) -> dict[str, tuple[str, ...]]:
        self._populate()
        return dict(self._groups)

    def group_description(self, name: str) -> str:
        return self._group_desc.get(name, "")

    def tags(self) -> dict[str, list[str]]:
        """tag/group name → member ids."""
        self._populate()
        out: dict[str, list[str]] = {}
        for e in self._entries.values():
            if e.hidden:
                continue
            for t in e.tags:
                out.setdefault(t, []).append(e.id)
        for g, members in self._groups.items():
            out.setdefault(g, [])
            for m in members:
                if m not in out[g]:
                    out[g].append(m)
        return out

    def __contains__(self, id: str) -> bool:
        self._populate()
        return id in self._entries

    def _resolved(self, name: str) -> Entry | None:
        """The resolver's entry for ``name`` (a spec with a colon), else ``None``."""
        if self._resolver is None or ":" not in name:
            return None
        return import_target(self._resolver)(self, name)

    def get(self, id: str) -> Entry:
        self._populate()
        if id not in self._entries and (resolved := self._resolved(id)) is not None:
            return resolved
        try:
            return self._entries[id]
        except KeyError:
            members = self.tags().get(id)
            if members:  # a group name where one id is expected: not a typo, say what it holds
                shown = ", ".join(members[:8]) + (" ..." if len(members) > 8 else "")
                raise UnknownNameError(
                    f"{id!r} is a group of {len(members)} {self.kind}s ({shown}), not one {self.kind} "
                    f"id; pass one of them, or select the group with `evalkit run` / evalkit.evaluate()"
                ) from None
            raise UnknownNameError(self._unknown_message(id)) from None

    def load(self, id: str) -> Any:
        return self.get(id).load()

    def _unknown_message(self, name: str) -> str:
        names = self.ids() + list(self._groups)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(names[:40]) + (" ..." if len(names) > 40 else "")
        return (
            f"unknown {self.kind} {name!r}.{hint} "
            f"Known {self.kind}s: {listing or '(none registered)'} "
            f"(see `evalkit ls {self.kind}s`)"
        )

    def select(self, patterns: str | Iterable[str] | None = None) -> list[Entry]:
        """Entries matching ids, tags, groups or fnmatch patterns (comma-separated allowed).

        Order: as the patterns list them (groups keep their order), duplicates removed. A
        name that matches nothing raises UnknownNameError.
        """
        self._populate()
        if patterns is None:
            return [self._entries[i] for i in self.ids()]
        if isinstance(patterns, str):
            patterns = [patterns]
        flat = [p.strip() for ps in patterns for p in ps.split(",") if p.strip()]
        tags = self.tags()
        out: list[str] = []
        for p in flat:
            if p in self._entries:
                hits = [p]
            elif (resolved := self._resolved(p)) is not None:
                hits = [resolved.id]
            elif p in tags:
                hits = tags[p]
            elif any(ch in p for ch in "*?["):
                hits = [i for i in self.ids() if fnmatch.fnmatchcase(i, p)]
                hits += [m for t in sorted(tags) if fnmatch.fnmatchcase(t, p) for m in tags[t]]
                if not hits:
                    raise UnknownNameError(f"no {self.kind} matches the pattern {p!r}")
            else:
                raise UnknownNameError(self._unknown_message(p))
            out.extend(h for h in hits if h not in out)
        return [self._entries[i] for i in out]


MODELS = Registry("model", ["evalkit.zoo.catalog"], "evalkit.models", resolver="evalkit.user_model:resolve_spec")
ADAPTERS = Registry("adapter", ["evalkit.adapters.catalog"], "evalkit.adapters")
BENCHMARKS = Registry("benchmark", ["evalkit.benchmarks.catalog"], "evalkit.benchmarks")
METRICS = Registry("metric", ["evalkit.metrics.catalog"], "evalkit.metrics")


def task_pairs(models: str, benchmarks: str) -> tuple[list[tuple[Entry, Entry]], list[tuple[Entry, Entry]]]:
    """``(runnable, skipped)`` (model entry, benchmark entry) pairs of two selections: a pair is
    skipped when the model declares its tasks (model cards do) and the benchmark's is not one."""
    pairs = [(m, b) for m in MODELS.select(models) for b in BENCHMARKS.select(benchmarks)]
    ok = [(m, b) for m, b in pairs if not m.meta.get("tasks") or b.task in m.meta["tasks"]]
    return ok, [pair for pair in pairs if pair not in ok]
