"""Registers the built-in benchmark splits and groups (import paths and metadata only).

Every entry names its reader/writer class (``target``), the folder under the data root
(``dataset``), constructor ``options``, the ``task`` and ``prompt`` kind, the ``metric`` id
(``None`` for server-scored splits, ``server=True``) and ``paper``: the tables of the papers in
which the split is reported, as ``{"paper", "table", "benchmark", "split", "metric"}`` rows
matching ``paper_results.csv`` (used by the leaderboards).
"""
from __future__ import annotations

from ..registry import BENCHMARKS
from ..tasks import check_task, is_image_task

M = "evalkit.benchmarks"


def _p(paper: str, table: str, benchmark: str, split: str, *metrics: str) -> list[dict]:
    return [{"paper": paper, "table": table, "benchmark": benchmark, "split": split, "metric": m} for m in metrics]


def _reg(id: str, target: str, *, task: str, prompt: str, dataset: str, metric: str | None,
         description: str, tags: str | tuple[str, ...], options: dict | None = None, server: bool = False,
         paper: list[dict] | None = None) -> None:
    family = "image" if is_image_task(check_task(task, f"benchmark {id}")) else "video"
    tags = (tags,) if isinstance(tags, str) else tuple(tags)
    tags = tuple(dict.fromkeys((family, task) + tags + (("server",) if server else ())))
    _ALL.append((id, family, server))
    BENCHMARKS.register(id, f"{M}.{target}", task=task, tags=tags, description=description,
                        dataset=dataset, options=dict(options or {}), prompt=prompt, metric=metric,
                        server=server, paper=list(paper or []))


_ALL: list[tuple[str, str, bool]] = []  # (id, image|video, server) in registration order

COCO_AP = ("AP", "AP50", "AP75", "APs", "APm", "APl")

# ---------------------------------------------------------------------------------------------
# image-level
# ---------------------------------------------------------------------------------------------
_reg("coco-val2017-det", "coco:CocoInstances", task="det", prompt="categories", dataset="coco",
     metric="coco-bbox", description="COCO val2017 object detection (box AP)", tags=("coco"),
     paper=_p("UNINEXT", "Table 1", "COCO", "val2017", *COCO_AP) + _p("UNINEXT", "Table 11", "COCO", "val2017", "AP")
     + _p("GLEE", "Table 5", "COCO", "", "AP"))
_reg("coco-val2017-seg", "coco:CocoInstances", task="inst-seg", prompt="categories", dataset="coco",
     metric="coco-segm", options={"masks": True}, description="COCO val2017 instance segmentation (mask AP)",
     tags=("coco"), paper=_p("UNINEXT", "Table 2", "COCO", "val2017", "AP", "APs", "APm", "APl"))
_reg("coco-test-dev-det", "coco:CocoTestDev", task="det", prompt="categories", dataset="coco", metric=None,
     server=True, description="COCO test-dev 2017 detection: submission file for the COCO server", tags=("coco",))
_reg("coco-test-dev-seg", "coco:CocoTestDev", task="inst-seg", prompt="categories", dataset="coco", metric=None,
     server=True, options={"masks": True}, tags=("coco"),
     description="COCO test-dev 2017 instance segmentation: submission file for the COCO server",
     paper=_p("UNINEXT", "Table 2", "COCO", "test-dev", *COCO_AP))
_reg("coco-val2017-interactive", "coco:CocoInteractive", task="interactive", prompt="reference", dataset="coco",
     metric="refcoco-res", description="COCO val2017 interactive segmentation, 1 click per instance (mIoU)",
     tags=("coco"), paper=_p("GLEE", "Table 7", "COCO-interactive", "", "1-click-mIoU"))
_reg("lvis-v1-val-det", "lvis:LvisInstances", task="det", prompt="categories", dataset="lvis", metric="lvis-bbox",
     description="LVIS v1 val detection (box AP, federated)", tags=("lvis"))
_reg("lvis-v1-val-seg", "lvis:LvisInstances", task="inst-seg", prompt="categories", dataset="lvis",
     metric="lvis-segm", options={"masks": True}, description="LVIS v1 val instance segmentation (mask AP)",
     tags=("lvis"))

