"""Reading indexed-PNG mask folders (DAVIS / LVOS / YouTube-VOS / VSPW layouts).

A *mask folder* holds one folder per sequence with one PNG per frame, named after the frame id
(``<root>/<sequence>/<frame_id>.png``). Masks are read as ``H x W`` ``uint8`` label maps, the
values the official tools see with ``np.array(Image.open(path))``: palette indices for mode
``P`` PNGs, grey levels for mode ``L``. Any other mode (RGB, 16-bit...) is refused, because the
official scripts would silently read something else (a 3-channel array) and crash later.

Already-loaded inputs are accepted everywhere a folder is: ``{sequence: {frame_id: HxW array}}``
or ``{sequence: T x H x W array}`` (frame ids are then ``"00000"``, ``"00001"``, ...).
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import ResultsError
from ._files import folder_error

__all__ = ["MaskSource", "read_label_png"]

_MODES = ("P", "L")


def _fast_png(data: bytes) -> np.ndarray | None:
    """Decode the common case directly: 8-bit palette or grey PNG, not interlaced, every row
    stored with filter type 0 (what PIL writes for such images). The pixel bytes are then the
    inflated stream minus one filter byte per row, i.e. exactly the values PIL returns.
    Anything else returns None (decoded by PIL)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if depth != 8 or ctype not in (0, 3) or comp or filt or interlace or not w or not h:
        return None
    idat, i = [], 8
    while i + 8 <= len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        if kind == b"IDAT":
            idat.append(data[i + 8 : i + 8 + n])
        elif kind == b"IEND":
            break
        i += 12 + n
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error:
        return None
    if len(raw) != h * (w + 1):
        return None
    rows = np.frombuffer(raw, np.uint8).reshape(h, w + 1)
    if rows[:, 0].any():  # some row uses a PNG filter: let PIL undo it
        return None
    return rows[:, 1:]


