"""VIPOSeg panoptic video object segmentation (PVOS): the G score over thing/stuff × seen/unseen.

Semantics of the official evaluator shipped with VIPOSeg and used by UniVS
(``eval_pvos.py`` + ``eval_utils_viposeg.py``), reproduced exactly:

* Inputs. ``gt`` is the VIPOSeg ``valid/`` folder holding ``Annotations_gt/<video>/<frame>.png``
  (every frame annotated), ``Annotations/<video>/<frame>.png`` (the reference masks given to
  the method: each object's first appearance) and ``obj_class.json`` (``{video: {object id:
  class id}}``). ``results`` is a folder ``<video>/<frame>.png`` of indexed PNGs (value =
  object id). Only videos present in ``results`` are evaluated when fewer are given (the
  official script filters the reference list the same way).
* An object is evaluated from the frame *after* the reference frame that introduces it, on
  every later frame. The official code appends the ids of each reference frame to a list
  without removing duplicates: an object re-annotated in a later reference frame is counted
  once more per frame from then on. Reproduced.
* Per object and frame: region IoU and boundary IoU (boundary = mask minus its erosion by a 3×3
  kernel, ``round(0.02 × diagonal)`` iterations, min 1, with the image border counted as
  boundary). Both empty → 1 for both; exactly one empty → 0 for both.
* Buckets (first match wins): class 98 ("other machine") is stuff, unseen for the 23 listed
  videos and seen otherwise; then thing-unseen, stuff-unseen, thing-seen, stuff-seen class
  lists. Objects of a class in no list are not counted.
* ``<bucket>_iou = (mean region IoU + mean boundary IoU) / 2``; ``G`` (printed "overall_iou", the
  paper's G^{th&sf}) is the mean of the four buckets. An empty bucket gives NaN (the official
  ``np.mean([])``), which propagates to G. Values are reported in percent as the official
  script prints them.
* Frames are paired by position after sorting file names (official); we additionally require
  the names to agree, so a missing or renamed frame is an error instead of a silent shift.
* ``eval_decay=True`` adds ``decay``: the official least-squares fit of −log(score) on
  (number of objects present / 100) over object counts below 60.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, average, emit, ratio, wanted
from ._files import folder_error, read_json_file
from ._masks_io import read_label_png

__all__ = ["viposeg", "THING_CLASSES", "STUFF_CLASSES", "THING_UNSEEN", "STUFF_UNSEEN"]

# Class-id sets of the VIPOSeg benchmark definition (dataset facts).
THING_CLASSES = frozenset([60, 89, 90, 8, 48, 2, 79, 106, 76, 84, 114, 74, 108, 91, 83, 85, 54, 65, 78, 44, 92,
                           122, 107, 43, 88, 117, 50, 51, 87, 52, 62, 115, 10, 41, 77, 82, 56, 123, 49, 4, 63,
                           102, 99, 109, 47, 55, 61, 118, 72, 46, 96, 64, 101, 86, 97, 100, 116, 95])
STUFF_CLASSES = frozenset([28, 66, 0, 14, 15, 13, 7, 12, 22, 68, 1, 59, 27, 75, 40, 29, 18, 21, 19, 39, 30, 11,
                           53, 111, 45, 35, 98, 36, 119, 42, 104, 23, 80, 93, 67, 3, 31, 16, 69, 103, 37, 121,
                           110, 105, 33, 24, 70, 73, 32, 9, 71, 120, 58, 94, 5, 34, 20, 6])
THING_UNSEEN = frozenset([102, 99, 109, 47, 55, 61, 118, 72, 46, 96, 64, 101, 86, 97, 100, 116, 95])
STUFF_UNSEEN = frozenset([9, 71, 120, 58, 94, 5, 34, 20, 6, 26, 112, 17, 57, 113, 25, 81, 38])
OTHER_MACHINE = 98
OTHER_MACHINE_UNSEEN_VIDEOS = frozenset([
    "187_WUZUSD4477I", "319_l1Dz12fxQzQ", "320_nhKXemkIvh4", "517_AWvYuplla_s", "532_QmZyJuLlEec",
    "774_devdFjIpDcc", "1016_HG0AsTOxI5g", "1017_IAU0WGB9VPw", "1020_TgCIv6bp3XM", "1021_cPOxAMo28yk",
    "1022_emSaDd2ddj0", "1033_sh81AwYuihg", "1065_d2sHRyAHKqI", "1067_fk3jhxBi1pA", "1068_gxnZkf0LQfk",
    "1069_jFHRbZxswz8", "1070_uTJB31tuYes", "1072_zvNEdUk5k0Q", "1230_AGY-gQ_3O8Y", "1333__iprMPKLdOQ",
    "1334_qlmfvYA3_rk", "2004_1btxeVbyojs", "2005_83KrhWajwfw"])
BUCKETS = ("thing_seen", "thing_unseen", "stuff_seen", "stuff_unseen")


def bucket_of(class_id: int, video: str) -> str | None:
    """The official cascade of class tests (see module docstring)."""
    if class_id == OTHER_MACHINE:
        return "stuff_unseen" if video in OTHER_MACHINE_UNSEEN_VIDEOS else "stuff_seen"
    if class_id in THING_UNSEEN:
        return "thing_unseen"
    if class_id in STUFF_UNSEEN:
        return "stuff_unseen"
    if class_id in THING_CLASSES:
        return "thing_seen"
    if class_id in STUFF_CLASSES:
        return "stuff_seen"
    return None


def _boundary(mask: np.ndarray, iterations: int) -> np.ndarray:
    """``mask`` minus its erosion (3×3 kernel, ``iterations`` times; outside the image is 0)."""
    import cv2

    h, w = mask.shape
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=iterations)[1:h + 1, 1:w + 1]
    return mask - eroded


def object_scores(gt: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(region IoU, boundary IoU) of two ``H×W`` bool masks, with the official empty rules."""
    ng, npred = int(gt.sum()), int(pred.sum())
    if ng == 0 and npred == 0:
        return 1.0, 1.0
    if ng == 0 or npred == 0:
        return 0.0, 0.0
    miou = float((gt & pred).sum()) / float((gt | pred).sum())
    h, w = gt.shape
    it = max(1, int(round(0.02 * np.sqrt(h ** 2 + w ** 2))))
    bg, bp = _boundary(gt.astype(np.uint8), it), _boundary(pred.astype(np.uint8), it)
    union = int(((bg + bp) > 0).sum())
    biou = float(((bg * bp) > 0).sum()) / union if union else 0.0
    return miou, biou


