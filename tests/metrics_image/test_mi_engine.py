"""Pieces of the vectorised COCOeval engine against their plain numpy definitions."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.metrics._apeval import _first_reaching, _thresholds


def test_first_reaching_is_searchsorted_of_the_float_recall():
    rng = np.random.default_rng(0)
    _, rec = _thresholds()
    for npig in [1, 2, 3, 7, 10, 49, 99, 100, 101, 333, 1000]:
        for n in (1, 5, 400):
            npigs = np.array([npig, npig // 2 + 1])  # one per area range
            steps = rng.random((2, 10, n)) < rng.uniform(0.05, 1)
            tps = np.minimum(np.cumsum(steps, axis=-1), npigs[:, None, None]).astype(np.float64)
            got = _first_reaching(tps, npigs, rec)
            for a in range(2):
                for t in range(10):
                    want = np.searchsorted(tps[a, t] / npigs[a], rec, side="left")
                    np.testing.assert_array_equal(got[a, t], want)


def _reference_rle_ok(counts: bytes, h: int, w: int) -> bool:
    """pycocotools' rleFrString read literally (Python ints, no uint wrap), plus the checks
    that make the result a mask: alphabet, completed last run, runs >= 0, sum = h * w."""
    if any(ch < 48 or ch > 111 for ch in counts):
        return False
    cnts, p = [], 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            if p >= len(counts):
                return False  # truncated run
            c = counts[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(cnts) > 2:
            x += cnts[-2]
        cnts.append(x)
    return all(c >= 0 for c in cnts) and sum(cnts) == h * w


@pytest.mark.parametrize("seed", range(4))
def test_rle_check_agrees_with_a_literal_decoder(seed):
    from pycocotools import mask as mask_utils

    from evalkit.errors import ResultsError
    from evalkit.metrics._rle import check_compressed

    rng = np.random.default_rng(seed)
    checked = rejected = 0
    batch, verdicts = [], []
    for _ in range(400):
        h, w = (int(x) for x in rng.integers(1, 40, 2))
        m = rng.random((h, w)) < rng.uniform(0, 1)
        counts = bytearray(mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))["counts"])
        for _ in range(int(rng.integers(0, 3))):  # 0-2 random edits: change, drop or insert
            op, k = rng.integers(0, 3), int(rng.integers(0, len(counts) + 1))
            ch = int(rng.integers(40, 120))
            if op == 0 and k < len(counts):
                counts[k] = ch
            elif op == 1 and k < len(counts):
                del counts[k]
            else:
                counts.insert(k, ch)
        rle = {"size": [h, w], "counts": bytes(counts)}
        ok = _reference_rle_ok(rle["counts"], h, w)
        try:
            check_compressed([rle])
            raised = False
        except ResultsError:
            raised = True
        assert raised == (not ok), rle
        checked += 1
        rejected += raised
        batch.append(rle)
        verdicts.append(ok)
    assert 50 < rejected < checked - 50  # both outcomes well represented
    # in one vectorised call, the first bad entry is the one named
    valid = [r for r, ok in zip(batch, verdicts) if ok]
    check_compressed(valid)
    first_bad = verdicts.index(False)
    with pytest.raises(ResultsError, match=rf"^entry {first_bad}: "):
        check_compressed(batch)
