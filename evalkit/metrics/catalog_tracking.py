"""Multi-object tracking metrics: MOTChallenge / MOTS (TrackEval), BDD100K, TAO TETA, BURST.

Declarations only (import paths and metadata); nothing heavy is imported here.
"""
from . import register_metric

_BDD_OPTIONS = {
    "iou_thr": "minimum IoU of a match (default 0.5)",
    "ignore_iof_thr": "ignore-region coverage (intersection / prediction area) above which an unmatched prediction is dropped (default 0.5)",
    "categories": "leaf classes to evaluate (default the 8 BDD100K classes)",
    "bdd100k_mapping": "apply bdd100k's category renaming and ignored mapping (default true)",
    "ignore_unknown_cats": "skip labels of unknown categories instead of failing (default false)",
}
_BDD_COUNTS = ("FP", "FN", "IDSw", "MT", "PT", "ML", "FM")

register_metric(
    "bdd100k-box-track",
    "evalkit.metrics.bdd100k:box_track",
    task="mot",
    description="BDD100K box tracking: mMOTA, mIDF1, mMOTP over 8 classes + pooled CLEAR/ID counts",
    inputs="gt/results: Scalabel JSON (file, folder of files, or loaded frames) with box2d labels",
    reports=["mMOTA", "mIDF1", "mMOTP", "MOTA", "IDF1", "MOTP", *_BDD_COUNTS],
    primary="mMOTA",
    oracle="bdd100k 1.0.1 `bdd100k.eval.run -t box_track` (scalabel 0.3.1, motmetrics 1.4.0)",
    tags=("bdd100k", "tracking"),
    scale="percent",
    count_keys=_BDD_COUNTS,
    options=_BDD_OPTIONS,
)
register_metric(
    "bdd100k-seg-track",
    "evalkit.metrics.bdd100k:seg_track",
    task="mots",
    description="BDD100K segmentation tracking: mMOTSA (mMOTA), mMOTSP (mMOTP), mIDF1 + pooled counts",
    inputs="gt/results: folders of RGBA bitmask PNGs (<video>/<frame>.png), or Scalabel JSON with RLE masks",
    reports=["mMOTSA", "mMOTSP", "mIDF1", "mMOTA", "mMOTP", "MOTSA", "MOTSP", "MOTA", "IDF1", "MOTP", *_BDD_COUNTS],
    primary="mMOTSA",
    oracle="bdd100k 1.0.1 `bdd100k.eval.run -t seg_track` (scalabel 0.3.1, motmetrics 1.4.0)",
    tags=("bdd100k", "tracking"),
    scale="percent",
    count_keys=_BDD_COUNTS,
    options=_BDD_OPTIONS,
)

_TE_COUNTS = ("CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag", "IDTP", "IDFN", "IDFP",
              "HOTA_TP", "HOTA_FN", "HOTA_FP", "CLR_Frames", "Dets", "GT_Dets", "IDs", "GT_IDs")
register_metric(
    "mot-challenge",
    "evalkit.metrics.motchallenge:mot_challenge",
    task="mot",
    description="MOTChallenge box tracking: HOTA, CLEAR (MOTA, MOTP, ...) and Identity (IDF1, ...) via TrackEval",
    inputs="gt: folder of <seq>/gt/gt.txt (MOTChallenge layout) or {seq: file}; results: folder of <seq>.txt or {seq: file}",
    reports=["HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDP", "IDR", *_TE_COUNTS],
    primary="HOTA",
    oracle="TrackEval 1.3.0 MotChallenge2DBox (HOTA, CLEAR, Identity)",
    tags=("motchallenge", "tracking"),
    scale="fraction",
    count_keys=_TE_COUNTS,
    options={
        "benchmark": "MOT15, MOT16, MOT17 (default) or MOT20: selects TrackEval's preprocessing",
        "do_preproc": "TrackEval preprocessing (distractor / zero_marked removal; never for MOT15; default true)",
        "metrics": "metric families, subset of HOTA, CLEAR, Identity",
    },
)
register_metric(
    "mots-challenge",
    "evalkit.metrics.motchallenge:mots_challenge",
    task="mots",
    description="MOTS-Challenge: sMOTSA, MOTSA, MOTSP, IDF1 and HOTA (mask IoU) via TrackEval",
    inputs="gt: folder of <seq>/gt/gt.txt or {seq: file}; results: folder of <seq>.txt (frame id class h w rle)",
    reports=["sMOTSA", "MOTSA", "MOTSP", "HOTA", "DetA", "AssA", "IDF1", *_TE_COUNTS],
    primary="HOTA",
    oracle="TrackEval 1.3.0 MOTSChallenge (HOTA, CLEAR, Identity)",
    tags=("motchallenge", "tracking"),
    scale="fraction",
    count_keys=_TE_COUNTS,
    options={"metrics": "metric families, subset of HOTA, CLEAR, Identity"},
)

register_metric(
    "tao-teta",
    "evalkit.metrics.teta:tao_teta",
    task="mot",
    description="TAO TETA = (LocA + AssocA + ClsA) / 3, class-averaged (Li et al., ECCV 2022)",
    inputs="gt: TAO annotation JSON (path or dict); results: JSON list of {image_id, category_id, bbox xywh, score, track_id}",
    reports=["TETA", "LocA", "AssocA", "ClsA", "LocRe", "LocPr", "AssocRe", "AssocPr", "ClsRe", "ClsPr"],
    primary="TETA",
    oracle="SysCV/tet teta toolkit (TAO dataset, exhaustive=False, threshold 50)",
    tags=("tao", "tracking"),
    scale="percent",
    options={"max_detections": "keep the best N predictions per image (default 0 = unlimited)"},
)

register_metric(
    "burst",
    "evalkit.metrics.burst:burst",
    task="mots",
    description="BURST: HOTA/DetA/AssA/AP averaged over all, common and uncommon classes; OWTA for open-world",
    inputs="gt: BURST split folder (all/common/uncommon_classes.json) or one annotation JSON; results: BURST-format prediction JSON",
    reports=["HOTA_all", "HOTA_common", "HOTA_uncommon", "DetA_all", "AssA_all", "AP_all",
             "OWTA_all", "OWTA_common", "OWTA_uncommon"],
    primary="HOTA_all",
    oracle="BURST-benchmark burstapi/eval/run.py (TrackEval BURST / BURST_OW datasets, HOTA + TrackMAP)",
    tags=("burst", "tracking"),
    scale="percent",
    options={
        "task": "class_guided (default), exemplar_guided or open_world (reports OWTA/DetRe/AssA)",
        "max_detections": "predictions kept per image, highest score first (default 300, 0 = unlimited)",
        "exemplar_classes": "exemplar_guided only: predicted (default, run.py: tracks keep their own classes and ids) "
                            "or ground_truth (each track takes its GT track's class, the converter's exemplar path)",
    },
)
