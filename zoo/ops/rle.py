"""Binary masks -> COCO run-length encoding in torch (any device), byte-identical to pycocotools.

COCO RLE (pycocotools ``maskApi.c``): the mask is read in column-major (Fortran) order and
stored as alternating run lengths starting with a run of zeros (0 when the first pixel is set).
The compressed ``counts`` string writes each count ``c_i`` - as the difference
``c_i - c_{i-2}`` for ``i > 2`` - in a LEB128-like code: 5-bit groups, least significant first,
bit ``0x20`` meaning "more groups follow", every character offset by 48 (``'0'``). The last group
is the one after which the remaining bits are all equal to its sign bit ``0x10`` (all zeros for a
non-negative value, all ones for a negative one).

Everything up to the final characters is computed on the masks' device for the whole batch at
once: run boundaries by ``nonzero`` over a change map, counts by differences, the code by
vectorised shifts; only the finished bytes are copied to the host.
"""
from __future__ import annotations

import numpy as np
import torch

from .errors import OpInputError

def _flat_nonzero(x: torch.Tensor) -> torch.Tensor:
    """Linear indices of the nonzero elements of a contiguous tensor (int64, ascending)."""
    if x.device.type == "cpu":  # NumPy's scan is several times faster than torch's on CPU
        return torch.from_numpy(np.flatnonzero(x.numpy()))
    return x.reshape(-1).nonzero().squeeze(1)


def _sort(x: torch.Tensor) -> torch.Tensor:
    if x.device.type == "cpu":
        return torch.from_numpy(np.sort(x.numpy(), kind="stable"))
    return torch.sort(x).values


def _run_lengths(masks: torch.Tensor):
    """Run lengths of ``N x H x W`` bool masks read in column-major order.

    Works on the row-major layout (no transposed copy): in column-major order pixel ``(i, j)``
    follows ``(i - 1, j)``, and ``(0, j)`` follows ``(H - 1, j - 1)``; a change between a pixel
    and its predecessor starts a new run. Only the (few) change positions are then converted to
    column-major offsets and sorted.

    Returns ``(counts, owner, first)``: int64 run lengths of all masks concatenated in order,
    the index of the mask each count belongs to (non-decreasing) and a flag on each mask's
    first count.
    """
    n, h, w = masks.shape
    area = h * w
    dev = masks.device
    change = torch.empty_like(masks)
    if area:
        torch.ne(masks[:, 1:], masks[:, :-1], out=change[:, 1:])
        torch.ne(masks[:, 0, 1:], masks[:, -1, :-1], out=change[:, 0, 1:])
        change[:, 0, 0] = masks[:, 0, 0]  # a run of ones at the start follows an empty run
    lin = _flat_nonzero(change).to(dev)
    mask_idx = lin // max(area, 1)
    rem = lin - mask_idx * area
    row, col = rem // max(w, 1), rem % max(w, 1)
    stride = area + 1  # room for the end marker of every mask
    keys = torch.cat([
        mask_idx * stride + col * h + row,
        torch.arange(n, device=dev) * stride + area,  # end of each mask
    ])
    keys = _sort(keys)
    owner = keys // stride
    bounds = keys - owner * stride
    first = torch.ones_like(owner, dtype=torch.bool)
    first[1:] = owner[1:] != owner[:-1]
    prev = torch.cat([bounds.new_zeros(1), bounds[:-1]])
    prev = torch.where(first, torch.zeros_like(prev), prev)
    return bounds - prev, owner, first


