"""Image-side metrics: COCO, LVIS, YouTube-VIS, RefCOCO REC/RES, FSS-1000, ODinW13.

Metadata only (import paths, keys, options); nothing heavy is imported here.
"""
from . import register_metric
from .odinw import ODINW13

_COCO12 = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
_BACKEND = {"backend": "fast (vectorised, identical numbers; default) | faster-coco-eval | official (pycocotools)"}

register_metric(
    "coco-bbox",
    "evalkit.metrics.coco:coco_bbox",
    task="det",
    tags=("image", "coco"),
    description="COCO box AP/AR (12 COCOeval stats)",
    inputs="gt: COCO instances JSON; results: COCO results JSON list with bbox [x,y,w,h]",
    reports=_COCO12,
    primary="AP",
    oracle="pycocotools COCOeval (iouType=bbox)",
    options=_BACKEND,
)
register_metric(
    "coco-segm",
    "evalkit.metrics.coco:coco_segm",
    task="inst-seg",
    tags=("image", "coco"),
    description="COCO mask AP/AR (12 COCOeval stats)",
    inputs="gt: COCO instances JSON; results: COCO results JSON list with RLE segmentation",
    reports=_COCO12,
    primary="AP",
    oracle="pycocotools COCOeval (iouType=segm)",
    options=_BACKEND,
)
_LVIS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf", "AR@300", "ARs@300", "ARm@300", "ARl@300"]
register_metric(
    "lvis-bbox",
    "evalkit.metrics.lvis:lvis_bbox",
    task="det",
    tags=("image", "lvis"),
    description="LVIS box AP with rare/common/frequent splits (federated, 300 dets/image)",
    inputs="gt: LVIS JSON; results: LVIS results JSON list with bbox [x,y,w,h]",
    reports=_LVIS,
    primary="AP",
    oracle="lvis-api LVISEval (iou_type=bbox)",
)
register_metric(
    "lvis-segm",
    "evalkit.metrics.lvis:lvis_segm",
    task="inst-seg",
    tags=("image", "lvis"),
    description="LVIS mask AP with rare/common/frequent splits (federated, 300 dets/image)",
    inputs="gt: LVIS JSON; results: LVIS results JSON list with RLE segmentation",
    reports=_LVIS,
    primary="AP",
    oracle="lvis-api LVISEval (iou_type=segm)",
)
register_metric(
    "ytvis",
    "evalkit.metrics.ytvis:ytvis",
    task="vis",
    tags=("video", "vis"),
    description="YouTube-VIS 2019/2021 and OVIS video mask AP/AR (spatio-temporal IoU)",
    inputs="gt: YouTube-VIS instances JSON; results: list of per-video tracks with per-frame RLE segmentations",
    reports=_COCO12,
    primary="AP",
    oracle="youtubevos/cocoapi ytvoseval (re-implemented; cross-checked with TrackEval TrackMAP)",
)
register_metric(
    "refcoco-rec",
    "evalkit.metrics.refcoco:refcoco_rec",
    task="rec",
    tags=("image", "refcoco"),
    description="Referring expression comprehension precision P@0.5..0.9 (UNINEXT/UniRef)",
    inputs="gt: RefCOCO-as-COCO JSON (one image entry per expression); results: COCO results JSON list with bbox",
    reports=["P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9"],
    primary="P@0.5",
    oracle="UNINEXT/UniRef refcocoeval (IoU > thr, strict)",
    scale="percent",
    options={
        "compare": "'>' (UNINEXT/UniRef, default) or '>=' (LAVT-style)",
        "iou": "'iou' (default) or 'giou' (MDETR-style)",
    },
)
register_metric(
    "refcoco-res",
    "evalkit.metrics.refcoco:refcoco_res",
    task="res",
    tags=("image", "refcoco"),
    description="Referring expression segmentation oIoU, mIoU and P@0.5..0.9 (UNINEXT/UniRef)",
    inputs="gt: RefCOCO-as-COCO JSON (one image entry per expression); results: COCO results JSON list with RLE",
    reports=["oIoU", "mIoU", "P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9"],
    primary="oIoU",
    oracle="UNINEXT/UniRef refcocoeval (segm)",
    scale="percent",
    options={"compare": "'>' (UNINEXT/UniRef, default) or '>=' (LAVT-style) for P@X"},
)
register_metric(
    "fss",
    "evalkit.metrics.fss:fss",
    task="fss",
    tags=("image", "fss"),
    description="Few-shot segmentation (FSS-1000): per-query mIoU/oIoU (UniRef) and class-wise mIoU/FB-IoU (HSNet)",
    inputs="gt: FSS queries JSON with class ids and RLE masks; results: per-query RLE masks JSON",
    reports=["mIoU", "oIoU", "HSNet-mIoU", "FB-IoU"],
    primary="mIoU",
    oracle="UniRef RefCOCO-style evaluator; HSNet AverageMeter (re-implemented)",
    scale="percent",
)
register_metric(
    "odinw",
    "evalkit.metrics.odinw:odinw",
    task="det",
    tags=("image", "odinw"),
    description="ODinW13: COCO box AP per dataset and their mean",
    inputs="gt/results: mapping (or JSON manifest) dataset name -> COCO GT / results JSON",
    reports=["AP", *(f"AP/{n}" for n in ODINW13), "n_datasets"],
    primary="AP",
    oracle="pycocotools COCOeval per dataset, arithmetic mean of the 13 APs",
    count_keys=("n_datasets",),
    options={**_BACKEND, "require_all": "true (default): all 13 datasets needed; false: mean over those given"},
)
