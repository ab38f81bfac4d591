"""Writers of the shapes suite in the official on-disk layouts.

Each ``write_<dataset>(root, split)`` draws its scenes from a generator seeded by
``(dataset, split)`` (:func:`rng_for`) and writes them in the layout the matching reader of
:mod:`evalkit.benchmarks` expects; :func:`coco_scenes` & co. return the same scenes in memory
(the trainer reads them without touching the disk). Frames are 128×128 PNG (lossless, so the
pixels are identical on every machine).

Layouts (``root`` = the suite folder, one sub-folder per dataset)::

    shapes-coco/{train,val}/000001.png           shapes-coco/annotations/instances_{split}.json
    shapes-refcoco/images/000001.png             shapes-refcoco/refs/instances_{split}.json
    shapes-davis/JPEGImages/480p/<video>/00000.png, Annotations/480p/..., ImageSets/2017/{split}.txt
    shapes-ytvis/{train,valid}/JPEGImages/<video>/00000.png, {train,valid}.json
    shapes-sot/{train,val}/<seq>/00000001.png, groundtruth.txt; {split}/list.txt   (GOT-10k)
    shapes-mot/{train,val}/<seq>/img1/000001.png, gt/gt.txt, seqinfo.ini          (MOT17)
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from ...types import mask_to_rle
from .._io import indexed_png
from .scenes import CATEGORIES, Shape, expression, render, sample_scene, sample_video

__all__ = ["SIZES", "H", "W", "rng_for", "coco_scenes", "refcoco_scenes", "video_scenes",
           "WRITERS", "write_dataset"]

H = W = 128
#: (dataset, split) → number of images / expressions / videos, and video length
SIZES = {
    ("shapes-coco", "train"): 600, ("shapes-coco", "val"): 30,
    ("shapes-refcoco", "train"): 600, ("shapes-refcoco", "val"): 100,
    ("shapes-davis", "train"): 60, ("shapes-davis", "val"): 10,
    ("shapes-ytvis", "train"): 60, ("shapes-ytvis", "val"): 4,
    ("shapes-sot", "train"): 60, ("shapes-sot", "val"): 4,
    ("shapes-mot", "train"): 60, ("shapes-mot", "val"): 4,
}
VIDEO_LENGTH = 10


def rng_for(dataset: str, split: str) -> np.random.Generator:
    """The generator of one split: seeded by a hash of its name (stable across runs)."""
    seed = int.from_bytes(hashlib.sha256(f"{dataset}/{split}".encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def _png(path: Path, array: np.ndarray, indexed: bool = False) -> None:
    """A frame (RGB) or, with ``indexed``, a label map as a DAVIS-palette indexed PNG. Plain
    writes: a generated dataset needs no atomic replace (and no fsync per file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if indexed:
        path.write_bytes(indexed_png(array))
    else:
        Image.fromarray(array).save(path)


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _bbox(m: np.ndarray) -> list[float]:
    """COCO ``[x, y, w, h]`` of a bool mask (pixel-edge frame)."""
    ys, xs = np.nonzero(m)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()), float(ys.max() + 1 - ys.min())]


# -- in-memory scenes ---------------------------------------------------------------------------
def coco_scenes(split: str):
    """``[(image H×W×3 uint8, shapes, visible masks)]`` of shapes-coco ``split``."""
    rng = rng_for("shapes-coco", split)
    out = []
    for _ in range(SIZES[("shapes-coco", split)]):
        shapes = sample_scene(rng, H, W, n=(1, 4))
        img, vis = render(shapes, H, W, rng)
        out.append((img, shapes, vis))
    return out


def refcoco_scenes(split: str):
    """``[(image, shapes, visible masks, target index, expression)]`` of shapes-refcoco."""
    rng = rng_for("shapes-refcoco", split)
    out = []
    while len(out) < SIZES[("shapes-refcoco", split)]:
        shapes = sample_scene(rng, H, W, n=(2, 4))
        img, vis = render(shapes, H, W, rng)
        target = int(rng.integers(len(shapes)))
        text = expression(shapes, target, rng)
        if text and vis[target].any():
            out.append((img, shapes, vis, target, text))
    return out


