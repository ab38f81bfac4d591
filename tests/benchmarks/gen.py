"""Deterministic generator of tiny datasets in the official on-disk layout of every split.

``generate(root)`` writes all datasets under ``root`` (the data root: ``root/coco``,
``root/DAVIS`` ...) and returns, per benchmark id, the *oracle* predictions: for every sample
id the per-frame ``Instances`` equal to the ground truth (boxes, masks, labels, track ids), so
a locally scored split must score perfectly when they are written and scored. Frames are tiny
(24 x 32 pixels) and videos 3-4 frames long, to keep the tests fast.
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from evalkit.types import Instances, mask_to_rle

H, W = 24, 32
RNG_SEED = 0


# --------------------------------------------------------------------------------------------
# primitives
# --------------------------------------------------------------------------------------------
def _jpg(path: Path, rng, h=H, w=W):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path, quality=90)


def _json(path: Path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _text(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _pal_png(path: Path, lab: np.ndarray):
    from evalkit.benchmarks._io import indexed_png

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(indexed_png(lab))


def _rect(y0, x0, y1, x1, h=H, w=W) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def _box(m: np.ndarray) -> list[float]:
    """xyxy of a mask (continuous pixel frame)."""
    ys, xs = np.nonzero(m)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def _objects(rng, k: int, h=H, w=W) -> list[np.ndarray]:
    """k non-overlapping rectangles (a grid of cells, one object per cell, random extents)."""
    out = []
    cw = w // k
    for i in range(k):
        y0 = int(rng.integers(1, h // 3))
        y1 = int(rng.integers(h // 2, h - 1))
        x0 = i * cw + int(rng.integers(0, 2))
        x1 = (i + 1) * cw - int(rng.integers(1, 3))
        out.append(_rect(y0, x0, y1, x1, h, w))
    return out


def _inst(masks, labels=None, track_ids=None, boxes=True, size=(H, W)) -> Instances:
    masks = np.stack(masks) if masks else np.zeros((0, *size), bool)
    return Instances(
        size,
        boxes=np.array([_box(m) for m in masks], np.float32).reshape(-1, 4) if boxes else None,
        masks=masks,
        scores=np.linspace(0.9, 0.8, len(masks)).astype(np.float32),
        labels=None if labels is None else np.asarray(labels),
        track_ids=None if track_ids is None else np.asarray(track_ids),
    )


def _coco_ann(ann_id, image_id, cat, m):
    rle = mask_to_rle(m)
    x0, y0, x1, y1 = _box(m)
    return {"id": ann_id, "image_id": image_id, "category_id": cat, "iscrowd": 0, "area": int(m.sum()),
            "bbox": [x0, y0, x1 - x0, y1 - y0], "segmentation": rle}


# --------------------------------------------------------------------------------------------
# image datasets
# --------------------------------------------------------------------------------------------
CATS = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 18, "name": "dog"}]


def _coco_like(rng, image_dir: Path, n_images: int, file_fmt: str, cats=CATS, start_id=1):
    images, anns, oracle = [], [], {}
    aid = 1
    for k in range(n_images):
        iid = start_id + k
        name = file_fmt.format(iid)
        _jpg(image_dir / name, rng)
        images.append({"id": iid, "file_name": name, "height": H, "width": W})
        objs = _objects(rng, 2)
        labels = [cats[int(rng.integers(len(cats)))]["id"] for _ in objs]
        for m, c in zip(objs, labels):
            anns.append(_coco_ann(aid, iid, c, m))
            aid += 1
        oracle[str(iid)] = [_inst(objs, labels)]
    return images, anns, oracle


def gen_coco(root: Path, rng, out: dict):
    d = root / "coco"
    images, anns, oracle = _coco_like(rng, d / "val2017", 3, "{:012d}.jpg")
    _json(d / "annotations/instances_val2017.json", {"images": images, "annotations": anns, "categories": CATS})
    out["coco-val2017-det"] = out["coco-val2017-seg"] = oracle
    out["coco-val2017-interactive"] = {
        f"{a['image_id']}-{a['id']}": None for a in anns}  # filled by the oracle adapter from the GT
    timgs, _, toracle = _coco_like(rng, d / "test2017", 2, "{:012d}.jpg", start_id=100)
    _json(d / "annotations/image_info_test-dev2017.json", {"images": timgs, "categories": CATS})
    out["coco-test-dev-det"] = out["coco-test-dev-seg"] = toracle
    # LVIS v1: images referenced through coco_url, federated fields
    limages = []
    lanns = []
    lor = {}
    aid = 1
    for k, split in enumerate(("train2017", "val2017")):
        iid = 500 + k
        name = f"{iid:012d}.jpg"
        _jpg(d / split / name, rng)
        limages.append({"id": iid, "height": H, "width": W, "coco_url": f"http://images.cocodataset.org/{split}/{name}",
                        "neg_category_ids": [2], "not_exhaustive_category_ids": []})
        objs = _objects(rng, 2)
        labels = [1, 3]
        for m, c in zip(objs, labels):
            lanns.append(_coco_ann(aid, iid, c, m))
            aid += 1
        lor[str(iid)] = [_inst(objs, labels)]
    lcats = [{"id": 1, "name": "aerosol_can", "frequency": "r", "synset": "a.n.01", "image_count": 1, "instance_count": 1},
             {"id": 2, "name": "air_conditioner", "frequency": "c", "synset": "b.n.01", "image_count": 1, "instance_count": 1},
             {"id": 3, "name": "airplane", "frequency": "f", "synset": "c.n.01", "image_count": 1, "instance_count": 1}]
    _json(root / "lvis/lvis_v1_val.json", {"images": limages, "annotations": lanns, "categories": lcats})
    out["lvis-v1-val-det"] = out["lvis-v1-val-seg"] = lor


def gen_refcoco(root: Path, rng, out: dict):
    from evalkit.benchmarks.refcoco import REFCOCO_SPLITS

    img_dir = root / "coco" / "train2014"
    for variant, (folder, splits) in REFCOCO_SPLITS.items():
        for split in splits:
            images, anns, oracle = [], [], {}
            for k in range(3):
                coco_id = 9 + k
                name = f"COCO_train2014_{coco_id:012d}.jpg"
                if not (img_dir / name).exists():
                    _jpg(img_dir / name, rng)
                eid = 1000 * (k + 1) + len(split)
                m = _objects(rng, 2)[int(rng.integers(2))]
                images.append({"id": eid, "file_name": name, "height": H, "width": W, "original_id": coco_id,
                               "caption": f"the object number {k} of {variant} {split}"})
                anns.append(_coco_ann(eid, eid, 1, m))
                oracle[str(eid)] = [_inst([m], [1])]
            _json(root / "annotations" / folder / f"instances_{split}.json",
                  {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "object"}]})
            ps = split + "-u" if variant == "refcocog" else split
            out[f"{variant}-{ps}-rec"] = out[f"{variant}-{ps}-res"] = oracle


def gen_fss(root: Path, rng, out: dict):
    d = root / "fss-1000"
    classes = ["abacus", "zebra"]
    _text(d / "splits/test.txt", "\n".join(classes) + "\n")
    oracle = {}
    for c in classes:
        for k in range(1, 8):
            _jpg(d / c / f"{k}.jpg", rng)
            m = _objects(rng, 1)[0]
            Image.fromarray((m * 255).astype(np.uint8)).convert("RGB").save(d / c / f"{k}.png")
            oracle[f"{c}/{k}"] = [_inst([m], [1])]
    out["fss1000-test-1shot"] = out["fss1000-test-5shot"] = oracle


def gen_odinw(root: Path, rng, out: dict):
    from evalkit.benchmarks.odinw import ODINW13

    oracle = {}
    for name, (ann, img) in ODINW13.items():
        cats = [{"id": 1, "name": f"{name.lower()}-thing"}, {"id": 2, "name": f"{name.lower()}-other"}]
        images, anns, orc = _coco_like(rng, root / "odinw" / img, 2, "img_{}.jpg", cats)
        _json(root / "odinw" / ann, {"images": images, "annotations": anns, "categories": cats})
        oracle.update({f"{name}/{k}": v for k, v in orc.items()})
    out["odinw13-val"] = oracle


# --------------------------------------------------------------------------------------------
# single-object tracking
# --------------------------------------------------------------------------------------------
def _sot_track(rng, n):
    """n xywh boxes of a box drifting right, integer-valued (exact under %d writing)."""
    x, y = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    w, h = int(rng.integers(8, 12)), int(rng.integers(6, 10))
    return np.array([[x + t, y + (t % 2), w, h] for t in range(n)], np.float64)


def _sot_oracle(boxes):
    return [Instances((H, W), boxes=np.array([[b[0], b[1], b[0] + b[2], b[1] + b[3]]], np.float32),
                      scores=np.ones(1, np.float32)) for b in boxes]


def _write_boxes(path: Path, boxes, sep=","):
    _text(path, "\n".join(sep.join(str(int(v)) for v in b) for b in boxes) + "\n")


def gen_sot(root: Path, rng, out: dict):
    n = 4
    # LaSOT and LaSOT-ext
    for ds, bid, names in (("LaSOT", "lasot-test", ["airplane-1", "bird-3"]),
                           ("LaSOT_extension_subset", "lasot-ext-test", ["atv-1", "wingsuit-2"])):
        oracle = {}
        for s in names:
            d = root / ds / s.rsplit("-", 1)[0] / s
            for t in range(n):
                _jpg(d / "img" / f"{t + 1:08d}.jpg", rng)
            b = _sot_track(rng, n)
            _write_boxes(d / "groundtruth.txt", b)
            _text(d / "full_occlusion.txt", ",".join(["0"] * n) + "\n")
            _text(d / "out_of_view.txt", ",".join(["0"] * n) + "\n")
            _text(d / "nlp.txt", f"the {s} moving right\n")
            oracle[s] = _sot_oracle(b)
        if ds == "LaSOT":
            _text(root / ds / "testing_set.txt", "\n".join(names) + "\n")
        out[bid] = oracle
    # TNL-2K
    oracle = {}
    for s in ("advSamp_Baseball_1", "Basketball_video_2"):
        d = root / "TNL-2K" / "test" / s
        for t in range(n):
            _jpg(d / "imgs" / f"{t + 1:05d}.jpg", rng)
        b = _sot_track(rng, n)
        _write_boxes(d / "groundtruth.txt", b)
        _text(d / "language.txt", "the player\n")
        oracle[s] = _sot_oracle(b)
    out["tnl2k-test"] = oracle
    # TrackingNet TEST (first-frame boxes only); 11 frames to exercise numeric frame order
    oracle = {}
    for s in ("-0dcVF6Jt1w_0", "zzRfC-wT3Gc_1"):
        d = root / "TrackingNet" / "TEST"
        for t in range(11):
            _jpg(d / "frames" / s / f"{t}.jpg", rng)
        b = _sot_track(rng, 11)
        _write_boxes(d / "anno" / f"{s}.txt", b[:1])
        oracle[s] = _sot_oracle(b)
    out["trackingnet-test"] = oracle
    # GOT-10k val (full boxes) and test (first box)
    for split, bid in (("val", "got10k-val"), ("test", "got10k-test")):
        oracle = {}
        names = [f"GOT-10k_{split.capitalize()}_{k:06d}" for k in (1, 2)]
        for s in names:
            d = root / "GOT10K" / split / s
            for t in range(n):
                _jpg(d / f"{t + 1:08d}.jpg", rng)
            b = _sot_track(rng, n)
            _write_boxes(d / "groundtruth.txt", b if split == "val" else b[:1])
            _text(d / "absence.label", "0\n" * n)
            _text(d / "cover.label", "8\n" * n)
            _text(d / "meta_info.ini", f"[METAINFO]\nresolution: ({W}, {H})\n")
            oracle[s] = _sot_oracle(b)
        _text(root / "GOT10K" / split / "list.txt", "\n".join(names) + "\n")
        out[bid] = oracle


# --------------------------------------------------------------------------------------------
# VOS / RVOS
# --------------------------------------------------------------------------------------------
def _vos_video(rng, n_frames: int, n_obj: int, late: bool = False):
    """Per-frame label maps of n_obj objects drifting right; with ``late`` the last object
    first appears on frame 1."""
    base = _objects(rng, n_obj)
    labs = []
    for t in range(n_frames):
        lab = np.zeros((H, W), np.uint8)
        for o, m in enumerate(base):
            if late and o == n_obj - 1 and t == 0:
                continue
            lab[np.roll(m, t % 2, axis=1)] = o + 1
        labs.append(lab)
    return labs


def _vos_oracle(labs):
    out = []
    for lab in labs:
        ids = [int(i) for i in np.unique(lab) if i]
        out.append(_inst([lab == i for i in ids], None, ids))
    return out


def _write_vos(root: Path, img_rel: str, ann_rel: str, videos: dict, stride: int = 1, ann_mode: str = "first",
               stem_fmt: str = "{:05d}"):
    """Write frames + annotations. ann_mode: 'all' | 'first' (frame 0) | 'appear' (first appearances)."""
    for v, labs in videos.items():
        seen: set[int] = set()
        for t, lab in enumerate(labs):
            stem = stem_fmt.format(t * stride)
            # crc32, not hash(): str hashes are salted per process
            rng = np.random.default_rng(zlib.crc32(f"{v}/{t}".encode()))
            _jpg(root / img_rel / v / f"{stem}.jpg", rng)
            ids = set(int(i) for i in np.unique(lab) if i)
            if ann_mode == "all" or (ann_mode == "first" and t == 0):
                _pal_png(root / ann_rel / v / f"{stem}.png", lab)
            elif ann_mode == "appear" and ids - seen:
                _pal_png(root / ann_rel / v / f"{stem}.png", np.where(np.isin(lab, list(ids - seen)), lab, 0))
            seen |= ids


def gen_vos(root: Path, rng, out: dict):
    # DAVIS 2017 (full GT on disk, first frame is the prompt)
    vids = {"bike-packing": _vos_video(rng, 4, 2), "blackswan": _vos_video(rng, 4, 1)}
    _write_vos(root / "DAVIS", "JPEGImages/480p", "Annotations/480p", vids, ann_mode="all")
    _text(root / "DAVIS/ImageSets/2017/val.txt", "\n".join(vids) + "\n")
    out["davis17-val"] = {v: _vos_oracle(l) for v, l in vids.items()}
    # YouTube-VOS 2018/2019 valid: 5-frame stride, objects appearing late
    for ds, bid in (("ytbvos18", "ytvos18-val"), ("ytbvos19", "ytvos19-val")):
        vids = {"0a49f5265b": _vos_video(rng, 3, 2, late=True), "0b1de2f7d4": _vos_video(rng, 3, 1)}
        _write_vos(root / ds, "valid/JPEGImages", "valid/Annotations", vids, stride=5, ann_mode="appear")
        meta = {"videos": {v: {"objects": {str(o): {"category": "thing", "frames": [f"{t * 5:05d}" for t in range(3)]}
                                           for o in range(1, int(max(l.max() for l in labs)) + 1)}}
                           for v, labs in vids.items()}}
        _json(root / ds / "valid/meta.json", meta)
        out[bid] = {v: _vos_oracle(l) for v, l in vids.items()}
    # MOSE valid: first-frame masks
    # (the second video from its own stream: the datasets generated after it stay as they were)
    vids = {"00a3b6a2": _vos_video(rng, 3, 2), "00b1d4c7": _vos_video(np.random.default_rng(RNG_SEED + 11), 3, 1)}
    _write_vos(root / "mose", "valid/JPEGImages", "valid/Annotations", vids, ann_mode="first")
    out["mose-val"] = {v: _vos_oracle(l) for v, l in vids.items()}
    # LVOS valid: every frame, GT every 5th frame, an object appearing late, seen + unseen video
    d = root / "lvos/valid"
    meta, lor = {}, {}
    for v, unseen in (("0tCWPOrc", False), ("1ZwLr2dT", True)):
        base = _objects(rng, 2)
        labs = []
        for t in range(20):
            lab = np.zeros((H, W), np.uint8)
            for o, m in enumerate(base):
                if o == 1 and t < 5:
                    continue
                lab[np.roll(m, t % 2, axis=1)] = o + 1
            labs.append(lab)
            _jpg(d / "JPEGImages" / v / f"{t:08d}.jpg", rng)
            if t % 5 == 0:
                _pal_png(d / "Annotations" / v / f"{t:08d}.png", lab)
        meta[v] = {"objects": {"1": {"frame_range": {"start": 0, "end": 20, "frame_nums": 4}},
                               "2": {"frame_range": {"start": 5, "end": 20, "frame_nums": 3}}}}
        lor[v] = _vos_oracle(labs)
    _json(d / "valid_meta.json", {"videos": meta})
    _text(d / "unseen_videos.txt", "1ZwLr2dT\n")
    out["lvos-val"] = lor
    # VIPOSeg valid (panoptic VOS, first appearances)
    vids = {"1_abcd": _vos_video(rng, 3, 3, late=True), "2_efgh": _vos_video(rng, 3, 1)}
    _write_vos(root / "VIPOSeg", "valid/JPEGImages", "valid/Annotations", vids, ann_mode="appear")
    for v, labs in vids.items():  # full ground truth + object classes (one thing, one stuff, one unseen)
        for t, lab in enumerate(labs):
            _pal_png(root / "VIPOSeg/valid/Annotations_gt" / v / f"{t:05d}.png", lab)
    # classes: thing seen, stuff seen, thing unseen; stuff unseen in the second video
    _json(root / "VIPOSeg/valid/obj_class.json", {"1_abcd": {"1": 60, "2": 28, "3": 102}, "2_efgh": {"1": 9}})
    out["viposeg-val"] = {v: _vos_oracle(l) for v, l in vids.items()}


def gen_rvos(root: Path, rng, out: dict):
    # Ref-YouTube-VOS valid
    d = root / "ref-youtube-vos"
    meta, oracle = {}, {}
    for v in ("003234408d", "0043f083b5"):
        labs = _vos_video(rng, 3, 1)
        frames = [f"{t * 5:05d}" for t in range(3)]
        for t, f in enumerate(frames):
            _jpg(d / "valid/JPEGImages" / v / f"{f}.jpg", rng)
        meta[v] = {"expressions": {"0": {"exp": f"a thing in {v}"}, "1": {"exp": f"the same thing in {v}"}},
                   "frames": frames}
        for e in ("0", "1"):
            oracle[f"{v}/{e}"] = [_inst([lab == 1]) for lab in labs]
    _json(d / "meta_expressions/valid/meta_expressions.json", {"videos": meta})
    out["ref-ytvos-val"] = oracle
    # Ref-DAVIS17: 2 objects x 4 annotators, GT in DAVIS/Annotations_unsupervised
    d = root / "ref-davis"
    meta, oracle = {}, {}
    videos = {"bike-packing": _vos_video(rng, 3, 2), "bmx-trees": _vos_video(rng, 3, 1)}
    for v, labs in videos.items():
        n_obj = int(max(l.max() for l in labs))
        frames = [f"{t:05d}" for t in range(3)]
        for t, f in enumerate(frames):
            _jpg(d / "valid/JPEGImages" / v / f"{f}.jpg", rng)
            _pal_png(d / "DAVIS/Annotations_unsupervised/480p" / v / f"{f}.png", labs[t])
        exps = {}
        for o in range(n_obj):
            for a in range(4):
                e = str(o * 4 + a)
                exps[e] = {"exp": f"object {o + 1} of {v} by annotator {a}", "obj_id": str(o + 1)}
                oracle[f"{v}/{e}"] = [_inst([lab == o + 1]) for lab in labs]
        meta[v] = {"expressions": exps, "frames": frames}
    _text(d / "DAVIS/ImageSets/2017/val.txt", "\n".join(videos) + "\n")
    _json(d / "meta_expressions/valid/meta_expressions.json", {"videos": meta})
    out["ref-davis17-val"] = oracle


# --------------------------------------------------------------------------------------------
# VIS, MOT/MOTS, open-world tracking
# --------------------------------------------------------------------------------------------
YTVIS_CATS = [{"id": 1, "name": "person"}, {"id": 2, "name": "giant_panda"}, {"id": 3, "name": "lizard"}]


def _vis_split(rng, image_root: Path, n_videos: int, frame_fmt: str, with_anns: bool, start=1):
    videos, anns, oracle = [], [], {}
    aid = 1
    for k in range(n_videos):
        vid = start + k
        name = f"{vid:04x}abcd"
        labs = _vos_video(rng, 3, 2)
        files = [f"{name}/{frame_fmt.format(t)}" for t in range(3)]
        for f in files:
            _jpg(image_root / f, rng)
        videos.append({"id": vid, "file_names": files, "height": H, "width": W, "length": 3})
        cats = [YTVIS_CATS[int(rng.integers(3))]["id"] for _ in range(2)]
        for o in range(2):
            segs = [mask_to_rle(lab == o + 1) for lab in labs]
            anns.append({"id": aid, "video_id": vid, "category_id": cats[o], "iscrowd": 0, "segmentations": segs,
                         "areas": [int((lab == o + 1).sum()) for lab in labs],
                         "bboxes": [[a - 0 for a in _xywh(lab == o + 1)] for lab in labs], "height": H, "width": W})
            aid += 1
        oracle[str(vid)] = [_inst([lab == 1, lab == 2], cats, [0, 1]) for lab in labs]
    return {"videos": videos, "categories": YTVIS_CATS, **({"annotations": anns} if with_anns else {})}, oracle


def _xywh(m):
    x0, y0, x1, y1 = _box(m)
    return [x0, y0, x1 - x0, y1 - y0]


def gen_vis(root: Path, rng, out: dict):
    for k, (ds, ann, img, train, frame_fmt) in {
        "ytvis19": ("ytvis_2019", "valid.json", "valid/JPEGImages", "train/JPEGImages", "{:05d}.jpg"),
        "ytvis21": ("ytvis_2021", "valid/instances.json", "valid/JPEGImages", "train/JPEGImages", "{:05d}.jpg"),
        "ovis": ("ovis", "annotations_valid.json", "valid", "train", "img_{:07d}.jpg"),
    }.items():
        data, oracle = _vis_split(rng, root / ds / img, 2, frame_fmt, with_anns=False)
        _json(root / ds / ann, data)
        out[f"{k}-val"] = oracle
        data, oracle = _vis_split(rng, root / ds / train, 2, frame_fmt, with_anns=True, start=10)
        _json(root / ds / "valid_sub.json", data)
        out[f"{k}-dev"] = oracle


def gen_bdd(root: Path, rng, out: dict):
    from evalkit.benchmarks.bdd100k import BDD_CLASSES

    d = root / "bdd100k"
    oracle = {}
    for v in ("b1c66a42-6f7d68ca", "b1c9c847-3bda4659"):
        labs = _vos_video(rng, 3, 2)
        cats = [3, 1]
        frames = []
        preds = []
        for t, lab in enumerate(labs):
            name = f"{v}-{t + 1:07d}.jpg"
            _jpg(d / "images/track/val" / v / name, rng)
            labels = []
            for o in range(2):
                x0, y0, x1, y1 = _box(lab == o + 1)
                labels.append({"id": str(o + 10), "category": BDD_CLASSES[cats[o] - 1],
                               "attributes": {"occluded": False, "truncated": False, "crowd": False},
                               "box2d": {"x1": x0, "y1": y0, "x2": x1, "y2": y1}})
            frames.append({"name": name, "videoName": v, "frameIndex": t, "labels": labels})
            preds.append(_inst([lab == 1, lab == 2], cats, [10, 11]))
        _json(d / "labels/box_track_20/val" / f"{v}.json", frames)
        oracle[v] = preds
    out["bdd100k-box-track-val"] = oracle
    oracle = {}
    # the second video draws from its own stream: the datasets generated after it stay as they were
    for v, vrng in (("b1c81faa-3df17267", rng), ("b1c93fd8-5c3b0e2a", np.random.default_rng(RNG_SEED + 7))):
        labs = _vos_video(vrng, 3, 2)
        cats = [3, 2]
        preds = []
        for t, lab in enumerate(labs):
            stem = f"{v}-{t + 1:07d}"
            _jpg(d / "images/seg_track_20/val" / v / f"{stem}.jpg", vrng)
            bm = np.zeros((H, W, 4), np.uint8)
            for o in range(2):
                m = lab == o + 1
                bm[m, 0] = cats[o]
                bm[m, 3] = o + 1
            p = d / "labels/seg_track_20/bitmasks/val" / v / f"{stem}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(bm, mode="RGBA").save(p)
            preds.append(_inst([lab == 1, lab == 2], cats, [0, 1]))
        oracle[v] = preds
    out["bdd100k-seg-track-val"] = oracle


def gen_tao(root: Path, rng, out: dict):
    d = root / "TAO"
    cats = [{"id": 1, "name": "acorn", "synset": "acorn.n.01"}, {"id": 2, "name": "airplane", "synset": "airplane.n.01"}]
    videos, images, tracks, anns, oracle = [], [], [], [], {}
    iid = aid = 1
    for vid, name in ((1, "val/ArgoVerse/vid_a"), (2, "val/YFCC100M/vid_b")):
        videos.append({"id": vid, "name": name, "width": W, "height": H, "neg_category_ids": [],
                       "not_exhaustive_category_ids": []})
        labs = _vos_video(rng, 3, 2)
        for o in range(2):
            tracks.append({"id": vid * 10 + o, "video_id": vid, "category_id": o + 1})
        preds = []
        for t, lab in enumerate(labs):
            fn = f"{name}/frame{30 * t + 1:04d}.jpg"
            _jpg(d / "frames" / fn, rng)
            images.append({"id": iid, "video_id": vid, "file_name": fn, "frame_index": 30 * t, "height": H, "width": W})
            for o in range(2):
                m = lab == o + 1
                anns.append({"id": aid, "image_id": iid, "video_id": vid, "track_id": vid * 10 + o, "category_id": o + 1,
                             "bbox": _xywh(m), "area": float(_xywh(m)[2] * _xywh(m)[3]), "iscrowd": 0})
                aid += 1
            preds.append(_inst([lab == 1, lab == 2], [1, 2], [vid * 10, vid * 10 + 1]))
            iid += 1
        oracle[str(vid)] = preds
    _json(d / "annotations/validation.json", {"videos": videos, "images": images, "tracks": tracks,
                                              "annotations": anns, "categories": cats})
    out["tao-val"] = oracle
    # BURST
    d = root / "burst"
    seqs, oracle = [], {}
    for k, (ds, seq) in enumerate((("ArgoVerse", "vid_a"), ("LaSOT", "vid_c"))):
        labs = _vos_video(rng, 3, 2)
        paths = [f"frame{30 * t + 1:04d}.jpg" for t in range(3)]
        for p in paths:
            _jpg(d / "frames/val" / ds / seq / p, rng)
        segs = [{str(o + 1): {"rle": mask_to_rle(lab == o + 1)["counts"], "is_gt": True} for o in range(2)} for lab in labs]
        seqs.append({"id": k + 1, "dataset": ds, "seq_name": seq, "width": W, "height": H, "fps": 30,
                     "neg_category_ids": [], "not_exhaustive_category_ids": [],
                     "annotated_image_paths": paths, "all_image_paths": paths, "segmentations": segs,
                     "track_category_ids": {"1": 1, "2": 2}})
        oracle[f"{ds}/{seq}"] = [_inst([lab == 1, lab == 2], [1, 2], [1, 2]) for lab in labs]
    _json(d / "annotations/val/all_classes.json", {"split": "val", "categories": cats,
                                                   "sequences": seqs})
    out["burst-val"] = oracle


# --------------------------------------------------------------------------------------------
# VSS / VPS
# --------------------------------------------------------------------------------------------
def gen_vspw(root: Path, rng, out: dict):
    d = root / "VSPW_480p"
    _json(d / "label_num_dic_final.json", {"others": 0, "wall": 1, "sky": 2, "person": 3})
    oracle = {}
    for v in ("127_-hIVCYO4C90", "1001_5z_OnZQ8oqk"):
        labs = _vos_video(rng, 17, 2)  # more than 16 frames: mVC8 and mVC16 have windows
        preds = []
        for t, lab in enumerate(labs):
            sem = np.where(lab == 1, 3, np.where(lab == 2, 2, 1)).astype(np.uint8)
            _jpg(d / "data" / v / "origin" / f"{t:08d}.jpg", rng)
            p = d / "data" / v / "mask" / f"{t:08d}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(sem, mode="L").save(p)
            ids = [int(i) for i in np.unique(sem)]
            preds.append(_inst([sem == i for i in ids], ids))
        oracle[v] = preds
    _text(d / "val.txt", "\n".join(oracle) + "\n")
    out["vspw-val"] = oracle


def gen_vipseg(root: Path, rng, out: dict):
    b = root / "VIPSeg" / "VIPSeg_720P"
    cats = [{"id": 0, "name": "wall", "isthing": 0}, {"id": 61, "name": "person", "isthing": 1},
            {"id": 62, "name": "car", "isthing": 1}]
    videos, anns, oracle = [], [], {}
    for v in ("12_n-ytHkMceew", "26_cblDl5vCZnw"):
        labs = _vos_video(rng, 8, 2)  # 8 frames: every VPQ window length (1..8) occurs
        frames, preds = [], []
        # GT segment ids: stuff 1 (wall), things 6101 / 6201 (one instance each)
        seg_of = {0: (1, 0), 1: (6101, 61), 2: (6201, 62)}
        for t, lab in enumerate(labs):
            stem = f"{t:08d}"
            _jpg(b / "images" / v / f"{stem}.jpg", rng)
            ids = np.zeros(lab.shape, np.int64)
            info = []
            for o, (sid, cat) in seg_of.items():
                m = lab == o
                ids[m] = sid
                info.append({"id": sid, "category_id": cat, "iscrowd": 0, "area": int(m.sum())})
            rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)
            p = b / "panomasksRGB" / v / f"{stem}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb, mode="RGB").save(p)
            frames.append({"segments_info": info, "file_name": f"{stem}.png"})
            preds.append(_inst([lab == 0, lab == 1, lab == 2], [0, 61, 62], [0, 1, 2]))
        videos.append({"video_id": v, "images": [{"file_name": f"{t:08d}.png"} for t in range(len(labs))]})
        anns.append({"video_id": v, "annotations": frames})
        oracle[v] = preds
    _json(b / "panoptic_gt_VIPSeg_val.json", {"videos": videos, "annotations": anns, "categories": cats})
    _text(root / "VIPSeg" / "val.txt", "\n".join(oracle) + "\n")
    out["vipseg-val"] = oracle


GENERATORS = (gen_coco, gen_refcoco, gen_fss, gen_odinw, gen_sot, gen_vos, gen_rvos, gen_vis, gen_bdd,
              gen_tao, gen_vspw, gen_vipseg)


def generate(root: Path, seed: int = RNG_SEED, only=GENERATORS) -> dict[str, dict[str, list[Instances] | None]]:
    """Write every dataset (or those of the generators in ``only``) under ``root``; return
    benchmark id → sample id → oracle predictions."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    out: dict = {}
    for g in only:
        g(root, rng, out)
    return out