_REF_NAMES = {"refcoco": "RefCOCO", "refcoco+": "RefCOCO+", "refcocog": "RefCOCOg"}
_REF_SPLITS = {"refcoco": ("val", "testA", "testB"), "refcoco+": ("val", "testA", "testB"),
               "refcocog": ("val", "test")}
for _v, _splits in _REF_SPLITS.items():
    for _s in _splits:
        _ps = _s + "-u" if _v == "refcocog" else _s  # RefCOCOg umd splits print as val-u/test-u
        _bench = _REF_NAMES[_v]
        _reg(f"{_v}-{_ps}-rec", "refcoco:RefCoco", task="rec", prompt="expression", dataset="annotations",
             metric="refcoco-rec", options={"variant": _v, "split": _s},
             description=f"{_bench} {_ps} referring expression comprehension (P@0.5)",
             tags=("refcoco"),
             paper=_p("UNINEXT", "Table 3", _bench, _ps, "P@0.5")
             + (_p("UNINEXT", "Table 11", _bench, _ps, "P@0.5") + _p("GLEE", "Table 5", _bench, "", "P@0.5")
                if (_v, _s) == ("refcoco", "val") else []))
        _reg(f"{_v}-{_ps}-res", "refcoco:RefCoco", task="res", prompt="expression", dataset="annotations",
             metric="refcoco-res", options={"variant": _v, "split": _s, "masks": True},
             description=f"{_bench} {_ps} referring expression segmentation (oIoU, mIoU)",
             tags=("refcoco"),
             paper=_p("UNINEXT", "Table 4", _bench, _ps, "oIoU") + _p("UniRef++", "Table 1", _bench, _ps, "oIoU", "mIoU")
             + (_p("UniRef++", "Table 8", _bench, _ps, "oIoU", "mIoU") if (_v, _s) == ("refcoco", "val") else []))

for _k in (1, 5):
    _reg(f"fss1000-test-{_k}shot", "fss:Fss1000", task="fss", prompt="reference", dataset="fss-1000", metric="fss",
         options={"split": "test", "shot": _k}, description=f"FSS-1000 test, {_k}-shot segmentation (mIoU)",
         tags=("fss"), paper=_p("UniRef++", "Table 2", "FSS-1000", f"{_k}-shot", "mIoU")
         + _p("UniRef++", "Table 8", "FSS-1000", f"{_k}-shot", "mIoU"))
_reg("odinw13-val", "odinw:OdinW", task="det", prompt="categories", dataset="odinw", metric="odinw",
     description="ODinW-13 detection in the wild (mean box AP of 13 datasets)", tags=("odinw"),
     paper=_p("GLEE", "Table 5", "ODinW13", "", "AP") + _p("GLEE", "Table 8", "ODinW13", "zero-shot", "AP"))

# ---------------------------------------------------------------------------------------------
# single-object tracking
# ---------------------------------------------------------------------------------------------
_SOT = "sot:SotSequences"
_reg("lasot-test", _SOT, task="sot", prompt="reference", dataset="LaSOT", metric="sot",
     options={"layout": "lasot"}, description="LaSOT test (280 sequences): AUC, P_norm, P", tags=("sot"),
     paper=_p("UNINEXT", "Table 5", "LaSOT", "test", "AUC", "PNorm", "P"))
_reg("lasot-ext-test", _SOT, task="sot", prompt="reference", dataset="LaSOT_extension_subset", metric="sot",
     options={"layout": "lasot-ext"}, description="LaSOT extension subset (150 sequences): AUC, P_norm, P",
     tags=("sot"), paper=_p("UNINEXT", "Table 5", "LaSOT-ext", "test", "AUC", "PNorm", "P"))
_reg("tnl2k-test", _SOT, task="sot", prompt="reference", dataset="TNL-2K", metric="sot",
     options={"layout": "tnl2k"}, description="TNL-2K test (700 sequences): AUC, P", tags=("sot"),
     paper=_p("UNINEXT", "Table 5", "TNL-2K", "test", "AUC", "P"))
