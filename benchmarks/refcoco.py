"""RefCOCO / RefCOCO+ / RefCOCOg: referring expression comprehension (REC, one box) and
segmentation (RES, one mask).

Layout (UNINEXT/GLEE ``datasets/annotations``: one image entry per referring expression, the
COCO train2014 images beside)::

    annotations/refcoco-unc/instances_{val,testA,testB}.json
    annotations/refcocoplus-unc/instances_{val,testA,testB}.json
    annotations/refcocog-umd/instances_{val,test}.json
    coco/train2014/COCO_train2014_000000000009.jpg ...

Each ``images`` entry is one expression: ``file_name``, ``height``, ``width``, ``id`` and the
text in ``caption`` (MDETR style) or ``expressions`` (a one-element list, UNINEXT style);
exactly one annotation (the referred object) points to it. Results: the COCO results JSON with
one record per expression (``image_id`` = the expression entry id, ``bbox`` for REC,
``segmentation`` RLE for RES), as the UNINEXT/UniRef RefCOCO evaluator reads it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DatasetError, ResultsError
from ..types import Expression, Frames, Sample
from ._common import coco_records, single_instance
from ._stream import StreamedJson, in_order
from .coco import CocoStyleImages

__all__ = ["RefCoco", "REFCOCO_SPLITS"]

#: dataset → (annotation folder, splits). RefCOCOg (umd) calls its splits val/test; the papers
#: print them as val-u/test-u.
REFCOCO_SPLITS = {
    "refcoco": ("refcoco-unc", ("val", "testA", "testB")),
    "refcoco+": ("refcocoplus-unc", ("val", "testA", "testB")),
    "refcocog": ("refcocog-umd", ("val", "test")),
}


class RefCoco(CocoStyleImages):
    """One RefCOCO-family split. ``variant`` in ``refcoco``, ``refcoco+``, ``refcocog``."""

    task = "rec"
    prompt = "expression"
    results_name = "refcoco_results.json"

    def __init__(self, root: Path, id: str = "", variant: str = "refcoco", split: str = "val",
                 images: str = "../coco/train2014", masks: bool = False, **options: Any):
        if variant not in REFCOCO_SPLITS or split not in REFCOCO_SPLITS[variant][1]:
            raise DatasetError(
                f"unknown RefCOCO split {variant}/{split}; known: "
                + ", ".join(f"{v}/{s}" for v, (_, ss) in REFCOCO_SPLITS.items() for s in ss)
            )
        folder = REFCOCO_SPLITS[variant][0]
        super().__init__(root, id, f"{folder}/instances_{split}.json", images, masks=masks, **options)
        self.variant, self.split = variant, split

    def expression(self, im: dict) -> str:
        text = im.get("caption")
        if text is None and im.get("expressions"):
            if len(im["expressions"]) != 1:
                raise DatasetError(
                    f"{self.ann_file}: image entry {im.get('id')} lists {len(im['expressions'])} "
                    f"expressions; the evaluation files hold one expression per entry"
                )
            text = im["expressions"][0]
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(
                f"{self.ann_file}: image entry {im.get('id')} has no expression "
                f"(expected a 'caption' string or an 'expressions' list)"
            )
        return text

    def validate(self) -> None:
        super().validate()
        idx = self.index
        for i in idx.image_ids():
            n = len(idx.anns_by_image.get(i, []))
            if n != 1:
                raise DatasetError(
                    f"{self.ann_file}: expression entry {i} has {n} annotations; RefCOCO files "
                    f"hold exactly one referred object per expression"
                )
            self.expression(idx.images[i])

    def load_sample(self, sample_id: str) -> Sample:
        try:
            im = self.index.images[int(sample_id)]
        except (KeyError, ValueError):
            raise DatasetError(f"{self.id}: no expression with id {sample_id!r} in {self.ann_file}") from None
        return Sample(
            sample_id,
            Frames.from_image(self.image_path(im), int(im.get("original_id", im["id"])), (im["height"], im["width"])),
            Expression(self.expression(im)),
            {"image_id": int(im["id"]), "file_name": im["file_name"]},
        )

    def result_key(self, sample_id: str) -> Any:
        return int(sample_id)  # expression ids in numeric order

    def write_stream(self, stream, results_dir: Path) -> list[Path]:
        with StreamedJson(self.results_path(results_dir)) as js:
            for sid, preds, _ in in_order(stream, self.result_key, self.id):
                if len(preds) != 1:
                    raise ResultsError(f"sample {sid}: an image takes 1 Instances, got {len(preds)}")
                inst = single_instance(preds[0], sid)
                if len(inst) == 0:
                    continue  # no prediction: the evaluator counts the expression as a miss
                cat = self.index.anns_by_image[int(sid)][0].get("category_id", 1)
                js.extend(coco_records(inst, int(sid), boxes=True, masks=self.masks, sample=sid, default_label=cat))
        return [js.path]
