"""Dataset cards: where each dataset of the registered splits comes from, as data.

One JSON file per dataset in ``evalkit/benchmarks/datasets/<id>.json``::

    {"id": "davis", "name": "DAVIS 2017 (trainval, 480p)",
     "folder": "DAVIS",                       # the folder under the data root (catalog "dataset")
     "homepage": "...", "license": "...",
     "access": "open" | "registration" | "manual",
     "files": [{"name": "DAVIS-2017-trainval-480p.zip",
                "url": "https://..." | null,  # null: no direct public link (see "steps")
                "mirrors": ["https://huggingface.co/datasets/..."],
                "sha256": "..." | null,       # null unless the files are fixed and the hash known
                "size": bytes | null,
                "strip": "DAVIS" | null,      # top folder of the archive mapped onto "folder"
                "into": "",                   # sub-folder of "folder" to extract into
                "contents": "...", "login": false}],
     "steps": ["... {root}/DAVIS/..."],       # by-hand steps, {root} = the data root
     "layout": ["DAVIS/JPEGImages/480p/<video>/00000.jpg ...", ...],
     "notes": "...", "source": "where the layout and links are documented"}

Reading cards imports nothing heavy. :func:`missing_data_message` is the one text every
missing-data error ends with: the dataset, every root searched (in precedence order), the
environment variables and the ``evalkit data get`` command.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import DatasetError, EvalkitError, UnknownNameError

__all__ = ["MissingDataError", "DatasetCard", "DatasetFile", "dataset_cards", "get_dataset_card", "card_for_folder",
           "benchmarks_of", "searched_roots", "missing_data_message", "validate_with_hint"]



def _cards_dir() -> Path:
    """The installed ``evalkit.benchmarks.datasets`` folder (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("evalkit.benchmarks.datasets")
    return Path(list(spec.submodule_search_locations)[0])


ACCESS = ("open", "registration", "manual")


class MissingDataError(DatasetError):
    """A dataset's files are absent or incomplete; the message says where it was looked for
    and how to get it (:func:`missing_data_message`)."""

_FILE_KEYS = {"name", "url", "mirrors", "sha256", "size", "strip", "into", "contents", "login"}
_CARD_KEYS = {"id", "name", "folder", "homepage", "license", "access", "files", "steps", "layout",
              "notes", "source"}


@dataclass(frozen=True)
class DatasetFile:
    """One downloadable archive or file of a dataset (see the module docstring for fields)."""

    name: str
    url: str | None
    mirrors: tuple[str, ...] = ()
    sha256: str | None = None
    size: int | None = None
    strip: str | None = None
    into: str = ""
    contents: str = ""
    login: bool = False

    @property
    def downloadable(self) -> bool:
        return bool(self.url) and not self.login


@dataclass(frozen=True)
class DatasetCard:
    id: str
    name: str
    folder: str
    homepage: str
    license: str
    access: str
    files: tuple[DatasetFile, ...]
    steps: tuple[str, ...] = ()
    layout: tuple[str, ...] = ()
    notes: str = ""
    source: str = ""
    path: Path = field(default=Path(), compare=False)

    @property
    def env_var(self) -> str:
        """The per-dataset root variable read by :func:`evalkit.benchmarks.base.resolve_data_root`."""
        return "EVALKIT_DATA_" + self.folder.upper().replace("-", "_").replace(".", "_")

    def steps_for(self, root: Path) -> list[str]:
        return [s.replace("{root}", str(root)) for s in self.steps]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "folder": self.folder, "homepage": self.homepage,
                "license": self.license, "access": self.access, "env": self.env_var,
                "files": [f.__dict__ for f in self.files], "steps": list(self.steps),
                "layout": list(self.layout), "notes": self.notes, "source": self.source,
                "benchmarks": benchmarks_of(self.folder)}


