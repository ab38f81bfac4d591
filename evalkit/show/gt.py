"""Ground truth of one sample as per-frame :class:`~evalkit.types.Instances`, for drawing.

Metrics read the ground truth in its official format and never need it per sample; the
overlays do. This reads it from the same files the benchmark's reader and metric use, for each
dataset family whose layout it knows:

- COCO-format images (COCO, LVIS, ODinW, RefCOCO/+/g and the shapes copies): the annotations
  of the image in the benchmark's :class:`~evalkit.benchmarks._common.CocoIndex`
  (for a RefCOCO sample, the one referred object); polygons and RLE both decoded;
- DAVIS-style VOS (indexed annotation PNGs per frame): one instance per object id;
- YouTube-VIS (``segmentations`` per frame): one instance per annotation, track id = its id;
- SOT sequences (``groundtruth.txt``): one box per frame;
- MOTChallenge sequences (``gt/gt.txt``): boxes with track ids.

Anything else returns ``None`` and the caller says that the sample is drawn without ground
truth (the overlay never fails for want of it).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..types import Instances, rle_to_mask

__all__ = ["ground_truth"]


def ground_truth(bench, sample) -> list[Instances] | None:
    """Per-frame ground truth of ``sample`` (a :class:`~evalkit.types.Sample` of ``bench``), in
    the original frame (boxes xyxy pixels, bool masks, dataset category ids, track ids), or
    ``None`` when this benchmark family has no reader here."""
    from ..benchmarks._vos import VosVideos
    from ..benchmarks.coco import CocoStyleImages
    from ..benchmarks.sot import SotSequences
    from ..benchmarks.ytvis import YouTubeVIS

    if isinstance(bench, CocoStyleImages) and hasattr(bench, "index") and hasattr(bench.index, "anns_by_image"):
        return [_coco_image(bench, sample)]
    if isinstance(bench, VosVideos):
        return _vos_pngs(bench, sample)
    if isinstance(bench, YouTubeVIS):
        return _ytvis(bench, sample)
    if isinstance(bench, SotSequences):
        from ..benchmarks.sot import read_boxes

        sizes = sample.frames.sizes
        return [Instances(sizes[t], np.array([[x, y, x + w, y + h]], np.float32))
                for t, (x, y, w, h) in enumerate(read_boxes(bench.gt_file(sample.id))[:len(sizes)])]
    from ..benchmarks.shapes.mot import MotChallengeSequences

    if isinstance(bench, MotChallengeSequences):
        return _mot(bench, sample)
    return None


def _coco_mask(seg, h: int, w: int) -> np.ndarray | None:
    from pycocotools import mask as mask_utils

    if isinstance(seg, list):  # polygons
        if not seg:
            return None
        return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(seg, h, w))).astype(bool)
    if isinstance(seg, dict):
        return rle_to_mask(seg)
    return None


def _coco_image(bench, sample) -> Instances:
    im = bench.index.images[int(sample.meta.get("image_id", sample.id))]
    h, w = int(im["height"]), int(im["width"])
    anns = bench.index.anns_by_image.get(int(im["id"]), [])
    boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                      for a in anns if "bbox" in a], np.float32).reshape(-1, 4)
    if len(boxes) != len(anns):
        boxes = None
    masks = [_coco_mask(a.get("segmentation"), h, w) for a in anns]
    dense = np.stack(masks) if anns and all(m is not None for m in masks) else None
    labels = np.array([a.get("category_id", 0) for a in anns], np.int64)
    if boxes is None and dense is None:
        return Instances.empty((h, w))
    return Instances((h, w), boxes, dense, None, labels)


def _vos_pngs(bench, sample) -> list[Instances]:
    from PIL import Image

    sizes = sample.frames.sizes
    by_stem = {p.stem: p for p in sorted((bench.ann_dir / sample.id).glob("*.png"))}
    out = []
    for t, fid in enumerate(sample.frames.ids):
        png = by_stem.get(str(fid))
        if png is None:  # a frame without an annotation (YouTube-VOS val annotates every 5th)
            out.append(Instances.empty(sizes[t]))
            continue
        lab = np.array(Image.open(png))
        ids = [int(i) for i in np.unique(lab) if 0 < i < 255]  # 255: DAVIS's void label
        masks = np.stack([lab == i for i in ids]) if ids else np.zeros((0, *lab.shape), bool)
        out.append(Instances(lab.shape, None, masks, None, None, np.array(ids, np.int64)))
    return out


@lru_cache(maxsize=4)
def _ytvis_annotations(path: Path) -> dict[int, list[dict]]:
    by_video: dict[int, list[dict]] = {}
    for a in json.loads(Path(path).read_text(encoding="utf-8")).get("annotations") or []:
        by_video.setdefault(int(a["video_id"]), []).append(a)
    return by_video


def _ytvis(bench, sample) -> list[Instances]:
    anns = _ytvis_annotations(Path(bench.ann_file)).get(int(sample.meta.get("video_id", sample.id)), [])
    sizes = sample.frames.sizes
    out = []
    for t in range(len(sizes)):
        keep = [a for a in anns if t < len(a["segmentations"]) and a["segmentations"][t] is not None]
        masks = [_coco_mask(a["segmentations"][t], *sizes[t]) for a in keep]
        dense = np.stack(masks) if keep else np.zeros((0, *sizes[t]), bool)
        out.append(Instances(sizes[t], None, dense, None, np.array([a["category_id"] for a in keep], np.int64),
                             np.array([a["id"] for a in keep], np.int64)))
    return out


def _mot(bench, sample) -> list[Instances] | None:
    gt = Path(bench.gt_path()) / sample.id / "gt" / "gt.txt"
    if not gt.is_file():
        return None
    rows = np.loadtxt(gt, delimiter=",", ndmin=2)
    sizes = sample.frames.sizes
    out = []
    for t in range(len(sizes)):
        r = rows[rows[:, 0] == t + 1]  # MOTChallenge frames are numbered from 1
        boxes = np.c_[r[:, 2:4], r[:, 2:4] + r[:, 4:6]].astype(np.float32)
        out.append(Instances(sizes[t], boxes, None, None, None, r[:, 1].astype(np.int64)))
    return out
