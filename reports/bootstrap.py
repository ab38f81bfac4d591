"""Paired bootstrap confidence intervals on a difference of two runs' headline metric.

Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 13 (percentile interval);
the paired form resamples the *same* units for both runs, as in Koehn, "Statistical
significance tests for machine translation evaluation" (EMNLP 2004) and Dror et al. (ACL 2018).

A metric over units is ``scale * mean_c(sum(num_c) / sum(den_c))`` (:func:`evalkit.breakdown.
unit_values`: a mean has ``den = 1``; DAVIS's object-weighted mean has ``num = J * n_objects``,
``den = n_objects``; oIoU has ``num = I``, ``den = U``; an ``average`` such as LVOS J&F has one
component c per mean it averages), so each replicate is recomputed exactly from the resampled
units, also where the metric is not a mean of per-unit values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_SEED", "DEFAULT_RESAMPLES", "Interval", "paired_bootstrap"]

#: fixed so that the same two runs always give the same interval; ``--seed`` changes it
DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    """``delta`` = metric(B) − metric(A) on the paired units and its percentile interval."""

    delta: float
    low: float
    high: float
    level: float
    resamples: int
    seed: int

    @property
    def within_noise(self) -> bool:
        """The interval contains 0: the runs are not distinguishable at this level."""
        return bool(self.low <= 0.0 <= self.high)


def _stat(vals: np.ndarray, idx: np.ndarray, scale: float) -> np.ndarray:
    """The metric of each resample: ``vals`` ``n x C x 2``, ``idx`` ``B x n`` unit indices."""
    picked = vals[idx]  # B x n x C x 2
    num, den = picked[..., 0].sum(1), picked[..., 1].sum(1)  # B x C
    with np.errstate(invalid="ignore", divide="ignore"):
        return scale * np.mean(num / den, axis=-1)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, *, scale: float = 1.0, resamples: int = DEFAULT_RESAMPLES,
                     level: float = 0.95, seed: int = DEFAULT_SEED) -> Interval:
    """Percentile interval of ``metric(b) - metric(a)`` by resampling units with replacement.

    Args:
        a, b: ``n x 2`` or ``n x C x 2`` float64 ``(numerator, denominator)`` per unit (and
            component, :func:`evalkit.breakdown.unit_values`), row ``i`` of both being the same
            unit (sample, sequence or category).
        scale: the metric's factor (100 for percent metrics).
        resamples: bootstrap replicates; level: two-sided coverage (0.95).
        seed: ``numpy.random.default_rng`` seed (the same seed gives the same interval).

    Replicates whose denominators sum to 0 (every resampled unit without weight) are dropped.
    """
    from ..breakdown import value_of

    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a, b = (x.reshape(len(x), 1, 2) if x.ndim == 2 else x for x in (a, b))
    if a.shape != b.shape or len(a) == 0 or a.shape[-1] != 2:
        raise ValueError(f"paired bootstrap needs two n x [C x] 2 arrays of the same shape, n > 0; "
                         f"got {a.shape} and {b.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    n, c = a.shape[:2]
    rng = np.random.default_rng(seed)
    delta = value_of(b, scale) - value_of(a, scale)
    # in blocks, so that a 5,000-image split with 2,000 replicates stays within a few MB
    block = max(1, 1_000_000 // (n * c))
    reps = []
    for s in range(0, resamples, block):
        idx = rng.integers(0, n, size=(min(block, resamples - s), n))
        reps.append(_stat(b, idx, scale) - _stat(a, idx, scale))
    d = np.concatenate(reps)
    d = d[np.isfinite(d)]
    alpha = (1 - level) / 2
    low, high = (np.quantile(d, [alpha, 1 - alpha]) if d.size else (np.nan, np.nan))
    return Interval(float(delta), float(low), float(high), level, int(resamples), int(seed))


def paired_image_ap(state_a: dict[str, np.ndarray], state_b: dict[str, np.ndarray], *,
                    resamples: int = DEFAULT_RESAMPLES, level: float = 0.95, seed: int = DEFAULT_SEED,
                    block: int = 100) -> dict[str, Interval]:
    """Paired bootstrap of COCO-style ``AP``, ``AP50``, ``AP75`` over **images**: each replicate
    draws the images with replacement (the same draw for both runs) and re-accumulates both
    runs' AP with the drawn multiplicities (:func:`evalkit.metrics.ap_resample.weighted_ap`).

    ``state_a``/``state_b``: the matching states of the two runs (``breakdown_ap.npz``), over the
    same images (``units``, in any order). Replicates where no category has a GT are dropped.
    """
    from ..metrics.ap_resample import AP_KEYS, weighted_ap

    ua, ub = [str(u) for u in state_a["units"]], [str(u) for u in state_b["units"]]
    if sorted(ua) != sorted(ub):
        raise ValueError("the two AP states cover different images")
    pos_b = np.array([ub.index(u) for u in ua]) if ua != ub else np.arange(len(ua))
    n = len(ua)
    rng = np.random.default_rng(seed)
    full_a, full_b = weighted_ap(state_a, np.ones(n, np.int64)), weighted_ap(state_b, np.ones(n, np.int64))
    reps = {k: [] for k in AP_KEYS}
    for s in range(0, resamples, block):
        m = min(block, resamples - s)
        idx = rng.integers(0, n, size=(m, n))
        w_a = np.bincount((idx + (np.arange(m) * n)[:, None]).ravel(), minlength=m * n).reshape(m, n)
        w_b = np.zeros_like(w_a)
        w_b[:, pos_b] = w_a  # image ua[i] sits at pos_b[i] in run B's order
        ra, rb = weighted_ap(state_a, w_a), weighted_ap(state_b, w_b)
        for k in AP_KEYS:
            reps[k].append(rb[k] - ra[k])
    alpha = (1 - level) / 2
    out = {}
    for k in AP_KEYS:
        d = np.concatenate(reps[k])
        d = d[np.isfinite(d)]
        low, high = np.quantile(d, [alpha, 1 - alpha]) if d.size else (np.nan, np.nan)
        out[k] = Interval(float(full_b[k] - full_a[k]), float(low), float(high), level, int(resamples), int(seed))
    return out
