"""TIDE: a decomposition of COCO-style detection / instance-segmentation errors.

Bolya, Foley, Hays, Hoffman, "TIDE: A General Toolbox for Identifying Object Detection Errors",
ECCV 2020. Every false positive at the foreground threshold ``t_f`` (0.5) is given one type, in
this order of tests (IoU with the ground truth of the same image; ``t_b`` = 0.1):

- **Loc**: IoU with a ground truth of its class in ``[t_b, t_f]`` (badly localised);
- **Cls**: IoU >= ``t_f`` with a ground truth of another class (misclassified);
- **Dupe**: IoU >= ``t_f`` with a ground truth of its class that a higher-scoring detection
  already matched (duplicate);
- **Bkg**: IoU <= ``t_b`` with every ground truth (background mistaken for an object);
- **Both**: the rest (wrong class *and* badly localised);

and a ground truth no detection matched nor could be fixed onto is **Miss**. The dAP of a type
is the AP50 gained by fixing all its errors and nothing else: a Loc / Cls error becomes a true
positive (its box set to the ground truth's, or its class to the ground truth's; one fix per
ground truth, the highest-scoring error), Dupe / Bkg / Both errors are removed, a Miss is
removed from the ground truth (a category left without ground truth then drops out of the
mean). The two "special" dAPs: **FalsePos** (every false positive removed) and **FalseNeg**
(every missed ground truth removed).

We use the maintained reference package ``tidecv`` (``pip install tidecv``, the authors' code;
it installs and runs with numpy 2 and pycocotools 2.0.10) and do not re-implement it. Two
points where its AP differs from pycocotools ``COCOeval`` are handled here:

1. tidecv averages over every category with a prediction *or* a ground truth; ``COCOeval``
   over the categories with ground truth only (``accumulate``: precision stays -1 where
   ``npig == 0`` and ``summarize`` averages over ``> -1``). Predictions of categories with no
   non-crowd ground truth in the evaluated images are therefore dropped before TIDE sees them,
   as they cannot change the official AP either (dbolya/tide issue #28).
2. Left as it is: tidecv caps detections at 100 per *image* (``COCOeval``: 100 per image and
   category) and ignores a detection on a crowd region when their crowd IoU is *above* ``t_f``
   (``COCOeval``: at least). On the real COCO fixture (cocoapi's 100-image val2014 demo and its
   fake results) the AP50 then equals ``COCOeval``'s to 0.011 points (boxes: 69.708 vs 69.697;
   masks: 56.241 vs 56.229; ``tests/metrics_image/test_tide.py``).

All numbers are in percent points, as tidecv and the paper print them.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EvalkitError, ResultsError
from ._files import read_json_file

__all__ = ["MAIN_ERRORS", "SPECIAL_ERRORS", "TideResult", "tide"]

#: the paper's order of the main error types and of the special ones
MAIN_ERRORS = ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")
SPECIAL_ERRORS = ("FalsePos", "FalseNeg")


@dataclass
class TideResult:
    """TIDE of one results file.

    Attributes:
        ap: AP at ``t_f`` (percent), as TIDE computes it (see the module docstring).
        dap: error type -> dAP (percent points), the six main types then FalsePos / FalseNeg.
        counts: error type -> number of errors of that type (main types).
        iou_type: ``bbox`` or ``segm``.
        dropped: predictions dropped because their category has no ground truth (point 1).
    """

    ap: float
    dap: dict[str, float]
    counts: dict[str, int]
    iou_type: str
    dropped: int = 0
    thresholds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"AP50": self.ap, "dAP": dict(self.dap), "counts": dict(self.counts), "iou_type": self.iou_type,
                "dropped_predictions": self.dropped, **self.thresholds}


def _load(x: Any, what: str) -> Any:
    """A parsed COCO json: ``x`` itself, or the file it names (read by the metrics' one reader)."""
    return read_json_file(x, what) if isinstance(x, (str, Path)) else x


def _require_tidecv():
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import tidecv
    except ImportError as e:
        raise EvalkitError(f"TIDE needs the tidecv package ({e}): pip install 'evalkit[viz]' "
                           f"(tidecv, with seaborn and appdirs, which it imports)") from None
    return tidecv


def tide(gt: Any, results: Any, *, iou_type: str = "bbox", pos_thresh: float = 0.5,
         bg_thresh: float = 0.1, max_dets: int = 100) -> TideResult:
    """TIDE of a COCO results list against a COCO ground truth (paths or loaded JSON).

    Args:
        gt: COCO annotation JSON (``images``, ``annotations``, ``categories``).
        results: COCO results list (``image_id``, ``category_id``, ``score`` and ``bbox``
            ``[x, y, w, h]`` pixels, or ``segmentation`` RLE for ``iou_type="segm"``).
        pos_thresh / bg_thresh: ``t_f`` / ``t_b`` of the paper (0.5 / 0.1).
    """
    if iou_type not in ("bbox", "segm"):
        raise EvalkitError(f"TIDE iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    if not 0 <= bg_thresh <= pos_thresh <= 1:
        raise EvalkitError(f"TIDE needs 0 <= bg_thresh <= pos_thresh <= 1, got {bg_thresh} and {pos_thresh}")
    tidecv = _require_tidecv()
    from tidecv.data import Data
    from tidecv.functions import toRLE

    gt = _load(gt, "ground-truth")
    results = _load(results, "results")
    if not isinstance(gt, dict) or not all(k in gt for k in ("images", "annotations", "categories")):
        raise ResultsError("TIDE ground truth: expected a COCO JSON object with images, annotations, categories")
    if not isinstance(results, list):
        raise ResultsError(f"TIDE results: expected a COCO results list, got {type(results).__name__}")
    field_name = "bbox" if iou_type == "bbox" else "segmentation"

    # the ground truth, as tidecv.datasets.COCO builds it (crowd annotations are ignore regions)
    g = Data("gt", max_dets=max_dets)
    images = {}
    for im in gt["images"]:
        images[im["id"]] = im
        g.add_image(im["id"], im.get("file_name", str(im["id"])))
    for c in gt["categories"]:
        g.add_class(c["id"], c["name"])
    with_gt = set()
    for i, a in enumerate(gt["annotations"]):
        im = images.get(a["image_id"])
        if im is None:
            raise ResultsError(f"TIDE ground truth: annotations[{i}] points to image {a['image_id']}, not in images")
        seg = a.get("segmentation")
        mask = toRLE(seg, im["width"], im["height"]) if seg is not None and iou_type == "segm" else None
        if a.get("iscrowd", 0):
            g.add_ignore_region(a["image_id"], a["category_id"], a.get("bbox"), mask)
        else:
            g.add_ground_truth(a["image_id"], a["category_id"], a.get("bbox"), mask)
            with_gt.add(a["category_id"])

    p = Data("results")
    dropped = 0
    for i, d in enumerate(results):
        if not isinstance(d, dict) or field_name not in d or "image_id" not in d or "score" not in d:
            raise ResultsError(f"TIDE results[{i}]: expected image_id, category_id, score and {field_name!r} "
                               f"({iou_type} mode), got keys {sorted(d) if isinstance(d, dict) else type(d).__name__}")
        if d.get("category_id") not in with_gt:  # point 1 of the module docstring
            dropped += 1
            continue
        p.add_detection(d["image_id"], d["category_id"], d["score"],
                        d.get("bbox") if iou_type == "bbox" else None,
                        d.get("segmentation") if iou_type == "segm" else None)

    T = tidecv.TIDE(pos_threshold=pos_thresh, background_threshold=bg_thresh,
                    mode=tidecv.TIDE.BOX if iou_type == "bbox" else tidecv.TIDE.MASK)
    if not with_gt:
        raise ResultsError("TIDE ground truth has no non-crowd annotation: nothing to analyse")
    with contextlib.redirect_stdout(io.StringIO()):
        run = T.evaluate(g, p, name="run")
        errors = T.get_all_errors()
    dap = {k: float(errors["main"]["run"][k]) for k in MAIN_ERRORS}
    dap.update({k: float(errors["special"]["run"][k]) for k in SPECIAL_ERRORS})
    counts = {t.short_name: len(v) for t, v in run.error_dict.items()}
    return TideResult(float(run.ap), dap, {k: counts.get(k, 0) for k in MAIN_ERRORS}, iou_type, dropped,
                      {"t_f": pos_thresh, "t_b": bg_thresh})
