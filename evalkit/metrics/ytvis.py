"""Video instance segmentation AP for YouTube-VIS 2019/2021 and OVIS (Yang et al., "Video
Instance Segmentation", ICCV 2019).

Semantics of youtubevos/cocoapi ``ytvoseval`` (the CodaLab servers' evaluator), re-implemented
here because it is not installable (and needs three shims to run on Python 3 / numpy 2). The AP
machinery is :mod:`evalkit.metrics._apeval` (COCOeval's, vectorised); what differs from COCO:

* **spatio-temporal IoU** of a predicted track d and a GT track g: summed over the frames,
  ``I = sum |d_f & g_f|``, ``U = sum |d_f | g_f|`` (a frame where one is absent adds the other's
  area to U); ``IoU = I / U``, and 0 when ``U == 0``. Crowd GTs use the same IoU (ytvoseval
  computes but never uses the crowd flag in its IoU);
* **track area** = mean of the per-frame areas that are present and non-zero (0 if none); GT
  areas come from the GT ``areas`` field, prediction areas from the RLEs;
* **area ranges** all [0, 1e10], small [0, 128²], medium [128², 256²], large [256², 1e10]
  (inclusive); maxDets 1/10/100 per (video, category); crowd GTs are ignored regions.

Ground truth: a YouTube-VIS ``instances.json`` (path or loaded dict) with ``videos`` (``id``,
``height``, ``width``, ``length`` or ``file_names``), ``categories`` (``id``) and ``annotations``
(``id``, ``video_id``, ``category_id``, ``iscrowd``, ``areas`` (per frame, null when absent) and
``segmentations``: one entry per frame, null when absent, else an RLE (compressed or
uncompressed) or polygons, at the video's ``[height, width]``).

Results: the YouTube-VIS results JSON (what the server takes inside ``results.zip``), one object
per predicted track::

    [{"video_id": int, "category_id": int, "score": float,
      "segmentations": [{"size": [H, W], "counts": str} | null, ...]},   # one per frame, null = absent
     ...]

Checks (:class:`~evalkit.errors.ResultsError` naming the entry): known video and category ids,
finite score, exactly one segmentation per frame of the video (ytvoseval would silently
``zip``-truncate a shorter list), every RLE of the video's size and well formed. An empty result
list is legal (every category with GT scores 0).
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._files import require_id, warn_if_empty
from ._apeval import EvalParams, PairData, evaluate, summarize12
from ._breakdown import emit, wanted
from .ap_breakdown import ap_breakdown
from ._coco_io import load_json
from ._rle import areas, check_compressed, gt_to_rle, normalise_rle

__all__ = ["YTVIS_PARAMS", "ytvis", "load_ytvis_gt", "prepare_ytvis_results"]

YTVIS_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
YTVIS_PARAMS = EvalParams(area_rngs=[[0**2, 1e5**2], [0**2, 128**2], [128**2, 256**2], [256**2, 1e5**2]])


def ytvis(gt: Any, results: Any) -> dict[str, float]:
    """YouTube-VIS / OVIS mask AP/AR: the 12 stats (fractions, -1 when undefined)."""
    vids, cats, gts = load_ytvis_gt(gt)
    dts = prepare_ytvis_results(vids, cats, results)
    p = YTVIS_PARAMS
    vid_ids, cat_ids = sorted(vids), sorted(cats)
    vid_index = {v: i for i, v in enumerate(vid_ids)}
    cat_index = {c: i for i, c in enumerate(cat_ids)}
    gt_by_vid, dt_by_vid = defaultdict(list), defaultdict(list)
    for g in gts:
        gt_by_vid[g["video_id"]].append(g)
    for d in dts:
        dt_by_vid[d["video_id"]].append(d)
    pairs: list[PairData] = []
    for v in vid_ids:
        pairs.extend(_video_pairs(vids[v], vid_index[v], gt_by_vid[v], dt_by_vid[v], cat_index, p.max_dets[-1]))
    ev = evaluate(pairs, len(cat_ids), p)
    if wanted():  # per-category AP (ytvoseval's precision array) and per-video track matches
        names = {c: cats[c].get("name", str(c)) for c in cat_ids}
        emit(ap_breakdown("video", ev["precision"], p.iou_thrs, cat_ids, names, vid_ids, ev["per_image"], ev, p))
    return dict(zip(YTVIS_STATS, summarize12(ev, p)))


def _mean_nonzero(areas) -> float:
    vals = [a for a in areas if a]
    return float(np.array(vals).mean()) if vals else 0.0


def load_ytvis_gt(gt: Any) -> tuple[dict, dict, list[dict]]:
    """``(videos by id, categories by id, GT tracks)``; each track gets ``rles`` (one compressed
    RLE or ``None`` per frame), ``avg_area`` and ``crowd``."""
    data, name = load_json(gt, "ground truth")
    if not isinstance(data, dict) or not all(k in data for k in ("videos", "annotations", "categories")):
        raise ResultsError(f"{name}: a YouTube-VIS ground truth needs 'videos', 'annotations' and 'categories'")
    vids = {}
    for i, v in enumerate(data["videos"]):
        try:
            n = int(v["length"]) if "length" in v else len(v["file_names"])
            vids[require_id(v["id"], f"{name}: videos[{i}]", "id")] = {"h": int(v["height"]), "w": int(v["width"]), "n": n}
        except KeyError as e:
            raise ResultsError(f"{name}: videos[{i}] lacks {e.args[0]!r}") from None
    cats = {c["id"]: c for c in data["categories"]}
    tracks, rles, where = [], [], []
    for i, a in enumerate(data["annotations"]):
        at = f"{name}: annotations[{i}]"
        for k in ("id", "video_id", "category_id", "segmentations", "areas"):
            if k not in a:
                raise ResultsError(f"{at} lacks '{k}'")
        v = vids.get(require_id(a["video_id"], at, "video_id"))
        if v is None:
            raise ResultsError(f"{at}: video_id {a['video_id']!r} is not a video of the ground truth")
        segs = []
        for f, s in enumerate(a["segmentations"]):
            if not s:  # null (or an empty polygon list): absent in this frame
                segs.append(None)
                continue
            r = gt_to_rle(s, v["h"], v["w"], f"{at}.segmentations[{f}]")
            if list(r["size"]) != [v["h"], v["w"]]:
                raise ResultsError(f"{at}.segmentations[{f}]: mask of size {list(r['size'])} in a video of size [{v['h']}, {v['w']}]")
            segs.append(r)
            rles.append(r)
            where.append(f"{at}.segmentations[{f}]")
        tracks.append({
            "id": a["id"],
            "video_id": a["video_id"],
            "category_id": a["category_id"],
            "rles": segs,
            "avg_area": _mean_nonzero(a["areas"]),
            "crowd": bool(a.get("iscrowd", 0)),
        })
    check_compressed(rles, where)
    return vids, cats, tracks


def prepare_ytvis_results(vids: dict, cats: dict, results: Any) -> list[dict]:
    """Validated result tracks with ``rles`` (compressed or ``None`` per frame) and
    ``avg_area`` (mean non-zero RLE area, as ytvos ``loadRes``)."""
    data, name = load_json(results, "results")
    if not isinstance(data, list):
        raise ResultsError(f"{name}: results must be a JSON list of tracks, got {type(data).__name__}")
    warn_if_empty(data, name)
    out, rles, where = [], [], []
    for i, r in enumerate(data):
        at = f"{name}: entry {i}"
        if not isinstance(r, dict):
            raise ResultsError(f"{at}: expected an object, got {type(r).__name__}")
        try:
            vid, cat, score, segs = r["video_id"], r["category_id"], r["score"], r["segmentations"]
        except KeyError as e:
            raise ResultsError(f"{at}: missing field {e.args[0]!r}") from None
        if require_id(vid, at, "video_id") not in vids:
            raise ResultsError(f"{at}: video_id {vid!r} is not a video of the ground truth")
        if require_id(cat, at, "category_id") not in cats:
            raise ResultsError(f"{at}: category_id {cat!r} is not a category of the ground truth")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise ResultsError(f"{at}: score must be a finite number, got {score!r}")
        v = vids[vid]
        if not isinstance(segs, list) or len(segs) != v["n"]:
            got = len(segs) if isinstance(segs, list) else type(segs).__name__
            raise ResultsError(f"{at}: 'segmentations' must hold one entry (RLE or null) per frame: video {vid!r} has {v['n']} frames, got {got}")
        track = []
        for f, s in enumerate(segs):
            if not s:  # null (or an empty entry): absent, as ytvos loadRes reads it
                track.append(None)
                continue
            rr = normalise_rle(s, v["h"], v["w"], f"{at}.segmentations[{f}]")
            track.append(rr)
            rles.append(rr)
            where.append(f"{at}.segmentations[{f}]")
        out.append({"video_id": vid, "category_id": cat, "score": float(score), "rles": track})
    check_compressed(rles, where)
    for d in out:
        d["avg_area"] = _mean_nonzero(areas([r for r in d["rles"] if r is not None]).tolist())
    return out


def _video_pairs(video: dict, vi: int, gts: list[dict], dts: list[dict], cat_index: dict, max_det: int) -> list[PairData]:
    """The (video, category) pairs of one video with their spatio-temporal IoU matrices."""
    from pycocotools import mask as mask_utils

    # per category: GTs in file order, detections by score (stable), top max_det
    g_of, d_of = defaultdict(list), defaultdict(list)
    for g in gts:
        if g["category_id"] in cat_index:
            g_of[g["category_id"]].append(g)
    for d in dts:
        d_of[d["category_id"]].append(d)
    for c, ds in d_of.items():
        o = np.argsort([-d["score"] for d in ds], kind="mergesort")[:max_det]
        d_of[c] = [ds[i] for i in o]
    cats = sorted(set(g_of) | set(d_of))
    G = [g for c in cats for g in g_of[c]]
    D = [d for c in cats for d in d_of[c]]
    inter = np.zeros((len(D), len(G)))
    area_d = np.zeros(len(D))
    area_g = np.zeros(len(G))
    for f in range(video["n"]):
        di = [i for i, d in enumerate(D) if d["rles"][f] is not None]
        gi = [j for j, g in enumerate(G) if f < len(g["rles"]) and g["rles"][f] is not None]
        if di:
            area_d[di] += areas([D[i]["rles"][f] for i in di])
        if gi:
            area_g[gi] += areas([G[j]["rles"][f] for j in gi])
        if di and gi:
            dr = [D[i]["rles"][f] for i in di]
            gr = [G[j]["rles"][f] for j in gi]
            iou = np.asarray(mask_utils.iou(dr, gr, [0] * len(gr)), np.float64).reshape(len(dr), len(gr))
            ad = areas(dr).astype(np.float64)[:, None]
            ag = areas(gr).astype(np.float64)[None, :]
            # I = IoU (a_d + a_g) / (1 + IoU), an integer recovered exactly by rounding
            inter[np.ix_(di, gi)] += np.rint(iou * (ad + ag) / (1.0 + iou))
    union = area_d[:, None] + area_g[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        ious = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    out = []
    d0 = g0 = 0
    for c in cats:
        nd, ng = len(d_of[c]), len(g_of[c])
        gs, ds = g_of[c], d_of[c]
        out.append(PairData(
            img=vi,
            cat=cat_index[c],
            ious=ious[d0:d0 + nd, g0:g0 + ng],
            gt_ids=np.array([g["id"] for g in gs], np.int64),
            gt_crowd=np.array([g["crowd"] for g in gs], bool),
            gt_area=np.array([g["avg_area"] for g in gs], np.float64),
            dt_scores=np.array([d["score"] for d in ds], np.float64),
            dt_area=np.array([d["avg_area"] for d in ds], np.float64),
        ))
        d0, g0 = d0 + nd, g0 + ng
    return out
