"""BURST (Athar et al., WACV 2023): HOTA / DetA / AssA / AP for all, common and uncommon classes.

The official evaluator (``Ali2500/BURST-benchmark``, ``burstapi/eval/run.py``) runs a TrackEval
copy whose ``BURST`` / ``BURST_OW`` datasets are also in ``trackeval`` 1.3.0 (same semantics; only
file handling differs). This wraps those datasets and reproduces ``run.py``'s summary:

- **Class-guided** (and exemplar-guided) tasks: TrackEval ``HOTA`` and ``TrackMAP`` per class
  (mask IoU), combined over videos; ``HOTA``, ``DetA``, ``AssA`` (each the mean over the 19 α)
  and ``AP`` (TrackMAP ``AP_all``, mean over IoU thresholds) are then averaged with equal weight
  over the classes of a split: ``all`` (every evaluated class), ``common`` (the 78 TAO category
  ids that are COCO classes, hard-coded in ``run.py``) and ``uncommon`` (the rest).
  Keys: ``HOTA_all``, ``HOTA_common``, ``HOTA_uncommon``, ``DetA_*``, ``AssA_*``, ``AP_*``.
- **Open-world** task: class-agnostic ``BURST_OW`` run separately on ``all_classes.json``,
  ``common_classes.json`` and ``uncommon_classes.json``; keys ``OWTA_*``, ``DetRe_*``,
  ``AssA_*`` from the class-averaged HOTA fields.

Values are percent (``run.py`` prints ×100). Quirks kept by the reused dataset code: at most
``MAX_DETECTIONS = 300`` predictions per image (highest scores); the TAO distractor categories
are dropped from ground truth and never evaluated; only classes with ground truth are evaluated;
predictions on frames that are not annotated in the ground truth are ignored; prediction
track ids are made unique across videos.

**Exemplar-guided task** (``exemplar_classes`` names the variant):

- ``predicted`` (default, = ``run.py``, behind the published numbers): ``run.py`` builds the
  ``BURST`` dataset (whose constructor converts the predictions) with ``EXEMPLAR_GUIDED``
  still False and only then sets ``dataset.config["EXEMPLAR_GUIDED"]``. So the predictions
  keep their own ``track_category_ids`` and track ids, and the flag only switches off the
  Hungarian pre-matching in ``get_preprocessed_seq_data`` (no unmatched prediction is
  removed). A track labelled with another class than its GT object counts for that class;
  a track id the GT lacks is scored like any other track.
- ``ground_truth``: the converter's exemplar path (``PredictionBURSTFormatToTAOFormatConverter``
  with ``exemplar_guided=True``), which implements ``ANNOTATION_FORMAT.md``'s "the value is
  irrelevant, you can assign any class ID": each predicted track takes the category of the GT
  track with the same id. A predicted id the GT lacks fails there (``KeyError`` in
  ``_global_track_id``); here it is an error naming the track. Not what ``run.py`` computes.

Inputs: ``gt``: the BURST annotation folder of a split (holding ``all_classes.json`` and, for
the open-world task, ``common_classes.json`` / ``uncommon_classes.json``) or, for the
class/exemplar-guided tasks, one annotation JSON file. ``results``: a prediction JSON in the
BURST annotation format (path or loaded dict).
"""
from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, average, combine_parts, emit, mean, ratio, wanted
from ._files import read_json_file, require_id

__all__ = ["burst", "COMMON_CATEGORY_IDS"]

#: TAO category ids of the COCO classes ("common" in BURST), as listed in ``run.py``
COMMON_CATEGORY_IDS = frozenset({
    4, 13, 1038, 544, 1057, 34, 35, 36, 41, 45, 58, 60, 579, 1091, 1097, 1099, 78, 79, 81, 91, 1115, 1117, 95, 1122,
    99, 1132, 621, 1135, 625, 118, 1144, 126, 642, 1155, 133, 1162, 139, 154, 174, 185, 699, 1215, 714, 717, 1229,
    211, 729, 221, 229, 747, 235, 237, 779, 276, 805, 299, 829, 852, 347, 371, 382, 896, 392, 926, 937, 428, 429,
    961, 452, 979, 980, 982, 475, 480, 993, 1001, 502, 1018,
})
TASKS = ("class_guided", "exemplar_guided", "open_world")
#: exemplar-guided class handling: run.py's (default) and the converter's documented intent
EXEMPLAR_CLASSES = ("predicted", "ground_truth")


