"""VIPSeg video panoptic segmentation: VPQ (things / stuff) and STQ = sqrt(AQ · SQ).

Official tools: ``VIPSeg-Dataset/ClipPanoFCN/eval_vpq_vspw.py`` (VPQ, Kim et al. CVPR 2020
tube matching) and ``eval_stq_vspw.py`` feeding deeplab2's numpy ``STQuality`` (Weber et al.
2021). Inputs:

* ``gt`` — the GT panoptic JSON (``videos[{video_id, images[{file_name}]}]``,
  ``annotations[{video_id, annotations[{segments_info[{id, category_id, iscrowd, area}]}]}]``,
  ``categories[{id, isthing}]``) as a path or a dict; the PNG folder (``<video>/<file_name>``,
  RGB, id = R + 256 G + 256² B) is the option ``gt_masks`` (default: ``panomasksRGB`` beside the
  JSON).
* ``results`` — the submission folder (``pred.json`` with the same ``annotations`` structure,
  ``pan_pred/<video>/<file_name>``) or ``{"json": dict, "masks": {video: {file_name: HxW ids or
  HxWx3}}}``; ``gt`` may likewise be ``{"json": ..., "masks": ...}``.

VPQ, reproduced: for each window length k in {1, 2, 4, 6, 8} frames, every window of k
consecutive annotated frames (stride 1) forms tubes; a GT tube's area is the sum of its JSON
``area`` fields (duplicate ids within a frame are summed), a predicted tube's the PNG pixel
count; a pair of the same category, GT not crowd, with IoU > 0.5 (strict; the union excludes
the prediction's overlap with void, id 0) is a TP; unmatched GT non-crowd tubes are FN;
unmatched predictions are FP unless more than half of them lies on void or on the (last
listed) crowd region of their category. Per class PQ = ΣIoU / (TP + FP/2 + FN/2) over classes
with TP+FP+FN > 0, averaged over all / thing / stuff classes (the official code divides by
zero when a group is empty; we return NaN). ``VPQ`` = mean over the 5 window lengths, ×100.
A PNG id missing from the JSON, a JSON id missing from the PNG or an unknown category is a
``ResultsError`` (the official script raises too).

STQ, reproduced: 124 classes, ignore 255 (mapped to the extra class 124), label = (semantic
<< 16) + instance. Instance numbers are given per video in order of first listing in the JSON
starting at **0**, for GT and prediction alike — so the first-listed GT segment of each video
gets instance 0 and, if it is a thing, is treated as *crowd* by STQ (quirk, reproduced).
Pixels of no segment are (255, 255). SQ = class IoU averaged over classes with a non-zero
union in one dataset-wide confusion matrix whose ignore *row* is removed (quirk: predicted
ignore on labelled pixels therefore adds an IoU-0 class 124). AQ = Σ over GT thing tubes of
(1/|g|) Σ_p TPA² / (TPA + FPA + FNA), over the number of GT tubes (per sequence, summed over
sequences). ``STQ`` = sqrt(AQ · SQ). Reported ×100 (``STQ``, ``AQ``, ``SQ``).

Breakdown (per video, :func:`per_video_breakdown`): deeplab2's own per-sequence ``STQ``,
``AQ`` and ``SQ`` (``STQuality.result``: ``STQ_per_seq``, ``AQ_per_seq``, ``IoU_per_seq``),
the AQ terms ``aq_sum`` / ``n_tubes`` (AQ is their pooled ratio), and the video's own ``VPQ``
(its tubes alone, mean over the window lengths it is long enough for; not official: the VPQ
tool pools the class statistics of all videos). Only ``AQ`` is rebuilt from the videos: SQ is a
mean over the classes of one pooled confusion matrix and VPQ a mean over classes and windows of
pooled class statistics, neither a sum over videos.
"""
from __future__ import annotations

import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, emit, ratio, wanted
from ._files import read_json_file, require_id

__all__ = ["vipseg", "vpq", "stq"]

WINDOWS = (1, 2, 4, 6, 8)
N_CLASSES, IGNORE, SHIFT, OFFSET = 124, 255, 16, 2**24


