"""Weights: locate, download, verify and load official checkpoints; cache converted ones.

One loader for every model (DESIGN "Weights"):

* :func:`fetch_weights` resolves one weight file of a model card to a local path. Sources are
  tried in the card's order: ``hf://`` (Hugging Face model, Space or dataset repos through
  ``huggingface_hub``, which honours ``HF_HOME``/``HF_HUB_CACHE``/``HF_TOKEN``), ``http(s)``
  URLs (resumable, see :mod:`evalkit.download`) into the evalkit cache, local paths.
  ``HF_ENDPOINT`` (a hub mirror) is honoured as well. A file is
  verified against the card's sha256; an unpinned file has the hash of its first download
  recorded in the cache and is reported "unpinned" until the card pins it.
* Offline (``HF_HUB_OFFLINE`` or ``EVALKIT_OFFLINE`` set to 1/true/yes) nothing touches the
  network; a missing file raises :class:`WeightsError` naming the file and every place looked.
* :func:`load_state_dict_safely` (from :mod:`evalkit.safe_load`) reads safetensors or
  ``torch.load(weights_only=True)``; a checkpoint that needs pickled code is refused.
* :func:`load_converted` caches our-layout state dicts as safetensors keyed by (source sha256,
  converter version).

Cache layout (root ``$EVALKIT_CACHE`` or ``~/.cache/evalkit``)::

    weights/<model-id>/<file name>          URL downloads (complete, verified files only)
    weights/<model-id>/<file name>.json     record: sha256, source, path, size, mtime, inode, ctime
    converted/<model-id>/<stem>-<sha16>-v<version>.safetensors
    converted/<model-id>/<stem>-<sha16>-v<version>.safetensors.sha256.json   its sha256

Integrity policy: a weight file's hash is reused from its record only while the file's size,
mtime, inode and ctime are unchanged (an edit with the mtime restored still changes the
ctime), else it is hashed again; a converted cache entry is re-hashed on every load against
the digest stored beside it and rebuilt when it differs or is unreadable.

torch is imported only inside the functions that load tensors.
"""
from __future__ import annotations

import json
import logging
import os
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Union

from .download import download_url, sha256_file
from .safe_load import load_state_dict_safely
from .errors import EvalkitError, WeightsError
from .fileio import atomic_write_json, file_mode

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .zoo.cards import Card, WeightFile

__all__ = [
    "cache_root", "is_offline", "fetch_weights", "weights_sha256",
    "file_status", "load_state_dict_safely", "load_converted", "converter_version", "HfSource", "parse_hf_source",
]

log = logging.getLogger("evalkit.hub")

CardOrId = Union[str, "Card"]
_TRUE = {"1", "true", "yes", "on"}


