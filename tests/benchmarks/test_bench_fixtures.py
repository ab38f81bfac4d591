"""Writers on real data: official result files turned into ``Instances``, written back by the
benchmark writers and scored, give the official toolkits' published numbers."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.benchmarks.bdd100k import BDD_CLASSES, BddBoxTrack
from evalkit.benchmarks.coco import CocoInstances
from evalkit.registry import METRICS
from evalkit.types import Instances, box_convert

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"


def _need(metric: str, folder: str) -> Path:
    d = FIXTURES / folder
    if not d.is_dir():
        pytest.skip(f"{d} is absent")
    METRICS.load(metric)
    return d


def _coco_bench(tmp_path, d: Path, masks: bool) -> CocoInstances:
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations/instances_val2014.json").symlink_to((d / "instances_val2014_100.json").resolve())
    return CocoInstances(root, "coco-fixture", annotations="annotations/instances_val2014.json",
                         images="val2014", masks=masks)


@pytest.mark.parametrize("kind,metric,ap", [("bbox", "coco-bbox", 0.5045806987), ("segm", "coco-segm", 0.3195452759)])
def test_coco_fake_results_round_trip(kind, metric, ap, tmp_path):
    d = _need(metric, "coco-val2014-100")
    bench = _coco_bench(tmp_path, d, masks=kind == "segm")
    bench.metric = metric
    dets = json.loads((d / f"instances_val2014_fake{kind}100_results.json").read_text())
    by_image: dict[int, list[dict]] = {}
    for r in dets:
        by_image.setdefault(r["image_id"], []).append(r)
    preds, metas = {}, {}
    for sid in bench.sample_ids():
        im = bench.index.images[int(sid)]
        rs = by_image.get(int(sid), [])
        size = (im["height"], im["width"])
        if kind == "bbox":
            inst = Instances(size, boxes=box_convert([r["bbox"] for r in rs], "xywh", "xyxy"),
                             scores=[r["score"] for r in rs], labels=[r["category_id"] for r in rs])
        else:
            inst = Instances(size, masks=[r["segmentation"] for r in rs],
                             scores=[r["score"] for r in rs], labels=[r["category_id"] for r in rs])
        preds[sid], metas[sid] = [inst], {"image_id": int(sid)}
    bench.write_results(preds, metas, tmp_path / "results")
    scores = bench.score(tmp_path / "results")
    assert scores["AP"] == pytest.approx(ap, abs=1e-6)


def test_bdd100k_box_track_sample_round_trip(tmp_path):
    d = _need("bdd100k-box-track", "bdd100k-box-track-sample")
    gt = json.loads((d / "track_sample_anns.json").read_text())
    pred = json.loads((d / "track_predictions.json").read_text())
    root = tmp_path / "bdd100k"
    videos = sorted({f["videoName"] for f in gt})
    for v in videos:
        p = root / "labels/box_track_20/val" / f"{v}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps([f for f in gt if f["videoName"] == v]))
    bench = BddBoxTrack(root, "bdd-fixture")
    bench.metric = "bdd100k-box-track"
    assert bench.sample_ids() == videos
    pred_by_name = {f["name"]: f.get("labels") or [] for f in pred}
    cls = {n: i + 1 for i, n in enumerate(BDD_CLASSES)}
    preds, metas = {}, {}
    for v in videos:
        frames = []
        for name in bench.index[v]:
            labels = pred_by_name.get(name, [])
            frames.append(Instances(
                (720, 1280),
                boxes=np.array([[b["box2d"][k] for k in ("x1", "y1", "x2", "y2")] for b in labels], np.float32).reshape(-1, 4),
                scores=[b["score"] for b in labels], labels=[cls[b["category"]] for b in labels],
                track_ids=[int(b["id"]) for b in labels]))
        preds[v], metas[v] = frames, {"frames": bench.index[v]}
    bench.write_results(preds, metas, tmp_path / "results")
    s = bench.score(tmp_path / "results")
    expected = {"mMOTA": 24.3242046, "mIDF1": 32.2478194, "mMOTP": 50.0128507, "MOTA": 64.2007076,
                "IDF1": 71.0107368, "MOTP": 87.1614395, "FP": 126, "FN": 942, "IDSw": 45}
    for k, v in expected.items():
        assert s[k] == pytest.approx(v, abs=1e-5), k


def test_bdd100k_mots_bitmask_round_trip(tmp_path):
    """A result bitmask decoded to Instances and written again is byte-for-byte the same
    label content, and scores as bdd100k's own MOTS test expects."""
    from PIL import Image

    from evalkit.benchmarks.bdd100k import BddSegTrack

    d = _need("bdd100k-seg-track", "bdd100k-mots-bitmask")
    root = tmp_path / "bdd100k"
    img = root / "images/seg_track_20/val/vid/a.jpg"
    img.parent.mkdir(parents=True)
    Image.new("RGB", (10, 10)).save(img)
    gt = root / "labels/seg_track_20/bitmasks/val/vid/a.png"
    gt.parent.mkdir(parents=True)
    gt.write_bytes((d / "gt/vid/a.png").read_bytes())
    bench = BddSegTrack(root, "bdd-mots-fixture")
    bench.metric = "bdd100k-seg-track"
    bench.validate()
    res = np.asarray(Image.open(d / "result/vid/a.png"))
    iid = res[..., 2].astype(int) * 256 + res[..., 3]
    ids = [int(i) for i in np.unique(iid) if i]
    inst = Instances((10, 10), masks=np.stack([iid == i for i in ids]),
                     labels=[int(res[..., 0][iid == i][0]) for i in ids], track_ids=[i - 1 for i in ids],
                     scores=np.ones(len(ids)))
    bench.write_results({"vid": [inst]}, {"vid": bench.load_sample("vid").meta}, tmp_path / "results")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "results/seg_track/vid/a.png")), res)
    s = bench.score(tmp_path / "results")
    for k, v in {"mMOTA": 8.3333, "mMOTP": 9.375, "mIDF1": 10.0, "MOTA": 66.667, "MOTP": 75.0, "IDF1": 80.0}.items():
        assert s[k] == pytest.approx(v, abs=1e-3), k