def _pngs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.png"))


def viposeg(gt: Any, results: Any, *, eval_decay: bool = False) -> dict[str, float]:
    """G and the per-bucket scores (percent); see the module docstring."""
    root, res = Path(gt), Path(results)
    if not root.is_dir():
        raise ResultsError(folder_error(root, "VIPOSeg ground truth"))
    gt_dir, ref_dir, cls_file = root / "Annotations_gt", root / "Annotations", root / "obj_class.json"
    for p in (gt_dir, ref_dir, cls_file):
        if not p.exists():
            raise ResultsError(f"VIPOSeg ground truth: {p} is missing (expected valid/Annotations_gt/, "
                               f"valid/Annotations/ and valid/obj_class.json)")
    if not res.is_dir():
        raise ResultsError(folder_error(res, "VIPOSeg results"))
    try:
        obj_class = read_json_file(cls_file, "ground truth")
    except json.JSONDecodeError as e:
        raise ResultsError(f"{cls_file} is not valid JSON: {e}") from None
    videos = sorted(p.name for p in res.iterdir() if p.is_dir())
    if not videos:
        raise ResultsError(f"VIPOSeg results folder {res} holds no video folders")
    lists: dict[str, tuple[list[float], list[float]]] = {b: ([], []) for b in BUCKETS}
    decay: dict[int, list[float]] = {}
    per_video: dict[str, dict[str, Any]] = {}
    for video in videos:
        start = {b: len(lists[b][0]) for b in BUCKETS}
        if not (gt_dir / video).is_dir():
            raise ResultsError(f"results video {res / video} is not in the ground truth {gt_dir}")
        frames, preds = _pngs(gt_dir / video), _pngs(res / video)
        if frames != preds:
            missing = sorted(set(frames) - set(preds))
            raise ResultsError(
                f"results {res / video}: {len(preds)} frames for {len(frames)} ground-truth frames"
                + (f" (first missing: {missing[0]})" if missing else " (names differ)")
            )
        refs = set(_pngs(ref_dir / video)) if (ref_dir / video).is_dir() else set()
        classes = obj_class.get(video)
        if classes is None:
            raise ResultsError(f"{cls_file}: no entry for video {video}")
        obj_ids: list[int] = []
        for name in frames:
            label = read_label_png(gt_dir / video / name, "ground truth")
            pred = read_label_png(res / video / name, "results", size=label.shape)
            n_obj = len(obj_ids)
            for oid in obj_ids:
                miou, biou = object_scores(label == oid, pred == oid)
                cls = classes.get(str(oid))
                if cls is None:
                    raise ResultsError(f"{cls_file}: video {video} has no class for object {oid}")
                b = bucket_of(int(cls), video)
                if b is not None:
                    lists[b][0].append(miou)
                    lists[b][1].append(biou)
                if eval_decay:
                    decay.setdefault(n_obj, []).append((miou + biou) / 2)
            if name in refs:  # objects introduced here are evaluated from the next frame on
                ann = read_label_png(ref_dir / video / name, "reference annotation")
                obj_ids.extend(int(x) for x in np.unique(ann) if x != 0)
        per_video[video] = {k: v for b in BUCKETS for k, v in (
            (f"{b}_miou_sum", float(np.sum(lists[b][0][start[b]:]))),
            (f"{b}_biou_sum", float(np.sum(lists[b][1][start[b]:]))), (f"{b}_n", len(lists[b][0]) - start[b]))}
    if wanted():
        emit(_breakdown(per_video))
    out: dict[str, float] = {}
    with np.errstate(invalid="ignore"):
        for b in BUCKETS:
            m = float(np.mean(lists[b][0])) if lists[b][0] else float("nan")
            bi = float(np.mean(lists[b][1])) if lists[b][1] else float("nan")
            out[f"{b}_miou"], out[f"{b}_biou"], out[f"{b}_iou"] = 100 * m, 100 * bi, 100 * (m + bi) / 2
    out["G"] = float(np.mean([out[f"{b}_iou"] for b in BUCKETS]))
    if eval_decay:
        xs = [k for k in sorted(decay) if k < 60 and decay[k]]
        if len(xs) >= 1:
            a = np.asarray(xs, float)[:, None] / 100
            y = -np.log(np.asarray([np.mean(decay[k]) for k in xs])[:, None])
            out["decay"] = float((np.linalg.inv(a.T @ a) @ a.T @ y)[0, 0])
    return out


