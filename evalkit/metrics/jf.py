"""Region similarity J and contour accuracy F (Perazzi et al., CVPR 2016), fast and exact.

These are the per-frame, per-object measures of ``davis2017-evaluation`` (``db_eval_iou``,
``f_measure``, ``db_statistics``), computed so that every number equals the official one bit
for bit, but without the official full-frame work per object:

* **J** = |S ∩ G| / |S ∪ G|, and 1 when the union is empty (both masks empty).
* **F** boundary F-measure. Boundaries come from ``seg2bmap`` (a pixel is a boundary pixel when
  it differs from its east, south or south-east neighbour; the last row is compared only with
  its east neighbour, the last column only with its south neighbour, the bottom-right pixel is
  never a boundary). Each boundary map is dilated with ``cv2.dilate`` by the disk of
  ``skimage.morphology.disk(r)`` with ``r = ceil(bound_th * ||(H, W)||)`` (``bound_th`` < 1, else
  ``r = bound_th``): 8 px at 480x854. precision = |B_S ∧ dil(B_G)| / |B_S|, recall =
  |B_G ∧ dil(B_S)| / |B_G|; no predicted boundary → P=1, R=0 (R=1 too when the GT has none);
  GT without boundary but a predicted one → P=0, R=1; F = 2PR/(P+R), 0 when P+R = 0.

Speed (why this is exact): a boundary pixel can only lie inside the object's bounding box grown
by one pixel, so ``seg2bmap`` is evaluated on that crop (the crop's extra zero row/column gives
the same values as the official last-row/column rule, and when the crop touches the image edge
the rule is the official one). ``cv2.dilate`` ignores pixels outside its input (its default
border value is -inf for dilation), and both boundary maps are zero outside the union of their
crops, so dilating only that union window gives the official counts (all objects of a frame
share one canvas, separated by zero gaps wider than the radius). The disk itself is
dilated as the union of a few centred rectangles (one per distinct row half-width), which is
the same set and is separable. J and F are then integer counts, divided exactly as the
official code divides them.
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np

__all__ = ["disk", "seg2bmap", "bound_pixels", "bbox", "boundary_part", "f_batch", "jf_frame", "db_statistics"]


def disk(radius: float) -> np.ndarray:
    """``skimage.morphology.disk(radius)`` as ``uint8``: ones where x² + y² <= radius² on the
    grid ``arange(-radius, radius + 1)`` (so ``(2r+1) x (2r+1)`` for an integer radius; radius 8
    gives 197 ones)."""
    ax = np.arange(-radius, radius + 1)
    return ((ax[:, None] ** 2 + ax[None, :] ** 2) <= radius**2).astype(np.uint8)


def bound_pixels(shape: tuple[int, int], bound_th: float = 0.008) -> float:
    """Dilation radius in pixels for a frame of ``shape`` ``(H, W)`` (official rule)."""
    return bound_th if bound_th >= 1 else float(np.ceil(bound_th * np.linalg.norm(shape)))


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """Boundary map of a boolean ``H x W`` mask with the official edge rules (see module doc)."""
    seg = np.asarray(seg, dtype=bool)
    b = np.zeros_like(seg)
    if seg.shape[0] > 1 and seg.shape[1] > 1:
        c = seg[:-1, :-1]
        b[:-1, :-1] = (c ^ seg[:-1, 1:]) | (c ^ seg[1:, :-1]) | (c ^ seg[1:, 1:])
    b[-1, :-1] = seg[-1, :-1] ^ seg[-1, 1:]
    b[:-1, -1] = seg[:-1, -1] ^ seg[1:, -1]
    b[-1, -1] = False
    return b


def bbox(m: np.ndarray) -> tuple[int, int, int, int] | None:
    """Inclusive ``(y0, y1, x0, x1)`` of the non-zero pixels of ``m`` (bool or uint8), or None."""
    import cv2

    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(m).view(np.uint8))
    if w == 0:
        return None
    return y, y + h - 1, x, x + w - 1


def _grow(bb, h, w):
    """Grow an inclusive bbox by one pixel on each side; returns half-open slices."""
    y0, y1, x0, x1 = bb
    return slice(max(y0 - 1, 0), min(y1 + 2, h)), slice(max(x0 - 1, 0), min(x1 + 2, w))


def boundary_part(mask: np.ndarray, bb) -> tuple[np.ndarray, int, int, int] | None:
    """Boundary map of a bool mask on its bbox grown by one pixel: ``(bmap, row offset, col
    offset, number of boundary pixels)``, or None for an empty mask (``bb`` None)."""
    if bb is None:
        return None
    h, w = mask.shape
    ys, xs = _grow(bb, h, w)
    b = seg2bmap(mask[ys, xs])
    return b, ys.start, xs.start, int(np.count_nonzero(b))


def _f_from_counts(n_fg: int, n_gt: int, fg_match: int, gt_match: int) -> float:
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision = fg_match / float(n_fg)
        recall = gt_match / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


@functools.lru_cache(maxsize=64)
def _disk_rects(radius: int) -> tuple[np.ndarray, ...]:
    """The integer disk as a union of centred rectangles (one per distinct row half-width):
    dilating by each and taking the maximum equals dilating by the disk, and rectangular
    dilations are separable (much cheaper in OpenCV than the 197-tap disk)."""
    half = [math.isqrt(radius * radius - d * d) for d in range(radius + 1)]
    return tuple(
        np.ones((2 * d + 1, 2 * half[d] + 1), np.uint8)
        for d in range(radius + 1)
        if d == radius or half[d + 1] < half[d]
    )


def _dilate(b: np.ndarray, radius: float, kernel: np.ndarray) -> np.ndarray:
    """``cv2.dilate(b, disk(radius))`` for a uint8 0/1 map (border pixels ignored, as OpenCV)."""
    import cv2

    if not float(radius).is_integer():  # non-integer radius: the literal (even-sized) kernel
        return cv2.dilate(b, kernel)
    rects = _disk_rects(int(radius))
    out = cv2.dilate(b, rects[0])
    for k in rects[1:]:
        np.maximum(out, cv2.dilate(b, k), out=out)
    return out


def f_batch(pairs, kernel: np.ndarray, radius: float) -> list[float]:
    """Official ``f_measure(result, gt)`` for ``(result part, gt part)`` pairs of
    :func:`boundary_part` results.

    Every pair that needs dilating is placed in one shared canvas — pair i on its own band of
    rows, its result map on the left, its GT map on the right, bands and halves separated by
    more than the radius of zeros so that no dilation crosses them — which is dilated once."""
    r = kernel.shape[0] // 2
    out = [0.0] * len(pairs)
    todo = []
    for i, (pf, pg) in enumerate(pairs):
        n_fg = 0 if pf is None else pf[3]
        n_gt = 0 if pg is None else pg[3]
        if n_fg == 0 or n_gt == 0:
            out[i] = _f_from_counts(n_fg, n_gt, 0, 0)
            continue
        bf, fy, fx, _ = pf
        bg, gy, gx, _ = pg
        # windows farther apart than the radius cannot match (no dilation needed)
        if (
            fy > gy + bg.shape[0] - 1 + r or gy > fy + bf.shape[0] - 1 + r
            or fx > gx + bg.shape[1] - 1 + r or gx > fx + bf.shape[1] - 1 + r
        ):
            out[i] = _f_from_counts(n_fg, n_gt, 0, 0)
            continue
        # union window of the two boundary crops
        y0, x0 = min(fy, gy), min(fx, gx)
        hh = max(fy + bf.shape[0], gy + bg.shape[0]) - y0
        ww = max(fx + bf.shape[1], gx + bg.shape[1]) - x0
        todo.append((i, pf, pg, y0, x0, hh, ww))
    if not todo:
        return out
    gap = r + 1
    half = max(t[6] for t in todo) + gap  # column where the GT half starts
    rows = sum(t[5] for t in todo) + gap * (len(todo) - 1)
    canvas = np.zeros((rows, half + max(t[6] for t in todo)), np.uint8)
    top = 0
    for i, (bf, fy, fx, _), (bg, gy, gx, _), y0, x0, hh, ww in todo:
        canvas[top + fy - y0 : top + fy - y0 + bf.shape[0], fx - x0 : fx - x0 + bf.shape[1]] = bf
        canvas[top + gy - y0 : top + gy - y0 + bg.shape[0], half + gx - x0 : half + gx - x0 + bg.shape[1]] = bg
        top += hh + gap
    dil = _dilate(canvas, radius, kernel)
    top = 0
    for i, pf, pg, y0, x0, hh, ww in todo:
        band, dband = canvas[top : top + hh], dil[top : top + hh]
        cf, cg = band[:, :ww], band[:, half : half + ww]
        fg_match = int(np.count_nonzero(cf & dband[:, half : half + ww]))
        gt_match = int(np.count_nonzero(cg & dband[:, :ww]))
        out[i] = _f_from_counts(pf[3], pg[3], fg_match, gt_match)
        top += hh + gap
    return out


def jf_frame(
    gt: np.ndarray, res: np.ndarray, n_objects: int, kernel: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """J and F of objects ``1..n_objects`` on one frame.

    Args:
        gt: ``H x W`` uint8 GT label map (void 255 and labels > n_objects never equal an
            object id, so they count as background).
        res: ``H x W`` uint8 result label map (labels > n_objects must have been refused).
        n_objects: K.
        kernel: the dilation disk (``disk(radius)``).
        radius: the dilation radius (``bound_pixels(...)``).

    Returns:
        ``(J, F)``, two float64 arrays of shape ``(K,)``.
    """
    h, w = gt.shape
    J = np.ones(n_objects)
    F = np.ones(n_objects)
    if n_objects == 0:
        return J, F
    import cv2

    bb = bbox(cv2.bitwise_or(gt, res))  # joint foreground (labels are non-zero)
    if bb is None:
        return J, F  # every object empty in both: J = F = 1
    # crop both maps to the joint foreground box grown by one pixel (exact, see module doc)
    ys, xs = _grow(bb, h, w)
    g, r = gt[ys, xs], res[ys, xs]
    pairs, objs = [], []
    for k in range(1, n_objects + 1):
        gk = g == k
        rk = r == k
        bb_g = bbox(gk)
        bb_r = bbox(rk)
        if bb_g is None and bb_r is None:
            continue
        inter = int(np.count_nonzero(gk & rk)) if bb_g is not None and bb_r is not None else 0
        union = int(np.count_nonzero(gk)) + int(np.count_nonzero(rk)) - inter
        J[k - 1] = inter / union
        pairs.append((boundary_part(rk, bb_r), boundary_part(gk, bb_g)))
        objs.append(k - 1)
    F[objs] = f_batch(pairs, kernel, radius)
    return J, F


def db_statistics(values: np.ndarray, uint8_wrap: bool = True) -> tuple[float, float, float]:
    """Mean M, recall O and decay D of one object's per-frame values (official ``db_statistics``).

    M = nanmean(values); O = nanmean(values > 0.5) (strict); D = nanmean(bin 1) − nanmean(bin 4)
    over 4 bins with edges ``round(linspace(1, N, 5) + 1e-10) - 1``; bin i spans the edges
    ``[e_i, e_{i+1}]`` inclusive, so neighbouring bins share a frame.

    Quirk (reproduced when ``uint8_wrap``): the official code casts the bin edges to ``uint8``,
    so for N > 256 frames they wrap modulo 256 and D is wrong or NaN (empty bins). With
    ``uint8_wrap=False`` the edges are kept as integers (the evident intent).
    """
    v = np.asarray(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        M = np.nanmean(v)
        O = np.nanmean(v > 0.5)
        ids = np.round(np.linspace(1, len(v), 5) + 1e-10) - 1
        ids = ids.astype(np.uint8) if uint8_wrap else ids.astype(np.int64)
        bins = [v[ids[i] : ids[i + 1] + 1] for i in range(4)]
        D = np.nanmean(bins[0]) - np.nanmean(bins[3])
    return float(M), float(O), float(D)