def _pil_png(p: Path, what: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(p) as im:
            if im.mode not in _MODES:
                raise ResultsError(
                    f"{what} {p} has PNG mode {im.mode!r}; expected an indexed ('P') or "
                    f"grey-level ('L') PNG whose pixel values are object ids"
                )
            return np.asarray(im)
    except ResultsError:
        raise
    except Exception as e:  # PIL raises many kinds of errors for corrupt files
        raise ResultsError(f"{what} {p} cannot be read as a PNG: {e}") from None


def read_label_png(path: str | Path, what: str = "mask", size: tuple[int, int] | None = None) -> np.ndarray:
    """Read one indexed PNG as an ``H x W`` ``uint8`` label map (the array PIL gives).

    Raises:
        ResultsError: missing file, unreadable file, a mode other than P/L, or a size other than
            ``size`` (``(H, W)``) — the message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise ResultsError(f"{what} {p} is missing (expected an indexed PNG for this frame)")
    arr = _fast_png(p.read_bytes())
    if arr is None:
        arr = _pil_png(p, what)
    if size is not None and arr.shape != tuple(size):
        raise ResultsError(
            f"{what} {p} is {arr.shape[1]}x{arr.shape[0]} (WxH) but the ground truth frame is "
            f"{size[1]}x{size[0]}"
        )
    return arr


def _check_array(a: Any, where: str, size: tuple[int, int] | None) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2:
        raise ResultsError(f"{where}: expected an H x W label map, got shape {a.shape}")
    if a.dtype != np.uint8:
        if a.size and (a.min() < 0 or a.max() > 255):
            raise ResultsError(f"{where}: label values must lie in 0..255")
        a = a.astype(np.uint8)
    if size is not None and a.shape != tuple(size):
        raise ResultsError(f"{where}: shape {a.shape} differs from the ground truth {tuple(size)}")
    return a


class MaskSource:
    """Uniform access to a mask folder or an in-memory mapping of label maps.

    Args:
        src: folder path, ``{seq: {frame_id: HxW}}`` or ``{seq: TxHxW}``.
        what: ``"ground truth"`` or ``"results"`` (used in error messages).
    """

    def __init__(self, src: Any, what: str):
        self.what = what
        self.root: Path | None = None
        self.mem: Mapping[str, Any] | None = None
        if isinstance(src, (str, os.PathLike)):
            self.root = Path(src)
            if not self.root.is_dir():
                raise ResultsError(folder_error(self.root, what))
        elif isinstance(src, Mapping):
            self.mem = src
        else:
            raise ResultsError(
                f"{what}: expected a folder path or a mapping sequence -> frames, got "
                f"{type(src).__name__}"
            )

    def sequences(self) -> list[str]:
        if self.mem is not None:
            return sorted(self.mem)
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def has_sequence(self, seq: str) -> bool:
        if self.mem is not None:
            return seq in self.mem
        return (self.root / seq).is_dir()

    def frame_ids(self, seq: str) -> list[str]:
        """Frame ids of ``seq`` in the order the official tools use (sorted file names)."""
        if self.mem is not None:
            v = self.mem[seq]
            if isinstance(v, Mapping):
                return sorted(str(k) for k in v)
            return [f"{i:05d}" for i in range(len(v))]
        d = self.root / seq
        if not d.is_dir():
            raise ResultsError(f"{self.what}: sequence folder {d} is missing")
        # sorted by file name (with extension), as the official tools sort their globbed paths
        names = sorted(p.name for p in d.iterdir() if p.suffix == ".png" and not p.name.startswith("."))
        return [n[: -len(".png")] for n in names]

    def dense_frame_ids(self, seq: str) -> list[str]:
        """:meth:`frame_ids` of a dataset annotated on every frame (DAVIS), checked to be
        complete: numbered frames must run consecutively, else a deleted or never-extracted
        ground-truth frame would silently drop out of the average (the official DAVIS
        evaluation, ``davis2017/davis.py`` ``DAVIS.__init__``, lists whatever PNGs are there).
        Frame numbers start at 0, so a deleted first frame is caught too."""
        ids = self.frame_ids(seq)
        if ids and all(i.isdigit() for i in ids):
            nums = [-1] + [int(i) for i in ids]  # DAVIS numbers the frames of a sequence from 0
            for a, b, name in zip(nums, nums[1:], ids):
                if b != a + 1:
                    width = len(name)
                    gap = [f"{k:0{width}d}" for k in range(a + 1, min(b, a + 4))]
                    raise ResultsError(
                        f"{self.what}: sequence {seq!r} lacks frame(s) "
                        f"{', '.join(self.path(seq, g) for g in gap)}{' ...' if b - a > 4 else ''} "
                        f"(frames are numbered from {'0' * len(name)} to {ids[-1]}; every frame must be annotated)")
        return ids

    def path(self, seq: str, frame_id: str) -> str:
        if self.root is not None:
            return str(self.root / seq / f"{frame_id}.png")
        return f"{self.what} {seq}/{frame_id}"

    def read(self, seq: str, frame_id: str, size: tuple[int, int] | None = None) -> np.ndarray:
        """The ``H x W`` ``uint8`` label map of one frame (``ResultsError`` when absent/bad)."""
        if self.root is not None:
            return read_label_png(self.root / seq / f"{frame_id}.png", self.what, size)
        if seq not in self.mem:
            raise ResultsError(f"{self.what}: sequence {seq!r} is missing")
        v = self.mem[seq]
        where = f"{self.what} {seq}/{frame_id}"
        if isinstance(v, Mapping):
            if frame_id not in v:
                raise ResultsError(f"{where} is missing")
            return _check_array(v[frame_id], where, size)
        try:
            i = int(frame_id)
        except ValueError:
            raise ResultsError(f"{where} is missing") from None
        if not 0 <= i < len(v):
            raise ResultsError(f"{where} is missing (the array holds {len(v)} frames)")
        return _check_array(v[i], where, size)
