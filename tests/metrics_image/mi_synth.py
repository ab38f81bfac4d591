"""Seeded synthetic ground truth and results in the official formats (COCO, LVIS, YouTube-VIS)
for the image-metric parity tests. Cases include crowd regions, empty images, empty videos,
absent frames, tied scores and IoUs exactly at a threshold."""
from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils


def rle(m: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode()}


def rect_mask(h, w, x0, y0, x1, y1) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = True
    return m


def blob_mask(rng, h, w) -> np.ndarray:
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    ry, rx = rng.uniform(2, h / 2), rng.uniform(2, w / 2)
    yy, xx = np.mgrid[:h, :w]
    m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return m | (rng.random((h, w)) < 0.02) & m.any()


def _box_of(m):
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def coco_case(seed: int, n_images=12, cat_ids=(1, 3, 7, 11), crowd_p=0.1, max_side=260):
    """A COCO GT dict and a results list with both ``bbox`` and ``segmentation`` fields
    (callers drop one). Scores are rounded so that ties occur; some detections are built to
    have IoU exactly 0.5 / 0.75 with their GT (in boxes and in masks)."""
    rng = np.random.default_rng(seed)
    images, anns, res = [], [], []
    for i in range(n_images):
        img_id = int(1000 + 7 * i)
        h, w = (int(x) for x in rng.integers(20, max_side, 2))
        images.append({"id": img_id, "height": h, "width": w, "file_name": f"{img_id}.jpg"})
        n_gt = int(rng.integers(0, 7)) if i % 5 else 0  # every 5th image has no GT
        for _ in range(n_gt):
            cat = int(rng.choice(cat_ids))
            kind = rng.random()
            if kind < 0.5:  # integer rectangle (exact IoU constructions)
                x0, y0 = int(rng.integers(0, w - 4)), int(rng.integers(0, h - 4))
                bw, bh = 2 * int(rng.integers(1, (w - x0) // 2 + 1)), 2 * int(rng.integers(1, (h - y0) // 2 + 1))
                m = rect_mask(h, w, x0, y0, x0 + bw, y0 + bh)
            else:
                m = blob_mask(rng, h, w)
                if not m.any():
                    m = rect_mask(h, w, 0, 0, 2, 2)
            crowd = int(rng.random() < crowd_p)
            seg = rle(m)
            if crowd:  # COCO writes crowd regions as uncompressed RLE
                seg = {"size": [h, w], "counts": _uncompressed(m)}
            area = float(m.sum()) if rng.random() < 0.8 else float(m.sum() * rng.uniform(0.5, 2))
            box = _box_of(m)
            ann_id = len(anns) + 1
            anns.append({"id": ann_id, "image_id": img_id, "category_id": cat, "bbox": box, "area": area,
                         "iscrowd": crowd, "segmentation": seg})
            for _ in range(int(rng.integers(0, 3))):
                res.append(_perturbed(rng, h, w, img_id, cat, m, box))
        for _ in range(int(rng.integers(0, 5))):  # false positives
            m = blob_mask(rng, h, w)
            res.append({"image_id": img_id, "category_id": int(rng.choice(cat_ids)),
                        "score": round(float(rng.random()), 1), "bbox": _box_of(m), "segmentation": rle(m)})
    cats = [{"id": c, "name": f"c{c}", "supercategory": "x"} for c in cat_ids]
    return {"images": images, "annotations": anns, "categories": cats}, res


def _uncompressed(m):
    """Uncompressed COCO RLE counts: column-major runs of 0s and 1s, starting with 0s."""
    out, cur, n = [], 0, 0
    for v in m.flatten(order="F").astype(np.int8):
        if v != cur:
            out.append(n)
            cur, n = v, 0
        n += 1
    out.append(n)
    return out


def _perturbed(rng, h, w, img_id, cat, m, box):
    kind = rng.random()
    x, y, bw, bh = box
    if kind < 0.15 and bw >= 2:  # left half: IoU exactly 0.5 (mask and box)
        m2 = m.copy()
        m2[:, int(x + bw / 2):] = False
        b2 = [x, y, bw / 2, bh]
    elif kind < 0.25 and bw >= 4 and bw % 4 == 0:  # three quarters: IoU exactly 0.75
        m2 = m.copy()
        m2[:, int(x + 3 * bw / 4):] = False
        b2 = [x, y, 3 * bw / 4, bh]
    else:
        dx, dy = (int(v) for v in rng.integers(-4, 5, 2))
        m2 = np.roll(np.roll(m, dy, 0), dx, 1)
        b2 = [x + dx + float(rng.normal(0, 1)), y + dy + float(rng.normal(0, 1)), max(0.0, bw + float(rng.normal(0, 2))), max(0.0, bh + float(rng.normal(0, 2)))]
    return {"image_id": img_id, "category_id": cat, "score": round(float(rng.random()), 1),
            "bbox": b2, "segmentation": rle(m2)}


def ytvis_case(seed: int, n_videos=6, cat_ids=(1, 2, 5), crowd_p=0.1):
    """A YouTube-VIS GT dict and results list: 1..5 frames per video (single-frame videos
    included), absent frames (null), sizes spanning the 128²/256² area ranges."""
    rng = np.random.default_rng(seed)
    videos, anns, res = [], [], []
    for v in range(n_videos):
        vid = v + 1
        n = 1 if v % 3 == 0 else int(rng.integers(2, 6))
        h, w = (int(x) for x in rng.integers(60, 420, 2))
        videos.append({"id": vid, "height": h, "width": w, "length": n,
                       "file_names": [f"v{vid}/{f:05d}.jpg" for f in range(n)]})
        for _ in range(int(rng.integers(0, 4)) if v % 4 != 1 else 0):
            cat = int(rng.choice(cat_ids))
            scale = rng.choice([0.2, 0.5, 0.9])
            masks = []
            for f in range(n):
                if rng.random() < 0.2:
                    masks.append(None)
                    continue
                bw, bh = max(2, int(w * scale * rng.uniform(0.6, 1))), max(2, int(h * scale * rng.uniform(0.6, 1)))
                x0, y0 = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
                masks.append(rect_mask(h, w, x0, y0, x0 + bw, y0 + bh))
            crowd = int(rng.random() < crowd_p)
            anns.append({
                "id": len(anns) + 1, "video_id": vid, "category_id": cat, "iscrowd": crowd,
                "segmentations": [None if m is None else (rle(m) if f % 2 else {"size": [h, w], "counts": _uncompressed(m)}) for f, m in enumerate(masks)],
                "areas": [None if m is None else float(m.sum()) for m in masks],
                "bboxes": [None if m is None else _box_of(m) for m in masks],
                "width": w, "height": h, "length": 1,
            })
            for _ in range(int(rng.integers(0, 3))):
                pm = []
                for m in masks:
                    if m is None or rng.random() < 0.1:
                        pm.append(None if rng.random() < 0.7 else rle(blob_mask(rng, h, w)))
                        continue
                    dx, dy = (int(x) for x in rng.integers(-6, 7, 2))
                    pm.append(rle(np.roll(np.roll(m, dy, 0), dx, 1)))
                res.append({"video_id": vid, "category_id": cat if rng.random() < 0.85 else int(rng.choice(cat_ids)),
                            "score": round(float(rng.random()), 1), "segmentations": pm})
        for _ in range(int(rng.integers(0, 3))):
            res.append({"video_id": vid, "category_id": int(rng.choice(cat_ids)), "score": round(float(rng.random()), 1),
                        "segmentations": [rle(blob_mask(rng, h, w)) if rng.random() < 0.8 else None for _ in range(n)]})
    cats = [{"id": c, "name": f"c{c}"} for c in cat_ids]
    return {"videos": videos, "annotations": anns, "categories": cats}, res
