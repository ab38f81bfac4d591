"""Pieces of the vectorised COCOeval engine against their plain numpy definitions."""
from __future__ import annotations

import numpy as np

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
