"""Regenerate ``examples/coco-mini/``: a small synthetic COCO-format ground truth and a
detector-like results file (GT boxes jittered, some missed, some false positives), used by the
README's first command. Deterministic: ``python scripts/make_example.py``.
"""
import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "examples" / "coco-mini"


def main() -> None:
    rng = np.random.default_rng(2024)
    cats = [{"id": i + 1, "name": n, "supercategory": "shape"}
            for i, n in enumerate(["circle", "square", "triangle"])]
    images, anns, dets = [], [], []
    for i in range(1, 41):
        w, h = int(rng.integers(200, 320)), int(rng.integers(160, 240))
        images.append({"id": i, "file_name": f"{i:06d}.jpg", "width": w, "height": h})
        for _ in range(int(rng.integers(1, 6))):
            bw, bh = rng.uniform(8, w / 2), rng.uniform(8, h / 2)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            c = int(rng.integers(1, 4))
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": c,
                         "bbox": [round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)],
                         "area": round(bw * bh, 2), "iscrowd": int(rng.random() < 0.03)})
            if rng.random() < 0.85:  # detected, with localisation noise
                j = rng.normal(0, 0.08, 4) * [bw, bh, bw, bh]
                dets.append({"image_id": i, "category_id": c if rng.random() < 0.9 else int(rng.integers(1, 4)),
                             "bbox": [round(float(v), 2) for v in (x + j[0], y + j[1], max(1, bw + j[2]), max(1, bh + j[3]))],
                             "score": round(float(rng.uniform(0.3, 1.0)), 4)})
        for _ in range(int(rng.integers(0, 3))):  # false positives
            bw, bh = rng.uniform(8, 60), rng.uniform(8, 60)
            dets.append({"image_id": i, "category_id": int(rng.integers(1, 4)),
                         "bbox": [round(float(rng.uniform(0, w - bw)), 2), round(float(rng.uniform(0, h - bh)), 2),
                                  round(float(bw), 2), round(float(bh), 2)],
                         "score": round(float(rng.uniform(0.05, 0.6)), 4)})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "instances_val.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}) + "\n")
    (OUT / "bbox_results.json").write_text(json.dumps(dets) + "\n")


if __name__ == "__main__":
    main()
