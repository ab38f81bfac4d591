"""BDD100K multi-object tracking (box) and segmentation tracking (MOTS): mMOTA, mIDF1, mMOTP.

Equal to ``python -m bdd100k.eval.run -t box_track|seg_track`` (bdd100k 1.0.1, scalabel 0.3.1,
py-motmetrics 1.4.0), which cannot be installed beside numpy 2 / pydantic 2. CLEAR MOT
(Bernardin & Stiefelhagen 2008) and IDF1 (Ristani et al. 2016) per class, accumulated with
py-motmetrics' rules (:mod:`evalkit.metrics.clear_mot`).

Returned keys (percent, as the toolkit prints them; counts are integers):

- ``mMOTA``, ``mIDF1``, ``mMOTP``: plain mean over the 8 leaf classes;
- ``MOTA``, ``IDF1``, ``MOTP``, ``FP``, ``FN``, ``IDSw``, ``MT``, ``PT``, ``ML``, ``FM``: the
  "OVERALL" row (all classes pooled), which is what scalabel's ``summary()`` reports;
- ``<class>/MOTA``, ``<class>/IDF1``, ``<class>/MOTP`` per leaf class (NaN when undefined);
- segmentation tracking also under the names papers use: ``mMOTSA`` (= mMOTA), ``mMOTSP``
  (= mMOTP), ``MOTSA``, ``MOTSP``.

Reproduced quirks of the official toolkit:

- Boxes are ``xywh`` with ``w = x2 - x1 + 1`` and ``h = y2 - y1 + 1`` (scalabel
  ``box2d_to_bbox``), for ground truth and predictions alike.
- IoU and the matched distances are float64 throughout. (scalabel's own unit test expects
  MOTP 87.16143945 on its box-track sample, but the released toolkit — bdd100k 1.0.1, scalabel
  0.3.1, motmetrics 1.4.0, numpy 1.26 — prints 87.16143970, which is what this gives; the
  test's value is reproduced by rounding boxes to float32, which the release does not do.)
- A pair can match only if ``1 - IoU <= 1 - iou_thr`` (IoU >= 0.5 up to rounding).
- Ground-truth labels flagged ``crowd`` or ``ignored`` (and, on the bdd100k path, the
  categories "other person", "other vehicle", "trailer") are ignore regions shared by **all**
  classes: a prediction left unmatched by a max-cardinality min-cost assignment in its class and
  covering an ignore region by more than ``ignore_iof_thr`` of its own area (intersection over
  the *prediction* area) is removed before accumulation. Predictions carrying those flags are
  dropped silently.
- ``mMOTA``/``mIDF1``/``mMOTP`` turn NaN and ±inf into 0 before averaging, so a class with no
  ground truth and no predictions counts as 0, and a class with only false positives (MOTA
  = -inf) counts as 0 too. OVERALL values stay NaN where undefined (e.g. MOTP without matches).
- Ground-truth track ids are compared as integers when every id in the video is a string of
  digits (so "01" and "1" are the same track), as strings otherwise; prediction ids must be
  integers or digit strings (the toolkit converts them with ``np.int32``).
- Segmentation tracking (RLE JSON): a prediction frame in which two masks overlap loses
  **all** its predictions (scalabel ``check_overlap``). Mask IoU / IoF come from pycocotools.
- Segmentation tracking (bitmask PNG folders): instances whose attribute byte has the crowd
  or ignored bit set (``attr & 3``) are ignore regions (ground truth) or discarded
  (predictions); mask IoU is computed on the whole label maps through a confusion histogram.
  A prediction frame with more than 100 instances (``MAX_DET``) makes the toolkit fail; here it
  is a :class:`~evalkit.errors.ResultsError`.

Deliberate deviations (the toolkit crashes or mis-pairs): predictions for a video absent from
the ground truth, or for a frame absent from its video, raise ``ResultsError``; frames missing
from the predictions count as frames without predictions (the toolkit does this only for whole
missing videos or missing bitmask files); frames are paired by ``frameIndex`` (by name when
either side lacks one) instead of by position.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, emit, ratio, wanted
from .clear_mot import Accumulator, ClearCounts, box_iou_xywh, motmetrics_assignment
from .scalabel_io import BDD100K_CLASSES, CategoryMap, Frame, list_bitmasks, load_videos, read_bitmask

__all__ = ["box_track", "seg_track", "summarize"]

MAX_DET = 100


# --------------------------------------------------------------------------------------------
# shared: pairing frames, per-class update with the ignore-region rule, summary
# --------------------------------------------------------------------------------------------
def _pair_frames(gt: dict[str, list[Frame]], pred: dict[str, list[Frame]]):
    """Yield ``(video, gt_frame, pred_frame | None)`` for every ground-truth frame."""
    unknown = sorted(set(pred) - set(gt))
    if unknown:
        raise ResultsError(
            f"predictions for videos not in the ground truth: {unknown[:5]}"
            f"{' ...' if len(unknown) > 5 else ''} (first at {pred[unknown[0]][0].where})"
        )
    for video in sorted(gt):
        by_index = {f.index: f for f in gt[video] if f.index is not None}
        by_name = {f.name: f for f in gt[video]}
        matched: dict[int, Frame] = {}
        for pf in pred.get(video, []):
            g = by_index.get(pf.index) if pf.index is not None and by_index else by_name.get(pf.name)
            if g is None:
                raise ResultsError(
                    f"{pf.where}: frame (frameIndex={pf.index}, name={pf.name!r}) is not a frame of "
                    f"ground-truth video {video!r}"
                )
            if id(g) in matched:
                raise ResultsError(f"{pf.where}: a second prediction frame for frame {g.name!r} of {video!r}")
            matched[id(g)] = pf
        for g in gt[video]:
            yield video, g, matched.get(id(g))


def _int_ids(ids: list[str], where: str, gt: bool, gt_numeric: bool = True) -> np.ndarray:
    if gt and not gt_numeric:
        return np.asarray(ids, dtype=object)
    try:
        return np.asarray([int(i) for i in ids], dtype=np.int64)
    except ValueError:
        raise ResultsError(
            f"{where}: track ids must be integers (or strings of digits), got {ids[:3]}..."
        ) from None


def _update_class(
    acc: Accumulator,
    gt_ids: np.ndarray,
    pred_ids: np.ndarray,
    iou: np.ndarray,
    iou_thr: float,
    ignored_pred: np.ndarray | None,
) -> None:
    """Distances, ignore-region filtering and one accumulator update for one class, one frame.

    ``iou``: ``G x P`` float64; ``ignored_pred``: ``(P,)`` bool "IoF with an ignore region >
    threshold", or None when the frame has no ignore region.
    """
    dist = 1.0 - iou
    dist = np.where(dist > 1.0 - iou_thr, np.nan, dist)
    if ignored_pred is not None and len(pred_ids):
        fps = np.ones(len(pred_ids), dtype=bool)
        fps[motmetrics_assignment(dist)[1]] = False
        keep = ~(fps & ignored_pred)
        if not keep.all():
            pred_ids, dist = pred_ids[keep], dist[:, keep]
    acc.update(gt_ids, pred_ids, dist)


def summarize(per_class: list[ClearCounts], classes: tuple[str, ...], seg: bool) -> dict[str, float]:
    """scalabel ``evaluate_single_class`` + ``compute_average`` + ``summary()``."""

    def rates(c: ClearCounts) -> dict[str, float]:
        return {"MOTA": 100 * c.mota(), "IDF1": 100 * c.idf1(), "MOTP": 100 * (1 - c.motp_distance())}

    out: dict[str, float] = {}
    cls_rates = [rates(c) for c in per_class]
    for key in ("MOTA", "IDF1", "MOTP"):
        v = np.nan_to_num(np.array([r[key] for r in cls_rates], dtype=np.float64), nan=0, posinf=0, neginf=0)
        out["m" + key] = float(v.mean())
    total = ClearCounts()
    for c in per_class:
        total += c
    out.update(rates(total))
    out.update(
        FP=total.num_false_positives,
        FN=total.num_misses,
        IDSw=total.num_switches,
        MT=total.mostly_tracked,
        PT=total.partially_tracked,
        ML=total.mostly_lost,
        FM=total.num_fragmentations,
    )
    if seg:
        out.update(mMOTSA=out["mMOTA"], mMOTSP=out["mMOTP"], MOTSA=out["MOTA"], MOTSP=out["MOTP"])
    for name, r in zip(classes, cls_rates):
        for key, v in r.items():
            out[f"{name}/{key}"] = v
    return out


def _finish(accs: dict[tuple[str, int], Accumulator], classes: tuple[str, ...], seg: bool) -> dict[str, float]:
    per_class = [ClearCounts() for _ in classes]
    per_video: dict[str, dict[int, ClearCounts]] = {}
    for (video, k), acc in accs.items():
        if acc.has_events:
            c = acc.finalize()
            per_class[k] += c
            per_video.setdefault(video, {})[k] = c
    out = summarize(per_class, classes, seg)
    if wanted():
        emit(per_sequence(per_video, per_class, classes, seg))
    return out


def _ratios(c: ClearCounts) -> dict[str, float]:
    """The numerators and denominators whose sums over videos give the pooled rates: MOTA =
    ``sum(mota_num) / sum(n_objects)``, IDF1 = ``2 sum(IDTP) / sum(n_objects + n_predictions)``
    (IDTP is matched per (video, class) accumulator and summed, as motmetrics merges them),
    MOTP = ``sum(motp_num) / sum(n_matched)``."""
    err = c.num_misses + c.num_switches + c.num_false_positives
    return {"n_objects": c.num_objects, "mota_num": c.num_objects - err, "idf1_num": 2 * c.idtp,
            "idf1_den": c.num_objects + c.num_predictions, "n_matched": c.num_detections,
            "motp_num": c.num_detections - c.sum_distance}


_RATES = {"MOTA": ("mota_num", "n_objects"), "IDF1": ("idf1_num", "idf1_den"), "MOTP": ("motp_num", "n_matched")}


def per_sequence(per_video: dict[str, dict[int, ClearCounts]], per_class: list[ClearCounts],
                 classes: tuple[str, ...], seg: bool) -> Breakdown:
    """Per-video breakdown (TrackEval-style: the toolkit itself reports no per-video row).

    A video's ``MOTA``, ``IDF1``, ``MOTP`` (percent) are its own, all classes pooled (not
    official; ``MOTA`` sorts the videos), with ``FP``, ``FN``, ``IDSw`` and, pooled and per class
    (``<class>/...``), the counts of :func:`_ratios`. Aggregates: the OVERALL ``MOTA``, ``IDF1``,
    ``MOTP`` and each ``<class>/MOTA`` … as ratios of summed counts (exact: motmetrics sums the
    counts of the accumulators); ``mMOTA``, ``mIDF1``, ``mMOTP`` as the ``average`` of the class
    ratios, given only where every class has a denominator on the whole set (the toolkit turns
    an undefined class rate into 0, which a ratio cannot state; a resample in which a class
    loses its denominator is then undefined and the bootstrap drops it). The counts
    (``FP``, ``FN``, ...) are sums and have no aggregate. Per category: the official class rows.
    """
    from ._breakdown import average

    samples: dict[str, dict[str, Any]] = {}
    for video in sorted(per_video):
        total = ClearCounts()
        for c in per_video[video].values():
            total += c
        row: dict[str, Any] = {"MOTA": 100 * total.mota(), "IDF1": 100 * total.idf1(),
                               "MOTP": 100 * (1 - total.motp_distance()), "FP": total.num_false_positives,
                               "FN": total.num_misses, "IDSw": total.num_switches, **_ratios(total)}
        for k, c in per_video[video].items():
            row.update({f"{classes[k]}/{f}": v for f, v in _ratios(c).items()})
        samples[video] = row
    aggregates: dict[str, dict[str, Any]] = {key: ratio(n, d, scale=100) for key, (n, d) in _RATES.items()}
    whole = [_ratios(c) for c in per_class]
    for key, (n, d) in _RATES.items():
        parts = [ratio(f"{name}/{n}", f"{name}/{d}") for name in classes]
        for name, w, part in zip(classes, whole, parts):
            if w[d] > 0:
                aggregates[f"{name}/{key}"] = dict(part, scale=100)
        if all(w[d] > 0 for w in whole):
            aggregates["m" + key] = average(*parts, scale=100)
    if seg:
        for paper, key in (("mMOTSA", "mMOTA"), ("mMOTSP", "mMOTP"), ("MOTSA", "MOTA"), ("MOTSP", "MOTP")):
            if key in aggregates:
                aggregates[paper] = aggregates[key]
    categories = {name: {"name": name, "MOTA": 100 * c.mota(), "IDF1": 100 * c.idf1(),
                         "MOTP": 100 * (1 - c.motp_distance())} for name, c in zip(classes, per_class)}
    fields = {"MOTA": "the video's MOTA, classes pooled (percent; not official, it sorts the videos)",
              "IDF1": "the video's IDF1, classes pooled (percent)", "MOTP": "the video's MOTP (percent)",
              "FP": "false positives", "FN": "misses", "IDSw": "identity switches",
              "n_objects": "ground-truth boxes/masks (MOTA denominator)",
              "mota_num": "n_objects - (FN + IDSw + FP)", "idf1_num": "2 x IDTP (global ID matching)",
              "idf1_den": "ground-truth + predicted boxes/masks", "n_matched": "matches + switches (MOTP denominator)",
              "motp_num": "n_matched - sum of matched distances (1 - IoU)",
              "<class>/<count>": "the counts above for one class"}
    return Breakdown("video", "MOTA", True, samples, categories, fields, aggregates)


def _categories(categories, bdd100k_mapping, ignore_unknown_cats) -> CategoryMap:
    classes = tuple(categories) if categories is not None else BDD100K_CLASSES
    return CategoryMap(classes, bool(bdd100k_mapping), bool(ignore_unknown_cats))


def _gt_numeric(frames: list[Frame]) -> bool:
    return all(lab.id.isdigit() for f in frames for lab in f.labels)


# --------------------------------------------------------------------------------------------
# box tracking
# --------------------------------------------------------------------------------------------
def _iof_xywh(preds: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """scalabel ``intersection_over_area``: ``P x I`` intersection / prediction area (0 if area is 0).

    ``preds``, ``regions``: float64 ``xywh``; negative overlaps clamp to 0, the area does not.
    """
    p = preds[:, None, :]
    g = regions[None, :, :]
    w = np.minimum(p[..., 0] + p[..., 2], g[..., 0] + g[..., 2]) - np.maximum(p[..., 0], g[..., 0])
    h = np.minimum(p[..., 1] + p[..., 3], g[..., 1] + g[..., 3]) - np.maximum(p[..., 1], g[..., 1])
    area = p[..., 2] * p[..., 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.maximum(w, 0) * np.maximum(h, 0) / area
    return np.where(area != 0, out, 0.0)


def box_track(
    gt: Any,
    results: Any,
    iou_thr: float = 0.5,
    ignore_iof_thr: float = 0.5,
    categories: list[str] | None = None,
    bdd100k_mapping: bool = True,
    ignore_unknown_cats: bool = False,
) -> dict[str, float]:
    """BDD100K box tracking (``bdd100k.eval.run -t box_track``).

    Args:
        gt, results: Scalabel JSON file, folder of JSON files, or the loaded frame list.
        iou_thr: minimum IoU of a match. ignore_iof_thr: ignore-region coverage threshold.
        categories: leaf classes (default the 8 BDD100K classes).
        bdd100k_mapping: apply the bdd100k category renaming / ignored mapping.
        ignore_unknown_cats: skip labels of unknown categories instead of failing.
    """
    cats = _categories(categories, bdd100k_mapping, ignore_unknown_cats)
    gts = load_videos(gt, "ground truth", cats, "box", is_gt=True)
    preds = load_videos(results, "results", cats, "box", is_gt=False)
    accs: dict[tuple[str, int], Accumulator] = {}
    numeric = {v: _gt_numeric(fr) for v, fr in gts.items()}
    for video, gf, pf in _pair_frames(gts, preds):
        g_keep = [lab for lab in gf.labels if not lab.ignore]
        regions = np.array([lab.box for lab in gf.labels if lab.ignore], dtype=np.float64).reshape(-1, 4)
        p_keep = [lab for lab in (pf.labels if pf else []) if not lab.ignore]
        g_box = np.array([lab.box for lab in g_keep], dtype=np.float64).reshape(-1, 4)
        p_box = np.array([lab.box for lab in p_keep], dtype=np.float64).reshape(-1, 4)
        g_cls = np.array([lab.cls for lab in g_keep], dtype=np.int64)
        p_cls = np.array([lab.cls for lab in p_keep], dtype=np.int64)
        g_ids = _int_ids([lab.id for lab in g_keep], gf.where, True, numeric[video])
        p_ids = _int_ids([lab.id for lab in p_keep], pf.where if pf else "", False)
        iou = box_iou_xywh(g_box, p_box)
        ign = (_iof_xywh(p_box, regions) > ignore_iof_thr).any(axis=1) if len(regions) else None
        for k in np.union1d(g_cls, p_cls).tolist():
            gi, pi = np.nonzero(g_cls == k)[0], np.nonzero(p_cls == k)[0]
            acc = accs.setdefault((video, k), Accumulator())
            _update_class(acc, g_ids[gi], p_ids[pi], iou[gi][:, pi], iou_thr, None if ign is None else ign[pi])
    return _finish(accs, cats.classes, seg=False)


# --------------------------------------------------------------------------------------------
# segmentation tracking
# --------------------------------------------------------------------------------------------
def _overlapping(rles: list[dict]) -> bool:
    """scalabel ``check_overlap_frame``: does any pair of masks share a pixel?"""
    from pycocotools import mask as mask_utils

    union = None
    for r in rles:
        if union is None:
            union = r
            continue
        if mask_utils.area(mask_utils.merge([union, r], intersect=True)) != 0:
            return True
        union = mask_utils.merge([union, r], intersect=False)
    return False


def _seg_track_rle(gt, results, cats: CategoryMap, iou_thr: float, ignore_iof_thr: float) -> dict[str, float]:
    from pycocotools import mask as mask_utils

    gts = load_videos(gt, "ground truth", cats, "rle", is_gt=True)
    preds = load_videos(results, "results", cats, "rle", is_gt=False)
    accs: dict[tuple[str, int], Accumulator] = {}
    numeric = {v: _gt_numeric(fr) for v, fr in gts.items()}
    for video, gf, pf in _pair_frames(gts, preds):
        p_labels = pf.labels if pf else []
        sizes = {tuple(lab.rle["size"]) for lab in gf.labels}
        for lab in p_labels:
            if sizes and tuple(lab.rle["size"]) not in sizes:
                raise ResultsError(
                    f"{pf.where}: mask size {lab.rle['size']} differs from the ground truth's {sorted(sizes)[0]}"
                )
        if len(p_labels) > 1 and _overlapping([lab.rle for lab in p_labels]):
            p_labels = []
        g_keep = [lab for lab in gf.labels if not lab.ignore]
        regions = [lab.rle for lab in gf.labels if lab.ignore]
        p_keep = [lab for lab in p_labels if not lab.ignore]
        g_cls = np.array([lab.cls for lab in g_keep], dtype=np.int64)
        p_cls = np.array([lab.cls for lab in p_keep], dtype=np.int64)
        g_ids = _int_ids([lab.id for lab in g_keep], gf.where, True, numeric[video])
        p_ids = _int_ids([lab.id for lab in p_keep], pf.where if pf else "", False)
        if g_keep and p_keep:
            iou = np.asarray(
                mask_utils.iou([lab.rle for lab in p_keep], [lab.rle for lab in g_keep], [0] * len(g_keep))
            ).T
        else:
            iou = np.zeros((len(g_keep), len(p_keep)))
        ign = None
        if regions and p_keep:
            iof = np.asarray(mask_utils.iou([lab.rle for lab in p_keep], regions, [1] * len(regions)))
            ign = (iof > ignore_iof_thr).any(axis=1)
        for k in np.union1d(g_cls, p_cls).tolist():
            gi, pi = np.nonzero(g_cls == k)[0], np.nonzero(p_cls == k)[0]
            acc = accs.setdefault((video, k), Accumulator())
            _update_class(acc, g_ids[gi], p_ids[pi], iou[gi][:, pi], iou_thr, None if ign is None else ign[pi])
    return _finish(accs, cats.classes, seg=True)


def _seg_track_bitmask(gt_root: Path, res_root: Path, classes, iou_thr: float, ignore_iof_thr: float):
    gts, preds = list_bitmasks(gt_root), list_bitmasks(res_root)
    if not gts:
        raise ResultsError(f"ground truth: no bitmask PNGs under {gt_root}")
    unknown = sorted(set(preds) - set(gts))
    if unknown:
        raise ResultsError(f"{res_root}: bitmasks for videos not in the ground truth: {unknown[:5]}")
    accs: dict[tuple[str, int], Accumulator] = {}
    for video in sorted(gts):
        extra = sorted(set(preds.get(video, {})) - set(gts[video]))
        if extra:
            raise ResultsError(f"{preds[video][extra[0]]}: frame {extra[0]!r} is not a frame of video {video!r}")
        for stem in sorted(gts[video]):
            g_map, g_ids, g_attr, g_cat = read_bitmask(gts[video][stem])
            p_path = preds.get(video, {}).get(stem)
            if p_path is None:
                p_map, p_ids, p_attr, p_cat = np.zeros_like(g_map), *(np.zeros(0, np.int64),) * 3
            else:
                p_map, p_ids, p_attr, p_cat = read_bitmask(p_path, MAX_DET)
                if p_map.shape != g_map.shape:
                    raise ResultsError(
                        f"{p_path}: bitmask size {p_map.shape[::-1]} (W, H) differs from the ground "
                        f"truth's {g_map.shape[::-1]}"
                    )
            m, n = len(g_ids), len(p_ids)
            hist = np.bincount((g_map * (n + 1) + p_map).ravel(), minlength=(m + 1) * (n + 1))
            conf = hist.reshape(m + 1, n + 1)
            inter = conf[1:, 1:]
            g_area = conf.sum(axis=1, keepdims=True)[1:, :]
            p_area = conf.sum(axis=0, keepdims=True)[:, 1:]
            union = g_area + p_area - inter
            with np.errstate(divide="ignore", invalid="ignore"):
                iou = np.where(union > 0, inter / union, 0.0)
                iof = np.where(p_area > 0, inter / p_area, 0.0)
            g_valid = (g_attr & 3) == 0
            p_valid = (p_attr & 3) == 0
            ign = (iof[~g_valid] > ignore_iof_thr).any(axis=0) if (~g_valid).any() else None
            for k in np.union1d(g_cat[g_valid], p_cat[p_valid]).tolist():
                if not 1 <= k <= len(classes):
                    continue  # category ids outside the config are never evaluated
                gi = np.nonzero((g_cat == k) & g_valid)[0]
                pi = np.nonzero((p_cat == k) & p_valid)[0]
                acc = accs.setdefault((video, k - 1), Accumulator())
                _update_class(acc, g_ids[gi], p_ids[pi], iou[gi][:, pi], iou_thr, None if ign is None else ign[pi])
    return _finish(accs, tuple(classes), seg=True)


def seg_track(
    gt: Any,
    results: Any,
    iou_thr: float = 0.5,
    ignore_iof_thr: float = 0.5,
    categories: list[str] | None = None,
    bdd100k_mapping: bool = True,
    ignore_unknown_cats: bool = False,
) -> dict[str, float]:
    """BDD100K segmentation tracking (``bdd100k.eval.run -t seg_track``).

    ``results`` is a folder of RGBA bitmask PNGs (``<video>/<frame>.png``, then ``gt`` must be
    one too) or Scalabel JSON with RLE masks (file, folder or loaded frames). Other arguments as
    in :func:`box_track`.
    """
    cats = _categories(categories, bdd100k_mapping, ignore_unknown_cats)
    if isinstance(results, (str, Path)) and Path(results).is_dir():
        files = [p for p in Path(results).rglob("*") if p.is_file()]
        if files and all(p.suffix == ".png" for p in files):
            if not (isinstance(gt, (str, Path)) and Path(gt).is_dir()):
                raise ResultsError(f"{results} holds bitmask PNGs, so the ground truth must be a bitmask folder")
            return _seg_track_bitmask(Path(gt), Path(results), cats.classes, iou_thr, ignore_iof_thr)
    return _seg_track_rle(gt, results, cats, iou_thr, ignore_iof_thr)
