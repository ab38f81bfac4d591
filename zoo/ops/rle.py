"""Binary masks -> COCO run-length encoding in torch (any device), byte-identical to pycocotools.

COCO RLE (pycocotools ``maskApi.c``): the mask is read in column-major (Fortran) order and
stored as alternating run lengths starting with a run of zeros (0 when the first pixel is set).
The compressed ``counts`` string writes each count ``c_i`` - as the difference
``c_i - c_{i-2}`` for ``i > 2`` - in a LEB128-like code: 5-bit groups, least significant first,
bit ``0x20`` meaning "more groups follow", every character offset by 48 (``'0'``). The last group
is the one after which the remaining bits are all equal to its sign bit ``0x10`` (all zeros for a
non-negative value, all ones for a negative one).

Everything up to the final characters is computed on the masks' device for the whole batch at
once: run boundaries by ``nonzero`` over the column-major flattening, counts by differences,
the code by vectorised shifts; only the finished bytes are copied to the host.
"""
from __future__ import annotations

import torch

from .errors import OpInputError

_GROUPS = 13  # 5-bit groups enough for any int64 delta (13 * 5 = 65 bits)


def _run_lengths(flat: torch.Tensor):
    """Counts of all masks. ``flat``: ``N x A`` bool, each row a column-major mask.

    Returns ``(counts, owner, first)``: int64 run lengths of every mask concatenated in order,
    the index of the mask each count belongs to (non-decreasing) and a flag on each mask's
    first count.
    """
    n, area = flat.shape
    dev = flat.device
    change = torch.empty_like(flat)
    if area:
        change[:, 1:] = flat[:, 1:] != flat[:, :-1]
        change[:, 0] = flat[:, 0]  # a run of ones at the start follows an empty run of zeros
    mask_idx, pos = change.nonzero(as_tuple=True)
    # Boundaries per mask: every change position, then the end marker ``area``.
    bounds = torch.cat([pos, torch.full((n,), area, dtype=pos.dtype, device=dev)])
    owner = torch.cat([mask_idx, torch.arange(n, device=dev)])
    # Row-major nonzero is sorted by mask then position; a stable sort by owner places each
    # end marker after its mask's changes.
    order = torch.sort(owner, stable=True).indices
    bounds, owner = bounds[order], owner[order]
    prev = torch.cat([bounds.new_zeros(1), bounds[:-1]])
    first = torch.ones_like(owner, dtype=torch.bool)
    first[1:] = owner[1:] != owner[:-1]
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
    prev2 = torch.cat([counts.new_zeros(2), counts[:-2]]) if counts.numel() >= 2 \
        else counts.new_zeros(counts.shape)
    x = torch.where(local > 2, counts - prev2, counts)
    shifts = 5 * torch.arange(_GROUPS, device=counts.device)
    groups = (x[:, None] >> shifts[None, :]) & 0x1F  # arithmetic shift: sign-extending
    rest = x[:, None] >> (shifts[None, :] + 5)  # value left after emitting group k
    sign = (groups & 0x10) != 0
    done = torch.where(sign, rest == -1, rest == 0)  # group k is the last one
    n_chars = done.to(torch.int64).argmax(1) + 1  # first k where the code may stop
    k = torch.arange(_GROUPS, device=counts.device)[None, :]
    more = k < (n_chars[:, None] - 1)
    chars = (groups | (more.to(groups.dtype) << 5)) + 48
    valid = k < n_chars[:, None]
    return chars[valid].to(torch.uint8), n_chars


def masks_to_rles(masks: torch.Tensor, chunk_pixels: int = 1 << 27) -> list[dict]:
    """Encode ``N x H x W`` masks (bool or 0/1 integer; nonzero = foreground) as COCO RLE.

    Args:
        masks: ``N x H x W`` on any device.
        chunk_pixels: masks are processed in groups of at most this many pixels, bounding the
            temporary memory (a few bytes per pixel).

    Returns:
        ``N`` dicts ``{"size": [H, W], "counts": str}``, equal to
        ``pycocotools.mask.encode(np.asfortranarray(m))`` with ``counts`` decoded to ``str``
        (the form :mod:`evalkit.types` uses).
    """
    if masks.dim() != 3:
        raise OpInputError(f"masks_to_rles: expected N x H x W masks, got {tuple(masks.shape)}")
    n, h, w = masks.shape
    area = h * w
    per_chunk = max(1, chunk_pixels // max(area, 1))
    out: list[dict] = []
    for c0 in range(0, n, per_chunk):
        part = masks[c0:c0 + per_chunk]
        flat = (part != 0).transpose(1, 2).reshape(part.shape[0], area)
        counts, owner, first = _run_lengths(flat)
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


def mask_to_rle(mask: torch.Tensor) -> dict:
    """One ``H x W`` mask -> COCO RLE dict (see :func:`masks_to_rles`)."""
    if mask.dim() != 2:
        raise OpInputError(f"mask_to_rle: expected an H x W mask, got {tuple(mask.shape)}")
    return masks_to_rles(mask[None])[0]
