"""Registers the shapes suite (group ``shapes``): the val splits of the generated datasets,
scored with the official metrics of the datasets they imitate."""
from __future__ import annotations

from ...registry import BENCHMARKS

M = "evalkit.benchmarks.shapes.suite"

#: id → (class, task, prompt, dataset, metric, options, description)
SHAPES_BENCHMARKS = {
    "shapes-coco-det": ("ShapesCoco", "det", "categories", "shapes-coco", "coco-bbox", {},
                        "shapes-coco val detection (box AP)"),
    "shapes-coco-seg": ("ShapesCoco", "inst-seg", "categories", "shapes-coco", "coco-segm", {"masks": True},
                        "shapes-coco val instance segmentation (mask AP)"),
    "shapes-refcoco-rec": ("ShapesRefCoco", "rec", "expression", "shapes-refcoco", "refcoco-rec", {},
                           "shapes-refcoco val referring expression comprehension (P@0.5)"),
    "shapes-refcoco-res": ("ShapesRefCoco", "res", "expression", "shapes-refcoco", "refcoco-res",
                           {"masks": True}, "shapes-refcoco val referring expression segmentation (oIoU)"),
    "shapes-davis": ("ShapesDavis", "vos", "reference", "shapes-davis", "davis-semi", {},
                     "shapes-davis val semi-supervised VOS (J&F)"),
    "shapes-ytvis": ("ShapesYtvis", "vis", "categories", "shapes-ytvis", "ytvis", {},
                     "shapes-ytvis val video instance segmentation (AP)"),
    "shapes-sot": ("ShapesSot", "sot", "reference", "shapes-sot", "sot", {},
                   "shapes-sot val single-object tracking (GOT-10k AO)"),
    "shapes-mot": ("ShapesMot", "mot", "categories", "shapes-mot", "mot-challenge", {},
                   "shapes-mot val multi-object tracking (HOTA, MOTA, IDF1)"),
}

# tagged "shapes" only: task and "image"/"video" tags select the real datasets
for _id, (_cls, _task, _prompt, _ds, _metric, _opts, _desc) in SHAPES_BENCHMARKS.items():
    BENCHMARKS.register(_id, f"{M}:{_cls}", task=_task, tags=("shapes",), description=_desc,
                        dataset=_ds, options=dict(_opts), prompt=_prompt, metric=_metric, server=False, paper=[])
BENCHMARKS.register_group("shapes", tuple(SHAPES_BENCHMARKS),
                          "the embedded synthetic suite (generated on first use; runs on a CPU in minutes)")