def video_scenes(dataset: str, split: str):
    """``[(frames [H×W×3], per-frame shapes, per-frame visible masks)]`` of a video dataset."""
    rng = rng_for(dataset, split)
    out = []
    for _ in range(SIZES[(dataset, split)]):
        seq = sample_video(rng, VIDEO_LENGTH, H, W, n=(2, 3))
        frames, masks = [], []
        for shapes in seq:
            img, vis = render(shapes, H, W, rng)
            frames.append(img)
            masks.append(vis)
        out.append((frames, seq, masks))
    return out


# -- writers --------------------------------------------------------------------------------------
def _coco_entries(shapes: list[Shape], vis: list[np.ndarray], image_id: int, ann_id: int) -> list[dict]:
    anns = []
    for s, m in zip(shapes, vis):
        if not m.any():
            continue  # fully occluded: not annotated, as COCO
        anns.append({"id": ann_id + len(anns), "image_id": image_id, "category_id": s.category_id,
                     "segmentation": mask_to_rle(m), "area": float(m.sum()), "bbox": _bbox(m), "iscrowd": 0})
    return anns


def write_coco(root: Path, split: str) -> None:
    d = root / "shapes-coco"
    images, anns = [], []
    for i, (img, shapes, vis) in enumerate(coco_scenes(split), start=1):
        name = f"{i:06d}.png"
        _png(d / split / name, img)
        images.append({"id": i, "file_name": name, "height": H, "width": W})
        anns += _coco_entries(shapes, vis, i, len(anns) + 1)
    _json(d / "annotations" / f"instances_{split}.json",
          {"info": {"description": f"shapes-coco {split}"}, "images": images, "annotations": anns,
           "categories": CATEGORIES})


def write_refcoco(root: Path, split: str) -> None:
    """One image entry per expression (UNINEXT style ``expressions`` list), one annotation."""
    d = root / "shapes-refcoco"
    images, anns = [], []
    for i, (img, shapes, vis, target, text) in enumerate(refcoco_scenes(split), start=1):
        name = f"{split}_{i:06d}.png"
        _png(d / "images" / name, img)
        images.append({"id": i, "file_name": name, "height": H, "width": W, "expressions": [text],
                       "original_id": i})
        anns += _coco_entries([shapes[target]], [vis[target]], i, len(anns) + 1)
    _json(d / "refs" / f"instances_{split}.json",
          {"info": {"description": f"shapes-refcoco {split}"}, "images": images, "annotations": anns,
           "categories": CATEGORIES})


def write_davis(root: Path, split: str) -> None:
    d = root / "shapes-davis"
    names = []
    for k, (frames, _, masks) in enumerate(video_scenes("shapes-davis", split), start=1):
        v = f"{split}-{k:03d}"
        names.append(v)
        for t, (img, vis) in enumerate(zip(frames, masks)):
            lab = np.zeros((H, W), np.uint8)
            for o, m in enumerate(vis, start=1):
                lab[m] = o
            _png(d / "JPEGImages/480p" / v / f"{t:05d}.png", img)
            _png(d / "Annotations/480p" / v / f"{t:05d}.png", lab, indexed=True)
    (d / "ImageSets/2017").mkdir(parents=True, exist_ok=True)
    (d / "ImageSets/2017" / f"{split}.txt").write_text("\n".join(names) + "\n")


