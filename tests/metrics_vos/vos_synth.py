"""Seeded synthetic VOS data: moving, deforming blobs as indexed PNG folders."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from evalkit.benchmarks._io import indexed_png


def palette_png(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pal = np.zeros((256, 3), np.uint8)
    pal[1:] = np.random.default_rng(0).integers(0, 255, (255, 3))
    path.write_bytes(indexed_png(arr, pal.tobytes()))


def blob_video(rng, T, H, W, K, late=False, edge=False):
    """``T x H x W`` uint8 labels with K ellipse objects (later ids drawn on top)."""
    out = np.zeros((T, H, W), np.uint8)
    yy, xx = np.mgrid[:H, :W]
    for k in range(1, K + 1):
        cy, cx = rng.uniform(0, H), rng.uniform(0, W)
        vy, vx = rng.normal(0, H / 30), rng.normal(0, W / 30)
        ry, rx = rng.uniform(1, H / 3), rng.uniform(1, W / 3)
        start = int(rng.integers(1, max(T, 2))) if (late and k == 1) else 0
        end = T if rng.random() < 0.8 else int(rng.integers(start, T + 1))
        for t in range(start, end):
            y, x = cy + vy * t, cx + vx * t
            if edge:
                y, x = np.clip(y, 0, H - 1), np.clip(x, 0, W - 1)
            m = ((yy - y) / ry) ** 2 + ((xx - x) / rx) ** 2 <= 1 + 0.3 * rng.random()
            out[t][m] = k
    return out


def perturb(rng, gt, K, mode):
    """A plausible result for ``gt``: shifted / noisy / emptied / relabelled masks."""
    T = gt.shape[0]
    if mode == "empty":
        return np.zeros_like(gt)
    if mode == "perfect":
        return gt.copy()
    res = np.zeros_like(gt)
    for t in range(T):
        dy, dx = rng.integers(-3, 4, 2)
        sh = np.roll(np.roll(gt[t], dy, 0), dx, 1)
        noise = rng.random(gt.shape[1:]) < 0.02
        sh = np.where(noise, rng.integers(0, K + 1, gt.shape[1:]), sh)
        if rng.random() < 0.15:
            sh[:] = 0
        res[t] = sh
    if mode == "fewer" and K > 1:
        res[res == K] = 0
    return res.astype(np.uint8)


def write_video(root: Path, seq: str, labels: np.ndarray, names=None) -> list[str]:
    names = names or [f"{i:05d}" for i in range(len(labels))]
    for n, a in zip(names, labels):
        palette_png(a, root / seq / f"{n}.png")
    return names