def _validate(data: Any, where: str) -> None:
    """Structural checks with the location of the first problem."""
    if not isinstance(data, dict) or not isinstance(data.get("sequences"), list):
        raise ResultsError(f"{where}: expected a BURST annotation object with a 'sequences' list")
    for k, seq in enumerate(data["sequences"]):
        for key in ("id", "dataset", "seq_name", "annotated_image_paths", "segmentations", "track_category_ids"):
            if key not in seq:
                raise ResultsError(f"{where}: sequence #{k} has no '{key}'")
        require_id(seq["id"], f"{where}: sequence #{k}", "id")
        name = f"{seq['dataset']}/{seq['seq_name']}"
        if len(seq["segmentations"]) != len(seq["annotated_image_paths"]):
            raise ResultsError(
                f"{where}: sequence {name!r} has {len(seq['segmentations'])} segmentation frames but "
                f"{len(seq['annotated_image_paths'])} annotated_image_paths"
            )
        for f, frame in enumerate(seq["segmentations"]):
            for tid, det in frame.items():
                if not str(tid).lstrip("-").isdigit():
                    raise ResultsError(f"{where}: sequence {name!r}, frame #{f}: track id {tid!r} is not an integer")
                if not isinstance(det, dict) or not isinstance(det.get("rle"), str):
                    raise ResultsError(f"{where}: sequence {name!r}, frame #{f}, track {tid}: expected {{'rle': str}}")
                if str(tid) not in {str(t) for t in seq["track_category_ids"]} and "category_id" not in det:
                    raise ResultsError(
                        f"{where}: sequence {name!r}, frame #{f}: track {tid} has no entry in track_category_ids"
                    )


def _load(src: Any, what: str) -> tuple[Any, str]:
    if isinstance(src, (str, Path)):
        p = Path(src)
        try:
            return read_json_file(p, what), str(p)
        except FileNotFoundError:
            raise ResultsError(f"{what}: {p} does not exist") from None
        except json.JSONDecodeError as e:
            raise ResultsError(f"{what}: {p} is not valid JSON ({e})") from None
    return src, f"<{what}>"


def _check_exemplar_ids(gt: dict, pred: dict, where: str) -> None:
    """``exemplar_classes='ground_truth'``: every predicted track id on an annotated frame must
    be a GT track of its sequence (the converter maps it through the GT's ``track_id_mapping``
    after skipping frames the GT does not annotate)."""
    gt_seqs = {str(s["id"]): ({str(t) for t in s["track_category_ids"]}, set(s["annotated_image_paths"]))
               for s in gt["sequences"]}
    for seq in pred["sequences"]:
        name = f"{seq['dataset']}/{seq['seq_name']}"
        if str(seq["id"]) not in gt_seqs:
            raise ResultsError(f"{where}: sequence {name!r} has id {seq['id']}, which the ground truth lacks")
        known, annotated = gt_seqs[str(seq["id"])]
        for f, (frame, path) in enumerate(zip(seq["segmentations"], seq["annotated_image_paths"])):
            for tid in frame if path in annotated else ():
                if str(tid) not in known:
                    raise ResultsError(
                        f"{where}: sequence {name!r}, frame #{f}: track {tid} is not a ground-truth track "
                        "(exemplar_classes='ground_truth' takes each track's class from the GT track with "
                        "its id; the default 'predicted' scores it)")


