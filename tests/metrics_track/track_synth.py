"""Seeded synthetic tracking data for the tracking-metric tests and benchmark.

Objects live in their own grid cell (cells never overlap), so each ground-truth box has at most
one prediction it can match and vice versa: every CLEAR/ID definition then agrees on the
assignment, which lets BDD100K (motmetrics rules) be compared with TrackEval's CLEAR/Identity.
"""
from __future__ import annotations

import numpy as np

CELL = 100  # cell size in pixels; boxes stay inside [10, 90) of their cell


def _box_in_cell(rng, cell: int, cols: int) -> np.ndarray:
    cx, cy = (cell % cols) * CELL, (cell // cols) * CELL
    x1, y1 = rng.integers(10, 40, size=2)
    w, h = rng.integers(20, 45, size=2)
    return np.array([cx + x1, cy + y1, cx + x1 + w, cy + y1 + h], dtype=np.float64)


def _jitter(rng, box: np.ndarray, scale: int) -> np.ndarray:
    return box + rng.integers(-scale, scale + 1, size=4)


def separated_video(rng, n_frames: int, n_objects: int, *, p_absent=0.15, p_miss=0.15, p_switch=0.05,
                    n_fp_cells=2, p_fp=0.3, jitter=6):
    """One video: ``(gt, pred)``, each a list over frames of lists of ``(id, xyxy)``.

    Boxes are integers (exact in float32, so the toolkit's float32 rounding is a no-op).
    Prediction ids follow the ground truth through a mapping that switches at random, and are
    sometimes taken over by another object (never two equal ids in one frame); false positives appear in empty cells.
    """
    cols = int(np.ceil(np.sqrt(n_objects + n_fp_cells)))
    base = [_box_in_cell(rng, c, cols) for c in range(n_objects + n_fp_cells)]
    next_pid = 1000
    pid = {o: o + 1 for o in range(n_objects)}
    gt, pred = [], []
    for _ in range(n_frames):
        g, p = [], []
        for o in range(n_objects):  # id changes first, so ids stay unique within the frame
            if rng.random() < p_switch:
                if rng.random() < 0.5:
                    pid[o] = next_pid
                    next_pid += 1
                else:  # take over another object's id; that object gets a fresh one
                    victim = int(rng.integers(n_objects))
                    pid[o], pid[victim] = pid[victim], next_pid
                    next_pid += 1
        for o in range(n_objects):
            if rng.random() < p_absent:
                continue
            box = _jitter(rng, base[o], 2)
            g.append((o + 1, box))
            if rng.random() >= p_miss:
                p.append((pid[o], _jitter(rng, box, jitter)))
        for c in range(n_objects, n_objects + n_fp_cells):
            if rng.random() < p_fp:
                p.append((5000 + c, _jitter(rng, base[c], 3)))
        gt.append(g)
        pred.append(p)
    return gt, pred


def to_scalabel(videos: dict[str, list], category="pedestrian", rng=None, categories=None) -> list[dict]:
    """Scalabel frames from ``{video: [frame -> [(id, xyxy)]]}``; boxes as inclusive corners.

    With ``categories``, each track gets a category drawn once per id from that list.
    """
    frames = []
    cat_of: dict = {}
    for v, fr in videos.items():
        for t, dets in enumerate(fr):
            labels = []
            for tid, b in dets:
                cat = category
                if categories is not None:
                    cat = cat_of.setdefault((v, tid), categories[int(rng.integers(len(categories)))])
                labels.append({"id": str(tid), "category": cat,
                               "box2d": {"x1": float(b[0]), "y1": float(b[1]), "x2": float(b[2]) - 1, "y2": float(b[3]) - 1}})
            frames.append({"name": f"{v}-{t + 1:07d}.jpg", "videoName": v, "frameIndex": t, "labels": labels})
    return frames


def trackeval_data(gt, pred) -> dict:
    """TrackEval sequence data (``gt_ids``, ``tracker_ids``, ``similarity_scores``...) for one video."""
    from evalkit.metrics.clear_mot import box_iou_xywh

    g_map: dict = {}
    p_map: dict = {}
    data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_timesteps": len(gt)}
    n_gt = n_tr = 0
    for g, p in zip(gt, pred):
        gi = np.array([g_map.setdefault(i, len(g_map)) for i, _ in g], dtype=int)
        pi = np.array([p_map.setdefault(i, len(p_map)) for i, _ in p], dtype=int)
        gb = np.array([b for _, b in g], dtype=np.float64).reshape(-1, 4)
        pb = np.array([b for _, b in p], dtype=np.float64).reshape(-1, 4)
        gb[:, 2:] -= gb[:, :2]
        pb[:, 2:] -= pb[:, :2]
        data["gt_ids"].append(gi)
        data["tracker_ids"].append(pi)
        data["similarity_scores"].append(box_iou_xywh(gb, pb))
        n_gt += len(gi)
        n_tr += len(pi)
    data.update(num_gt_ids=len(g_map), num_tracker_ids=len(p_map), num_gt_dets=n_gt, num_tracker_dets=n_tr)
    return data


BDD_NAMES = ("pedestrian", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
#: extra names the bdd100k toolkit maps (renamed, or kept as ignore regions)
BDD_EXTRA = ("person", "van", "bike", "other person", "trailer")


def crowded_bdd_videos(rng, n_videos: int, n_frames: int, n_objects: int, *, mask_shape=None):
    """Scalabel ``(gt, pred)`` frame lists with overlapping objects of all BDD100K classes.

    Objects move in a small area, so assignments are ambiguous; predictions jitter, miss,
    switch ids and add false positives; some ground truth is crowd / ignored / of a mapped
    category; one video has no predictions at all. With ``mask_shape=(H, W)`` labels carry RLE
    masks (the boxes' pixels) instead of boxes.
    """
    def label(tid, cat, box, attrs=None):
        lab = {"id": str(tid), "category": cat}
        if attrs:
            lab["attributes"] = attrs
        if mask_shape is None:
            lab["box2d"] = {"x1": float(box[0]), "y1": float(box[1]), "x2": float(box[2]), "y2": float(box[3])}
        else:
            from pycocotools import mask as mu

            m = np.zeros(mask_shape, np.uint8)
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            m[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = 1
            r = mu.encode(np.asfortranarray(m))
            lab["rle"] = {"counts": r["counts"].decode(), "size": list(mask_shape)}
        return lab

    names = BDD_NAMES + BDD_EXTRA
    area = 120.0 if mask_shape is None else float(min(mask_shape))
    gt, pred = [], []
    for v in range(n_videos):
        video = f"video-{v:03d}"
        cat = [names[int(rng.integers(len(names)))] if rng.random() < 0.2 else BDD_NAMES[int(rng.integers(5))]
               for _ in range(n_objects)]
        pos = rng.uniform(0, area * 0.7, (n_objects, 2))
        size = rng.uniform(area * 0.1, area * 0.3, (n_objects, 2))
        pid = list(range(1, n_objects + 1))
        crowd = rng.random(n_objects) < 0.1
        for t in range(n_frames):
            pos += rng.normal(0, area * 0.02, pos.shape)
            g, p = [], []
            for o in range(n_objects):
                if rng.random() < 0.1:
                    continue
                box = np.r_[pos[o], pos[o] + size[o]]
                g.append(label(o + 1, cat[o], box, {"crowd": bool(crowd[o])}))
                if rng.random() < 0.05:
                    pid[o] = int(rng.integers(100, 200))
                if rng.random() < 0.8:
                    pc = cat[o] if rng.random() < 0.9 else BDD_NAMES[int(rng.integers(8))]
                    p.append(label(pid[o], pc, box + rng.normal(0, area * 0.03, 4)))
            for i in range(int(rng.poisson(1.0))):
                xy = rng.uniform(0, area * 0.8, 2)
                p.append(label(500 + i, BDD_NAMES[int(rng.integers(8))], np.r_[xy, xy + area * 0.15]))
            if mask_shape is not None:
                p = [lab for lab in p if rng.random() < 0.7]  # fewer, so some frames have no overlap
            name = f"{video}-{t + 1:07d}.jpg"
            gt.append({"name": name, "videoName": video, "frameIndex": t, "labels": g})
            if v != n_videos - 1 or n_videos == 1:
                # unique prediction ids within a frame
                seen, uniq = set(), []
                for lab in p:
                    if lab["id"] not in seen:
                        seen.add(lab["id"])
                        uniq.append(lab)
                pred.append({"name": name, "videoName": video, "frameIndex": t, "labels": uniq})
    return gt, pred
