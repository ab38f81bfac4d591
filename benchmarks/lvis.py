"""LVIS v1 val: federated instance detection / segmentation over 1203 categories.

Layout (GLEE ``datasets/lvis`` with the COCO images beside it)::

    lvis/lvis_v1_val.json
    coco/train2017/*.jpg, coco/val2017/*.jpg     (LVIS v1 images are COCO 2017 images)

LVIS v1 image entries carry no ``file_name``; the image is found from ``coco_url``
(``http://images.cocodataset.org/<split>/<file>`` → ``coco/<split>/<file>``), as detectron2 does.
Results: the LVIS results JSON (the COCO schema; mask results without ``bbox`` so that
lvis-api takes the mask area for the area ranges). The evaluator keeps the top 300 detections
per image; the writer keeps everything it is given.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DatasetError
from .coco import CocoStyleImages

__all__ = ["LvisInstances"]


class LvisInstances(CocoStyleImages):
    results_name = "lvis_results.json"

    def __init__(self, root: Path, id: str = "", annotations: str = "lvis_v1_val.json",
                 images: str = "../coco", **options: Any):
        super().__init__(root, id, annotations, images, **options)

    def image_path(self, im: dict) -> Path:
        if im.get("file_name"):
            return self.image_dir / im["file_name"]
        url = im.get("coco_url")
        if not url:
            raise DatasetError(f"{self.ann_file}: image {im.get('id')} has neither 'coco_url' nor 'file_name'")
        split, name = url.rstrip("/").split("/")[-2:]
        return self.image_dir / split / name
