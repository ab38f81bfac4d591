"""Test-only helper: ground-truth predictions of a shapes sample, read back from the files the
generator wrote (for the suite's perfect-score tests and the partial-run tests)."""
from __future__ import annotations

import json

import numpy as np

from evalkit.types import Instances, rle_to_mask


def shapes_oracle(bench, sid: str, sample) -> list[Instances]:
    """Ground-truth predictions of one shapes sample, one per frame (original frame size,
    dataset category and track ids)."""
    n = len(sample.frames)
    sizes = sample.frames.sizes
    if bench.id.startswith(("shapes-coco", "shapes-refcoco")):
        im = bench.index.images[int(sid)]
        anns = bench.index.anns_by_image.get(int(sid), [])
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                          for a in anns], np.float32).reshape(-1, 4)
        masks = (np.stack([rle_to_mask(a["segmentation"]) for a in anns]) if anns
                 else np.zeros((0, im["height"], im["width"]), bool))
        return [Instances((im["height"], im["width"]), boxes, masks, np.ones(len(anns), np.float32),
                          np.array([a["category_id"] for a in anns], np.int64))]
    if bench.id == "shapes-davis":
        from PIL import Image

        out = []
        for png in sorted((bench.ann_dir / sid).glob("*.png")):
            lab = np.array(Image.open(png))
            ids = [int(i) for i in np.unique(lab) if i]
            masks = np.stack([lab == i for i in ids]) if ids else np.zeros((0, *lab.shape), bool)
            out.append(Instances(lab.shape, None, masks, np.ones(len(ids), np.float32), None,
                                 np.array(ids, np.int64)))
        return out
    if bench.id == "shapes-ytvis":
        anns = [a for a in json.loads(bench.ann_file.read_text())["annotations"] if a["video_id"] == int(sid)]
        out = []
        for t in range(n):
            keep = [a for a in anns if a["segmentations"][t] is not None]
            masks = (np.stack([rle_to_mask(a["segmentations"][t]) for a in keep]) if keep
                     else np.zeros((0, *sizes[t]), bool))
            out.append(Instances(sizes[t], None, masks, np.ones(len(keep), np.float32),
                                 np.array([a["category_id"] for a in keep], np.int64),
                                 np.array([a["id"] for a in keep], np.int64)))
        return out
    if bench.id == "shapes-sot":
        from evalkit.benchmarks.sot import read_boxes

        return [Instances(sizes[t], np.array([[x, y, x + w, y + h]], np.float32), None, np.ones(1, np.float32))
                for t, (x, y, w, h) in enumerate(read_boxes(bench.gt_file(sid)))]
    if bench.id == "shapes-mot":
        rows = np.loadtxt(bench.gt_path() / sid / "gt" / "gt.txt", delimiter=",", ndmin=2)
        out = []
        for t in range(1, n + 1):
            r = rows[rows[:, 0] == t]
            boxes = np.c_[r[:, 2:4], r[:, 2:4] + r[:, 4:6]].astype(np.float32)
            out.append(Instances(sizes[t - 1], boxes, None, np.ones(len(r), np.float32),
                                 np.ones(len(r), np.int64), r[:, 1].astype(np.int64)))
        return out
    raise AssertionError(bench.id)