def _load_json(x, what):
    if isinstance(x, dict):
        return x
    p = Path(x)
    if p.is_dir():
        raise ResultsError(f"{what}: expected a JSON file at {p}, found a folder")
    if not p.is_file():
        raise ResultsError(f"{what} JSON {p} is missing")
    return read_json_file(p, what)


class _Side:
    """One side (GT or prediction): the per-video frame annotations and a PNG reader."""

    def __init__(self, spec: Any, what: str, masks=None):
        self.what = what
        if isinstance(spec, dict) and "json" in spec:
            self.js, self.masks = _load_json(spec["json"], what), spec.get("masks")
        elif what == "results" and isinstance(spec, (str, os.PathLike)):
            self.js = _load_json(Path(spec) / "pred.json", what)
            self.masks = Path(spec) / "pan_pred"
        else:
            self.js = _load_json(spec, what)
            self.masks = masks if masks is not None else Path(spec).parent / "panomasksRGB"
        name = spec["json"] if isinstance(spec, dict) and "json" in spec else spec
        if not isinstance(self.js, dict) or not isinstance(self.js.get("annotations", []), list):
            raise ResultsError(f"{what} JSON {name}: expected an object with an 'annotations' list")
        self.anns = {}
        for i, a in enumerate(self.js.get("annotations", [])):
            at = f"{what} JSON {name}: annotations[{i}]"
            if not isinstance(a, dict) or "video_id" not in a or "annotations" not in a:
                raise ResultsError(f"{at}: needs 'video_id' and 'annotations'")
            self.anns[require_id(a["video_id"], at, "video_id")] = a["annotations"]

    def ids(self, video: str, file_name: str) -> np.ndarray:
        """``H x W`` uint32 panoptic ids of one frame."""
        if isinstance(self.masks, (str, os.PathLike)):
            from PIL import Image

            p = Path(self.masks) / video / file_name
            if not p.is_file():
                raise ResultsError(f"{self.what} panoptic PNG {p} is missing")
            try:
                with Image.open(p) as im:
                    a = np.asarray(im.convert("RGB") if im.mode != "RGB" else im)
            except Exception as e:  # noqa: BLE001 - PIL raises many kinds for corrupt files
                raise ResultsError(f"{self.what} panoptic PNG {p} cannot be read: {e}") from None
        else:
            try:
                a = np.asarray(self.masks[video][file_name])
            except KeyError:
                raise ResultsError(f"{self.what}: frame {video}/{file_name} is missing") from None
        if a.ndim == 3:
            a = a.astype(np.uint32)
            return a[:, :, 0] + a[:, :, 1] * 256 + a[:, :, 2] * 256 * 256
        return a.astype(np.uint32)


def _frames(gt: _Side, pr: _Side):
    """Per video: list of (gt_segments, pred_segments, gt_ids, pred_ids, file_name)."""
    for v in gt.js["videos"]:
        vid = v["video_id"]
        if vid not in pr.anns:
            raise ResultsError(f"results: video {vid!r} is missing from pred.json")
        g_an, p_an = gt.anns[vid], pr.anns[vid]
        if len(g_an) != len(p_an):
            raise ResultsError(f"results: video {vid!r} has {len(p_an)} annotated frames, the ground truth {len(g_an)}")
        yield vid, [(ga, pa, img["file_name"]) for ga, pa, img in zip(g_an, p_an, v["images"])]