def _breakdown(per_video: dict[str, dict[str, Any]]) -> Breakdown:
    """Per video, per bucket: the sums of its (object, frame) region and boundary IoUs and their
    count; ``iou`` = the video's own mean of (region + boundary) / 2 over all its counted
    (object, frame) pairs, x 100 (not official; it sorts the videos). The official bucket means
    pool the pairs of all videos, so ``<bucket>_miou`` / ``_biou`` are ratios of these sums,
    ``<bucket>_iou`` their average and ``G`` the average of all eight."""
    for row in per_video.values():
        n = sum(row[f"{b}_n"] for b in BUCKETS)
        row["iou"] = 100 * sum(row[f"{b}_miou_sum"] + row[f"{b}_biou_sum"] for b in BUCKETS) / (2 * n) if n else None
    parts = {b: (ratio(f"{b}_miou_sum", f"{b}_n", scale=100.0), ratio(f"{b}_biou_sum", f"{b}_n", scale=100.0))
             for b in BUCKETS}
    aggregates: dict[str, dict] = {}
    for b, (m, bi) in parts.items():
        aggregates.update({f"{b}_miou": m, f"{b}_biou": bi, f"{b}_iou": average(m, bi, scale=100.0)})
    aggregates["G"] = average(*(p for pair in parts.values() for p in pair), scale=100.0)
    fields = {"iou": "mean (region + boundary IoU) / 2 over the video's counted (object, frame) pairs, x 100",
              **{f"{b}_miou_sum": f"sum of region IoUs of the {b} pairs" for b in BUCKETS},
              **{f"{b}_biou_sum": f"sum of boundary IoUs of the {b} pairs" for b in BUCKETS},
              **{f"{b}_n": f"(object, frame) pairs of the {b} bucket" for b in BUCKETS}}
    return Breakdown("video", "iou", True, per_video, {}, fields, aggregates)