def _run(gt_data: dict, pred_data: dict, tmp: Path, tag: str, open_world: bool, exemplar: bool, max_det: int,
         gt_classes: bool = False):
    """Evaluate one ground-truth file with TrackEval; returns ``res['COMBINED_SEQ']``, the class
    names' ids and the per-sequence results keyed by BURST sequence id.

    ``exemplar``: the flag ``run.py`` sets on the dataset after construction (no Hungarian
    pre-matching); ``gt_classes``: set it before construction as well, so the prediction
    converter substitutes the GT tracks' classes (``exemplar_classes='ground_truth'``)."""
    import trackeval

    gt_dir, tr_dir = tmp / tag / "gt", tmp / tag / "trackers" / "tracker" / "data"
    gt_dir.mkdir(parents=True)
    tr_dir.mkdir(parents=True)
    (gt_dir / "gt.json").write_text(json.dumps(gt_data))
    (tr_dir / "pred.json").write_text(json.dumps(pred_data))
    cls = trackeval.datasets.BURST_OW if open_world else trackeval.datasets.BURST
    config = {
        "GT_FOLDER": str(gt_dir), "TRACKERS_FOLDER": str(tr_dir.parent.parent), "TRACKERS_TO_EVAL": ["tracker"],
        "PRINT_CONFIG": False, "MAX_DETECTIONS": int(max_det), "OUTPUT_FOLDER": str(tmp / tag / "out"),
    }
    if not open_world:
        # run.py main(): BURST(pred_path, gt_path, config=default) converts the predictions with
        # EXEMPLAR_GUIDED False; only the GT-class variant converts with it True
        config["EXEMPLAR_GUIDED"] = bool(exemplar and gt_classes)
    metrics = [trackeval.metrics.HOTA({"PRINT_CONFIG": False})]
    if not open_world:
        metrics.append(trackeval.metrics.TrackMAP({"PRINT_CONFIG": False}))
    evaluator = trackeval.Evaluator({
        "USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
        "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "LOG_ON_ERROR": None,
        "BREAK_ON_ERROR": True, "OUTPUT_EMPTY_CLASSES": True,
    })
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            dataset = cls(config)
            if not open_world:
                # run.py main(): dataset.config["EXEMPLAR_GUIDED"] = args.task == "exemplar_guided",
                # read by get_preprocessed_seq_data (switches off the Hungarian pre-matching)
                dataset.config["EXEMPLAR_GUIDED"] = bool(exemplar)
            res, _ = evaluator.evaluate([dataset], metrics)
    except (trackeval.utils.TrackEvalException, AssertionError, KeyError) as e:
        raise ResultsError(f"BURST evaluation rejected the input ({type(e).__name__}: {e})") from None
    tracker = res[dataset.get_name()]["tracker"]
    # TrackEval names a video after its converted path ('/' -> '-'); its id is the BURST sequence id
    per_seq = {dataset.seq_name_to_seq_id[k]: v for k, v in tracker.items() if k != "COMBINED_SEQ"}
    return tracker["COMBINED_SEQ"], {c["name"]: c["id"] for c in dataset.gt_data["categories"]}, per_seq


