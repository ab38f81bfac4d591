"""``evalkit data get``: download a dataset's archives, verify, extract into the official layout,
validate.

For every file of the card (:mod:`evalkit.datasets`) that has a public URL:

1. download into ``<root>/.evalkit-downloads/<folder>/<name>`` with :func:`evalkit.download.download_url`
   (resumable ``.part`` + HTTP Range, a progress bar on a terminal, at most 2 retries); a card
   sha256 is checked (a mismatch deletes the file); an unpinned archive has its sha256
   recorded beside it (``<name>.sha256``) on first download, and a later different hash of the
   same name is refused;
2. extract into a temporary folder ``<root>/.evalkit-extract-<folder>-<name>/`` — a member
   with an absolute path, a ``..`` component, a link or a device is refused before anything
   is written — then move it into ``<root>/<folder>/<into>/`` by renames (the archive's
   ``strip`` top folder mapped onto the dataset folder), so a half-extracted archive never
   shows up in the layout;
3. ``validate`` every registered benchmark of that folder.

Files without a public URL (registration, login, manual preparation) are not fetched: the
card's steps are printed with the target paths filled in.
"""
from __future__ import annotations

import logging
import os
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .datasets import DatasetCard, DatasetFile, benchmarks_of
from .errors import DatasetError, EvalkitError, WeightsError

__all__ = ["GetReport", "get_dataset", "safe_members", "extract_archive"]

log = logging.getLogger("evalkit.data")


@dataclass
class GetReport:
    """What :func:`get_dataset` did: files fetched, files needing manual steps, validation."""

    root: Path
    fetched: list[tuple[str, str]] = field(default_factory=list)   # (file name, sha256)
    manual: list[str] = field(default_factory=list)                 # file names not fetched
    steps: list[str] = field(default_factory=list)
    validated: dict[str, str] = field(default_factory=dict)          # benchmark id -> "ok" | error

    @property
    def ok(self) -> bool:
        return not self.manual and all(v == "ok" for v in self.validated.values())


# -- archive safety ----------------------------------------------------------------------------
def _bad_name(name: str) -> str | None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in p.parts:
        return "a '..' component"
    return None


def safe_members(archive: Path) -> list[str]:
    """Member names of a zip or tar archive; :class:`DatasetError` naming the first member that
    could write outside the extraction folder (absolute path, ``..``, link, device)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            names = [i.filename for i in infos]
            for i in infos:
                why = _bad_name(i.filename)
                if why is None and stat.S_ISLNK(i.external_attr >> 16):
                    why = "a symbolic link"
                if why:
                    raise DatasetError(f"archive {archive.name}: member {i.filename!r} is {why}; "
                                       f"refusing to extract it (expected paths inside the dataset folder)")
            return names
    try:
        with tarfile.open(archive) as t:
            members = t.getmembers()
    except tarfile.TarError as e:
        raise DatasetError(f"archive {archive.name}: neither a zip nor a tar archive ({e})") from None
    for m in members:
        why = _bad_name(m.name)
        if why is None and (m.issym() or m.islnk()):
            why = "a link"
        if why is None and not (m.isfile() or m.isdir()):
            why = "a device or special file"
        if why:
            raise DatasetError(f"archive {archive.name}: member {m.name!r} is {why}; refusing to "
                               f"extract it (expected paths inside the dataset folder)")
    return [m.name for m in members]


def extract_archive(archive: Path, tmp: Path) -> None:
    """Extract a checked archive (see :func:`safe_members`) into the empty folder ``tmp``."""
    safe_members(archive)
    tmp.mkdir(parents=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
        return
    with tarfile.open(archive) as t:
        try:
            t.extractall(tmp, filter="data")  # Python >= 3.12 (and 3.10.12+/3.11.4+ backports)
        except TypeError:
            t.extractall(tmp)  # members were checked above


def _merge(src: Path, dest: Path) -> None:
    """Move ``src``'s entries into ``dest`` by renames (folders merged, files replaced)."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        target = dest / entry.name
        if entry.is_dir() and target.is_dir():
            _merge(entry, target)
        else:
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(entry, target)


