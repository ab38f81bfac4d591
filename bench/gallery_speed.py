"""Speed of ``evalkit report RUN --gallery`` on a COCO-size split (5,000 images by default).

    python bench/gallery_speed.py [--images 5000] [--size 640x480] [--objects 6] [--workers 1,2] [--keep DIR]

Generates, in a temporary folder, a dataset in the COCO layout (``coco/val2017/*.jpg`` and
``coco/annotations/instances_val2017.json`` with RLE masks) read by the real ``coco-val2017-seg``
reader, and a run directory whose prediction store holds, per image, the ground-truth objects
(shifted a little) plus two false positives, each with a mask; and a ``breakdown.json``. Then
times :func:`evalkit.show.gallery.write_gallery` (every sample: thumbnail and full overlay) with
each ``--workers`` count and prints seconds, samples per second and the page's size. As a baseline measured in the same run,
it encodes the overlays of the first ``--compare`` samples both as the gallery writes them (JPEG)
and as PNG, and prints the ratio of the two encoding times.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _shape_mask(h: int, w: int, box: tuple[int, int, int, int], ellipse: bool) -> np.ndarray:
    x0, y0, x1, y1 = box
    m = np.zeros((h, w), bool)
    if ellipse:
        yy, xx = np.ogrid[y0:y1, x0:x1]
        cy, cx, ry, rx = (y0 + y1 - 1) / 2, (x0 + x1 - 1) / 2, (y1 - y0) / 2, (x1 - x0) / 2
        m[y0:y1, x0:x1] = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    else:
        m[y0:y1, x0:x1] = True
    return m


def make_dataset(root: Path, n: int, size: tuple[int, int], objects: int, seed: int = 0) -> dict:
    """COCO-layout images with ``objects`` filled rectangles/ellipses each; returns the GT
    (masks as RLE)."""
    from PIL import Image

    from evalkit.types import mask_to_rle

    rng = np.random.default_rng(seed)
    w, h = size
    (root / "val2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    cats = [{"id": i + 1, "name": name} for i, name in enumerate(
        ["person", "car", "dog", "cat", "chair", "bottle", "cup", "bird", "bus", "truck"])]
    images, anns = [], []
    for i in range(1, n + 1):
        img = np.empty((h, w, 3), np.uint8)
        img[:] = rng.integers(60, 200, 3)
        for _ in range(objects):
            bw, bh = int(rng.integers(w // 10, w // 3)), int(rng.integers(h // 10, h // 3))
            x0, y0 = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            mask = _shape_mask(h, w, (x0, y0, x0 + bw, y0 + bh), rng.random() < 0.5)
            img[mask] = rng.integers(0, 255, 3)
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(rng.integers(1, 11)),
                         "bbox": [float(x0), float(y0), float(bw), float(bh)],
                         "area": float(mask.sum()), "iscrowd": 0, "segmentation": mask_to_rle(mask)})
        name = f"{i:012d}.jpg"
        Image.fromarray(img).save(root / "val2017" / name, quality=90)
        images.append({"id": i, "file_name": name, "width": w, "height": h})
    gt = {"images": images, "annotations": anns, "categories": cats}
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(gt))
    return gt


def make_run(run: Path, data_root: Path, gt: dict, seed: int = 1) -> None:
    """A run of ``coco-val2017-seg`` whose store holds the GT objects (boxes shifted by a few
    pixels, masks as they are) + 2 false positives per image, each with a mask."""
    from evalkit.store import PredictionStore
    from evalkit.types import mask_to_rle

    rng = np.random.default_rng(seed)
    by_image: dict[int, list] = {}
    for a in gt["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    (run / "predictions").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"config": {"benchmark": "coco-val2017-seg",
                                                         "data_root": str(data_root)},
                                              "metric": {"id": "coco-segm"}}))
    store = PredictionStore(run / "predictions")
    store.init("bench", {})
    shard = store.open_shard(0, 1)
    values = {}
    for im in gt["images"]:
        h, w = im["height"], im["width"]
        anns = by_image.get(im["id"], [])
        boxes = [[x + d, y + d, x + bw + d, y + bh + d] for (x, y, bw, bh), d in
                 ((a["bbox"], float(rng.integers(-4, 5))) for a in anns)]
        rles = [a["segmentation"] for a in anns]
        for _ in range(2):  # false positives
            x, y = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
            rles.append(mask_to_rle(_shape_mask(h, w, (x, y, x + 60, y + 50), False)))
            boxes.append([x, y, x + 60, y + 50])
        labels = [a["category_id"] for a in anns] + [int(v) for v in rng.integers(1, 11, 2)]
        inst = {"image_size": [h, w], "boxes": boxes, "masks": rles,
                "scores": [float(v) for v in rng.uniform(0.3, 1.0, len(rles))], "labels": labels}
        shard.append({"sample_id": str(im["id"]), "instances": [inst], "meta": {}})
        values[str(im["id"])] = {"recall@0.5": float(rng.random())}
    shard.close()
    (run / "breakdown.json").write_text(json.dumps({"schema": 1, "metric": "coco-segm", "unit": "image",
                                                    "score_key": "recall@0.5", "higher_is_better": True,
                                                    "samples": values}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--size", default="640x480", help="WxH of the images (default: COCO's usual 640x480)")
    ap.add_argument("--objects", type=int, default=6, help="objects per image")
    ap.add_argument("--compare", type=int, default=100, help="samples for the JPEG-vs-PNG encoding baseline")
    ap.add_argument("--workers", default="1,2", help="comma-separated process counts to time (default 1,2)")
    ap.add_argument("--keep", metavar="DIR",
                    help="build in DIR and keep it; a later call with the same DIR measures again without "
                         "generating (default: a temporary folder)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        os.environ.setdefault("EVALKIT_CACHE", str(base / "cache"))
        from PIL import Image

        from evalkit.show.gallery import write_gallery
        from evalkit.show.render import open_run, render_sample

        run = base / "run"
        if (run / "breakdown.json").is_file():  # --keep DIR of an earlier call: measure again
            print(f"reusing the dataset and run in {base}")
        else:
            t0 = time.perf_counter()
            gt = make_dataset(base / "data" / "coco", args.images, (w, h), args.objects)
            make_run(run, base / "data", gt)
            print(f"generated {args.images} images {w}x{h} with {args.objects} objects and the run "
                  f"in {time.perf_counter() - t0:.1f} s")

        for workers in (int(v) for v in args.workers.split(",")):
            shutil.rmtree(base / f"gallery-{workers}", ignore_errors=True)
            t0 = time.perf_counter()
            page = write_gallery(run, base / f"gallery-{workers}", workers=workers)
            dt = time.perf_counter() - t0
            pics = sum(p.stat().st_size for p in page.parent.rglob("*") if p.is_file())
            print(f"gallery, {workers} process(es): {args.images} samples in {dt:.1f} s "
                  f"({args.images / dt:.1f} samples/s, {1000 * dt / args.images:.1f} ms each); "
                  f"index.html {page.stat().st_size / 1e6:.2f} MB, with pictures {pics / 1e6:.0f} MB")

        view = open_run(run)
        frames = [render_sample(view, sid).frame(0) for sid in view.order[:args.compare]]
        times = {}
        for fmt, opts in (("JPEG", {"quality": 90}), ("PNG", {})):
            t0 = time.perf_counter()
            for f in frames:
                Image.fromarray(f).save(io.BytesIO(), format=fmt, **opts)
            times[fmt] = time.perf_counter() - t0
        print(f"overlay encoding, {len(frames)} samples: JPEG {1000 * times['JPEG'] / len(frames):.1f} ms, "
              f"PNG {1000 * times['PNG'] / len(frames):.1f} ms each (PNG / JPEG = {times['PNG'] / times['JPEG']:.1f}x)")


if __name__ == "__main__":
    main()