def burst(gt: Any, results: Any, task: str = "class_guided", max_detections: int = 300,
          exemplar_classes: str = "predicted") -> dict[str, float]:
    """BURST evaluation (see module docstring). ``task``: ``class_guided``, ``exemplar_guided``
    or ``open_world``; ``max_detections``: predictions kept per image (0 = unlimited);
    ``exemplar_classes`` (exemplar-guided only): ``predicted`` (``run.py``) or ``ground_truth``."""
    if task not in TASKS:
        raise ResultsError(f"unknown BURST task {task!r}; expected one of {TASKS}")
    if exemplar_classes not in EXEMPLAR_CLASSES:
        raise ResultsError(f"unknown BURST exemplar_classes {exemplar_classes!r}; expected one of {EXEMPLAR_CLASSES}")
    if exemplar_classes != "predicted" and task != "exemplar_guided":
        raise ResultsError(f"BURST exemplar_classes={exemplar_classes!r} applies to the exemplar_guided task, "
                           f"not to {task!r}")
    pred, pwhere = _load(results, "results")
    _validate(pred, pwhere)
    gt_path = Path(gt) if isinstance(gt, (str, Path)) else None
    if task == "open_world":
        if gt_path is None or not gt_path.is_dir():
            raise ResultsError("ground truth: the open-world task needs the split folder holding "
                               "all_classes.json, common_classes.json and uncommon_classes.json")
        splits = {s: gt_path / f"{s}_classes.json" for s in ("all", "common", "uncommon")}
    else:
        if gt_path is not None and gt_path.is_dir():
            gt_path = gt_path / "all_classes.json"
        splits = {"all": gt_path if gt_path is not None else gt}
    out: dict[str, float] = {}
    ow_parts: dict[str, Breakdown] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for split, src in splits.items():
            data, where = _load(src, "ground truth")
            _validate(data, where)
            gt_classes = task == "exemplar_guided" and exemplar_classes == "ground_truth"
            if gt_classes:
                _check_exemplar_ids(data, pred, pwhere)
            res, name_to_id, per_seq = _run(data, pred, Path(tmp), split, task == "open_world",
                                            task == "exemplar_guided", max_detections, gt_classes)
            if task == "open_world":
                hota = res["cls_comb_cls_av"]["HOTA"]
                for key in ("OWTA", "DetRe", "AssA"):
                    out[f"{key}_{split}"] = float(np.mean(hota[key]) * 100)
                if wanted():
                    names = {q["id"]: f"{q['dataset']}/{q['seq_name']}" for q in data["sequences"]}
                    ow_parts[split] = open_world_part(hota, {names[i]: v for i, v in per_seq.items()})
                continue
            classes = [c for c in res if c not in ("cls_comb_cls_av", "cls_comb_det_av")]
            groups = {
                "all": classes,
                "common": [c for c in classes if name_to_id[c] in COMMON_CATEGORY_IDS],
                "uncommon": [c for c in classes if name_to_id[c] not in COMMON_CATEGORY_IDS],
            }
            for group, members in groups.items():
                for key in ("HOTA", "DetA", "AssA"):
                    vals = [res[c]["HOTA"][key].mean() for c in members]
                    out[f"{key}_{group}"] = float(100 * sum(vals) / len(vals)) if vals else float("nan")
                vals = [res[c]["TrackMAP"]["AP_all"].mean() for c in members]
                out[f"AP_{group}"] = float(100 * sum(vals) / len(vals)) if vals else float("nan")
            if wanted():  # sample ids of the benchmark: '<dataset>/<seq_name>'
                names = {q["id"]: f"{q['dataset']}/{q['seq_name']}" for q in data["sequences"]}
                emit(per_class(res, classes, name_to_id, {names[i]: v for i, v in per_seq.items()}))
    if ow_parts:
        emit(combine_parts(ow_parts, shared_units=True, rename={"DetRe_{part}": "DetRe", "AssA_{part}": "AssA"},
                           score_key="all/OWTA"))
    return out


