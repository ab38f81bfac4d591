"""Drawing predictions and ground truth over a frame (Pillow + numpy; no OpenCV needed).

Everything here works in the *display* frame: the original frame (``H x W x 3`` RGB uint8, the
frame of :class:`evalkit.types.Instances`) enlarged by an integer ``scale`` (nearest neighbour,
so a 128-pixel synthetic frame stays crisp and its labels legible). Boxes are xyxy original
pixels and are multiplied by ``scale``; masks are ``N x H x W`` bool and are repeated ``scale``
times along both axes.

Colours are a function of an instance's *identity*: the track id where there is one (video: the
same object has the same colour on every frame), else its category id (images: a category has
the same colour in the prediction and the ground-truth panel, so a wrong class shows as a
different colour), else the index of the instance within its frame (REC, SOT). :func:`id_colour` spaces hues by the golden ratio, so
consecutive ids get clearly different colours and no palette runs out.
"""
from __future__ import annotations

import colorsys
import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["Style", "id_colour", "display_scale", "draw_instances", "caption_bar", "hstack", "label_panel"]

#: hue step: the fractional part of the golden ratio gives the most evenly spread sequence of
#: hues for consecutive integers (no two ids within a few of each other look alike)
_GOLDEN = 0.6180339887498949
#: the dark ring drawn around every box and mask outline: an instance whose colour is that of
#: its object (a red track on a red car) stays visible
_HALO = (20, 20, 20)


@dataclass(frozen=True)
class Style:
    """How instances are drawn.

    Attributes:
        alpha: opacity of a mask's fill (0..1); the frame shows through the rest.
        line: box outline width in display pixels.
        gt_line: width of the dashed ground-truth outline in ``overlay`` mode.
        min_side: frames whose longer side is shorter are enlarged by an integer factor to at
            least this many pixels (labels would cover a 128-pixel frame otherwise).
        font: label size in display pixels; None: 12 (10 on frames under 200 pixels). A
            picture that is reduced afterwards (the frame strip) asks for a larger one.
    """

    alpha: float = 0.45
    line: int = 2
    gt_line: int = 2
    min_side: int = 384
    font: int | None = None