def cache_root() -> Path:
    """``$EVALKIT_CACHE`` or ``~/.cache/evalkit`` (read at call time)."""
    root = os.environ.get("EVALKIT_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "evalkit"


def is_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``EVALKIT_OFFLINE`` is set to 1/true/yes/on."""
    return any(os.environ.get(k, "").strip().lower() in _TRUE
               for k in ("HF_HUB_OFFLINE", "EVALKIT_OFFLINE"))


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
    ``~/.cache/huggingface/hub`` (read at call time, so tests and users can redirect it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


# -- sources -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HfSource:
    """``hf://[spaces/|datasets/]owner/repo/path/in/repo[@revision]``."""

    repo_id: str
    repo_type: str  # "model" | "space" | "dataset"
    filename: str
    revision: str | None

    @property
    def cache_folder(self) -> str:
        """The repo's folder in the HF cache (``models--owner--repo``, ``spaces--...``)."""
        return f"{self.repo_type}s--" + self.repo_id.replace("/", "--")


def parse_hf_source(src: str) -> HfSource:
    body = src[len("hf://"):]
    body, _, revision = body.partition("@")
    repo_type = "model"
    for prefix, kind in (("spaces/", "space"), ("datasets/", "dataset")):
        if body.startswith(prefix):
            body, repo_type = body[len(prefix):], kind
    parts = body.split("/")
    if len(parts) < 3 or not all(parts):
        raise WeightsError(f"bad Hugging Face source {src!r}: expected "
                           f"'hf://[spaces/]owner/repo/path/in/repo[@revision]'")
    return HfSource("/".join(parts[:2]), repo_type, "/".join(parts[2:]), revision or None)


def bundled_path(src: str) -> Path:
    """``pkg://package.name/file`` → the file inside the installed package (found without
    importing it, so from any working directory and without torch)."""
    import importlib.util

    package, _, rel = src[len("pkg://"):].partition("/")
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.submodule_search_locations or not rel:
        raise WeightsError(f"bad bundled source {src!r}: expected 'pkg://<installed package>/<file>'")
    return Path(list(spec.submodule_search_locations)[0]) / rel


def _local_path(src: str) -> Path | None:
    if src.startswith("pkg://"):
        return bundled_path(src)
    if src.startswith("file://"):
        return Path(src[len("file://"):]).expanduser()
    if src.startswith(("/", "./", "~")):
        return Path(src).expanduser()
    return None


# -- records -----------------------------------------------------------------------------------
def _card(card_or_id: CardOrId) -> "Card":
    from .zoo.cards import get_card

    return get_card(card_or_id) if isinstance(card_or_id, str) else card_or_id


def _download_path(card: "Card", wf: "WeightFile") -> Path:
    return cache_root() / "weights" / card.id / wf.name


def _record_path(card: "Card", wf: "WeightFile") -> Path:
    return cache_root() / "weights" / card.id / (wf.name + ".json")


def _read_record(card: "Card", wf: "WeightFile") -> dict[str, Any] | None:
    try:
        return json.loads(_record_path(card, wf).read_text())
    except (OSError, ValueError):
        return None


def _stat_key(st: os.stat_result) -> dict[str, int]:
    """What identifies one version of a file without reading it: size, mtime, inode and ctime.
    ctime cannot be set by a user (restoring the mtime after an edit updates it), so an
    in-place change, a copy or a replacement always changes this key."""
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino,
            "ctime_ns": st.st_ctime_ns}


def _write_record(card: "Card", wf: "WeightFile", path: Path, sha: str, source: str) -> None:
    rec = {"sha256": sha, "source": source, "path": str(path), **_stat_key(path.stat()),
           "pinned": wf.pinned, "recorded_at": time.time()}
    # unique temporary name + fsync + rename: concurrent runs never interleave their records
    atomic_write_json(_record_path(card, wf), rec, indent=1)


def _hash_of(card: "Card", wf: "WeightFile", path: Path) -> tuple[str, dict[str, Any] | None]:
    """sha256 of ``path``; reuses the record when it describes this very version of the file
    (same path, size, mtime, inode and ctime: see :func:`_stat_key`), so multi-GB checkpoints
    are hashed once, not on every run, yet an edited file is always hashed again."""
    rec = _read_record(card, wf)
    key = _stat_key(path.stat())
    if rec and rec.get("path") == str(path) and all(rec.get(k) == v for k, v in key.items()):
        return rec["sha256"], rec
    return sha256_file(path), rec


_warned_unpinned: set[tuple[str, str, str]] = set()


def _verify(card: "Card", wf: "WeightFile", path: Path, source: str, user_file: bool) -> str:
    """Check ``path`` against the card's pin (or the recorded first-download hash); record it.

    A user-supplied file (``weights=PATH``) that differs from the pin only warns: it may be a
    legitimately different checkpoint. A cached file that differs is an error (corruption).
    """
    sha, rec = _hash_of(card, wf, path)
    if wf.sha256 is not None and sha != wf.sha256:
        msg = (f"{wf.name} of model {card.id!r} at {path} has sha256 {sha}, but the card pins "
               f"{wf.sha256}")
        if not user_file:
            raise WeightsError(msg + "; delete the file to download it again")
        log.warning("%s (not the official file?)", msg)
    elif wf.sha256 is None:
        known = rec.get("sha256") if rec and rec.get("source") == source else None
        if known and known != sha and not user_file:
            raise WeightsError(
                f"{wf.name} of model {card.id!r} at {path} changed since its first download "
                f"(sha256 {known} recorded, now {sha}); delete it to download it again"
            )
        if (card.id, wf.name, sha) not in _warned_unpinned:  # once per process and file
            _warned_unpinned.add((card.id, wf.name, sha))
            log.warning("weights %s of model %r are unpinned: sha256 %s recorded (%s); pin it "
                        "in the card %s", wf.name, card.id, sha, wf.unpinned, card.path)
    _write_record(card, wf, path, sha, source)
    return sha