def _encode_counts(counts: torch.Tensor, first: torch.Tensor):
    """Compressed code of all counts (``first`` flags each mask's first count).

    Returns ``(chars, chars_per_count)``: the characters of all counts concatenated (uint8)
    and how many belong to each count.
    """
    # Index of each count inside its own mask, to apply the "i > 2" delta rule.
    idx = torch.arange(counts.numel(), device=counts.device)
    start = torch.cummax(torch.where(first, idx, torch.zeros_like(idx)), 0).values
    local = idx - start
    prev2 = torch.cat([counts.new_zeros(2), counts[:-2]])[: counts.numel()]
    x = torch.where(local > 2, counts - prev2, counts)
    # Enough 5-bit groups for the largest magnitude plus its sign bit.
    bits = int(x.abs().max().item()).bit_length() + 1 if x.numel() else 1
    n_groups = -(-bits // 5)
    shifts = 5 * torch.arange(n_groups, device=counts.device)
    groups = (x[:, None] >> shifts[None, :]) & 0x1F  # arithmetic shift: sign-extending
    rest = x[:, None] >> (shifts[None, :] + 5)  # value left after emitting group k
    sign = (groups & 0x10) != 0
    done = torch.where(sign, rest == -1, rest == 0)  # the code may stop after group k
    n_chars = done.to(torch.int64).argmax(1) + 1
    k = torch.arange(n_groups, device=counts.device)[None, :]
    more = k < (n_chars[:, None] - 1)
    chars = (groups | (more.to(groups.dtype) << 5)) + 48
    valid = k < n_chars[:, None]
    return chars[valid].to(torch.uint8), n_chars


RLE_BACKENDS = ("auto", "torch", "pycocotools")


def masks_to_rles(masks: torch.Tensor, backend: str = "auto",
                  chunk_pixels: int | None = None) -> list[dict]:
    """Encode ``N x H x W`` masks (bool or 0/1 integer; nonzero = foreground) as COCO RLE.

    Args:
        masks: ``N x H x W`` on any device.
        backend: ``"torch"`` (the vectorised encoder of this module, on the masks' device),
            ``"pycocotools"`` (its C encoder, on the host; it reads column-major masks, so
            row-major ``N x H x W`` masks are transposed first, which costs more than the
            encoding itself) or ``"auto"``: pycocotools for CPU bool masks already laid out
            column-major (no copy needed), the torch encoder otherwise (on accelerators it
            copies only the finished strings to the host, not the masks). All give identical
            output.
        chunk_pixels: the torch encoder processes at most this many pixels at a time,
            bounding its temporary memory (a few bytes per pixel). Default: ``2**23`` on CPU
            (cache-sized; measured faster than larger chunks), ``2**27`` on other devices.

    Returns:
        ``N`` dicts ``{"size": [H, W], "counts": str}``, equal to
        ``pycocotools.mask.encode(np.asfortranarray(m))`` with ``counts`` decoded to ``str``
        (the form :mod:`evalkit.types` uses).
    """
    if masks.dim() != 3:
        raise OpInputError(f"masks_to_rles: expected N x H x W masks, got {tuple(masks.shape)}")
    if backend not in RLE_BACKENDS:
        raise OpInputError(f"masks_to_rles: backend must be one of {RLE_BACKENDS}, got {backend!r}")
    n, h, w = masks.shape
    if backend == "auto":
        column_major = masks.dtype == torch.bool and masks.stride() == (h * w, 1, h)
        backend = "pycocotools" if masks.device.type == "cpu" and column_major else "torch"
    if backend == "pycocotools":
        return _encode_pycocotools(masks)
    if chunk_pixels is None:
        chunk_pixels = 1 << 23 if masks.device.type == "cpu" else 1 << 27
    per_chunk = max(1, chunk_pixels // max(h * w, 1))
    out: list[dict] = []
    for c0 in range(0, n, per_chunk):
        part = masks[c0:c0 + per_chunk]
        part = part.contiguous() if part.dtype == torch.bool else (part != 0)
        counts, owner, first = _run_lengths(part)
        chars, n_chars = _encode_counts(counts, first)
        # Characters per mask, then one host copy and a split.
        per_mask = torch.zeros(part.shape[0], dtype=torch.int64, device=masks.device)
        per_mask.index_add_(0, owner, n_chars)
        data = chars.cpu().numpy().tobytes()
        offset = 0
        for length in per_mask.tolist():
            out.append({"size": [h, w], "counts": data[offset:offset + length].decode("ascii")})
            offset += length
    return out


def _encode_pycocotools(masks: torch.Tensor) -> list[dict]:
    from pycocotools import mask as mask_utils

    n, h, w = masks.shape
    if n == 0:
        return []
    # pycocotools reads an H x W x N Fortran-ordered uint8 array: no copy when the masks are
    # column-major bool already, one transposing copy otherwise.
    host = (masks if masks.dtype == torch.bool else masks != 0).cpu().numpy()
    arr = np.asfortranarray(host.view(np.uint8).transpose(1, 2, 0))
    return [{"size": [h, w], "counts": r["counts"].decode("ascii")}
            for r in mask_utils.encode(arr)]


def mask_to_rle(mask: torch.Tensor, backend: str = "auto") -> dict:
    """One ``H x W`` mask -> COCO RLE dict (see :func:`masks_to_rles`)."""
    if mask.dim() != 2:
        raise OpInputError(f"mask_to_rle: expected an H x W mask, got {tuple(mask.shape)}")
    return masks_to_rles(mask[None], backend)[0]
