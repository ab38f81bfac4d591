"""Writing rendered frames: PNG (images), animated WebP or MP4 (videos), a frame-strip PNG.

Animated WebP is written by Pillow (a required dependency; it plays in every current browser
and is lossless here). MP4 goes through PyAV (the optional ``viz`` extra: ``pip install
evalkit[viz]``), which wraps FFmpeg's libx264; no encoder is written here.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..errors import EvalkitError

__all__ = ["write_png", "write_webp", "write_mp4", "frame_strip", "strip_picks", "common_size"]


def common_size(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Frames padded (white, bottom/right) to the largest height and width among them: an
    animation needs one size, and the frames of a video may differ (a longer caption)."""
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    return [np.pad(f, ((0, h - f.shape[0]), (0, w - f.shape[1]), (0, 0)), constant_values=255) for f in frames]


def write_png(path: Path, frame: np.ndarray) -> Path:
    """One ``H x W x 3`` uint8 frame as PNG."""
    Image.fromarray(frame).save(path, optimize=False)
    return path


def write_webp(path: Path, frames: Sequence[np.ndarray], fps: float = 4.0) -> Path:
    """Frames (``H x W x 3`` uint8, equal sizes) as a looping lossless animated WebP."""
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, format="WEBP", save_all=True, append_images=images[1:], duration=int(1000 / fps),
                   loop=0, lossless=True, method=0)
    return path


def write_mp4(path: Path, frames: Sequence[np.ndarray], fps: float = 4.0) -> Path:
    """Frames as H.264 MP4 (yuv420p, even sizes: a frame of odd size is padded by one white
    row/column, as the codec needs). Needs PyAV (``pip install evalkit[viz]``)."""
    try:
        import av
    except ImportError:
        raise EvalkitError("MP4 output needs PyAV: pip install 'evalkit[viz]' (or av); "
                           "the default --video webp needs nothing more") from None
    h, w = frames[0].shape[:2]
    ph, pw = h + h % 2, w + w % 2
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000), width=pw, height=ph,
                                      pix_fmt="yuv420p")
        for f in frames:
            if (ph, pw) != (h, w):
                f = np.pad(f, ((0, ph - h), (0, pw - w), (0, 0)), constant_values=255)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def strip_picks(n: int, columns: int = 8) -> list[int]:
    """Indices of up to ``columns`` frames evenly spaced over ``n`` (first and last included)."""
    return sorted({int(round(k * (n - 1) / max(columns - 1, 1))) for k in range(min(columns, n))})


def frame_strip(frames: Sequence[np.ndarray], labels: Sequence[str], columns: int = 8,
                height: int = 180) -> np.ndarray:
    """Up to ``columns`` frames evenly spaced over the video, each resized to ``height`` pixels
    high and titled with its label (frame index), side by side: ``height+title x sum(widths)``."""
    from .draw import hstack, label_panel

    tiles = []
    for i in strip_picks(len(frames), columns):
        im = Image.fromarray(frames[i])
        w = max(1, int(round(im.width * height / im.height)))
        tiles.append(label_panel(np.asarray(im.resize((w, height), Image.BILINEAR)), labels[i]))
    return hstack(tiles)
