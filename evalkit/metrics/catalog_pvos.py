"""Panoptic video object segmentation metric (declarations only)."""
from . import register_metric

register_metric(
    "viposeg",
    "evalkit.metrics.viposeg:viposeg",
    task="pvos",
    description="VIPOSeg PVOS: G over thing/stuff x seen/unseen (region + boundary IoU)",
    inputs="gt: VIPOSeg valid/ folder (Annotations_gt/, Annotations/, obj_class.json); "
           "results: folder <video>/<frame>.png (indexed PNG, value = object id)",
    reports=["G", "thing_seen_iou", "thing_unseen_iou", "stuff_seen_iou", "stuff_unseen_iou"],
    primary="G",
    oracle="VIPOSeg evaluator as shipped with UniVS (eval_pvos.py)",
    tags=("pvos",),
    scale="percent",
    options={"eval_decay": "also fit the official decay coefficient (default false)"},
)