def write_ytvis(root: Path, split: str) -> None:
    folder = {"train": "train", "val": "valid"}[split]
    d = root / "shapes-ytvis"
    videos, anns = [], []
    for k, (frames, seq, masks) in enumerate(video_scenes("shapes-ytvis", split), start=1):
        v = f"{split}-{k:03d}"
        names = [f"{v}/{t:05d}.png" for t in range(len(frames))]
        for name, img in zip(names, frames):
            _png(d / folder / "JPEGImages" / name, img)
        videos.append({"id": k, "file_names": names, "height": H, "width": W, "length": len(frames)})
        for o, s in enumerate(seq[0]):
            per = [masks[t][o] for t in range(len(frames))]
            anns.append({"id": len(anns) + 1, "video_id": k, "category_id": s.category_id, "iscrowd": 0,
                         "height": H, "width": W, "length": 1,
                         "segmentations": [mask_to_rle(m) if m.any() else None for m in per],
                         "bboxes": [_bbox(m) if m.any() else None for m in per],
                         "areas": [float(m.sum()) if m.any() else None for m in per]})
    _json(d / f"{folder}.json", {"info": {"description": f"shapes-ytvis {split}"}, "videos": videos,
                                 "annotations": anns, "categories": CATEGORIES})


def write_sot(root: Path, split: str) -> None:
    """GOT-10k layout; the target is the first shape of each video (boxes of its visible mask,
    the full shape box when it is hidden: occluded targets keep their position)."""
    d = root / "shapes-sot" / split
    names = []
    for k, (frames, seq, masks) in enumerate(video_scenes("shapes-sot", split), start=1):
        s = f"shapes_{split}_{k:06d}"
        names.append(s)
        rows, absent, cover = [], [], []
        for t, (img, vis) in enumerate(zip(frames, masks)):
            _png(d / s / f"{t + 1:08d}.png", img)
            full = seq[t][0].mask(H, W)
            m = vis[0] if vis[0].any() else full
            rows.append(",".join(f"{x:.4f}" for x in _bbox(m)))
            absent.append(int(not vis[0].any()))
            # GOT-10k cover level: visible fraction of the object in eighths (0 = hidden)
            cover.append(int(np.ceil(8 * vis[0].sum() / max(full.sum(), 1))))
        (d / s / "groundtruth.txt").write_text("\n".join(rows) + "\n")
        (d / s / "absence.label").write_text("".join(f"{a}\n" for a in absent))
        (d / s / "cover.label").write_text("".join(f"{c}\n" for c in cover))
        (d / s / "meta_info.ini").write_text(f"[METAINFO]\nresolution: ({W}, {H})\n")
    (d / "list.txt").write_text("\n".join(names) + "\n")


def write_mot(root: Path, split: str) -> None:
    """MOTChallenge layout; every shape is a "pedestrian" (class 1), boxes of visible masks."""
    d = root / "shapes-mot" / split
    for k, (frames, seq, masks) in enumerate(video_scenes("shapes-mot", split), start=1):
        s = d / f"SHAPES-{k:02d}"
        rows = []
        for t, (img, vis) in enumerate(zip(frames, masks), start=1):
            _png(s / "img1" / f"{t:06d}.png", img)
            for o, m in enumerate(vis, start=1):
                if m.any():
                    x, y, w, h = _bbox(m)
                    rows.append(f"{t},{o},{x:g},{y:g},{w:g},{h:g},1,1,1")
        (s / "gt").mkdir(parents=True, exist_ok=True)
        (s / "gt" / "gt.txt").write_text("".join(r + "\n" for r in rows))
        (s / "seqinfo.ini").write_text(f"[Sequence]\nname=SHAPES-{k:02d}\nimDir=img1\nframeRate=10\n"
                                       f"seqLength={len(frames)}\nimWidth={W}\nimHeight={H}\nimExt=.png\n")


WRITERS = {"shapes-coco": write_coco, "shapes-refcoco": write_refcoco, "shapes-davis": write_davis,
           "shapes-ytvis": write_ytvis, "shapes-sot": write_sot, "shapes-mot": write_mot}


def write_dataset(root: Path, dataset: str, split: str) -> None:
    WRITERS[dataset](Path(root), split)
