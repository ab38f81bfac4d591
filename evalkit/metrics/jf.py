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
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

__all__ = ["disk", "seg2bmap", "bound_pixels", "bbox", "BoundaryPart", "boundary_part", "f_batch", "jf_frame",
           "Statistics", "db_statistics", "ObjectScores", "global_measures"]


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


class BoundaryPart(NamedTuple):
    """The boundary map of one mask on its bbox grown by one pixel (see the module doc).

    Attributes:
        bmap: ``h x w`` bool boundary map of the crop.
        y, x: row / column of the crop's top-left pixel in the frame.
        count: number of boundary pixels (``count_nonzero(bmap)``).
    """

    bmap: np.ndarray
    y: int
    x: int
    count: int

    @property
    def y_end(self) -> int:
        """One past the crop's last row in the frame."""
        return self.y + self.bmap.shape[0]

    @property
    def x_end(self) -> int:
        """One past the crop's last column in the frame."""
        return self.x + self.bmap.shape[1]


def boundary_part(mask: np.ndarray, bb) -> BoundaryPart | None:
    """:class:`BoundaryPart` of a bool ``H x W`` mask whose inclusive bbox is ``bb``, or None
    for an empty mask (``bb`` None)."""
    if bb is None:
        return None
    h, w = mask.shape
    ys, xs = _grow(bb, h, w)
    b = seg2bmap(mask[ys, xs])
    return BoundaryPart(b, ys.start, xs.start, int(np.count_nonzero(b)))


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


@dataclass(frozen=True)
class _Window:
    """One (result, GT) pair that needs dilating: their two boundary crops and the union
    window ``[y, y + height) x [x, x + width)`` (frame coordinates) that holds both."""

    index: int  # position of the pair in the ``f_batch`` input
    res: BoundaryPart
    gt: BoundaryPart
    y: int
    x: int
    height: int
    width: int


def _far_apart(res: BoundaryPart, gt: BoundaryPart, r: int) -> bool:
    """True when the two crops are more than ``r`` pixels apart: no dilated pixel of one can
    reach the other, so neither has a match."""
    return (
        res.y > gt.y_end - 1 + r or gt.y > res.y_end - 1 + r
        or res.x > gt.x_end - 1 + r or gt.x > res.x_end - 1 + r
    )


def f_batch(
    pairs: Sequence[tuple[BoundaryPart | None, BoundaryPart | None]], kernel: np.ndarray, radius: float
) -> list[float]:
    """Official ``f_measure(result, gt)`` for ``(result part, gt part)`` pairs of
    :func:`boundary_part` results (None = empty mask).

    Every pair that needs dilating is placed in one shared canvas — pair i on its own band of
    rows, its result map on the left, its GT map on the right, bands and halves separated by
    more than the radius of zeros so that no dilation crosses them — which is dilated once."""
    r = kernel.shape[0] // 2
    out = [0.0] * len(pairs)
    todo: list[_Window] = []
    for i, (res, gt) in enumerate(pairs):
        n_fg = 0 if res is None else res.count
        n_gt = 0 if gt is None else gt.count
        if n_fg == 0 or n_gt == 0 or _far_apart(res, gt, r):
            out[i] = _f_from_counts(n_fg, n_gt, 0, 0)
            continue
        y0, x0 = min(res.y, gt.y), min(res.x, gt.x)
        todo.append(_Window(i, res, gt, y0, x0, max(res.y_end, gt.y_end) - y0, max(res.x_end, gt.x_end) - x0))
    if not todo:
        return out
    gap = r + 1
    widest = max(w.width for w in todo)
    half = widest + gap  # column where the GT half starts
    rows = sum(w.height for w in todo) + gap * (len(todo) - 1)
    canvas = np.zeros((rows, half + widest), np.uint8)
    top = 0
    for w in todo:
        ry, rx = top + w.res.y - w.y, w.res.x - w.x
        gy, gx = top + w.gt.y - w.y, half + w.gt.x - w.x
        canvas[ry : ry + w.res.bmap.shape[0], rx : rx + w.res.bmap.shape[1]] = w.res.bmap
        canvas[gy : gy + w.gt.bmap.shape[0], gx : gx + w.gt.bmap.shape[1]] = w.gt.bmap
        top += w.height + gap
    dil = _dilate(canvas, radius, kernel)
    top = 0
    for w in todo:
        band, dband = canvas[top : top + w.height], dil[top : top + w.height]
        res_b, gt_b = band[:, : w.width], band[:, half : half + w.width]
        fg_match = int(np.count_nonzero(res_b & dband[:, half : half + w.width]))
        gt_match = int(np.count_nonzero(gt_b & dband[:, : w.width]))
        out[w.index] = _f_from_counts(w.res.count, w.gt.count, fg_match, gt_match)
        top += w.height + gap
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


class Statistics(NamedTuple):
    """The three DAVIS statistics of one object's per-frame J (or F) values."""

    mean: float  # M
    recall: float  # O
    decay: float  # D


def db_statistics(values: np.ndarray, uint8_wrap: bool = True) -> Statistics:
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
    return Statistics(float(M), float(O), float(D))


@dataclass(frozen=True)
class ObjectScores:
    """J and F statistics of one evaluated object (a row of ``per-sequence_results-<set>.csv``)."""

    name: str  # ``<sequence>_<k>``, k from 1
    J: Statistics
    F: Statistics

    def row(self) -> dict[str, object]:
        """The official per-sequence CSV row: ``Sequence``, ``J-Mean`` .. ``F-Decay``."""
        return {
            "Sequence": self.name,
            "J-Mean": self.J.mean, "J-Recall": self.J.recall, "J-Decay": self.J.decay,
            "F-Mean": self.F.mean, "F-Recall": self.F.recall, "F-Decay": self.F.decay,
        }


def global_measures(objects: Sequence[ObjectScores]) -> dict[str, float]:
    """The official ``global_results-<set>.csv`` row: each statistic averaged over all objects
    of all sequences (object-weighted), and ``J&F-Mean`` = (J-Mean + F-Mean) / 2."""
    jm = np.mean([o.J.mean for o in objects])
    fm = np.mean([o.F.mean for o in objects])
    return {
        "J&F-Mean": float((jm + fm) / 2.0),
        "J-Mean": float(jm),
        "J-Recall": float(np.mean([o.J.recall for o in objects])),
        "J-Decay": float(np.mean([o.J.decay for o in objects])),
        "F-Mean": float(fm),
        "F-Recall": float(np.mean([o.F.recall for o in objects])),
        "F-Decay": float(np.mean([o.F.decay for o in objects])),
    }
