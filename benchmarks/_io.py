"""Shared file I/O of the benchmark readers and writers.

* atomic writes (temp file in the destination folder + ``os.replace``) for every results file;
* JSON / text readers whose errors name the file, the position and the expected layout;
* indexed ("P" mode) PNG I/O with the DAVIS / YouTube-VOS palette;
* lazy video frames (``Frames`` over image paths, one frame decoded at a time);
* a thread-pool image decoder and :func:`prefetch`, the runner's in-order sample prefetcher.
"""
from __future__ import annotations

import functools
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .. import fileio as _fileio
# the one implementation of atomic writes (temp file beside the target, fsync, os.replace, fsync
# of the folder; umask permissions), re-exported for the readers and writers
from ..fileio import atomic_write_bytes, atomic_write_text
from ..errors import DatasetError, ResultsError
from ..types import Frames, Sample

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_png",
    "atomic_write_zip",
    "zip_folder",
    "read_json",
    "read_lines",
    "require_file",
    "require_dir",
    "first_existing",
    "list_frames",
    "list_videos",
    "image_size",
    "read_png",
    "check_png",
    "indexed_png",
    "write_indexed_png",
    "davis_palette",
    "video_frames",
    "prefetch",
    "IMAGE_EXTS",
]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


# --------------------------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------------------------
def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    # compact separators: COCO/LVIS result files reach hundreds of MB
    return atomic_write_bytes(path, json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def _png_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def atomic_write_png(path: str | os.PathLike, img) -> Path:
    """Save a PIL image as PNG atomically."""
    return atomic_write_bytes(path, _png_bytes(img))


def atomic_write_zip(path: str | os.PathLike, members: Mapping[str, bytes | Path]) -> Path:
    """Write a zip archive atomically; ``members`` maps archive names (``/``-separated, no
    leading slash) to bytes or to a file whose content is stored. Deflate compression;
    members are written in sorted order so the archive is deterministic."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(members):
            data = members[name]
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, Path(data).read_bytes() if isinstance(data, Path) else data)
    return atomic_write_bytes(path, buf.getvalue())


def zip_folder(folder: Path, zip_path: Path, arc_prefix: str = "") -> Path:
    """Zip every file below ``folder`` into ``zip_path`` with names ``arc_prefix + relpath``.

    Temporary files of an interrupted atomic write (``.name.XXXXXXXX.tmp``) and the archive
    itself are left out: a server would reject (or mis-score) a submission holding them."""
    folder = Path(folder)
    zip_path = Path(zip_path)
    members = {
        arc_prefix + p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not _fileio.is_temp_file(p) and p.resolve() != zip_path.resolve()
    }
    return atomic_write_zip(zip_path, members)


# --------------------------------------------------------------------------------------------
# readers with clear errors
# --------------------------------------------------------------------------------------------
def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a file, else DatasetError naming ``what`` is expected there."""
    path = Path(path)
    if not path.is_file():
        hint = " (a folder is there)" if path.is_dir() else ""
        raise DatasetError(f"missing {what}: expected the file {path}{hint}")
    return path


def first_existing(root: Path, candidates: Sequence[str]) -> Path:
    """The first of ``root / c`` that exists, else ``root / candidates[0]`` (the official name,
    which error messages then point to). Lets a reader accept the official name and the
    renamed copies some code bases expect (``valid`` vs ``val``)."""
    for c in candidates:
        if (Path(root) / c).exists():
            return Path(root) / c
    return Path(root) / candidates[0]


def require_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"missing {what}: expected the folder {path}")
    return path


def read_json(path: Path, what: str, error: type = DatasetError) -> Any:
    """Parse a JSON file; a missing or malformed (e.g. truncated) file raises ``error`` naming
    the file, what it should hold and the line/column where parsing failed."""
    path = Path(path)
    if not path.is_file():
        raise error(f"missing {what}: expected the file {path}")
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except json.JSONDecodeError as e:
        raise error(
            f"malformed {what} {path}: invalid JSON at line {e.lineno} column {e.colno} "
            f"({e.msg}); the file may be truncated"
        ) from None
    except UnicodeDecodeError as e:
        raise error(f"malformed {what} {path}: not UTF-8 text ({e})") from None


def read_lines(path: Path, what: str) -> list[str]:
    """Non-empty stripped lines of a text file (split lists, sequence lists)."""
    require_file(path, what)
    return [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]


def list_frames(folder: Path, what: str, exts: Sequence[str] = IMAGE_EXTS) -> list[Path]:
    """Image files of a video folder sorted by name (the official frame order)."""
    require_dir(folder, what)
    frames = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in exts)
    if not frames:
        raise DatasetError(f"{what} {folder} holds no frames (expected {'/'.join(exts)} files)")
    return frames


def list_videos(folder: Path, what: str) -> list[str]:
    """Names of the video sub-folders of ``folder`` (one folder of frames per video), sorted;
    DatasetError naming ``what`` when the folder is missing or holds no video folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"missing {what}: expected the folder {folder} with one folder of frames per video "
                           f"({folder}/<video>/<frame>.jpg)")
    videos = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not videos:
        raise DatasetError(f"{what} {folder} holds no video folders (expected {folder}/<video>/<frame>.jpg)")
    return videos


def image_size(path: Path) -> tuple[int, int]:
    """``(H, W)`` from the image header (no decoding)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.height, im.width
    except FileNotFoundError:
        raise DatasetError(f"missing image {path}") from None
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError...
        raise DatasetError(f"unreadable image {path}: {e}") from None