_reg("trackingnet-test", _SOT, task="sot", prompt="reference", dataset="TrackingNet", metric=None, server=True,
     options={"layout": "trackingnet"}, description="TrackingNet test (511 sequences): submission for the server",
     tags=("sot"), paper=_p("UNINEXT", "Table 5", "TrackingNet", "test", "AUC", "PNorm", "P"))
_reg("got10k-val", _SOT, task="sot", prompt="reference", dataset="GOT10K", metric="sot",
     options={"layout": "got10k", "split": "val"}, description="GOT-10k val (180 sequences): AO, SR0.5, SR0.75",
     tags=("sot",))
_reg("got10k-test", _SOT, task="sot", prompt="reference", dataset="GOT10K", metric=None, server=True,
     options={"layout": "got10k", "split": "test"}, description="GOT-10k test (180 sequences): submission",
     tags=("sot",))

# ---------------------------------------------------------------------------------------------
# video object segmentation
# ---------------------------------------------------------------------------------------------
_reg("davis17-val", "davis:Davis17", task="vos", prompt="reference", dataset="DAVIS", metric="davis-semi",
     description="DAVIS 2017 val semi-supervised VOS (J&F)", tags=("vos"),
     paper=_p("UNINEXT", "Table 6", "DAVIS-2017", "val", "J&F", "J", "F")
     + _p("UniRef++", "Table 5", "DAVIS-2017", "val", "J&F", "J", "F") + _p("UniRef++", "Table 8", "DAVIS-2017", "val", "J&F")
     + _p("UniVS", "Table 1b", "DAVIS-2017", "val", "J&F") + _p("UniVS", "Table 2", "DAVIS-2017", "val", "J&F"))
_YTVOS_KEYS = ("G", "Js", "Fs", "Ju", "Fu")
_reg("ytvos18-val", "ytvos:YouTubeVOS", task="vos", prompt="reference", dataset="ytbvos18", metric=None, server=True,
     description="YouTube-VOS 2018 val: submission for the CodaLab server (G)",
     tags=("vos"),
     paper=_p("UNINEXT", "Table 6", "YouTube-VOS-2018", "val", *_YTVOS_KEYS)
     + _p("UNINEXT", "Table 11", "YouTube-VOS-2018", "val", "G")
     + _p("UniRef++", "Table 5", "YouTube-VOS-2018", "val", *_YTVOS_KEYS)
     + _p("UniRef++", "Table 8", "YouTube-VOS-2018", "val", "G")
     + _p("UniVS", "Table 1b", "YouTube-VOS-2018", "val", "G") + _p("UniVS", "Table 2", "YouTube-VOS-2018", "val", "G")
     + _p("GLEE", "Table 4", "YouTube-VOS-2018", "val", *_YTVOS_KEYS))
_reg("ytvos19-val", "ytvos:YouTubeVOS", task="vos", prompt="reference", dataset="ytbvos19", metric=None, server=True,
     description="YouTube-VOS 2019 val: submission for the CodaLab server (G)", tags=("vos"),
     paper=_p("UniRef++", "Table 5", "YouTube-VOS-2019", "val", *_YTVOS_KEYS)
     + _p("UniRef++", "Table 8", "YouTube-VOS-2019", "val", "G"))
_reg("mose-val", "mose:Mose", task="vos", prompt="reference", dataset="mose", metric=None, server=True,
     description="MOSE val: submission for the CodaLab server (J&F)", tags=("vos"),
     paper=_p("UniRef++", "Table 4", "MOSE", "val", "J&F", "J", "F") + _p("GLEE", "Table 4", "MOSE", "val", "J&F", "J", "F"))
_reg("lvos-val", "lvos:Lvos", task="vos", prompt="reference", dataset="lvos", metric="lvos",
     description="LVOS val long-term VOS (J&F)", tags=("vos"),
     paper=_p("UniRef++", "Table 4", "LVOS", "val", "J&F", "J", "F"))