# -- lookup ------------------------------------------------------------------------------------
def _cached_location(card: "Card", wf: "WeightFile", src: str) -> Path | None:
    """Where ``src`` would already be on disk, without any network access."""
    local = _local_path(src)
    if local is not None:
        return local if local.is_file() else None
    if src.startswith("hf://"):
        from huggingface_hub import try_to_load_from_cache

        hf = parse_hf_source(src)
        found = try_to_load_from_cache(hf.repo_id, hf.filename, cache_dir=hf_cache_dir(),
                                       revision=hf.revision, repo_type=hf.repo_type)
        return Path(found) if isinstance(found, str) else None
    path = _download_path(card, wf)
    return path if path.is_file() else None


def _looked_in(card: "Card", wf: "WeightFile") -> list[str]:
    out = []
    for src in wf.sources:
        local = _local_path(src)
        if local is not None:
            out.append(str(local))
        elif src.startswith("hf://"):
            hf = parse_hf_source(src)
            out.append(f"{hf_cache_dir() / hf.cache_folder} (for {src})")
        else:
            out.append(f"{_download_path(card, wf)} (for {src})")
    return out


@contextmanager
def _hf_offline(offline: bool) -> Iterator[None]:
    """huggingface_hub reads HF_HUB_OFFLINE once, at import; besides the file look-up it may
    contact the Hub for other things (its user-agent helper fetches a registry) unless that
    flag is set. Offline here (EVALKIT_OFFLINE, or HF_HUB_OFFLINE set after the import) must
    mean no network at all, so the flag is raised for the duration of the call."""
    if not offline:
        yield
        return
    from huggingface_hub import constants

    old = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = old


def _fetch_source(card: "Card", wf: "WeightFile", src: str, offline: bool) -> Path:
    local = _local_path(src)
    if local is not None:
        if not local.is_file():
            raise WeightsError(f"no such file {local}")
        return local
    if src.startswith("hf://"):
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        hf = parse_hf_source(src)
        try:
            with _hf_offline(offline):
                return Path(hf_hub_download(
                    hf.repo_id, hf.filename, repo_type=hf.repo_type, revision=hf.revision,
                    cache_dir=hf_cache_dir(), local_files_only=offline,
                    token=os.environ.get("HF_TOKEN") or None,
                    endpoint=os.environ.get("HF_ENDPOINT") or None,  # mirrors, read per call
                ))
        except LocalEntryNotFoundError as exc:
            raise WeightsError(f"{hf.filename} is not in the Hugging Face cache "
                               f"{hf_cache_dir() / hf.cache_folder}: {exc}") from None
        except Exception as exc:  # network, auth, missing repo: try the next source
            raise WeightsError(f"{type(exc).__name__}: {exc}") from None
    dest = _download_path(card, wf)
    if wf.member is None:
        download_url(src, dest, wf.sha256)
        return dest
    # A folder share link arrives as a zip archive holding the file.
    archive = dest.with_name(dest.name + ".download")
    download_url(src, archive)
    _extract_member(archive, wf.member, dest)
    return dest