# --------------------------------------------------------------------------------------------
# indexed PNGs
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def davis_palette() -> bytes:
    """The 256-colour palette of DAVIS / YouTube-VOS annotation PNGs (PASCAL VOC colour map:
    the bits of the index are interleaved into the high bits of R, G, B): 768 bytes ``RGB…``.
    Computed once: every indexed PNG without a dataset palette is written with it."""
    pal = bytearray()
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += bytes((r, g, b))
    return bytes(pal)


def check_png(path: Path, what: str, modes: Sequence[str] = ("P", "L"),
              size: tuple[int, int] | None = None, error: type = DatasetError) -> None:
    """Check a label PNG's mode and ``(H, W)`` from its header only (no pixel decoding), so
    validating tens of thousands of masks stays fast. Errors as :func:`read_png`."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise error(f"missing {what}: expected the file {path}")
    try:
        with Image.open(path) as im:
            mode, hw = im.mode, (im.height, im.width)
    except (OSError, SyntaxError) as e:
        raise error(f"unreadable {what} {path}: {e}") from None
    if mode not in modes:
        raise error(f"{what} {path}: PNG mode {mode!r}, expected one of {list(modes)}")
    if size is not None and hw != tuple(size):
        raise error(f"{what} {path}: size {hw[0]}x{hw[1]} (HxW), expected {size[0]}x{size[1]} (the size of its frame)")


def read_png(path: Path, what: str, modes: Sequence[str] = ("P", "L"),
             size: tuple[int, int] | None = None, error: type = DatasetError) -> np.ndarray:
    """Read a label PNG as a ``H x W`` uint8 array of indices (``P``/``L``) or ``H x W x C``.

    Raises ``error`` when the file is missing, is not one of ``modes`` (e.g. an RGB PNG where
    an indexed one is expected) or is not ``size`` = ``(H, W)``.
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise error(f"missing {what}: expected the file {path}")
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode not in modes:
                raise error(
                    f"{what} {path}: PNG mode {mode!r}, expected one of {list(modes)} "
                    f"({'indexed palette' if 'P' in modes else 'see the format docs'})"
                )
            arr = np.asarray(im)
    except (OSError, SyntaxError) as e:
        raise error(f"unreadable {what} {path}: {e}") from None
    if size is not None and tuple(arr.shape[:2]) != tuple(size):
        raise error(
            f"{what} {path}: size {arr.shape[0]}x{arr.shape[1]} (HxW), expected "
            f"{size[0]}x{size[1]} (the size of its frame)"
        )
    return arr


def indexed_png(labels: np.ndarray, palette: bytes | None = None, what: str = "label map") -> bytes:
    """The bytes of an indexed ("P" mode) PNG of a ``H x W`` label map (ids 0..255) with
    ``palette`` (768 bytes ``RGB…``; DAVIS by default).

    The one indexed-PNG encoder: results (:func:`write_indexed_png`), derived ground truth and
    the generated datasets all go through it, so the same labels give the same bytes. Bad
    input raises ResultsError naming ``what``: not ``H x W``, or an id outside 0..255 (a plain
    cast to uint8 would wrap it silently)."""
    from PIL import Image

    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ResultsError(f"{what} must be H x W, got shape {labels.shape}")
    if labels.size and (int(labels.max()) > 255 or int(labels.min()) < 0):
        raise ResultsError(f"{what} has ids outside 0..255 (min {int(labels.min())}, max {int(labels.max())}): "
                           "indexed PNGs hold 0..255")
    img = Image.fromarray(labels.astype(np.uint8), mode="P")
    img.putpalette(palette or davis_palette())
    return _png_bytes(img)


def write_indexed_png(path: Path, labels: np.ndarray, palette: bytes | None = None) -> Path:
    """Write :func:`indexed_png` of ``labels`` to ``path`` atomically (temp file + rename,
    :func:`atomic_write_bytes`): a results frame is either the old file or the whole new one."""
    return atomic_write_bytes(path, indexed_png(labels, palette, what=f"label map for {path}"))


# --------------------------------------------------------------------------------------------
# frames, decoding, prefetch
# --------------------------------------------------------------------------------------------
def video_frames(paths: Sequence[Path], ids: Sequence[str] | None = None,
                 sizes: Sequence[tuple[int, int]] | None = None) -> Frames:
    """Lazy ``Frames`` of a video: each frame is decoded from its path on access. Frame ids
    default to the file stems (``00000``), which the writers use as result file names."""
    paths = [Path(p) for p in paths]
    return Frames(paths, [p.stem for p in paths] if ids is None else list(ids), sizes)


def prefetch(benchmark, ids: Iterable[str], num_workers: int = 4,
             lookahead: int | None = None) -> Iterator[Sample]:
    """Yield ``benchmark.load_sample(id)`` for ``ids`` **in order**, loading ahead in threads.

    Image samples (one frame) come back with their frame already decoded in the worker thread
    (an array source); video samples stay lazy so a long video is never held in memory. At most
    ``lookahead`` samples (default ``2 * num_workers``) are in flight, which bounds memory.
    A loading error is raised when its sample is reached (an unreadable frame as DatasetError). ``num_workers <= 0``
    loads in the calling thread. This is :func:`evalkit.prefetch.prefetch_samples` (which the
    runner uses and which hands errors back instead of raising) as a plain sample iterator.

    Example::

        for sample in prefetch(bench, bench.sample_ids(), num_workers=4):
            preds = adapter.predict(sample.frames, sample.prompt)
    """
    from ..prefetch import prefetch_samples

    for sid, sample, err in prefetch_samples(benchmark, list(ids), num_workers, lookahead):
        if isinstance(err, OSError):  # a frame that cannot be read: name the sample and file
            raise DatasetError(f"sample {sid}: cannot read its frame ({err})") from err
        if err is not None:
            raise err
        yield sample
