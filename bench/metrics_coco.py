"""COCO box and mask AP at COCO-val scale: evalkit's default backend vs faster-coco-eval vs
pycocotools, on the same synthetic data, in one run.

    python bench/metrics_coco.py                      # 5,000 images, 100 detections each
    python bench/metrics_coco.py --images 1000        # reduced scale

The data imitates COCO val2017: 80 categories with COCO's non-contiguous ids, images of
240..640 px a side, ~7.3 objects per image (1% crowd) drawn as 12-gon polygons, and
``--dets`` detections per image (default 100, as detectron2 caps them: ~500k in all), 60% of
them jittered copies of a GT (80% with its category), the rest random; mask results are the
jittered polygons rasterised to compressed RLE. Prints the 12 stats of each tool (they must be
identical) and the time ratios, in wall-clock and in process CPU time (the CPU ratio is the
steadier one on a shared machine; faster-coco-eval's mask IoU uses threads and evalkit's a
forked second process on large inputs, which CPU time adds up). Every tool runs once on a tiny set first, so imports are not timed.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COCO_CAT_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def _polygon(rng, cx, cy, rx, ry, n=12):
    a = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rng.uniform(0.7, 1.0, n)
    return np.stack([cx + rx * r * np.cos(a), cy + ry * r * np.sin(a)], 1).ravel().tolist()


def make_data(n_images: int, dets_per_image: int, seed: int = 0, masks: bool = True):
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    images, anns, dets = [], [], []
    for i in range(n_images):
        img_id = 100000 + 3 * i
        h, w = (int(x) for x in rng.integers(240, 641, 2))
        images.append({"id": img_id, "height": h, "width": w, "file_name": f"{img_id:012d}.jpg"})
        objs = []
        for _ in range(int(rng.poisson(7.3))):
            side = float(np.exp(rng.uniform(np.log(6), np.log(min(h, w) * 0.9))))
            rx, ry = side / 2 * rng.uniform(0.6, 1.0), side / 2 * rng.uniform(0.6, 1.0)
            cx, cy = rng.uniform(rx, w - rx), rng.uniform(ry, h - ry)
            objs.append((int(rng.choice(COCO_CAT_IDS)), cx, cy, rx, ry, bool(rng.random() < 0.01)))
        polys = [_polygon(rng, cx, cy, rx, ry) for _, cx, cy, rx, ry, _ in objs]
        rles = mask_utils.frPyObjects(polys, h, w) if polys else []
        areas = mask_utils.area(rles) if polys else []
        boxes = mask_utils.toBbox(rles) if polys else []
        for (cat, *_, crowd), poly, rle, area, box in zip(objs, polys, rles, areas, boxes):
            seg = {"size": [h, w], "counts": rle["counts"].decode()} if crowd else [poly]
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": cat, "iscrowd": int(crowd),
                         "area": float(area), "bbox": [float(v) for v in box], "segmentation": seg})
        dpolys, dcats = [], []
        for _ in range(dets_per_image):
            if objs and rng.random() < 0.6:
                cat, cx, cy, rx, ry, _ = objs[int(rng.integers(len(objs)))]
                if rng.random() > 0.8:
                    cat = int(rng.choice(COCO_CAT_IDS))
                j = rng.normal(0, 0.08, 4)
                cx, cy, rx, ry = cx + j[0] * rx, cy + j[1] * ry, rx * (1 + j[2]), ry * (1 + j[3])
            else:
                cat = int(rng.choice(COCO_CAT_IDS))
                s = float(np.exp(rng.uniform(np.log(6), np.log(min(h, w) * 0.9))))
                rx, ry = s / 2, s / 2 * rng.uniform(0.5, 1)
                cx, cy = rng.uniform(rx, w - rx), rng.uniform(ry, h - ry)
            dpolys.append(_polygon(rng, cx, cy, max(rx, 1.0), max(ry, 1.0)))
            dcats.append(cat)
        scores = np.round(rng.random(dets_per_image), 4)
        drles = mask_utils.frPyObjects(dpolys, h, w) if masks else None
        dboxes = mask_utils.toBbox(drles) if masks else None
        for k, (cat, poly) in enumerate(zip(dcats, dpolys)):
            if masks:
                box = [float(v) for v in dboxes[k]]
                seg = {"size": [h, w], "counts": drles[k]["counts"].decode()}
            else:
                xs, ys = poly[0::2], poly[1::2]
                box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
                seg = None
            dets.append({"image_id": img_id, "category_id": cat, "score": float(scores[k]), "bbox": box, "segmentation": seg})
    cats = [{"id": c, "name": f"class{c}", "supercategory": "x"} for c in COCO_CAT_IDS]
    return {"images": images, "annotations": anns, "categories": cats}, dets


def run_pycocotools(gt, res, iou_type):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = gt
        cg.createIndex()
        ev = COCOeval(cg, cg.loadRes(res), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats[:12])


def run_faster(gt, res, iou_type):
    from faster_coco_eval import COCO, COCOeval_faster

    quiet = lambda *a, **k: None  # noqa: E731
    cg = COCO(gt, print_function=quiet)
    ev = COCOeval_faster(cg, cg.loadRes(res), iou_type, print_function=quiet)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return np.asarray(ev.stats[:12])


def run_evalkit(gt, res, iou_type):
    from evalkit.metrics.coco import COCO_STATS, evaluate_coco

    s = evaluate_coco(gt, res, iou_type)
    return np.array([s[k] for k in COCO_STATS])


def _cpu_time() -> float:
    """CPU seconds of this process and of its finished child processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--dets", type=int, default=100, help="detections per image")
    ap.add_argument("--types", default="bbox,segm")
    ap.add_argument("--skip-official", action="store_true", help="do not time pycocotools (slowest)")
    args = ap.parse_args()
    types = args.types.split(",")
    t0 = time.perf_counter()
    gt, dets = make_data(args.images, args.dets, masks="segm" in types)
    print(f"data: {len(gt['images'])} images, {len(gt['annotations'])} GT, {len(dets)} detections "
          f"(generated in {time.perf_counter() - t0:.1f}s)")
    small_gt, small_dets = make_data(3, 5, seed=1)
    for iou_type in types:
        drop = "segmentation" if iou_type == "bbox" else "bbox"
        res = [{k: v for k, v in d.items() if k != drop} for d in dets]
        small = [{k: v for k, v in d.items() if k != drop} for d in small_dets]
        tools = [("evalkit (default)", run_evalkit), ("faster-coco-eval", run_faster)]
        if not args.skip_official:
            tools.append(("pycocotools", run_pycocotools))
        wall, cpu, stats = {}, {}, {}
        for name, fn in tools:
            fn(copy.deepcopy(small_gt), copy.deepcopy(small), iou_type)  # imports, first-call costs
            g, r = copy.deepcopy(gt), copy.deepcopy(res)  # the official tools write into them
            t, c = time.perf_counter(), _cpu_time()
            stats[name] = fn(g, r, iou_type)
            wall[name], cpu[name] = time.perf_counter() - t, _cpu_time() - c
        ref = stats["pycocotools" if "pycocotools" in stats else "faster-coco-eval"]
        print(f"\n[{iou_type}] AP={ref[0]:.6f} AP50={ref[1]:.6f} AR100={ref[8]:.6f}")
        for name in wall:
            diff = float(np.abs(stats[name] - ref).max())
            print(f"  {name:<20s} wall {wall[name]:8.2f}s  cpu {cpu[name]:8.2f}s   max |stat - reference| = {diff:.1e}")
        for name in wall:
            if name != "evalkit (default)":
                print(f"  evalkit speed-up vs {name}: wall {wall[name] / wall['evalkit (default)']:.2f}x, "
                      f"cpu {cpu[name] / cpu['evalkit (default)']:.2f}x")


if __name__ == "__main__":
    main()