def _load(path: Path) -> DatasetCard:
    where = path.name
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise EvalkitError(f"dataset card {path}: not readable JSON ({e})") from None
    extra = set(data) - _CARD_KEYS
    if extra or not {"id", "folder", "access", "files"} <= set(data):
        raise EvalkitError(f"dataset card {where}: expected the keys {sorted(_CARD_KEYS)}, "
                           f"got unknown {sorted(extra)} / missing id, folder, access or files")
    if data["access"] not in ACCESS:
        raise EvalkitError(f"dataset card {where}: access must be one of {ACCESS}, got {data['access']!r}")
    files = []
    for i, f in enumerate(data["files"]):
        if set(f) - _FILE_KEYS or "name" not in f:
            raise EvalkitError(f"dataset card {where}: files[{i}]: expected keys among {sorted(_FILE_KEYS)}")
        sha = f.get("sha256")
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise EvalkitError(f"dataset card {where}: files[{i}].sha256: expected 64 hex digits or null")
        files.append(DatasetFile(f["name"], f.get("url"), tuple(f.get("mirrors", ())), sha, f.get("size"),
                                 f.get("strip"), f.get("into", "") or "", f.get("contents", ""),
                                 bool(f.get("login", False))))
    return DatasetCard(data["id"], data.get("name", data["id"]), data["folder"], data.get("homepage", ""),
                       data.get("license", ""), data["access"], tuple(files), tuple(data.get("steps", ())),
                       tuple(data.get("layout", ())), data.get("notes", ""), data.get("source", ""), path)


@lru_cache(maxsize=1)
def dataset_cards() -> dict[str, DatasetCard]:
    """Every dataset card, by id (sorted)."""
    cards = [_load(p) for p in sorted(_cards_dir().glob("*.json"))]
    return {c.id: c for c in cards}


def get_dataset_card(name: str) -> DatasetCard:
    """A card by id or by data-root folder name (``davis`` or ``DAVIS``)."""
    cards = dataset_cards()
    if name in cards:
        return cards[name]
    by_folder = card_for_folder(name)
    if by_folder is not None:
        return by_folder
    import difflib

    names = sorted(cards)
    close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownNameError(f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(names)} "
                           f"(see `evalkit data ls`)")


def card_for_folder(folder: str) -> DatasetCard | None:
    for c in dataset_cards().values():
        if c.folder == folder or c.folder.lower() == folder.lower():
            return c
    return None


def benchmarks_of(folder: str) -> list[str]:
    """Registered benchmark ids whose data lives in ``folder`` (no imports of readers)."""
    from .registry import BENCHMARKS

    return [i for i in BENCHMARKS.ids() if BENCHMARKS.get(i).meta.get("dataset", i) == folder]


def searched_roots(folder: str, data_root: str | os.PathLike | None) -> list[tuple[str, Path | None]]:
    """``[(how, path)]`` in :func:`resolve_data_root`'s precedence order; ``path`` None when
    that way is not set. The first non-None entry is the one used."""
    key = "EVALKIT_DATA_" + folder.upper().replace("-", "_").replace(".", "_")
    env = os.environ
    return [
        ("--data-root", Path(data_root) / folder if data_root is not None else None),
        (f"${key}", Path(env[key]) if env.get(key) else None),
        ("$EVALKIT_DATA", Path(env["EVALKIT_DATA"]) / folder if env.get("EVALKIT_DATA") else None),
        ("./datasets", Path("datasets") / folder),
    ]


def missing_data_message(folder: str, data_root: str | os.PathLike | None) -> str:
    """``dataset X ... searched: ...; set ...; get it with `evalkit data get ...```."""
    card = card_for_folder(folder)
    roots = searched_roots(folder, data_root)
    used = next(p for _, p in roots if p is not None)
    shown = "; ".join(f"{how} = {p.resolve() if p is not None else '(not set)'}"
                      + (" <- used" if p is used else "") for how, p in roots)
    key = roots[1][0]
    name = f"{card.name} ({card.id})" if card else folder
    get = (f"`evalkit data get {card.id} --root DIR`" + (" (prints the steps: it needs a login or a "
           "manual download)" if card.access != "open" else "")) if card else "its official release"
    state = "is incomplete at" if used.is_dir() else "is not at"
    return (f"dataset {name} {state} {used.resolve()}. Roots searched, first set wins: {shown}. "
            f"Point --data-root, {key} or $EVALKIT_DATA at it, or get it with {get}")


def validate_with_hint(bench: Any, benchmark_id: str, data_root: str | os.PathLike | None) -> None:
    """``bench.validate()``; a :class:`DatasetError` gains :func:`missing_data_message` (the
    original line first, so the file the reader expected stays named)."""
    from .registry import BENCHMARKS

    try:
        bench.validate()
    except MissingDataError:
        raise
    except DatasetError as e:
        folder = BENCHMARKS.get(benchmark_id).meta.get("dataset", benchmark_id)
        if folder.startswith("shapes-"):
            raise  # generated datasets: the reader's own message says how they are made
        raise MissingDataError(f"{e} — {missing_data_message(folder, data_root)}") from None
