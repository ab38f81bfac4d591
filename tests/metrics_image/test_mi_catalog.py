"""The image metrics are registered with their metadata, and listing them imports nothing heavy."""
from __future__ import annotations

import subprocess
import sys

from evalkit.metrics import METRICS

IDS = ["coco-bbox", "coco-segm", "lvis-bbox", "lvis-segm", "ytvis", "refcoco-rec", "refcoco-res", "fss", "odinw"]


def test_registered_with_metadata():
    for i in IDS:
        e = METRICS.get(i)
        assert e.meta["primary"] in e.meta["reports"]
        assert e.meta["oracle"] and e.meta["inputs"] and e.description
        assert callable(e.load())


def test_catalog_is_light():
    code = "import sys, evalkit.metrics.catalog_image; print(any(m in sys.modules for m in ('numpy', 'pycocotools', 'torch')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
