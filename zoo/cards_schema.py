"""Schema of a model card (``zoo/cards/<model-id>.json``) and its validator.

A card is data, not code: where the official weights live, how to build and convert the model,
which tasks it serves at which input size, and the numbers its paper reports. The validator
checks every field and names the file and the field path on error, e.g.
``uninext-r50.json: weights[0].sources[1]: expected 'hf://', 'http(s)://', 'file://' or a path``.

Card fields (all required unless marked optional):

==================  ==========================================================================
``id``              model id ``family-backbone[-stage]``, equal to the file name stem
``family``          ``uninext`` | ``uniref`` | ``glee`` | ``univs`` | ``grounding-dino`` |
                    ``owlv2`` | ``mask2former`` | ``sam2`` (transformers models)
``variant``         backbone/size name (``r50``, ``swin-l``, ``lite``)
``stage``           training stage the checkpoint comes from (``video-joint``, ``stage3``...)
``description``     one line for ``evalkit ls models``
``builder``         ``"module:function"`` building the architecture; ``builder_args`` (dict)
``converter``       ``"module:function"`` mapping an official state dict onto ours
``adapter``         ``"module:function"`` adapter factory registered in ``MODELS``
``license``         SPDX id or short licence name of the official weights
``paper``           ``{"title", "venue", "arxiv"}`` (``arxiv`` optional)
``tasks``           list of task names (see :data:`TASKS`)
``input_sizes``     ``{task: {"min_size": int, "max_size": int | null, "pad_square"?: int,
                    "per_dataset"?: {dataset: {...}}}}`` (shorter side, cap on the longer
                    side, pad to a square) or ``{task: {"square": int}}`` (resize to a square)
``weights``         list of weight files: ``{"name", "role", "sources": [...], "sha256",
                    "unpinned"?, "tasks"?, "member"?, "notes"?}``
``paper_results``   list of ``{"table", "benchmark", "split", "metric", "value", "printed",
                    "notes"}`` as the paper prints them: a selection of the cells that
                    ``reports/data/paper_results.csv`` (the one source of the papers' numbers)
                    attributes to this model, checked against it by the tests
``notes``           optional free text (caveats)
==================  ==========================================================================

A weight file's ``sha256`` is 64 lower-case hex digits, or ``null`` together with an
``unpinned`` string saying why it is not pinned yet (the first download records the hash it
saw; evalkit then warns "unpinned" until the card pins it). ``tasks`` (optional) restricts a
file to the tasks that need it (UniVS loads its CLIP text tower only for R-VOS). ``member``
(optional) names the file inside a downloaded folder archive.
"""
from __future__ import annotations

import re
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.tasks import TASKS as _TASK_NAMES

__all__ = ["TASKS", "FAMILIES", "ROLES", "validate_card", "validate_source"]

#: The task names (:data:`evalkit.tasks.TASKS`), as a set.
TASKS = frozenset(_TASK_NAMES)
#: the four families implemented here, and the transformers models evaluated through
#: ``evalkit.adapters.hf`` (weights and architecture from the hub, no converter of ours)
FAMILIES = frozenset({"uninext", "uniref", "glee", "univs", "grounding-dino", "owlv2", "mask2former", "sam2"})
#: What a weight file is for: the checkpoint itself, a separately shipped text tower,
#: precomputed class embeddings, tokenizer files, configuration files (``config.json`` and
#: ``preprocessor_config.json`` of a transformers model).
ROLES = frozenset({"model", "text-encoder", "class-embeddings", "tokenizer", "config"})

_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HF = re.compile(r"^hf://(spaces/|datasets/)?[\w.-]+/[\w.-]+/[^@]+(@[\w./-]+)?$")

