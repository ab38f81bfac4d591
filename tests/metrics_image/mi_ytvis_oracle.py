"""The youtubevos ``ytvoseval`` evaluation expressed through pycocotools' own ``COCOeval``.

ytvoseval is COCOeval with three changes: videos instead of images, a spatio-temporal IoU
(frame-by-frame ``merge``/``area`` sums, as in its ``computeIoU``) and the 128²/256² area
ranges, with track areas = mean of the non-zero per-frame areas. Plugging exactly those into
the unmodified pycocotools matching and accumulation gives an oracle for all 12 stats that
shares no code with :mod:`evalkit.metrics._apeval`.
"""
from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def _to_rle(seg, h, w):
    if seg is None or seg == []:
        return None
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    if isinstance(seg["counts"], list):
        return mask_utils.frPyObjects(seg, h, w)
    return {"size": seg["size"], "counts": seg["counts"].encode() if isinstance(seg["counts"], str) else seg["counts"]}


def _mean_nonzero(areas):
    vals = [a for a in areas if a]
    return np.array(vals).mean() if vals else 0


class _SpatioTemporalEval(COCOeval):
    def computeIoU(self, vid, cat):
        gt, dt = self._gts[vid, cat], self._dts[vid, cat]
        if len(gt) == 0 and len(dt) == 0:
            return []
        order = np.argsort([-d["score"] for d in dt], kind="mergesort")
        dt = [dt[i] for i in order][: self.params.maxDets[-1]]
        ious = np.zeros((len(dt), len(gt)))
        for i, d in enumerate(dt):
            for j, g in enumerate(gt):
                inter = union = 0.0
                for a, b in zip(d["rles"], g["rles"]):
                    if a and b:
                        inter += mask_utils.area(mask_utils.merge([a, b], True))
                        union += mask_utils.area(mask_utils.merge([a, b], False))
                    elif b:
                        union += mask_utils.area(b)
                    elif a:
                        union += mask_utils.area(a)
                ious[i, j] = inter / union if union > 0 else 0.0
        return ious


def ytvis_oracle(gt: dict, results: list) -> list[float]:
    gt = copy.deepcopy(gt)
    sizes = {v["id"]: (v["height"], v["width"]) for v in gt["videos"]}
    g_anns = []
    for a in gt["annotations"]:
        h, w = sizes[a["video_id"]]
        g_anns.append({"id": a["id"], "image_id": a["video_id"], "category_id": a["category_id"],
                       "iscrowd": a.get("iscrowd", 0), "area": _mean_nonzero(a["areas"]),
                       "rles": [_to_rle(s, h, w) for s in a["segmentations"]]})
    d_anns = []
    for i, r in enumerate(results):
        h, w = sizes[r["video_id"]]
        rles = [_to_rle(s, h, w) for s in r["segmentations"]]
        areas = [mask_utils.area(x) if x else None for x in rles]
        d_anns.append({"id": i + 1, "image_id": r["video_id"], "category_id": r["category_id"],
                       "score": r["score"], "iscrowd": 0, "area": _mean_nonzero(areas), "rles": rles})
    images = [{"id": v["id"]} for v in gt["videos"]]
    with contextlib.redirect_stdout(io.StringIO()):
        cg, cd = COCO(), COCO()
        cg.dataset = {"images": images, "annotations": g_anns, "categories": gt["categories"]}
        cd.dataset = {"images": images, "annotations": d_anns, "categories": gt["categories"]}
        cg.createIndex()
        cd.createIndex()
        ev = _SpatioTemporalEval(cg, cd, "bbox")
        ev.params.areaRng = [[0**2, 1e5**2], [0**2, 128**2], [128**2, 256**2], [256**2, 1e5**2]]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(x) for x in ev.stats]