# -- VPQ ---------------------------------------------------------------------------------------
def _frame_stats(gt: _Side, pr: _Side, vid, ga, pa, fname, cats):
    gid, pid = gt.ids(vid, fname), pr.ids(vid, fname)
    if gid.shape != pid.shape:
        raise ResultsError(f"results: {vid}/{fname} is {pid.shape[1]}x{pid.shape[0]}, the GT {gid.shape[1]}x{gid.shape[0]}")
    g_seg: dict[int, list] = {}
    for el in ga["segments_info"]:
        if el["id"] in g_seg:
            g_seg[el["id"]][2] += el["area"]
        else:
            g_seg[el["id"]] = [el["category_id"], el.get("iscrowd", 0), el["area"]]
    p_seg: dict[int, list] = {}
    for el in pa["segments_info"]:
        p_seg.setdefault(el["id"], [el["category_id"], 0, 0])
    labels, counts = np.unique(pid, return_counts=True)
    listed = set(p_seg)
    for lab, cnt in zip(labels.tolist(), counts.tolist()):
        if lab not in p_seg:
            if lab == 0:
                continue
            raise ResultsError(f"results {vid}/{fname}: segment id {lab} is in the PNG but not in pred.json")
        p_seg[lab][2] = cnt
        listed.discard(lab)
        if p_seg[lab][0] not in cats:
            raise ResultsError(f"results {vid}/{fname}: segment {lab} has unknown category_id {p_seg[lab][0]}")
    if listed:
        raise ResultsError(f"results {vid}/{fname}: segment ids {sorted(listed)} are in pred.json but not in the PNG")
    pair = gid.astype(np.uint64) * OFFSET + pid.astype(np.uint64)
    u, c = np.unique(pair, return_counts=True)
    pairs = dict(zip(u.tolist(), c.tolist()))
    return g_seg, p_seg, pairs


def _window_stat(frames, stat):
    g_tube: dict[int, list] = {}
    p_tube: dict[int, list] = {}
    pairs: dict[int, int] = defaultdict(int)
    for g_seg, p_seg, pr in frames:
        for k, v in g_seg.items():
            if k in g_tube:
                g_tube[k][2] += v[2]
            else:
                g_tube[k] = list(v)
        for k, v in p_seg.items():
            if k in p_tube:
                p_tube[k][2] += v[2]
            else:
                p_tube[k] = list(v)
        for k, n in pr.items():
            pairs[k] += n
    g_match, p_match = set(), set()
    for key in sorted(pairs):
        gl, pl = key // OFFSET, key % OFFSET
        inter = pairs[key]
        if gl not in g_tube or pl not in p_tube:
            continue
        gc, gcrowd, garea = g_tube[gl]
        if gcrowd == 1 or gc != p_tube[pl][0]:
            continue
        union = p_tube[pl][2] + garea - inter - pairs.get(pl, 0)  # pairs[(VOID, pl)] has key pl
        iou = inter / union
        if iou > 0.5:
            stat[gc][0] += iou
            stat[gc][1] += 1
            g_match.add(gl)
            p_match.add(pl)
    crowd = {}
    for gl, (gc, gcrowd, _) in g_tube.items():
        if gl in g_match:
            continue
        if gcrowd == 1:
            crowd[gc] = gl
            continue
        stat[gc][3] += 1
    for pl, (pc, _, parea) in p_tube.items():
        if pl in p_match:
            continue
        inter = pairs.get(pl, 0)
        if pc in crowd:
            inter += pairs.get(crowd[pc] * OFFSET + pl, 0)
        if inter / parea > 0.5:
            continue
        stat[pc][2] += 1


def _pq(stat, cats, isthing):
    pq, n = 0.0, 0
    for cid, info in cats.items():
        if isthing is not None and (info.get("isthing") == 1) != isthing:
            continue
        iou, tp, fp, fn = stat[cid] if cid in stat else (0.0, 0, 0, 0)
        if tp + fp + fn == 0:
            continue
        n += 1
        pq += iou / (tp + 0.5 * fp + 0.5 * fn)
    return pq / n if n else float("nan")