def id_colour(identity: int) -> tuple[int, int, int]:
    """A stable, saturated RGB colour for a track id / instance index (``identity >= 0``)."""
    hue = (int(identity) * _GOLDEN) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def display_scale(size: tuple[int, int], style: Style = Style()) -> int:
    """Integer enlargement of an ``(H, W)`` frame for display (1 for frames already large)."""
    longer = max(size)
    return max(1, -(-style.min_side // max(longer, 1)))


@functools.lru_cache(maxsize=8)
def _font(size: int = 12):
    """Pillow's bundled font (decoded from its embedded copy on each load: cached)."""
    try:  # Pillow >= 10.1 scales its bundled font; older ones have one fixed-size bitmap font
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def _enlarge(frame: np.ndarray, scale: int) -> np.ndarray:
    return frame if scale == 1 else np.repeat(np.repeat(frame, scale, 0), scale, 1)


def _crop(mask: np.ndarray, scale: int):
    """``(slices of the display frame, enlarged mask inside them)`` of a bool ``H x W`` mask's
    bounding box, one pixel wider on each side where the frame allows (so that the outline of
    a mask is found at its edge); ``(None, None)`` for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return None, None
    y0, y1 = max(rows[0] - 1, 0), min(rows[-1] + 2, mask.shape[0])
    x0, x1 = max(cols[0] - 1, 0), min(cols[-1] + 2, mask.shape[1])
    return (slice(y0 * scale, y1 * scale), slice(x0 * scale, x1 * scale)), _enlarge(mask[y0:y1, x0:x1], scale)


def _outline(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a bool mask (the mask minus its 4-neighbour erosion)."""
    m = np.pad(mask, 1)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return mask & ~inner


def _ring(mask: np.ndarray) -> np.ndarray:
    """Pixels just outside a bool mask (its 4-neighbour dilation minus the mask)."""
    m = np.pad(mask, 1)
    grown = m[1:-1, 1:-1] | m[:-2, 1:-1] | m[2:, 1:-1] | m[1:-1, :-2] | m[1:-1, 2:]
    return grown & ~mask


def _text_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``rgb`` (ITU-R BT.601 luma)."""
    return (0, 0, 0) if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 else (255, 255, 255)


def _dashed_rect(draw: ImageDraw.ImageDraw, box, fill, width: int, dash: int = 6) -> None:
    x0, y0, x1, y1 = box
    for a, b, horizontal, c in ((x0, x1, True, y0), (x0, x1, True, y1), (y0, y1, False, x0), (y0, y1, False, x1)):
        t = a
        while t < b:
            e = min(t + dash, b)
            draw.line([(t, c), (e, c)] if horizontal else [(c, t), (c, e)], fill=fill, width=width)
            t += 2 * dash


def draw_instances(frame: np.ndarray, inst, names: dict[int, str] | None = None, *, scale: int = 1,
                   gt=None, style: Style = Style()) -> np.ndarray:
    """Draw ``inst`` (an :class:`~evalkit.types.Instances` of this frame, already filtered)
    over ``frame``; with ``gt`` (Instances), also draw the ground truth as dashed white
    outlines (the ``--gt overlay`` mode).

    Args:
        frame: ``H x W x 3`` uint8 RGB, the original frame.
        inst: predictions in the original frame (boxes xyxy pixels, masks ``H x W``).
        names: dataset category id -> name, for the labels.
        scale: integer display enlargement (:func:`display_scale`).
    Returns:
        ``H*scale x W*scale x 3`` uint8 RGB.

    Each instance gets one colour (:func:`id_colour` of its track id, else category, else index): mask
    fill blended at ``style.alpha`` with a solid outline, box outline, and a label
    ``name score #track`` on a filled tag above the box (below its top edge when the box
    touches the top of the frame).
    """
    out = _enlarge(np.ascontiguousarray(frame[..., :3], dtype=np.uint8), scale).copy()
    n = len(inst)
    colours = [id_colour(_identity(inst, i)) for i in range(n)]
    masks = inst.dense_masks()
    # masks are blended inside their bounding box only: whole-frame work per mask made most of a
    # gallery's time on COCO-size frames
    crops = [_crop(m, scale) for m in masks] if masks is not None else []
    # drawn from the last instance to the first: the list is best-first (filter_instances), so
    # the best-scoring mask and label end on top where instances overlap
    for (region, m), colour in reversed(list(zip(crops, colours))):
        if m is None:
            continue
        view = out[region]
        blend = (1 - style.alpha) * view + style.alpha * np.asarray(colour, np.float32) + 0.5
        # copyto with a mask rather than a boolean-indexed read and write of the same pixels (slower)
        np.copyto(view, blend.astype(np.uint8), where=m[..., None])
    # outlines after every fill, so that no fill is painted over an outline; a dark ring just
    # outside each mask keeps its shape visible on an object of its own colour
    for (region, m), colour in reversed(list(zip(crops, colours))):
        if m is not None:
            out[region][_ring(m)] = _HALO
            out[region][_outline(m)] = colour
    if gt is not None and gt.masks is not None:
        for region, m in (_crop(g, scale) for g in gt.dense_masks()):
            if m is not None:
                out[region][_outline(m)] = (255, 255, 255)
    img = Image.fromarray(out)
    draw = ImageDraw.Draw(img)
    boxes = inst.boxes
    if boxes is None and masks is not None:  # mask-only tasks: the tag goes above the mask's extent
        boxes = np.array([_mask_box(m) for m in masks], np.float32).reshape(-1, 4)
    if gt is not None and gt.boxes is not None:
        for b in gt.boxes * scale:
            _dashed_rect(draw, [float(v) for v in b], (255, 255, 255), style.gt_line)
    font = _font(style.font or (12 if scale * min(frame.shape[:2]) >= 200 else 10))
    if boxes is not None:
        for i in reversed(range(n)):
            if inst.boxes is not None:
                x0, y0, x1, y1 = (float(v) * scale for v in boxes[i])
                draw.rectangle([x0 - 1, y0 - 1, x1 + 1, y1 + 1], outline=_HALO, width=style.line + 2)
                draw.rectangle([x0, y0, x1, y1], outline=colours[i], width=style.line)
        texts = [_label(inst, i, names) for i in range(n)]
        tags = _place_tags(draw, font, texts, boxes * scale, img.size)
        for i in reversed(range(n)):  # the best-scoring tag is drawn last, on top
            if tags[i] is None:
                continue
            tx, ty, tw, th = tags[i]
            l, t = draw.textbbox((0, 0), texts[i], font=font)[:2]
            draw.rectangle([tx, ty, tx + tw, ty + th], fill=colours[i])
            draw.text((tx + 2 - l, ty + 1 - t), texts[i], fill=_text_colour(colours[i]), font=font)
    return np.asarray(img)


def _place_tags(draw: ImageDraw.ImageDraw, font, texts: list[str], boxes: np.ndarray,
                size: tuple[int, int]) -> list[tuple[float, float, float, float] | None]:
    """``(x, y, w, h)`` of each instance's label tag in display pixels (None without a label),
    placed best-first (``texts`` are in score order): above the box, or below its top edge
    when the box touches the top of the frame, and moved down one tag height at a time while it
    would cover a tag already placed. Two detections of one object (a duplicate, or the same box
    with another class) would otherwise print their tags on the same spot, the better one hiding
    the other: exactly the errors an overlay should show."""
    placed: list[tuple[float, float, float, float]] = []
    out: list[tuple[float, float, float, float] | None] = []
    width, height = size
    for text, (x0, y0, _x1, _y1) in zip(texts, boxes.tolist()):
        if not text:
            out.append(None)
            continue
        l, t, r, btm = draw.textbbox((0, 0), text, font=font)
        tw, th = r - l + 4, btm - t + 2
        ty = y0 - th if y0 - th >= 0 else y0
        tx = min(max(x0, 0), max(width - tw, 0))
        for _ in range(2 * len(placed) + 1):  # bounded: a crowded frame may end with tags overlapping
            if not any(tx < px + pw and px < tx + tw and ty < py + ph and py < ty + th for px, py, pw, ph in placed):
                break
            ty = min(ty + th + 1, max(height - th, 0))
        placed.append((tx, ty, tw, th))
        out.append((tx, ty, tw, th))
    return out


def _identity(inst, i: int) -> int:
    """What instance ``i``'s colour follows: its track id (the same object on every frame), else
    its category (the same colour for a category in the prediction and ground-truth panels),
    else its index in the frame."""
    if inst.track_ids is not None:
        return int(inst.track_ids[i])
    if inst.labels is not None:
        return int(inst.labels[i])
    return i


def _mask_box(m: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(m)
    if not len(xs):
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def _label(inst, i: int, names: dict[int, str] | None) -> str:
    parts = []
    if inst.labels is not None:
        lab = int(inst.labels[i])
        parts.append((names or {}).get(lab, str(lab)))
    if inst.scores is not None:
        parts.append(f"{float(inst.scores[i]):.2f}")
    if inst.track_ids is not None:
        parts.append(f"#{int(inst.track_ids[i])}")
    return " ".join(parts)


def caption_bar(lines: Sequence[str], width: int, *, size: int = 12) -> np.ndarray:
    """A white bar ``h x width x 3`` uint8 holding ``lines`` of dark text (long lines are cut
    with an ellipsis to fit the width)."""
    font = _font(size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    fitted = []
    for line in lines:
        if probe.textlength(line, font=font) <= width - 8:
            fitted.append(line)
            continue
        lo, hi = 0, len(line)  # the longest prefix that fits with its ellipsis: binary search
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if probe.textlength(line[:mid] + "…", font=font) <= width - 8:
                lo = mid
            else:
                hi = mid - 1
        fitted.append(line[:lo] + "…")
    step = size + 4
    img = Image.new("RGB", (width, step * len(fitted) + 6), (250, 250, 250))
    draw = ImageDraw.Draw(img)
    for k, text in enumerate(fitted):
        draw.text((4, 3 + k * step), text, fill=(20, 20, 20), font=font)
    return np.asarray(img)


def label_panel(panel: np.ndarray, title: str) -> np.ndarray:
    """``panel`` with a one-line title bar above it ("prediction", "ground truth")."""
    return np.concatenate([caption_bar([title], panel.shape[1], size=11), panel], 0)


def hstack(panels: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Panels side by side (top-aligned, white gaps and padding)."""
    h = max(p.shape[0] for p in panels)
    cols = []
    for k, p in enumerate(panels):
        if k:
            cols.append(np.full((h, gap, 3), 255, np.uint8))
        cols.append(np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)), constant_values=255))
    return np.concatenate(cols, 1)
