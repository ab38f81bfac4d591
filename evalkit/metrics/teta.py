"""TETA (Track Every Thing Accuracy) on TAO, equal to SysCV/tet's ``teta`` toolkit.

Li et al., "Tracking Every Thing in the Wild", ECCV 2022. TETA = (LocA + AssocA + ClsA) / 3:

- **LocA** (localisation): for α in {0.00, 0.05, …, 0.95}, ``TP / (TP + FN + FP)`` of a
  HOTA-style matching (Hungarian on global-alignment score × IoU, keep IoU >= α) between the
  ground truth of one class and the *class-agnostic* predicted tracks that overlap it;
- **AssocA** (association): HOTA's AssA on those matches;
- **ClsA** (classification): for α in {0.50, …, 0.95}, among the matched pairs a correct
  predicted class is Cls_TP; a wrong one is Cls_FN of the ground-truth class and Cls_FP of the
  predicted class (when that class is evaluated); ``TP / (TP + FN + FP)`` averaged over α.

Returned keys (percent, as the toolkit prints them, threshold "50"): ``TETA``, ``LocA``,
``AssocA``, ``ClsA``, ``LocRe``, ``LocPr``, ``AssocRe``, ``AssocPr``, ``ClsRe``, ``ClsPr``: the
"average" row, i.e. the mean over evaluated classes (those with ground truth; classes whose
Loc_TP + Loc_FN + Loc_FP is zero at every α are left out) of per-class values, each combined
over videos by summing counts (AssocA weighted by Loc_TP).

Reproduced semantics and quirks (TAO dataset, ``exhaustive=False`` as in ``run_tao.py``):

- Box IoU on ``xywh`` boxes with TrackEval's formula; predictions are never class-filtered for
  localisation and association.
- Per video, a class-agnostic matching at α = 0.5 is computed first. For class ``c`` at frame
  ``t``, a prediction overlapping (IoU >= 0.5) a ground truth of ``c`` is an *overlap*
  prediction unless it was matched to a ground truth of another class in that agnostic
  matching. Every detection of a track that is an overlap prediction at **some** frame takes
  part in the matching for ``c``; only overlap predictions can be false positives, so
  predictions far from any ground truth of the class are not penalised.
- A video's timesteps are its images **that carry ground-truth annotations**, in
  ``frame_index`` order; predictions on other images are ignored.
- Categories listed under a category's ``merged`` entry are merged into it, for ground truth
  and predictions. ``max_detections > 0`` keeps the highest-scoring predictions per image
  (``MAX_DETECTIONS``, default 0 = unlimited).
- Only categories with ground-truth tracks are evaluated.
- The localisation thresholds start at α = 0 (HOTA's start at 0.05): at α = 0 every pair the
  Hungarian assignment forms counts as a match, even one with IoU 0, so LocA(0) can exceed
  the detection accuracy of any positive threshold.

Inputs: ``gt`` a TAO annotation JSON (``videos``, ``images``, ``annotations``, ``categories``;
path or dict); ``results`` a JSON list of ``{image_id, category_id, bbox [x, y, w, h], score,
track_id[, video_id]}`` (path or list).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..errors import ResultsError
from ._breakdown import Breakdown, emit, mean, wanted
from ._files import read_json_file, require_id, warn_if_empty

__all__ = ["tao_teta", "evaluate_classes", "box_iou_trackeval"]

EPS = np.finfo("float").eps
ALPHAS = np.arange(0.0, 0.99, 0.05)  # 20 localisation thresholds
CLS_ALPHAS = np.arange(0.5, 0.99, 0.05)  # 10 classification thresholds
INT_FIELDS = ("Loc_TP", "Loc_FN", "Loc_FP", "Cls_TP", "Cls_FN", "Cls_FP")
SUMMARY = ("TETA", "LocA", "AssocA", "ClsA", "LocRe", "LocPr", "AssocRe", "AssocPr", "ClsRe", "ClsPr")


def box_iou_trackeval(b1: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """TrackEval ``_calculate_box_ious`` for ``N x 4`` and ``M x 4`` float64 ``xywh`` → ``N x M``."""
    b1 = b1.copy()
    b2 = b2.copy()
    b1[:, 2:] += b1[:, :2]
    b2[:, 2:] += b2[:, :2]
    lo = np.minimum(b1[:, None, :], b2[None, :, :])
    hi = np.maximum(b1[:, None, :], b2[None, :, :])
    inter = np.maximum(lo[..., 2] - hi[..., 0], 0) * np.maximum(lo[..., 3] - hi[..., 1], 0)
    a1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    a2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    union = a1[:, None] + a2[None, :] - inter
    inter[a1 <= EPS, :] = 0
    inter[:, a2 <= EPS] = 0
    inter[union <= EPS] = 0
    union[union <= EPS] = 1
    return inter / union


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def _load_json(src: Any, what: str) -> Any:
    if isinstance(src, (str, Path)):
        try:
            return read_json_file(src, what)
        except FileNotFoundError:
            raise ResultsError(f"{what}: {src} does not exist") from None
        except json.JSONDecodeError as e:
            raise ResultsError(f"{what}: {src} is not valid JSON ({e})") from None
    return src


def _check_ann(ann: Any, k: int, where: str, need_score: bool) -> None:
    keys = ("image_id", "category_id", "bbox", "track_id") + (("score",) if need_score else ())
    if not isinstance(ann, dict) or any(key not in ann for key in keys):
        raise ResultsError(f"{where}: entry #{k} must have {', '.join(keys)}; got {str(ann)[:100]!r}")
    for key in ("image_id", "category_id", "track_id") + (("video_id",) if "video_id" in ann else ()):
        require_id(ann[key], f"{where}: entry #{k}", key)
    b = ann["bbox"]
    if not (isinstance(b, (list, tuple)) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b)):
        raise ResultsError(f"{where}: entry #{k}: bbox must be [x, y, w, h] numbers, got {b!r}")


class _Sequence:
    """One video: per timestep ground truth and prediction ids/classes/boxes and IoUs."""

    def __init__(self, name: str, n: int, video_id: str = ""):
        self.name = name
        self.video_id = video_id
        self.gt_ids = [np.zeros(0, int) for _ in range(n)]
        self.gt_cls = [np.zeros(0, int) for _ in range(n)]
        self.tk_ids = [np.zeros(0, int) for _ in range(n)]
        self.tk_cls = [np.zeros(0, int) for _ in range(n)]
        self.gt_box = [np.zeros((0, 4)) for _ in range(n)]
        self.tk_box = [np.zeros((0, 4)) for _ in range(n)]
        self.sim: list[np.ndarray] = []


def _load(gt_src: Any, res_src: Any, max_detections: int):
    gt = _load_json(gt_src, "ground truth")
    for key in ("videos", "images", "annotations", "categories"):
        if not isinstance(gt, dict) or key not in gt:
            raise ResultsError(f"ground truth: a TAO annotation file needs '{key}'")
    res = _load_json(res_src, "results")
    if isinstance(res, dict) and "annotations" in res:
        res = res["annotations"]
    if not isinstance(res, list):
        raise ResultsError("results: expected a JSON list of track detections")
    warn_if_empty(res, f"results {res_src}" if isinstance(res_src, (str, Path)) else "results")
    where = str(res_src) if isinstance(res_src, (str, Path)) else "<results>"
    for k, ann in enumerate(res):
        _check_ann(ann, k, where, need_score=True)
    for k, ann in enumerate(gt["annotations"]):
        _check_ann(ann, k, "ground truth annotations", need_score=False)

    merge = {m["id"]: c["id"] for c in gt["categories"] for m in c.get("merged", [])}
    for k, im in enumerate(gt["images"]):
        if not isinstance(im, dict) or "id" not in im:
            raise ResultsError(f"ground truth: images[{k}] lacks 'id'")
        require_id(im["id"], f"ground truth: images[{k}]", "id")
    images = {im["id"]: im for im in gt["images"]}
    for k, im in enumerate(gt["images"]):
        if "video_id" not in im or "frame_index" not in im:
            raise ResultsError(f"ground truth: images[{k}] (id {im.get('id')!r}) needs 'video_id' and 'frame_index'")
    unknown = [k for k, a in enumerate(res) if a["image_id"] not in images]
    if unknown:
        raise ResultsError(f"{where}: entry #{unknown[0]} refers to image_id {res[unknown[0]]['image_id']!r}, "
                           "which is not an image of the ground truth")
    if max_detections:
        # keep the best ``max_detections`` per image; images regrouped in first-seen order
        per_img: dict = defaultdict(list)
        for a in res:
            per_img[a["image_id"]].append(a)
        res = [a for anns in per_img.values()
               for a in (sorted(anns, key=lambda x: x["score"], reverse=True)[:max_detections]
                         if len(anns) > max_detections else anns)]

    def by_video_image(anns):
        out: dict = defaultdict(lambda: defaultdict(list))
        for a in anns:
            vid = a.get("video_id", images[a["image_id"]]["video_id"])
            out[vid][a["image_id"]].append(a)
        return out

    gt_map, res_map = by_video_image(gt["annotations"]), by_video_image(res)
    pos_cats = {merge.get(a["category_id"], a["category_id"]) for a in gt["annotations"]}
    classes = [(c["id"], c["name"]) for c in gt["categories"] if c["id"] in pos_cats]

    n_images: dict = defaultdict(int)
    for im in gt["images"]:
        n_images[im["video_id"]] += 1
    seqs = []
    for vid in gt["videos"]:
        v = vid["id"]
        seq = _Sequence(str(vid.get("name", v)).replace("/", "-"), n_images[v], str(v))
        # timesteps: the video's annotated images, by frame index
        annotated = sorted(gt_map[v], key=lambda i: images[i]["frame_index"])
        step = {img: t for t, img in enumerate(annotated)}
        for src, ids, cls, box in ((gt_map[v], seq.gt_ids, seq.gt_cls, seq.gt_box),
                                   (res_map.get(v, {}), seq.tk_ids, seq.tk_cls, seq.tk_box)):
            for img, anns in src.items():
                t = step.get(img)
                if t is None:
                    continue
                ids[t] = np.array([a["track_id"] for a in anns], dtype=int)
                cls[t] = np.array([merge.get(a["category_id"], a["category_id"]) for a in anns], dtype=int)
                box[t] = np.array([a["bbox"] for a in anns], dtype=float).reshape(-1, 4)
        for t in range(len(seq.gt_ids)):
            for ids, who in ((seq.gt_ids[t], "ground truth"), (seq.tk_ids[t], "results")):
                u, c = np.unique(ids, return_counts=True)
                if (c > 1).any():
                    raise ResultsError(f"{who}: track id {int(u[c > 1][0])} appears twice in one image "
                                       f"(video {seq.name!r}, timestep {t + 1})")
            seq.sim.append(box_iou_trackeval(seq.gt_box[t], seq.tk_box[t]))
        seqs.append(seq)
    return seqs, classes


# --------------------------------------------------------------------------------------------
# per-sequence evaluation
# --------------------------------------------------------------------------------------------
def _relabel(id_lists: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    u = np.unique(np.concatenate(id_lists)) if id_lists else np.zeros(0, int)
    return [np.searchsorted(u, x) for x in id_lists], len(u)


def _class_view(seq: _Sequence, cls_id: int | None, assign: list[dict] | None):
    """The toolkit's ``get_preprocessed_seq_data_thr`` for one class (None = all classes)."""
    T = len(seq.gt_ids)
    gmask = [np.ones(len(g), bool) if cls_id is None else seq.gt_cls[t] == cls_id for t, g in enumerate(seq.gt_ids)]
    overlap = []
    for t in range(T):
        hit = (seq.sim[t][gmask[t]] >= 0.5).any(axis=0)
        ov = set(seq.tk_ids[t][hit].tolist())
        if assign is not None and T:
            inside = set(seq.gt_ids[t][gmask[t]].tolist())
            ov -= {tk for g, tk in assign[t].items() if g not in inside}
        overlap.append(ov)
    keep = np.array(sorted(set().union(*overlap)) if overlap else [], dtype=int)
    v = {"gt_ids": [], "tk_ids": [], "tk_cls": [], "sim": [], "overlap": []}
    for t in range(T):
        tm = np.isin(seq.tk_ids[t], keep)
        v["gt_ids"].append(seq.gt_ids[t][gmask[t]])
        v["tk_ids"].append(seq.tk_ids[t][tm])
        v["tk_cls"].append(seq.tk_cls[t][tm])
        v["sim"].append(seq.sim[t][gmask[t]][:, tm])
        v["overlap"].append(np.array(sorted(overlap[t]), dtype=int))
    v["n_gt_dets"] = sum(len(x) for x in v["gt_ids"])
    v["n_overlap"] = sum(len(x) for x in v["overlap"])
    v["orig_gt"] = v["gt_ids"]
    v["orig_tk"] = v["tk_ids"]
    v["gt_ids"], v["n_gt"] = _relabel(v["gt_ids"])
    v["tk_ids"], v["n_tk"] = _relabel(v["tk_ids"])
    return v