def vpq(gt: _Side, pr: _Side, per_video: dict[str, dict] | None = None) -> dict[str, float]:
    """The VPQ keys; ``per_video`` (a dict to fill) gets each video's own ``VPQ``."""
    cats = {c["id"]: c for c in gt.js["categories"]}
    own: dict[str, list[float]] = defaultdict(list)
    videos = [(vid, [_frame_stats(gt, pr, vid, ga, pa, f, cats) for ga, pa, f in fr]) for vid, fr in _frames(gt, pr)]
    res = {"all": [], "thing": [], "stuff": []}
    for k in WINDOWS:
        total: dict[int, list] = defaultdict(lambda: [0.0, 0, 0, 0])
        for vid, fs in videos:
            stat: dict[int, list] = defaultdict(lambda: [0.0, 0, 0, 0])
            for i in range(0, len(fs) - k + 1):
                _window_stat(fs[i : i + k], stat)
            if per_video is not None and len(fs) >= k:
                own[vid].append(100 * _pq(stat, cats, None))
            for c, v in stat.items():  # the official per-video PQStat += order
                t = total[c]
                t[0] += v[0]
                t[1] += v[1]
                t[2] += v[2]
                t[3] += v[3]
        res["all"].append(100 * _pq(total, cats, None))
        res["thing"].append(100 * _pq(total, cats, True))
        res["stuff"].append(100 * _pq(total, cats, False))
    if per_video is not None:
        for vid, _ in videos:
            vals = [v for v in own[vid] if not math.isnan(v)]
            per_video.setdefault(vid, {})["VPQ"] = sum(vals) / len(vals) if vals else None
    return {
        "VPQ": sum(res["all"]) / len(res["all"]),
        "VPQ_thing": sum(res["thing"]) / len(res["thing"]),
        "VPQ_stuff": sum(res["stuff"]) / len(res["stuff"]),
    }


# -- STQ ---------------------------------------------------------------------------------------
def _panoptic(ids: np.ndarray, segs, inst_of) -> np.ndarray:
    sem = np.full(ids.shape, IGNORE, np.int64)
    ins = np.full(ids.shape, 255, np.int64)
    for el in segs:
        m = ids == el["id"]
        sem[m] = el["category_id"]
        ins[m] = inst_of[el["id"]]
    return (sem << SHIFT) + ins


def _numbering(anns):
    order: dict[int, int] = {}
    for a in anns:
        for el in a["segments_info"]:
            order.setdefault(el["id"], len(order))
    return order


def _class_iou(conf: np.ndarray) -> float:
    """Mean IoU over the classes with a non-zero union of a confusion matrix (rows GT)."""
    tp = np.diag(conf)
    unions = tp + (conf.sum(0) - tp) + (conf.sum(1) - tp)
    nc = np.count_nonzero(unions)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.sum(tp.astype(np.double) / np.maximum(unions, 1e-15).astype(np.double)) / nc)


