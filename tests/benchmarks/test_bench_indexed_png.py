"""The one DAVIS palette and indexed-PNG writer (``evalkit.benchmarks._io``): palette values
derived by hand, bytes equal to a plain PIL save, atomic replace, bad label maps refused."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from evalkit.benchmarks._io import davis_palette, indexed_png, write_indexed_png
from evalkit.errors import ResultsError


def test_davis_palette_by_hand():
    """PASCAL VOC colour map (the palette of the DAVIS and YouTube-VOS annotation PNGs):
    index bits 0, 1, 2 go to the top bit of R, G, B, bits 3, 4, 5 to the next, and so on.
    255 = 0b11111111 → R, G get bits 7-5 set (224), B bits 7-6 (192)."""
    pal = davis_palette()
    assert isinstance(pal, bytes) and len(pal) == 768
    rgb = [tuple(pal[3 * i:3 * i + 3]) for i in range(256)]
    assert rgb[:9] == [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128), (128, 0, 128),
                       (0, 128, 128), (128, 128, 128), (64, 0, 0)]
    assert rgb[255] == (224, 224, 192)


def test_indexed_png_bytes_equal_a_pil_save_and_read_back(tmp_path):
    lab = np.zeros((5, 7), np.uint8)
    lab[1:3, 2:6] = 2
    lab[4, 0] = 255
    im = Image.fromarray(lab, mode="P")
    im.putpalette(davis_palette())
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    assert indexed_png(lab) == buf.getvalue()
    p = write_indexed_png(tmp_path / "v" / "00000.png", lab.astype(np.int64))  # any integer dtype
    assert p.read_bytes() == buf.getvalue()
    with Image.open(p) as back:
        assert back.mode == "P" and bytes(back.getpalette()[:768]) == davis_palette()
        np.testing.assert_array_equal(np.asarray(back), lab)
    own = bytes(range(256)) * 3
    with Image.open(io.BytesIO(indexed_png(lab, own))) as back:
        assert bytes(back.getpalette()) == own


def test_write_is_atomic(tmp_path, monkeypatch):
    """A failure after the temporary file is written leaves the old frame and no temporary."""
    p = write_indexed_png(tmp_path / "00000.png", np.ones((3, 3), np.uint8))
    before = p.read_bytes()

    def fail(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_indexed_png(p, np.full((3, 3), 2, np.uint8))
    assert p.read_bytes() == before and [x.name for x in tmp_path.iterdir()] == ["00000.png"]


@pytest.mark.parametrize("labels, match", [
    (np.zeros((2, 2, 3), np.uint8), r"label map for .*a\.png must be H x W, got shape \(2, 2, 3\)"),
    (np.array([[0, 256]]), r"label map for .*a\.png has ids outside 0\.\.255 \(min 0, max 256\)"),
    # a cast to uint8 would silently turn -1 into 255 (the void label)
    (np.array([[-1, 3]]), r"label map for .*a\.png has ids outside 0\.\.255 \(min -1, max 3\)"),
])
def test_bad_label_maps_are_refused(tmp_path, labels, match):
    with pytest.raises(ResultsError, match=match):
        write_indexed_png(tmp_path / "a.png", labels)
    assert not (tmp_path / "a.png").exists()