# -- download ----------------------------------------------------------------------------------
def _recorded_sha(path: Path) -> str | None:
    try:
        return path.read_text().split()[0]
    except (OSError, IndexError):
        return None


def _fetch(card: DatasetCard, f: DatasetFile, downloads: Path) -> tuple[Path, str]:
    from .download import download_url

    dest = downloads / f.name
    record = dest.with_name(dest.name + ".sha256")
    errors = []
    for url in [f.url, *f.mirrors]:
        if not url or url.rstrip("/").endswith(("/tree/main", "/tree")):  # a browsable folder, not a file
            continue
        try:
            digest = download_url(url, dest, f.sha256)
        except WeightsError as e:
            errors.append(f"{url}: {e}")
            continue
        known = _recorded_sha(record)
        if f.sha256 is None:
            if known and known != digest:
                dest.unlink(missing_ok=True)
                raise DatasetError(
                    f"dataset {card.id}: {f.name} from {url} has sha256 {digest}, but {known} was "
                    f"recorded at its first download ({record}); the file was deleted: the release "
                    f"changed or the transfer is corrupt")
            if not known:
                record.write_text(f"{digest}  {f.name}  {url}\n")
                log.warning("dataset %s: %s is not pinned in the card %s; sha256 %s recorded in %s",
                            card.id, f.name, card.path.name, digest, record)
        return dest, digest
    raise DatasetError(f"dataset {card.id}: could not download {f.name}:\n  " + "\n  ".join(errors))


def get_dataset(card: DatasetCard, root: str | os.PathLike, *, validate: bool = True,
                keep_archives: bool = False, only: list[str] | None = None) -> GetReport:
    """Fetch, verify, extract and validate ``card`` under ``root`` (the data root: the dataset
    lands in ``root/<card.folder>``); ``only``: just these file names of the card (COCO's
    train2017.zip is 18 GB and only LVIS needs it). Returns a :class:`GetReport`; raises
    :class:`DatasetError` on a checksum mismatch or an unsafe archive (nothing is moved into the
    layout then)."""
    root = Path(root).expanduser()
    report = GetReport(root)
    target = root / card.folder
    downloads = root / ".evalkit-downloads" / card.folder
    files = card.files
    if only:
        names = {f.name for f in card.files}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise DatasetError(f"dataset {card.id}: no file {', '.join(unknown)} in its card; "
                               f"expected some of: {', '.join(sorted(names))}")
        files = tuple(f for f in card.files if f.name in only)
    for f in files:
        if not f.downloadable:
            report.manual.append(f.name)
            continue
        archive, digest = _fetch(card, f, downloads)
        tmp = root / f".evalkit-extract-{card.folder}-{f.name}"
        if tmp.exists():
            shutil.rmtree(tmp)  # left by an interrupted extraction: redo it from the archive
        try:
            extract_archive(archive, tmp)
            src = tmp / f.strip if f.strip else tmp
            if not src.is_dir():
                raise DatasetError(f"dataset {card.id}: {f.name} has no top folder {f.strip!r} "
                                   f"(the card's 'strip'); it holds {sorted(p.name for p in tmp.iterdir())}")
            _merge(src, target / f.into if f.into else target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if not keep_archives:
            archive.unlink(missing_ok=True)
        report.fetched.append((f.name, digest))
    if report.manual:
        report.steps = card.steps_for(root)
    if validate:
        report.validated = _validate(card, root)
    return report


def _validate(card: DatasetCard, root: Path) -> dict[str, str]:
    from .benchmarks.base import build_benchmark

    out = {}
    for bench_id in benchmarks_of(card.folder):
        try:
            build_benchmark(bench_id, root).validate()
            out[bench_id] = "ok"
        except EvalkitError as e:
            out[bench_id] = str(e)
    return out