def stq(gt: _Side, pr: _Side, per_video: dict[str, dict] | None = None) -> dict[str, float]:
    """The STQ keys; ``per_video`` (a dict to fill) gets deeplab2's per-sequence values."""
    things = [c["id"] for c in gt.js["categories"] if c.get("isthing")]
    size = N_CLASSES + 1
    total = np.zeros((size, size), np.int64)
    aq_per_seq, n_tubes = [], 0
    for vid, fr in _frames(gt, pr):
        g_no, p_no = _numbering(gt.anns[vid]), _numbering(pr.anns[vid])
        conf = np.zeros((size, size), np.int64)
        gt_area: dict[int, int] = defaultdict(int)
        pr_area: dict[int, int] = defaultdict(int)
        inter: dict[int, int] = defaultdict(int)
        for ga, pa, fname in fr:
            y_t = _panoptic(gt.ids(vid, fname), ga["segments_info"], g_no)
            y_p = _panoptic(pr.ids(vid, fname), pa["segments_info"], p_no)
            if y_t.shape != y_p.shape:
                raise ResultsError(f"results: {vid}/{fname} differs in size from the ground truth")
            s_t, s_p = y_t >> SHIFT, y_p >> SHIFT
            s_t = np.where(s_t != IGNORE, s_t, N_CLASSES)
            s_p = np.where(s_p != IGNORE, s_p, N_CLASSES)
            if s_p.max() > N_CLASSES or s_t.max() > N_CLASSES:
                raise ResultsError(f"{vid}/{fname}: category id outside 0..{N_CLASSES - 1}")
            conf += np.bincount((s_t * size + s_p).ravel(), minlength=size * size).reshape(size, size)
            lab = np.isin(s_t, things)
            prd = np.isin(s_p, things)
            crowd = lab & ((y_t & ((1 << SHIFT) - 1)) == 0)
            lab &= ~crowd
            prd &= ~crowd
            for d, v in ((pr_area, y_p[prd]), (gt_area, y_t[lab])):
                u, c = np.unique(v, return_counts=True)
                for a, b in zip(u.tolist(), c.tolist()):
                    d[a] += b
            both = lab & prd
            u, c = np.unique(y_t[both] * OFFSET + y_p[both], return_counts=True)
            for a, b in zip(u.tolist(), c.tolist()):
                inter[a] += b
        outer = 0.0
        for g_id, g_size in gt_area.items():
            inner = 0.0
            for p_id, p_size in pr_area.items():
                tpa = inter.get(OFFSET * g_id + p_id)
                if tpa is not None:
                    inner += tpa * (tpa / (tpa + (p_size - tpa) + (g_size - tpa)))
            outer += 1.0 / g_size * inner
        aq_per_seq.append(outer)
        n_tubes += len(gt_area)
        conf[N_CLASSES, :] = 0  # the ignore row is removed (predictions on ignore are free)
        total += conf
        if per_video is not None:  # deeplab2 STQuality.result: *_per_seq
            aq_v, sq_v = outer / max(len(gt_area), 1e-15), _class_iou(conf)
            per_video.setdefault(vid, {}).update(
                STQ=100 * math.sqrt(aq_v * sq_v), AQ=100 * aq_v, SQ=100 * sq_v, aq_sum=outer, n_tubes=len(gt_area))
    aq = float(np.sum(aq_per_seq) / np.maximum(n_tubes, 1e-15))
    sq = _class_iou(total)
    return {"STQ": 100 * math.sqrt(aq * sq), "AQ": 100 * aq, "SQ": 100 * sq}


def vipseg(gt: Any, results: Any, *, gt_masks=None, metrics: str = "vpq,stq") -> dict[str, float]:
    """VIPSeg ``VPQ``, ``VPQ_thing``, ``VPQ_stuff``, ``STQ``, ``AQ``, ``SQ`` (percent)."""
    g = _Side(gt, "ground truth", gt_masks)
    p = _Side(results, "results")
    out: dict[str, float] = {}
    which = {m.strip().lower() for m in metrics.split(",")}
    per_video: dict[str, dict] | None = {} if wanted() else None
    if "vpq" in which:
        out.update(vpq(g, p, per_video))
    if "stq" in which:
        out.update(stq(g, p, per_video))
    if per_video is not None:
        emit(per_video_breakdown(per_video, "stq" in which))
    return out


def per_video_breakdown(per_video: dict[str, dict], with_stq: bool) -> Breakdown:
    """The VIPSeg breakdown (module docstring): per video; ``AQ`` = 100 Σ aq_sum / Σ n_tubes is
    the one headline the videos rebuild. Sorted by the video's ``STQ`` (official per sequence)
    where STQ ran, else by its own ``VPQ``."""
    fields = {"VPQ": "VPQ of the video's tubes alone, mean over the window lengths it has (percent; not official)",
              "STQ": "deeplab2 STQ_per_seq (percent)", "AQ": "deeplab2 AQ_per_seq (percent)",
              "SQ": "deeplab2 IoU_per_seq: mean class IoU of the video's confusion matrix (percent)",
              "aq_sum": "sum over the video's GT thing tubes of their association terms",
              "n_tubes": "GT thing tubes of the video (not crowd)"}
    # without any GT thing tube deeplab2's AQ is 0 / eps = 0, which no ratio of sums states
    tubes = with_stq and sum(r.get("n_tubes", 0) for r in per_video.values()) > 0
    aggregates = {"AQ": ratio("aq_sum", "n_tubes", scale=100)} if tubes else {}
    return Breakdown("video", "STQ" if with_stq else "VPQ", True, per_video, {}, fields, aggregates)
