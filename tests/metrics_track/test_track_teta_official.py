"""Parity with SysCV/tet's ``teta`` toolkit itself, when a checkout of it is given.

The toolkit is not on PyPI. Point ``TETA_REFERENCE_PATH`` at the ``teta`` folder of a
SysCV/tet checkout (the one holding ``teta/eval.py``) to run these tests; they skip otherwise.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evalkit.metrics import compute

REF = os.environ.get("TETA_REFERENCE_PATH")
pytestmark = pytest.mark.skipif(not REF, reason="TETA_REFERENCE_PATH not set")
RUNNER = Path(__file__).with_name("teta_reference_runner.py")


def random_tao(rng, n_videos=3, n_frames=8, n_objects=6, n_classes=5):
    """A TAO ground truth and results with crowded scenes, class confusions, far false positives,
    unannotated frames and a merged category."""
    cats = [{"id": c, "name": f"class{c}"} for c in range(1, n_classes + 2)]
    cats[0]["merged"] = [{"id": n_classes + 1}]
    gt = {"videos": [], "images": [], "annotations": [], "tracks": [], "categories": cats}
    res = []
    img = 0
    for v in range(1, n_videos + 1):
        gt["videos"].append({"id": v, "name": f"set/v{v}", "neg_category_ids": [], "not_exhaustive_category_ids": []})
        cls = rng.integers(1, n_classes + 2, n_objects)
        pos = rng.uniform(0, 150, (n_objects, 2))
        size = rng.uniform(20, 60, (n_objects, 2))
        tid = {o: 1000 * v + o for o in range(n_objects)}
        for t in range(n_frames):
            img += 1
            gt["images"].append({"id": img, "video_id": v, "frame_index": 3 * t})
            pos += rng.normal(0, 4, pos.shape)
            annotated = rng.random() > 0.15
            for o in range(n_objects):
                box = [*map(float, pos[o]), *map(float, size[o])]
                if annotated and rng.random() > 0.1:
                    gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": img, "video_id": v,
                                              "track_id": 10 * v + o, "category_id": int(cls[o]), "bbox": box})
                if rng.random() < 0.07:
                    tid[o] = int(rng.integers(10**5, 10**6))
                if rng.random() < 0.8:
                    c = int(cls[o]) if rng.random() < 0.8 else int(rng.integers(1, n_classes + 2))
                    jb = [b + float(rng.normal(0, 5)) for b in box]
                    res.append({"image_id": img, "track_id": tid[o], "category_id": c, "bbox": jb,
                                "score": float(rng.random())})
            for k in range(int(rng.poisson(1))):
                res.append({"image_id": img, "track_id": 9000 + 10 * img + k, "category_id": int(rng.integers(1, 4)),
                            "bbox": [float(rng.uniform(300, 400)), 10.0, 30.0, 30.0], "score": 0.3})
    return gt, res


def _official(gt, res, tmp_path):
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    out = subprocess.run([sys.executable, str(RUNNER), REF, str(tmp_path / "gt.json"), str(tmp_path / "res.json")],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("seed", range(4))
def test_random_tao_equals_teta_toolkit(tmp_path, seed):
    rng = np.random.default_rng(seed)
    gt, res = random_tao(rng, n_videos=int(rng.integers(1, 4)), n_frames=int(rng.integers(3, 10)),
                         n_objects=int(rng.integers(2, 9)))
    ours = compute("tao-teta", gt, res)
    ref = _official(gt, res, tmp_path)
    for k, v in ref.items():
        assert ours[k] == pytest.approx(v, rel=1e-12, abs=1e-12), k