# ---------------------------------------------------------------------------------------------
# referring VOS
# ---------------------------------------------------------------------------------------------
_reg("ref-ytvos-val", "refytvos:RefYouTubeVOS", task="rvos", prompt="expression", dataset="ref-youtube-vos",
     metric=None, server=True, description="Ref-YouTube-VOS val: submission for the CodaLab server (J&F)",
     tags=("rvos"),
     paper=_p("UNINEXT", "Table 10", "Ref-YouTube-VOS", "val", "J&F", "J", "F")
     + _p("UNINEXT", "Table 11", "Ref-YouTube-VOS", "val", "J&F")
     + _p("UniRef++", "Table 3", "Ref-YouTube-VOS", "val", "J&F", "J", "F")
     + _p("UniRef++", "Table 8", "Ref-YouTube-VOS", "val", "J&F")
     + _p("UniVS", "Table 1b", "Ref-YouTube-VOS", "val", "J&F") + _p("UniVS", "Table 2", "Ref-YouTube-VOS", "val", "J&F")
     + _p("GLEE", "Table 6", "Ref-YouTube-VOS", "val", "J&F", "J", "F"))
_reg("ref-davis17-val", "refdavis:RefDavis17", task="rvos", prompt="expression", dataset="ref-davis",
     metric="ref-davis", description="Ref-DAVIS17 val, J&F averaged over the 4 annotators",
     tags=("rvos"),
     paper=_p("UNINEXT", "Table 10", "Ref-DAVIS-2017", "val", "J&F", "J", "F")
     + _p("UniRef++", "Table 3", "Ref-DAVIS-2017", "val", "J&F", "J", "F")
     + _p("UniRef++", "Table 8", "Ref-DAVIS-2017", "val", "J&F")
     + _p("UniVS", "Table 1b", "Ref-DAVIS-2017", "val", "J&F") + _p("UniVS", "Table 2", "Ref-DAVIS-2017", "val", "J&F"))

# ---------------------------------------------------------------------------------------------
# video instance segmentation (val: server; dev = 10% of train: local)
# ---------------------------------------------------------------------------------------------
# val annotation / frame folder: the official name first, then the UNINEXT/GLEE copies
_VIS = {
    "ytvis19": ("ytvis_2019", ["valid.json", "annotations/instances_val_sub.json"],
                ["valid/JPEGImages", "val/JPEGImages"], "train/JPEGImages", "YouTube-VIS 2019", "YouTube-VIS-2019"),
    "ytvis21": ("ytvis_2021", ["valid/instances.json", "annotations/instances_val_sub.json"],
                ["valid/JPEGImages", "val/JPEGImages"], "train/JPEGImages", "YouTube-VIS 2021", "YouTube-VIS-2021"),
    "ovis": ("ovis", ["annotations_valid.json", "annotations/annotations_valid.json"], ["valid", "valid/JPEGImages"],
             "train", "OVIS", "OVIS"),
}
for _k, (_ds, _ann, _img, _train, _name, _bench) in _VIS.items():
    _paper = _p("UniVS", "Table 1a", _bench, "val", "AP") + _p("UniVS", "Table 2", _bench, "val", "AP")
    if _k in ("ytvis19", "ovis"):
        _paper += _p("UNINEXT", "Table 9", _bench, "val", "AP", "AP50", "AP75")
        _paper += _p("GLEE", "Table 5", _bench, "", "AP")
    if _k == "ytvis19":
        _paper += _p("UNINEXT", "Table 11", _bench, "val", "AP")
    _reg(f"{_k}-val", "ytvis:YouTubeVIS", task="vis", prompt="categories", dataset=_ds, metric=None, server=True,
         options={"annotations": _ann, "images": _img}, description=f"{_name} val: submission for the CodaLab server (AP)",
         tags=("vis",), paper=_paper)
    _dev_paper = (_p("UniVS", "Table 3a", _bench, "dev", "AP") + _p("UniVS", "Table 3b", _bench, "dev", "AP")
                  if _k != "ytvis19" else [])
    _reg(f"{_k}-dev", "ytvis:YouTubeVIS", task="vis", prompt="categories", dataset=_ds, metric="ytvis",
         options={"annotations": "valid_sub.json", "images": _train},
         description=f"{_name} dev (10% of train, local AP)", tags=("vis"), paper=_dev_paper)