def _extract_member(archive: Path, member: str, dest: Path) -> None:
    """Take ``member`` out of a folder archive; a download that is the file itself (not a
    folder archive: a torch zip checkpoint has ``data.pkl`` inside) is kept as is."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                names = z.namelist()
                hits = [n for n in names if n.rsplit("/", 1)[-1] == member]
                if hits and not any(n.endswith("/data.pkl") for n in names):
                    part = dest.with_name(dest.name + ".part")
                    with z.open(hits[0]) as src, open(part, "wb") as out:
                        while block := src.read(1 << 20):
                            out.write(block)
                    os.replace(part, dest)
                    return
        os.replace(archive, dest)
    finally:
        archive.unlink(missing_ok=True)


# -- public API --------------------------------------------------------------------------------
def fetch_weights(card_or_id: CardOrId, weights: str | os.PathLike | None = None,
                  name: str | None = None) -> Path:
    """Local path of one weight file of a model (the checkpoint unless ``name`` is given).

    ``weights``: a local official file to use instead of the card's sources (verified against
    the pin; a mismatch warns). Otherwise a cached copy is used when present, else each source
    is tried in order. Raises :class:`WeightsError` when offline and missing (naming the file
    and the places looked) or when every source fails (naming each failure).
    """
    card = _card(card_or_id)
    wf = card.weight(name) if name else card.model_weights
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsError(f"--weights {path}: no such file (expected the official "
                               f"{wf.name} of model {card.id!r})")
        _verify(card, wf, path.resolve(), str(path.resolve()), user_file=True)
        return path
    offline = is_offline()
    for src in wf.sources:
        found = _cached_location(card, wf, src) if not (offline and src.startswith("hf://")) \
            else None
        if found is not None:
            _verify(card, wf, found, src, user_file=False)
            return found
    errors = []
    for src in wf.sources:
        if offline and not src.startswith("hf://") and _local_path(src) is None:
            continue  # never touch the network offline
        try:
            path = _fetch_source(card, wf, src, offline)
        except (WeightsError, OSError) as exc:
            errors.append(f"  {src}: {exc}")
            continue
        _verify(card, wf, path, src, user_file=False)
        return path
    where = "\n".join(f"  {w}" for w in _looked_in(card, wf))
    if offline:
        raise WeightsError(
            f"weights {wf.name} of model {card.id!r} are not available offline "
            f"(HF_HUB_OFFLINE/EVALKIT_OFFLINE is set). Looked in:\n{where}\n"
            f"Run `evalkit download --model {card.id}` on a machine with network access and "
            f"copy the cache ({cache_root()}, {hf_cache_dir()}), or pass --weights PATH."
        )
    raise WeightsError(
        f"could not fetch weights {wf.name} of model {card.id!r} from any source:\n"
        + "\n".join(errors) + f"\nLooked in:\n{where}\nBy hand: {manual_steps(card, wf)}."
    )


def weights_sha256(card_or_id: CardOrId, weights: str | os.PathLike | None = None,
                   name: str | None = None) -> str:
    """sha256 of the file :func:`fetch_weights` resolves (for provenance in run.json)."""
    card = _card(card_or_id)
    wf = card.weight(name) if name else card.model_weights
    path = fetch_weights(card, weights, name)
    return _hash_of(card, wf, Path(path).resolve() if weights else Path(path))[0]


def file_status(card_or_id: CardOrId, wf: "WeightFile") -> str:
    """``bundled`` (shipped inside the package) | ``cached`` | ``unpinned`` (present, hash only
    recorded) | ``not cached``; no hashing, no network (cheap enough for ``evalkit ls``)."""
    card = _card(card_or_id)
    for src in wf.sources:
        if _cached_location(card, wf, src) is not None:
            if src.startswith("pkg://"):
                return "bundled"
            return "cached" if wf.pinned else "unpinned"
    return "not cached"


def manual_steps(card: "Card", wf: "WeightFile") -> str:
    """What to do by hand when no source can be fetched: for a share *folder* (``member`` set),
    the exact file to take from it; always the path it must end up at (or ``--weights``)."""
    dest = _download_path(card, wf)
    folder = [s for s in wf.sources if "/:f:/" in s or "drive.google.com/drive/folders" in s]
    lines = []
    if folder and wf.member:
        lines.append(f"open {folder[0]} in a browser, download the file {wf.member}"
                     + (f" ({wf.notes})" if wf.notes else ""))
    else:
        lines.append(f"download {wf.name} from {wf.sources[0]}" + (f" ({wf.notes})" if wf.notes else ""))
    lines.append(f"save it as {dest} (or pass --weights PATH to `evalkit run`)")
    return "; ".join(lines)


# -- converted-weights cache -------------------------------------------------------------
def converter_version(fn: Callable[..., Any]) -> str:
    """The version keying a converter's cached output: ``fn.version``, else its module's
    ``CONVERTER_VERSION`` (the one lookup; adapter factories call it too)."""
    import sys

    version = getattr(fn, "version", None)
    if version is None:
        version = getattr(sys.modules.get(getattr(fn, "__module__", "") or ""), "CONVERTER_VERSION",
                          None)
    if version is None:
        raise EvalkitError(
            f"converter {getattr(fn, '__qualname__', fn)!r} has no version: set "
            f"`fn.version` or a module-level CONVERTER_VERSION (the converted-weights cache is "
            f"keyed by it)"
        )
    return str(version)


def _savable(state: "dict[str, torch.Tensor]") -> "dict[str, torch.Tensor]":
    """safetensors refuses tensors sharing memory (DETR-style aliased heads appear twice in a
    state dict) and non-contiguous ones: give each such entry its own contiguous copy."""
    seen: set[int] = set()
    out = {}
    for k, v in state.items():
        ptr = v.untyped_storage().data_ptr() if v.numel() else None
        if (ptr is not None and ptr in seen) or not v.is_contiguous():
            v = v.contiguous().clone()
        if ptr is not None:
            seen.add(ptr)
        out[k] = v
    return out


def load_converted(
    model_id: str,
    weights: str | os.PathLike | None = None,
    convert_fn: Callable[["dict[str, torch.Tensor]"], "dict[str, torch.Tensor]"] | None = None,
    *,
    name: str | None = None,
    version: str | None = None,
) -> "dict[str, torch.Tensor]":
    """Our-layout state dict of a model, converted once and cached as safetensors.

    ``convert_fn(official_state_dict) -> our_state_dict`` defaults to the card's converter.
    The cache key is (sha256 of the official file, converter version); ``version`` defaults to
    ``convert_fn.version`` or the converter module's ``CONVERTER_VERSION``. Entries of the same
    source made by another converter version are deleted (invalidated) when a new one is made.
    Timings of conversion and cache hits are logged on ``evalkit.hub``.
    """
    from safetensors.torch import save_file

    card = _card(model_id)
    wf = card.weight(name) if name else card.model_weights
    fn = convert_fn if convert_fn is not None else card.converter_fn()
    version = str(version) if version is not None else converter_version(fn)
    if "/" in version or not version:
        raise EvalkitError(f"bad converter version {version!r}")
    path = fetch_weights(card, weights, wf.name)
    sha = _hash_of(card, wf, Path(path).resolve() if weights else Path(path))[0]
    folder = cache_root() / "converted" / card.id
    stem = f"{Path(wf.name).stem}-{sha[:16]}"
    target = folder / f"{stem}-v{version}.safetensors"
    t0 = time.perf_counter()
    state = _load_cached_conversion(card.id, target)
    if state is not None:
        log.info("converted weights of %s: cache hit %s (%.3f s)", card.id, target.name,
                 time.perf_counter() - t0)
        return state
    for stale in folder.glob(f"{stem}-v*.safetensors"):
        log.info("converted weights of %s: invalidating %s (converter version now %s)",
                 card.id, stale.name, version)
        stale.unlink(missing_ok=True)
        _digest_path(stale).unlink(missing_ok=True)
    official = load_state_dict_safely(path)
    state = fn(official)
    if not isinstance(state, dict):
        raise EvalkitError(f"converter of {card.id!r} returned {type(state).__name__}, expected a dict")
    folder.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        save_file(_savable(state), str(part), metadata={
            "model_id": card.id, "source_sha256": sha, "converter_version": version})
        digest = sha256_file(part)
        os.chmod(part, file_mode())
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    # written after the file: a cache entry without its digest is never trusted
    atomic_write_json(_digest_path(target), {"sha256": digest, "size": target.stat().st_size})
    log.info("converted weights of %s: converted and cached %s (%.3f s)", card.id, target.name,
             time.perf_counter() - t0)
    return state


def _digest_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256.json")


def _load_cached_conversion(model_id: str, target: Path) -> "dict[str, torch.Tensor] | None":
    """The cached converted state dict, or ``None`` when there is none or it cannot be trusted.

    Policy: every load re-hashes the cached file and compares it with the sha256 stored beside
    it when it was written (``<name>.sha256.json``); a missing digest, a different hash (a bit
    flip, a truncated or replaced file) or a file safetensors cannot read means the entry is
    deleted and the conversion made again. Cost: one sha256 pass over the converted file per
    load (it is then read from the page cache by ``load_file``).
    """
    from safetensors.torch import load_file

    if not target.is_file():
        return None
    why = None
    try:
        digest = json.loads(_digest_path(target).read_text())
        if not isinstance(digest, dict) or not isinstance(digest.get("sha256"), str):
            raise ValueError("no sha256 field")
    except (OSError, ValueError):
        digest, why = None, "it has no stored sha256"
    if digest is not None:
        actual = sha256_file(target)
        if actual != digest["sha256"]:
            why = f"its sha256 {actual} differs from the stored {digest['sha256']} (damaged)"
        else:
            try:
                return load_file(str(target))
            except Exception as exc:  # noqa: BLE001 - any unreadable file is rebuilt
                why = f"it cannot be read ({exc})"
    log.warning("converted weights of %s: rebuilding the cache entry %s: %s", model_id, target, why)
    target.unlink(missing_ok=True)
    _digest_path(target).unlink(missing_ok=True)
    return None
