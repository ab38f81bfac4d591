"""Synthetic scenes of coloured shapes: the content of the embedded "shapes" suite.

A scene is a list of :class:`Shape` objects drawn in order (later shapes occlude earlier
ones) on a flat grey background with seeded pixel noise. Categories are ``colour × shape``
(``"red circle"`` … ``"blue triangle"``, ids 1–9). Videos move the shapes with constant
velocities that bounce off the image border, so they cross and occlude each other.

Everything is a pure function of a ``numpy.random.Generator``: the same seed gives the same
pixels on every platform (integer rasterisation, no anti-aliasing, PNG output).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["COLOURS", "SHAPES", "CATEGORIES", "Shape", "category_id", "render", "sample_scene",
           "sample_video", "relation", "expression"]

#: colour name → RGB (saturated, far apart so that JPEG-free PNG frames keep them exact)
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220)}
SHAPES = ("circle", "square", "triangle")
#: COCO-style category list, ids 1..9 in colour-major order
CATEGORIES = [{"id": 1 + ci * len(SHAPES) + si, "name": f"{c} {s}", "supercategory": s}
              for ci, c in enumerate(COLOURS) for si, s in enumerate(SHAPES)]


def category_id(colour: str, shape: str) -> int:
    return 1 + list(COLOURS).index(colour) * len(SHAPES) + SHAPES.index(shape)


@dataclass(frozen=True)
class Shape:
    """One object: ``colour``/``shape`` names, centre ``(cx, cy)`` and half-size ``r`` in
    pixels (image frame, x right, y down), ``vx``/``vy`` pixels per frame (videos)."""

    colour: str
    shape: str
    cx: float
    cy: float
    r: float
    vx: float = 0.0
    vy: float = 0.0

    @property
    def category_id(self) -> int:
        return category_id(self.colour, self.shape)

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    def mask(self, h: int, w: int) -> np.ndarray:
        """``H×W`` bool silhouette (pixel centres at integer + 0.5)."""
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
        dx, dy = xs - self.cx, ys - self.cy
        if self.shape == "circle":
            return dx * dx + dy * dy <= self.r * self.r
        if self.shape == "square":
            return (np.abs(dx) <= self.r) & (np.abs(dy) <= self.r)
        # upward isosceles triangle inscribed in the 2r × 2r square
        top, bottom = self.cy - self.r, self.cy + self.r
        t = (ys - top) / (2 * self.r)  # 0 at the apex, 1 at the base
        return (ys >= top) & (ys <= bottom) & (np.abs(dx) <= t * self.r)

    def step(self, h: int, w: int) -> "Shape":
        """The shape one frame later: move, bouncing off the borders."""
        cx, cy, vx, vy = self.cx + self.vx, self.cy + self.vy, self.vx, self.vy
        if cx - self.r < 0 or cx + self.r > w:
            vx = -vx
            cx = min(max(cx, self.r), w - self.r)
        if cy - self.r < 0 or cy + self.r > h:
            vy = -vy
            cy = min(max(cy, self.r), h - self.r)
        return replace(self, cx=cx, cy=cy, vx=vx, vy=vy)


def render(shapes: list[Shape], h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """Draw ``shapes`` in order. Returns the ``H×W×3`` uint8 image and each shape's *visible*
    ``H×W`` bool mask (occluded pixels removed)."""
    img = np.full((h, w, 3), 128, np.int16) + rng.integers(-12, 13, size=(h, w, 1), dtype=np.int16)
    visible: list[np.ndarray] = []
    for s in shapes:
        m = s.mask(h, w)
        for v in visible:
            v &= ~m
        visible.append(m.copy())
        img[m] = COLOURS[s.colour]
    return np.clip(img, 0, 255).astype(np.uint8), visible


def _random_shape(rng: np.random.Generator, h: int, w: int, rmin: float, rmax: float,
                  speed: float = 0.0) -> Shape:
    r = float(rng.uniform(rmin, rmax))
    colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    cx, cy = float(rng.uniform(r, w - r)), float(rng.uniform(r, h - r))
    ang = float(rng.uniform(0, 2 * np.pi))
    sp = float(rng.uniform(0.5, 1.0)) * speed
    return Shape(colour, shape, round(cx, 2), round(cy, 2), round(r, 2),
                 round(sp * np.cos(ang), 2), round(sp * np.sin(ang), 2))


def _iou_box(a: Shape, b: Shape) -> float:
    ax0, ay0, ax1, ay1 = a.cx - a.r, a.cy - a.r, a.cx + a.r, a.cy + a.r
    bx0, by0, bx1, by1 = b.cx - b.r, b.cy - b.r, b.cx + b.r, b.cy + b.r
    iw, ih = max(0.0, min(ax1, bx1) - max(ax0, bx0)), max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    return inter / ((2 * a.r) ** 2 + (2 * b.r) ** 2 - inter)


def sample_scene(rng: np.random.Generator, h: int = 128, w: int = 128, n: tuple[int, int] = (1, 4),
                 rmin: float = 9.0, rmax: float = 22.0, speed: float = 0.0, max_overlap: float = 0.05,
                 unique: bool = False) -> list[Shape]:
    """``n[0]..n[1]`` shapes that overlap little (box IoU ≤ ``max_overlap``); ``unique``: no two
    shapes of the same category."""
    count = int(rng.integers(n[0], n[1] + 1))
    out: list[Shape] = []
    for _ in range(100 * count):
        if len(out) == count:
            break
        s = _random_shape(rng, h, w, rmin, rmax, speed)
        if unique and any(o.category_id == s.category_id for o in out):
            continue
        if all(_iou_box(s, o) <= max_overlap for o in out):
            out.append(s)
    return out


def sample_video(rng: np.random.Generator, length: int, h: int = 128, w: int = 128,
                 n: tuple[int, int] = (2, 3), speed: float = 4.0, unique: bool = True) -> list[list[Shape]]:
    """``length`` frames of moving shapes (frame-major list of per-frame shape lists; the
    object order — and so the track ids — is the same in every frame)."""
    frames = [sample_scene(rng, h, w, n, rmin=9.0, rmax=18.0, speed=speed, unique=unique)]
    for _ in range(length - 1):
        frames.append([s.step(h, w) for s in frames[-1]])
    return frames


_RELATIONS = ("left of", "right of", "above", "below")


def relation(a: Shape, b: Shape) -> str:
    """The dominant spatial relation of ``a`` to ``b`` (image frame: y grows downwards)."""
    dx, dy = a.cx - b.cx, a.cy - b.cy
    if abs(dx) >= abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def expression(shapes: list[Shape], target: int, rng: np.random.Generator) -> str:
    """A referring expression that singles out ``shapes[target]``.

    A target whose category is unique in the scene is named (``"the red circle"``), half of the
    time with its relation to another shape (``"the red circle left of the blue square"``). A
    target sharing its category is always disambiguated by a relation to a shape of another
    category that no same-category twin shares.
    """
    t = shapes[target]
    twins = [s for i, s in enumerate(shapes) if i != target and s.category_id == t.category_id]
    others = [s for s in shapes if s.category_id != t.category_id]
    if not others:
        return f"the {t.name}"
    if not twins and rng.random() < 0.5:
        return f"the {t.name}"
    for o in [others[int(i)] for i in rng.permutation(len(others))]:
        rel = relation(t, o)
        if all(relation(s, o) != rel for s in twins):
            return f"the {t.name} {rel} the {o.name}"
    return ""  # not expressible: the caller draws another target