def open_world_part(combined: dict, per_seq: dict) -> Breakdown:
    """The breakdown of one open-world split (``all``, ``common`` or ``uncommon``; combined by
    :func:`combine_parts` into ``<split>/<field>`` rows of the videos).

    Per video: TrackEval's per-sequence ``OWTA``, ``DetRe``, ``AssA`` of the class-agnostic
    ``object`` class (means over the 19 alphas, x 100) and, per alpha ``a``, ``TP@a``,
    ``GT@a`` (= HOTA_TP + HOTA_FN) and ``AssA_TP@a`` (= AssA x HOTA_TP). TrackEval's
    ``combine_sequences`` sums the counts and weights AssA by HOTA_TP, so ``DetRe`` and ``AssA``
    of the split are the ``average`` over the alphas of the ratios ``sum TP / sum GT`` and
    ``sum AssA_TP / sum TP``; given only where every alpha has a denominator on the whole set
    (TrackEval divides by ``max(1, .)``, turning an empty one into 0, which a ratio cannot
    state). ``OWTA`` = mean over alphas of ``sqrt(DetRe * AssA)`` is no such ratio: none."""
    alphas = [f"{a:.2f}" for a in np.arange(0.05, 0.99, 0.05)]
    samples = {}
    for seq, r in per_seq.items():
        h = r["object"]["HOTA"]
        row: dict[str, Any] = {k: float(100 * np.mean(h[k])) for k in ("OWTA", "DetRe", "AssA")}
        for i, a in enumerate(alphas):
            row[f"TP@{a}"] = int(h["HOTA_TP"][i])
            row[f"GT@{a}"] = int(h["HOTA_TP"][i] + h["HOTA_FN"][i])
            row[f"AssA_TP@{a}"] = float(h["AssA"][i] * h["HOTA_TP"][i])
        samples[seq] = row
    aggregates = {}
    if np.all(combined["HOTA_TP"] + combined["HOTA_FN"] > 0):
        aggregates["DetRe"] = average(*(ratio(f"TP@{a}", f"GT@{a}") for a in alphas), scale=100)
    if np.all(combined["HOTA_TP"] > 0):
        aggregates["AssA"] = average(*(ratio(f"AssA_TP@{a}", f"TP@{a}") for a in alphas), scale=100)
    fields = {"OWTA": "TrackEval's per-video OWTA x 100 (class-agnostic)", "DetRe": "per-video DetRe x 100",
              "AssA": "per-video AssA x 100", "TP@<alpha>": "HOTA_TP at that alpha",
              "GT@<alpha>": "HOTA_TP + HOTA_FN (ground-truth detections)", "AssA_TP@<alpha>": "AssA x HOTA_TP"}
    return Breakdown("video", "OWTA", True, samples, {}, fields, aggregates)


def per_class(res: dict, classes: list[str], name_to_id: dict[str, int], per_seq: dict) -> Breakdown:
    """The class-guided breakdown: per class, ``HOTA``, ``DetA``, ``AssA`` (means over the 19
    alphas, combined over the videos) and ``AP`` (TrackMAP ``AP_all``, mean over IoU
    thresholds), x 100, plus ``common``; ``HOTA_common`` etc. repeat the value for the classes
    of that group (null otherwise), so every ``*_all`` / ``*_common`` / ``*_uncommon`` key is a
    mean over categories. Per video: the mean over the classes with ground truth in it of
    TrackEval's per-video class ``HOTA`` (not an official number; it sorts the videos)."""
    cats = {}
    for c in classes:
        row: dict[str, Any] = {"name": c, "common": int(name_to_id[c] in COMMON_CATEGORY_IDS)}
        vals = {k: float(100 * res[c]["HOTA"][k].mean()) for k in ("HOTA", "DetA", "AssA")}
        vals["AP"] = float(100 * res[c]["TrackMAP"]["AP_all"].mean())
        for k, v in vals.items():
            row[k] = v
            row[f"{k}_common" if row["common"] else f"{k}_uncommon"] = v
        cats[str(name_to_id[c])] = row
    samples = {}
    for seq, r in per_seq.items():
        # the classes with ground truth in this video (TrackEval lists every class per video)
        present = [r[c]["HOTA"] for c in classes if c in r and np.sum(r[c]["HOTA"]["HOTA_TP"] + r[c]["HOTA"]["HOTA_FN"]) > 0]
        samples[seq] = {"HOTA": float(100 * np.mean([h["HOTA"].mean() for h in present])) if present else None,
                        "n_classes": len(present)}
    aggregates = {f"{k}_all": mean(k, over="categories") for k in ("HOTA", "DetA", "AssA", "AP")}
    aggregates.update({f"{k}_{g}": mean(f"{k}_{g}", over="categories")
                       for k in ("HOTA", "DetA", "AssA", "AP") for g in ("common", "uncommon")})
    fields = {"HOTA": "HOTA x 100 (class: combined over videos; video: mean over its classes)", "DetA": "DetA x 100",
              "n_classes": "classes with ground truth in the video",
              "AssA": "AssA x 100", "AP": "TrackMAP AP_all x 100", "common": "1 for the 78 COCO classes of run.py"}
    return Breakdown("video", "HOTA", True, samples, cats, fields, aggregates)