_REQUIRED = {
    "id": str, "family": str, "variant": str, "stage": str, "description": str,
    "builder": str, "builder_args": dict, "converter": str, "adapter": str, "license": str,
    "paper": dict, "tasks": list, "input_sizes": dict, "weights": list, "paper_results": list,
}
_OPTIONAL = {"notes": str}
_WEIGHT_KEYS = {"name", "role", "sources", "sha256", "unpinned", "tasks", "member", "notes"}
_RESULT_KEYS = {"table", "benchmark", "split", "metric", "value", "printed", "notes"}


def _fail(where: str, msg: str) -> None:
    raise EvalkitError(f"invalid model card {where}: {msg}")


def _type(where: str, value: Any, typ: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
        _fail(where, f"expected {what}, got {type(value).__name__} {value!r}")


def validate_source(src: Any, where: str) -> None:
    """A source is ``hf://[spaces/]repo_owner/repo_name/path/in/repo[@revision]``, an
    ``http(s)://`` URL (Google Drive and SharePoint/OneDrive share links included), a
    ``file://`` URL or a local path."""
    _type(where, src, str, "a source string")
    if src.startswith("hf://"):
        if not _HF.match(src):
            _fail(where, f"expected 'hf://[spaces/]owner/repo/path[@revision]', got {src!r}")
    elif src.startswith("pkg://"):  # bundled: a file inside an installed package
        if not re.match(r"^pkg://[\w.]+/[^/].*$", src):
            _fail(where, f"expected 'pkg://<package>/<file>', got {src!r}")
    elif not (src.startswith(("http://", "https://", "file://", "/", "./", "~"))):
        _fail(where, f"expected 'hf://', 'http(s)://', 'file://', 'pkg://' or a path, got {src!r}")


def _validate_size(where: str, size: Any) -> None:
    _type(where, size, dict, "an object {min_size, max_size}")
    extra = set(size) - {"min_size", "max_size", "per_dataset", "square", "pad_square"}
    if extra:
        _fail(where, f"unknown keys {sorted(extra)}")
    if "square" in size:
        _type(f"{where}.square", size["square"], int, "an int (square input side)")
    else:
        _type(f"{where}.min_size", size.get("min_size"), int, "an int (shorter side)")
        if size.get("max_size") is not None:
            _type(f"{where}.max_size", size["max_size"], int, "an int or null (longer side cap)")
        if "pad_square" in size:
            _type(f"{where}.pad_square", size["pad_square"], int, "an int (pad to a square)")
    for ds, sub in size.get("per_dataset", {}).items():
        _validate_size(f"{where}.per_dataset.{ds}", sub)


def _validate_weight(where: str, w: Any, tasks: list[str]) -> None:
    _type(where, w, dict, "an object")
    extra = set(w) - _WEIGHT_KEYS
    if extra:
        _fail(where, f"unknown keys {sorted(extra)} (allowed: {sorted(_WEIGHT_KEYS)})")
    _type(f"{where}.name", w.get("name"), str, "a file name")
    if "/" in w["name"] or w["name"] in ("", ".", ".."):
        _fail(f"{where}.name", f"expected a plain file name, got {w['name']!r}")
    if w.get("role") not in ROLES:
        _fail(f"{where}.role", f"expected one of {sorted(ROLES)}, got {w.get('role')!r}")
    _type(f"{where}.sources", w.get("sources"), list, "a non-empty list of sources")
    if not w["sources"]:
        _fail(f"{where}.sources", "expected at least one source")
    for i, s in enumerate(w["sources"]):
        validate_source(s, f"{where}.sources[{i}]")
    if "sha256" not in w:
        _fail(f"{where}.sha256", "missing (write null plus an 'unpinned' reason if unknown)")
    sha = w["sha256"]
    if sha is None:
        if not isinstance(w.get("unpinned"), str) or not w["unpinned"].strip():
            _fail(f"{where}.unpinned", "sha256 is null: say why the file is not pinned yet")
    elif not isinstance(sha, str) or not _SHA256.match(sha):
        _fail(f"{where}.sha256", f"expected 64 lower-case hex digits or null, got {sha!r}")
    elif "unpinned" in w:
        _fail(f"{where}.unpinned", "a pinned file (sha256 set) cannot also be 'unpinned'")
    for t in w.get("tasks", []):
        if t not in tasks:
            _fail(f"{where}.tasks", f"{t!r} is not one of the card's tasks {tasks}")
    if "member" in w:
        _type(f"{where}.member", w["member"], str, "a file name inside the archive")


def _validate_result(where: str, r: Any) -> None:
    _type(where, r, dict, "an object")
    missing = {"table", "benchmark", "metric", "value", "printed"} - set(r)
    if missing:
        _fail(where, f"missing keys {sorted(missing)}")
    extra = set(r) - _RESULT_KEYS
    if extra:
        _fail(where, f"unknown keys {sorted(extra)}")
    _type(f"{where}.value", r["value"], (int, float), "a number")
    _type(f"{where}.printed", r["printed"], str, "the value as printed")
    try:
        printed = float(r["printed"])
    except ValueError:
        _fail(f"{where}.printed", f"not a number: {r['printed']!r}")
    if abs(printed - r["value"]) > 1e-9:
        _fail(where, f"value {r['value']} differs from printed {r['printed']!r}")


def validate_card(data: Any, where: str) -> None:
    """Check one card's decoded JSON; raise :class:`EvalkitError` naming ``where`` and the
    field on the first problem."""
    _type(where, data, dict, "a JSON object")
    for key, typ in _REQUIRED.items():
        if key not in data:
            _fail(where, f"missing field {key!r}")
        _type(f"{where}: {key}", data[key], typ, typ.__name__)
    extra = set(data) - set(_REQUIRED) - set(_OPTIONAL)
    if extra:
        _fail(where, f"unknown fields {sorted(extra)}")
    if not _ID.match(data["id"]):
        _fail(f"{where}: id", f"expected lower-case words joined by '-', got {data['id']!r}")
    if data["family"] not in FAMILIES:
        _fail(f"{where}: family", f"expected one of {sorted(FAMILIES)}, got {data['family']!r}")
    if not data["id"].startswith(data["family"]):
        _fail(f"{where}: id", f"{data['id']!r} must start with its family {data['family']!r}")
    for key in ("builder", "converter", "adapter"):
        if not _TARGET.match(data[key]):
            _fail(f"{where}: {key}", f"expected 'package.module:function', got {data[key]!r}")
    for key in ("title", "venue"):
        _type(f"{where}: paper.{key}", data["paper"].get(key), str, "a string")
    tasks = data["tasks"]
    if not tasks:
        _fail(f"{where}: tasks", "expected at least one task")
    for t in tasks:
        if t not in TASKS:
            _fail(f"{where}: tasks", f"unknown task {t!r} (known: {sorted(TASKS)})")
    for t, size in data["input_sizes"].items():
        if t not in tasks:
            _fail(f"{where}: input_sizes", f"{t!r} is not one of the card's tasks {tasks}")
        _validate_size(f"{where}: input_sizes.{t}", size)
    missing_sizes = set(tasks) - set(data["input_sizes"])
    if missing_sizes:
        _fail(f"{where}: input_sizes", f"no input size for tasks {sorted(missing_sizes)}")
    if not data["weights"]:
        _fail(f"{where}: weights", "expected at least one weight file")
    names = [w.get("name") for w in data["weights"] if isinstance(w, dict)]
    if len(set(names)) != len(names):
        _fail(f"{where}: weights", f"duplicate file names {names}")
    for i, w in enumerate(data["weights"]):
        _validate_weight(f"{where}: weights[{i}]", w, tasks)
    if sum(1 for w in data["weights"] if w["role"] == "model") != 1:
        _fail(f"{where}: weights", "expected exactly one file with role 'model'")
    for i, r in enumerate(data["paper_results"]):
        _validate_result(f"{where}: paper_results[{i}]", r)