def _alignment(v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Global alignment score ``n_gt x n_tk`` and detection counts per id (HOTA's)."""
    matches = np.zeros((v["n_gt"], v["n_tk"]))
    gt_count = np.zeros((v["n_gt"], 1))
    tk_count = np.zeros((1, v["n_tk"]))
    for g, k, sim in zip(v["gt_ids"], v["tk_ids"], v["sim"]):
        denom = sim.sum(0, keepdims=True) + sim.sum(1, keepdims=True) - sim
        sim_iou = np.zeros_like(sim)
        mask = denom > EPS
        sim_iou[mask] = sim[mask] / denom[mask]
        matches[g[:, None], k[None, :]] += sim_iou
        gt_count[g] += 1
        tk_count[0, k] += 1
    return matches / (gt_count + tk_count - matches), gt_count, tk_count


def _hungarian(ga, g, k, sim):
    rows, cols = linear_sum_assignment(-(ga[g[:, None], k[None, :]] * sim))
    return rows, cols


def _global_assignment(v) -> list[dict]:
    """Class-agnostic matches at α = 0.5: per timestep ``{orig gt id: orig track id}``."""
    T = len(v["gt_ids"])
    out: list[dict] = [{} for _ in range(T)]
    if v["n_overlap"] == 0 or v["n_gt_dets"] == 0:
        return out
    ga, _, _ = _alignment(v)
    for t in range(T):
        rows, cols = _hungarian(ga, v["gt_ids"][t], v["tk_ids"][t], v["sim"][t])
        ok = v["sim"][t][rows, cols] >= 0.5 - EPS
        out[t] = dict(zip(v["orig_gt"][t][rows[ok]].tolist(), v["orig_tk"][t][cols[ok]].tolist()))
    return out


def _empty_res() -> dict:
    r = {f: np.zeros(len(CLS_ALPHAS) if f.startswith("Cls") else len(ALPHAS)) for f in INT_FIELDS}
    r.update(AssocA=np.zeros(len(ALPHAS)), AssocRe=np.zeros(len(ALPHAS)), AssocPr=np.zeros(len(ALPHAS)))
    return r


def _eval_class(v, cls_id: int, evaluated: set, cls_fp: dict) -> dict:
    """``eval_sequence_single_thr`` for one class; Cls_FP of predicted classes goes to ``cls_fp``."""
    res = _empty_res()
    if v["n_overlap"] == 0:
        res["Loc_FN"] = v["n_gt_dets"] * np.ones(len(ALPHAS))
        return res
    if v["n_gt_dets"] == 0:
        return res
    ga, gt_count, tk_count = _alignment(v)
    counts = [np.zeros_like(ga) for _ in ALPHAS]
    for t, (g, k) in enumerate(zip(v["gt_ids"], v["tk_ids"])):
        if len(g) == 0:
            continue
        rows, cols = _hungarian(ga, g, k, v["sim"][t])
        fp_candidates = set(v["overlap"][t].tolist())  # all overlap the class's GT by IoU >= 0.5
        for a, alpha in enumerate(ALPHAS):
            ok = v["sim"][t][rows, cols] >= alpha - EPS
            r, c = rows[ok], cols[ok]
            n = len(r)
            matched = set(v["orig_tk"][t][c].tolist())
            pred_cls = v["tk_cls"][t][c]
            if alpha >= 0.5:
                for wrong in pred_cls[pred_cls != cls_id].tolist():
                    if wrong in evaluated:
                        cls_fp[wrong][a - 10] += 1
                right = int(np.sum(pred_cls == cls_id))
                res["Cls_TP"][a - 10] += right
                res["Cls_FN"][a - 10] += n - right
            res["Loc_TP"][a] += n
            res["Loc_FN"][a] += len(g) - n
            res["Loc_FP"][a] += len(fp_candidates - matched)
            if n:
                counts[a][g[r], k[c]] += 1
    for a in range(len(ALPHAS)):
        mc = counts[a]
        tp = np.maximum(1, res["Loc_TP"][a])
        res["AssocA"][a] = np.sum(mc * (mc / np.maximum(1, gt_count + tk_count - mc))) / tp
        res["AssocRe"][a] = np.sum(mc * (mc / np.maximum(1, gt_count))) / tp
        res["AssocPr"][a] = np.sum(mc * (mc / np.maximum(1, tk_count))) / tp
    return res


def _final(res: dict) -> dict:
    """``_compute_final_fields``."""
    tp, fn, fp = res["Loc_TP"], res["Loc_FN"], res["Loc_FP"]
    out = dict(res)
    out["LocRe"] = tp / np.maximum(1, tp + fn)
    out["LocPr"] = tp / np.maximum(1, tp + fp)
    out["LocA"] = tp / np.maximum(1, tp + fn + fp)
    ctp, cfn, cfp = res["Cls_TP"], res["Cls_FN"], res["Cls_FP"]
    out["ClsRe"] = np.mean(ctp / np.maximum(1, ctp + cfn))
    out["ClsPr"] = np.mean(ctp / np.maximum(1, ctp + cfp))
    out["ClsA"] = np.mean(ctp / np.maximum(1, ctp + cfn + cfp))
    out["TETA"] = (out["LocA"] + out["AssocA"] + out["ClsA"]) / 3
    return out


def _combine_sequences(per_seq: list[dict]) -> dict:
    res = {f: sum(r[f] for r in per_seq) for f in INT_FIELDS}
    for f in ("AssocRe", "AssocPr", "AssocA"):
        res[f] = sum(r[f] * r["Loc_TP"] for r in per_seq) / np.maximum(1.0, res["Loc_TP"])
    return _final(res)


def evaluate_classes(gt: Any, results: Any, max_detections: int = 0,
                     per_video: dict[str, dict[str, float]] | None = None) -> dict[str, dict]:
    """Per evaluated class (name → fields): counts and per-α arrays combined over videos.

    ``LocA``, ``AssocA``, ... are arrays over the 20 α of ``ALPHAS``; ``ClsA``, ``ClsRe``,
    ``ClsPr`` are already averaged over ``CLS_ALPHAS``; ``category_id`` is the class's id. With ``per_video`` (a dict to fill),
    each video id gets its own summary from the same per-sequence results
    (:func:`_video_summary`).
    """
    seqs, classes = _load(gt, results, int(max_detections))
    evaluated = {cid for cid, _ in classes}
    per_class: dict[int, list[dict]] = {cid: [] for cid, _ in classes}
    for seq in sorted(seqs, key=lambda s: s.name):
        assign = _global_assignment(_class_view(seq, None, None))
        cls_fp = {cid: np.zeros(len(CLS_ALPHAS)) for cid in evaluated}
        results_seq = {}
        present = {int(c) for x in seq.gt_cls for c in x}
        for cid, _ in classes:
            if cid not in present:  # no ground truth of the class here: all zeros but Cls_FP
                results_seq[cid] = _empty_res()
                continue
            results_seq[cid] = _eval_class(_class_view(seq, cid, assign), cid, evaluated, cls_fp)
        for cid, r in results_seq.items():
            r["Cls_FP"] = r["Cls_FP"] + cls_fp[cid]
            per_class[cid].append(r)
        if per_video is not None:
            per_video[seq.video_id] = _video_summary([results_seq[c] for c in sorted(present & evaluated)])
    return {name: {**_combine_sequences(per_class[cid]), "category_id": cid} for cid, name in classes}


def _video_summary(results: list[dict]) -> dict[str, float]:
    """A video's own TETA, LocA, AssocA, ClsA (percent): the mean over the classes with ground
    truth in the video of the class values computed from this video's counts alone. Not an
    official number (the toolkit combines a class over all videos before it averages); it
    sorts the videos."""
    final = [_final(r) for r in results]
    row: dict[str, float] = {f: (float(100 * np.mean([np.mean(x[f]) for x in final])) if final else None)
                             for f in ("TETA", "LocA", "AssocA", "ClsA")}
    row["n_classes"] = len(final)
    return row


def per_category(combined: dict[str, dict], kept: set[str], per_video: dict[str, dict[str, float]]) -> Breakdown:
    """The TETA breakdown: per evaluated class, the toolkit's per-class row (each summary field
    its mean over the thresholds, percent), whose plain mean over the kept classes is every
    headline key (the "average" row); per video, :func:`_video_summary`. A class the headline
    leaves out (no Loc count at any α) has null fields."""
    cats = {}
    for name, r in combined.items():
        cats[str(r["category_id"])] = {"name": name, **{f: (float(100 * np.mean(r[f])) if name in kept else None)
                                           for f in SUMMARY}}
    fields = {f: f"the class's {f} combined over the videos, mean over the thresholds (percent)" for f in SUMMARY}
    fields.update({"TETA": "per class: the toolkit's class TETA; per video: the mean over the video's classes "
                           "of its own class TETA (not official: it sorts the videos)",
                   "n_classes": "classes with ground truth in the video"})
    return Breakdown("video", "TETA", True, per_video, cats, fields,
                     {f: mean(f, over="categories") for f in SUMMARY})


def tao_teta(gt: Any, results: Any, max_detections: int = 0) -> dict[str, float]:
    """TETA on TAO-format ground truth and results (see module docstring)."""
    per_video: dict[str, dict[str, float]] | None = {} if wanted() else None
    by_name = evaluate_classes(gt, results, max_detections, per_video)
    kept = [r for r in by_name.values() if (r["Loc_TP"] + r["Loc_FN"] + r["Loc_FP"] > EPS).any()]
    if not kept:
        raise ResultsError("ground truth: no annotated class to evaluate")
    if per_video is not None:
        emit(per_category(by_name, {n for n, r in by_name.items() if any(r is k for k in kept)}, per_video))
    return {f: float(100 * np.mean(np.mean([r[f] for r in kept], axis=0))) for f in SUMMARY}