# ---------------------------------------------------------------------------------------------
# MOT / MOTS, open-world tracking
# ---------------------------------------------------------------------------------------------
_reg("bdd100k-box-track-val", "bdd100k:BddBoxTrack", task="mot", prompt="categories", dataset="bdd100k",
     metric="bdd100k-box-track", description="BDD100K box tracking val (mMOTA, mIDF1)", tags=("mot"),
     paper=_p("UNINEXT", "Table 7", "BDD100K-MOT", "val", "mMOTA", "mIDF1", "MOTA", "IDF1", "IDSw"))
_reg("bdd100k-seg-track-val", "bdd100k:BddSegTrack", task="mots", prompt="categories", dataset="bdd100k",
     metric="bdd100k-seg-track", description="BDD100K segmentation tracking val (mMOTSA, mIDF1)",
     tags=("mots"),
     paper=_p("UNINEXT", "Table 8", "BDD100K-MOTS", "val", "mMOTSA", "mMOTSP", "mIDF1", "IDSw"))
_reg("tao-val", "tao:TaoVideos", task="ow-track", prompt="categories", dataset="TAO", metric="tao-teta",
     description="TAO val open-vocabulary tracking (TETA)", tags=("ow-track"),
     paper=_p("GLEE", "Table 5", "TAO", "", "TETA"))
_reg("burst-val", "burst:BurstVideos", task="ow-track", prompt="categories", dataset="burst", metric="burst",
     description="BURST val class-guided tracking (HOTA)", tags=("ow-track"),
     paper=_p("GLEE", "Table 5", "BURST", "", "HOTA"))

# ---------------------------------------------------------------------------------------------
# video semantic / panoptic segmentation, panoptic VOS
# ---------------------------------------------------------------------------------------------
_reg("vspw-val", "vspw:Vspw", task="vss", prompt="categories", dataset="VSPW_480p", metric="vspw",
     description="VSPW val video semantic segmentation (mIoU, mVC8)", tags=("vss"),
     paper=_p("UniVS", "Table 1a", "VSPW", "val", "mIoU", "mVC8") + _p("UniVS", "Table 2", "VSPW", "val", "mIoU", "mVC8"))
_reg("vipseg-val", "vipseg:VipSeg", task="vps", prompt="categories", dataset="VIPSeg", metric="vipseg",
     description="VIPSeg val video panoptic segmentation (VPQ, STQ)", tags=("vps"),
     paper=_p("UniVS", "Table 1a", "VIPSeg", "val", "VPQ", "STQ") + _p("UniVS", "Table 2", "VIPSeg", "val", "VPQ", "STQ")
     + _p("UniVS", "Table 3a", "VIPSeg", "val", "VPQ", "STQ") + _p("UniVS", "Table 3b", "VIPSeg", "val", "VPQ", "STQ"))
_reg("viposeg-val", "viposeg:VipOSeg", task="pvos", prompt="reference", dataset="VIPOSeg", metric="viposeg",
     description="VIPOSeg val panoptic VOS (G over thing/stuff x seen/unseen)", tags=("pvos",),
     paper=_p("UniVS", "Table 1b", "VIPOSeg", "val", "G") + _p("UniVS", "Table 2", "VIPOSeg", "val", "G"))

