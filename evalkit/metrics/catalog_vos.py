"""Video object segmentation, video semantic/panoptic segmentation and single-object tracking
metrics (declarations only: nothing heavy is imported here)."""
from . import register_metric

_JF = ["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"]

register_metric(
    "davis-semi",
    "evalkit.metrics.davis:davis_semi",
    task="vos",
    description="DAVIS-2017 semi-supervised J&F (region J, boundary F; mean, recall, decay)",
    inputs="gt: DAVIS root or folder <seq>/<frame>.png; results: folder <seq>/<frame>.png (indexed PNG, value = object id)",
    reports=_JF,
    primary="J&F-Mean",
    oracle="davisvideochallenge/davis2017-evaluation (semi-supervised)",
    tags=("vos",),
    options={
        "subset": "ImageSets/2017/<subset>.txt when gt is a DAVIS root (default val)",
        "resolution": "Annotations/<resolution> (default 480p)",
        "sequences": "comma-separated sequence names (default: all)",
        "bound_th": "boundary tolerance, fraction of the diagonal or pixels if >= 1 (default 0.008)",
        "fix_decay_wrap": "use integer decay bins instead of the official uint8 ones (wrap above 256 frames)",
        "per_object": "add seq/<seq>_<k>/J-Mean and F-Mean keys (the official per-sequence csv)",
        "workers": "processes (0 = one per core)",
    },
)

register_metric(
    "davis-unsup",
    "evalkit.metrics.davis_unsup:davis_unsup",
    task="vos",
    description="DAVIS-2017 unsupervised J&F (void excluded, Hungarian-matched proposals, all frames)",
    inputs="gt: DAVIS root (Annotations_unsupervised) or folder <seq>/<frame>.png; results: folder <seq>/<frame>.png",
    reports=_JF,
    primary="J&F-Mean",
    oracle="davisvideochallenge/davis2017-evaluation (unsupervised)",
    tags=("vos",),
    options={
        "subset": "ImageSets/2017/<subset>.txt when gt is a DAVIS root (default val)",
        "sequences": "comma-separated sequence names (default: all)",
        "max_proposals": "largest proposal id allowed (default 20)",
        "fix_decay_wrap": "integer decay bins instead of the official uint8 ones",
    },
)

register_metric(
    "ref-davis",
    "evalkit.metrics.davis:ref_davis",
    task="rvos",
    description="Ref-DAVIS17: DAVIS J&F per referring-annotator split (4 runs), averaged",
    inputs="gt: Ref-DAVIS root (Annotations_unsupervised) or mask folder; results: folder of split folders, each <seq>/<frame>.png",
    reports=["J&F", "J", "F"],
    primary="J&F",
    oracle="davis2017-evaluation evaluation_method.py (default task: unsupervised) per split, averaged, as UniRef documents",
    tags=("rvos",),
    options={
        "task": "unsupervised (default, what the documented command runs) | semi-supervised",
        "splits": "split folder names (default: every sub-folder)",
        "split_gt": "{split: ground truth} per split instead of gt (a partial run's restricted copies)",
    },
)

register_metric(
    "ytvos",
    "evalkit.metrics.ytvos:ytvos",
    task="vos",
    description="YouTube-VOS G and J/F on seen/unseen categories (splits with local GT)",
    inputs="gt: split folder with Annotations/<video>/<frame>.png and meta.json; results: <video>/<frame>.png",
    reports=["G", "J_s", "F_s", "J_u", "F_u"],
    primary="G",
    oracle="none public (CodaLab server); DAVIS-style per-object J/F, documented assumptions",
    tags=("vos",),
    options={"unseen_categories": "unseen category names (list, comma-separated or a file)", "bound_th": "as davis-semi"},
)

register_metric(
    "lvos",
    "evalkit.metrics.lvos:lvos",
    task="vos",
    description="LVOS J&F on seen/unseen videos and the J&F variance V",
    inputs="gt: LVOS split root (<subset>_meta.json, Annotations/, unseen_videos.txt); results: <video>/<8-digit frame>.png",
    reports=["J&F-Mean", "J-Mean", "J-seen-Mean", "J-unseen-Mean", "F-Mean", "F-seen-Mean", "F-unseen-Mean",
             "V-Mean", "V-seen-Mean", "V-unseen-Mean"],
    primary="J&F-Mean",
    oracle="LingyiHongfd/lvos-evaluation (semi-supervised)",
    tags=("vos",),
    options={"subset": "meta file prefix (default valid)", "unseen": "unseen video list (file or names)"},
)

register_metric(
    "sot",
    "evalkit.metrics.sot:sot",
    task="sot",
    description="single-object tracking success/precision (LaSOT, LaSOT-ext, TNL2K, GOT-10k, TrackingNet)",
    inputs="gt: folder of sequences with groundtruth.txt (LaSOT flags, GOT-10k meta) or TrackingNet anno/; results: <seq>.txt (GOT-10k <seq>/<seq>_NNN.txt)",
    reports=["AUC", "OP50", "OP75", "Precision", "Norm Precision", "AO", "SR0.5", "SR0.75"],
    primary="AUC",
    oracle="pytracking/OSTrack extract_results (lasot, lasot-ext, tnl2k); got10k toolkit; TrackingNet devkit",
    tags=("sot",),
    scale="percent",
    options={
        "protocol": "lasot | lasot-ext | tnl2k (AUC, OP50, OP75, Precision, Norm Precision) | got10k (AO, SR0.5, SR0.75) | trackingnet (AUC, Precision, Norm Precision)",
        "variant": "lasot/lasot-ext/tnl2k: uninext (default, UNINEXT/OSTrack extract_results.py: valid frame = GT w, h > 0; "
                   "LaSOT-ext uses the 'lasot' rules) or pytracking (pytracking master: all four GT values > 0; "
                   "LaSOT-ext uses the non-lasot rules)",
        "sequences": "comma-separated subset of sequences",
    },
)

register_metric(
    "vspw",
    "evalkit.metrics.vspw:vspw",
    task="vss",
    description="VSPW mIoU and video consistency mVC8 / mVC16",
    inputs="gt: VSPW root (data/<video>/mask/*.png, <split>.txt); results: <video>/<frame>.png (classes 0..123)",
    reports=["mIoU", "mVC8", "mVC16"],
    primary="mIoU",
    oracle="sssdddwww2/CVPR2021_VSPW_Implement (Evaluator, VC_perclip.py)",
    tags=("vss",),
    options={"split": "video list <split>.txt (default val)", "videos": "explicit video names",
             "vc": "window lengths of mVC<n> (default 8,16; VC_perclip.py windows i in [0, L - n))",
             "vc_labels": "GT labels of the VC test: raw (default, VC_perclip.py) or univs (UniVS map_category_id: "
                          "'others' 0 and void 255 merged)"},
)

register_metric(
    "vipseg",
    "evalkit.metrics.vipseg:vipseg",
    task="vps",
    description="VIPSeg VPQ (all/things/stuff) and STQ, AQ, SQ",
    inputs="gt: panoptic GT JSON (+ panomasksRGB/ beside it); results: folder with pred.json and pan_pred/<video>/*.png",
    reports=["VPQ", "VPQ_thing", "VPQ_stuff", "STQ", "AQ", "SQ"],
    primary="VPQ",
    oracle="VIPSeg-Dataset eval_vpq_vspw.py and eval_stq_vspw.py (deeplab2 numpy STQuality)",
    tags=("vps",),
    scale="percent",
    options={"gt_masks": "GT PNG folder (default panomasksRGB beside the JSON)", "metrics": "vpq,stq (default both)"},
)
