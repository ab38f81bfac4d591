"""Label-PNG reading: the direct decoder equals PIL on every PNG flavour, bad files are named."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from evalkit.errors import ResultsError
from evalkit.metrics._masks_io import _fast_png, read_label_png


@pytest.mark.parametrize("seed", range(6))
def test_reader_equals_pil(tmp_path, seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 70)), int(rng.integers(1, 90))
    a = (rng.integers(0, 6, (h, w)) * (rng.random((h, w)) < 0.4)).astype(np.uint8)
    files = {}
    files["p"] = tmp_path / "p.png"
    im = Image.fromarray(a, mode="P")
    im.putpalette(list(range(256)) * 3)  # full 8-bit palette, as VOS annotations have
    im.save(files["p"])
    files["l"] = tmp_path / "l.png"
    Image.fromarray(a, mode="L").save(files["l"])
    files["p_bits"] = tmp_path / "pb.png"
    im = Image.fromarray(np.minimum(a, 3), mode="P")
    im.save(files["p_bits"], bits=2)  # sub-byte palette: decoded by PIL
    files["cv2"] = tmp_path / "cv.png"
    cv2.imwrite(str(files["cv2"]), np.cumsum(a, 1).astype(np.uint8))  # libpng filters: PIL path
    for f in files.values():
        assert (read_label_png(f) == np.asarray(Image.open(f))).all(), f.name
    assert _fast_png(files["p"].read_bytes()) is not None


def test_bad_files_are_named(tmp_path):
    f = tmp_path / "x.png"
    f.write_bytes(b"not a png")
    with pytest.raises(ResultsError, match="x.png cannot be read"):
        read_label_png(f)
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(tmp_path / "y.png")
    with pytest.raises(ResultsError, match="y.png has PNG mode"):
        read_label_png(tmp_path / "y.png")
    with pytest.raises(ResultsError, match="z.png is missing"):
        read_label_png(tmp_path / "z.png")