# ---------------------------------------------------------------------------------------------
# groups (ordered as the papers' tables)
# ---------------------------------------------------------------------------------------------
# Every split UNINEXT Tables 1-10 report (31 splits of its 20 benchmarks).
UNINEXT_SPLITS = (
    "coco-val2017-det", "coco-val2017-seg", "coco-test-dev-seg",
    "refcoco-val-rec", "refcoco-testA-rec", "refcoco-testB-rec",
    "refcoco+-val-rec", "refcoco+-testA-rec", "refcoco+-testB-rec", "refcocog-val-u-rec", "refcocog-test-u-rec",
    "refcoco-val-res", "refcoco-testA-res", "refcoco-testB-res",
    "refcoco+-val-res", "refcoco+-testA-res", "refcoco+-testB-res", "refcocog-val-u-res", "refcocog-test-u-res",
    "lasot-test", "lasot-ext-test", "tnl2k-test", "trackingnet-test",
    "davis17-val", "ytvos18-val", "bdd100k-box-track-val", "bdd100k-seg-track-val",
    "ytvis19-val", "ovis-val", "ref-ytvos-val", "ref-davis17-val",
)
# "20 challenging benchmarks from 10 instance-level tasks" (UNINEXT abstract): one split per
# benchmark, the one its section names first: detection on COCO val2017 and instance
# segmentation on COCO test-dev ("on COCO val2017 and test-dev respectively", Sec. 4.2), the
# val split of RefCOCO/+/g for REC and RES, the four SOT test sets, DAVIS-2017 val, YouTube-VOS
# 2018 val, BDD100K MOT and MOTS val, YouTube-VIS 2019 and OVIS val, Ref-YouTube-VOS and
# Ref-DAVIS17 val.
UNINEXT_20 = (
    "coco-val2017-det", "coco-test-dev-seg",
    "refcoco-val-rec", "refcoco+-val-rec", "refcocog-val-u-rec",
    "refcoco-val-res", "refcoco+-val-res", "refcocog-val-u-res",
    "lasot-test", "lasot-ext-test", "tnl2k-test", "trackingnet-test",
    "davis17-val", "ytvos18-val", "bdd100k-box-track-val", "bdd100k-seg-track-val",
    "ytvis19-val", "ovis-val", "ref-ytvos-val", "ref-davis17-val",
)
BENCHMARKS.register_group("uninext-20", UNINEXT_20,
                          "the 20 benchmarks of UNINEXT (one split each: COCO det val2017 and seg test-dev, RefCOCO/+/g val, ...)")
BENCHMARKS.register_group("uninext", UNINEXT_SPLITS, "every split UNINEXT Tables 1-10 report (31 splits of its 20 benchmarks)")
BENCHMARKS.register_group("uniref", (
    *(f"{v}-{s}-res" for v, ss in (("refcoco", ("val", "testA", "testB")), ("refcoco+", ("val", "testA", "testB")),
                                  ("refcocog", ("val-u", "test-u"))) for s in ss),
    "fss1000-test-1shot", "fss1000-test-5shot", "ref-ytvos-val", "ref-davis17-val",
    "lvos-val", "mose-val", "davis17-val", "ytvos18-val", "ytvos19-val",
), "the benchmarks of the UniRef++ paper")
BENCHMARKS.register_group("glee", (
    "coco-val2017-det", "coco-val2017-seg", "lvis-v1-val-det", "lvis-v1-val-seg", "refcoco-val-rec",
    "refcoco+-val-rec", "refcocog-val-u-rec", "coco-val2017-interactive", "odinw13-val",
    "ytvis19-val", "ovis-val", "tao-val", "burst-val", "ref-ytvos-val", "ytvos18-val", "mose-val",
), "the benchmarks of the GLEE paper")
BENCHMARKS.register_group("univs", (
    "ytvis19-val", "ytvis21-val", "ovis-val", "ytvis21-dev", "ovis-dev", "vspw-val", "vipseg-val",
    "davis17-val", "ytvos18-val", "viposeg-val", "ref-ytvos-val", "ref-davis17-val",
), "the benchmarks of the UniVS paper")
BENCHMARKS.register_group("image", tuple(i for i, f, _ in _ALL if f == "image"), "image-level benchmarks")
BENCHMARKS.register_group("video", tuple(i for i, f, _ in _ALL if f == "video"), "video-level benchmarks")
BENCHMARKS.register_group("server", tuple(i for i, _, s in _ALL if s),
                          "splits scored by an evaluation server (the run writes the upload file)")

from .shapes import catalog as _shapes_catalog  # noqa: E402,F401  (the embedded suite)
