"""COCO 2017: detection / instance segmentation on val2017, the test-dev submission, and
interactive segmentation (1 click per instance, GLEE Table 7).

Layout (UNINEXT/GLEE ``datasets/coco``)::

    coco/val2017/000000000139.jpg ...
    coco/test2017/...
    coco/annotations/instances_val2017.json
    coco/annotations/image_info_test-dev2017.json

Results: the COCO results JSON (a list of ``{"image_id", "category_id", "score", "bbox": [x, y,
w, h]}`` for boxes, ``"segmentation": RLE`` instead of ``bbox`` for masks: cocoapi takes the
area of a result from its ``bbox`` when present, so mask results carry no box, as detectron2
writes them for mask AP). test-dev: ``detections_test-dev2017_<alg>_results.json`` zipped as
the COCO server expects.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, ResultsError
from ..types import Categories, Frames, Reference, Sample, rle_to_mask
from ._common import CocoIndex, OfficialBenchmark, check_frames, coco_records, single_instance
from ._io import atomic_write_zip, read_json
from ._stream import StreamedJson, in_order
from ._subset import filter_json

__all__ = ["CocoStyleImages", "CocoInstances", "CocoTestDev", "CocoInteractive"]


class CocoStyleImages(OfficialBenchmark):
    """Images listed in a COCO-format annotation file, prompted with all its categories.

    Args:
        annotations: annotation file, relative to the dataset folder.
        images: image folder, relative to the dataset folder.
        masks: write ``segmentation`` (instance segmentation) instead of ``bbox``.
    """

    task = "det"
    prompt = "categories"
    results_name = "coco_instances_results.json"
    need_annotations = True

    def __init__(self, root: Path, id: str = "", annotations: str = "annotations/instances_val2017.json",
                 images: str = "val2017", masks: bool = False, **options: Any):
        super().__init__(root, id, **options)
        self.ann_file = self.root / annotations
        self.image_dir = self.root / images
        self.masks = bool(masks)

    def annotation_files(self) -> list[Path]:
        return [self.ann_file]

    def _build_index(self) -> CocoIndex:
        return CocoIndex(read_json(self.ann_file, "COCO annotation file"), self.ann_file, self.need_annotations)

    def image_path(self, im: dict) -> Path:
        if "file_name" not in im:
            raise DatasetError(f"{self.ann_file}: image {im.get('id')} has no 'file_name'")
        return self.image_dir / im["file_name"]

    def validate(self) -> None:
        idx = self.index
        if not self.image_dir.is_dir():
            raise DatasetError(f"missing image folder {self.image_dir} (expected the images of {self.ann_file.name})")
        if not idx.images:
            raise DatasetError(f"{self.ann_file}: 'images' is empty")
        ids = idx.image_ids()
        check_frames([self.image_path(idx.images[i]) for i in ids], "image",
                     sizes=[(idx.images[i]["height"], idx.images[i]["width"]) for i in ids])

    def sample_ids(self) -> list[str]:
        return [str(i) for i in self.index.image_ids()]

    def categories(self) -> Categories:
        cats = self.index.categories
        return Categories(tuple(c["name"] for c in cats), tuple(c["id"] for c in cats))

    def load_sample(self, sample_id: str) -> Sample:
        try:
            im = self.index.images[int(sample_id)]
        except (KeyError, ValueError):
            raise DatasetError(f"{self.id}: no image with id {sample_id!r} in {self.ann_file}") from None
        return Sample(
            sample_id,
            Frames.from_image(self.image_path(im), int(im["id"]), (im["height"], im["width"])),
            self.categories(),
            {"image_id": int(im["id"]), "file_name": im.get("file_name")},
        )

    def result_key(self, sample_id: str) -> Any:
        return int(sample_id) if sample_id.isdigit() else sample_id  # image ids in numeric order

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        with StreamedJson(self.results_path(results_dir)) as js:
            for sid, preds, meta in in_order(stream, self.result_key, self.id):
                if len(preds) != 1:
                    raise ResultsError(f"sample {sid}: an image takes 1 Instances, got {len(preds)}")
                image_id = meta.get("image_id", int(sid))
                js.extend(coco_records(preds[0], image_id, boxes=not self.masks, masks=self.masks, sample=sid))
        return [js.path]

    def gt_path(self) -> Path:
        return self.ann_file

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """The annotation file with just the images run and their annotations
        (``gt_subset.json`` beside the results): cocoapi/lvis-api evaluate every image of the
        GT file (``params.imgIds`` = all of them), so an image left out of a partial run
        would count its objects as missed."""
        keep = {self.index.images[int(s)]["id"] for s in sample_ids}
        out = Path(results_dir) / "gt_subset.json"
        return filter_json(gt, out, {"images": lambda im: im["id"] in keep,
                                     "annotations": lambda a: a["image_id"] in keep}), {}


class CocoInstances(CocoStyleImages):
    """COCO val2017 box AP (``masks=False``, metric ``coco-bbox``) or mask AP (``coco-segm``)."""


class CocoTestDev(CocoStyleImages):
    """COCO test-dev 2017, scored by the COCO evaluation server.

    Writes ``detections_test-dev2017_<alg>_results.json`` (the server's required name) and
    ``submission.zip`` holding it at the archive root.
    """

    need_annotations = False
    server = True

    def __init__(self, root: Path, id: str = "", annotations: str = "annotations/image_info_test-dev2017.json",
                 images: str = "test2017", alg: str = "evalkit", **options: Any):
        super().__init__(root, id, annotations, images, **options)
        self.alg = alg

    @property
    def results_name(self) -> str:  # type: ignore[override]
        return f"detections_test-dev2017_{self.alg}_results.json"

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        js = super().write_stream(stream, results_dir)[0]
        return [js, atomic_write_zip(Path(results_dir) / "submission.zip", {js.name: js})]


class CocoInteractive(CocoStyleImages):
    """Interactive segmentation on COCO val2017 (GLEE Table 7): one sample per non-crowd
    instance, prompted with one positive click at the point of its mask farthest from the mask
    boundary (the usual first-click simulation; ties broken by the first pixel in row-major
    order). Scored as 1-click mIoU with the RES evaluator: the writer emits, beside the
    results, a per-click ground-truth file in the RefCOCO layout (one image entry per click)."""

    task = "interactive"
    prompt = "reference"
    results_name = "interactive_results.json"
    derived_gt = "interactive_gt.json"

    def sample_ids(self) -> list[str]:
        return [sid for sid, _ in self._clicks()]

    def _clicks(self) -> list[tuple[str, dict]]:
        out = []
        for i in self.index.image_ids():
            for a in sorted(self.index.anns_by_image.get(i, []), key=lambda a: a["id"]):
                if not a.get("iscrowd", 0) and a.get("segmentation"):
                    out.append((f"{i}-{a['id']}", a))
        return out

    def _ann(self, sample_id: str) -> tuple[dict, dict]:
        try:
            img_id, ann_id = (int(x) for x in sample_id.split("-"))
            im = self.index.images[img_id]
            ann = next(a for a in self.index.anns_by_image.get(img_id, []) if a["id"] == ann_id)
        except (ValueError, KeyError, StopIteration):
            raise DatasetError(f"{self.id}: no instance {sample_id!r} (expected '<image_id>-<ann_id>')") from None
        return im, ann

    def _mask(self, im: dict, ann: dict) -> np.ndarray:
        from pycocotools import mask as mask_utils

        seg = ann["segmentation"]
        h, w = im["height"], im["width"]
        if isinstance(seg, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        else:
            rle = seg if not isinstance(seg.get("counts"), list) else mask_utils.frPyObjects(seg, h, w)
        return rle_to_mask(rle)

    def load_sample(self, sample_id: str) -> Sample:
        from scipy import ndimage

        im, ann = self._ann(sample_id)
        mask = self._mask(im, ann)
        if not mask.any():
            raise DatasetError(f"{self.ann_file}: annotation {ann['id']} has an empty mask")
        # distance to the nearest background pixel, with the image border counted as background
        dist = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
        point = np.array([[x + 0.5, y + 0.5]], np.float32)  # pixel centre, continuous frame
        return Sample(
            sample_id,
            Frames.from_image(self.image_path(im), int(im["id"]), (im["height"], im["width"])),
            Reference(object_ids=(1,), points=[point], point_labels=[np.ones(1, np.int64)]),
            {"image_id": int(im["id"]), "ann_id": int(ann["id"]), "category_id": int(ann["category_id"])},
        )

    def subset_gt(self, gt: Path, sample_ids: list[str], results_dir: Path) -> tuple[Path, dict]:
        """The derived per-click GT (written for the predicted clicks) with just ``sample_ids``
        (its image entries carry the sample id)."""
        keep = set(sample_ids)
        ids = {im["id"] for im in json.loads(Path(gt).read_text())["images"] if im.get("sample_id") in keep}
        out = Path(results_dir) / "gt_subset.json"
        return filter_json(gt, out, {"images": lambda im: im["id"] in ids,
                                     "annotations": lambda a: a["image_id"] in ids}), {}

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        results_dir = Path(results_dir)
        with StreamedJson(results_dir / self.derived_gt, ("images", "annotations"),
                          tail={"categories": [{"id": 1, "name": "object"}]}) as gt, \
                StreamedJson(self.results_path(results_dir)) as res:
            for k, (sid, preds, _) in enumerate(in_order(stream, self.result_key, self.id)):
                im, ann = self._ann(sid)
                inst = single_instance(preds[0], sid)
                if len(inst) == 0 or inst.masks is None:
                    raise ResultsError(f"sample {sid}: interactive segmentation needs one mask, got none")
                rle = inst.rles()[0]
                res.add({"image_id": k + 1, "category_id": 1, "score": 1.0,
                         "segmentation": {"size": rle["size"], "counts": rle["counts"]}})
                gt.add({"id": k + 1, "height": im["height"], "width": im["width"],
                        "file_name": im.get("file_name"), "sample_id": sid}, "images")
                gt.add({"id": k + 1, "image_id": k + 1, "category_id": 1, "iscrowd": 0,
                        "bbox": ann["bbox"], "area": ann.get("area", 0),
                        "segmentation": ann["segmentation"]}, "annotations")
        return [gt.path, res.path]
