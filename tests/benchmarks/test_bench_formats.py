"""The written files, read back: schema and content of each official format."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from evalkit.benchmarks.base import build_benchmark
from evalkit.types import box_convert, rle_to_mask


@pytest.fixture
def written(data, tmp_path):
    """Write the oracle predictions of a split; return (benchmark, results dir, oracle)."""
    root, oracle = data

    def run(bid):
        bench = build_benchmark(bid, root)
        metas = {s: bench.load_sample(s).meta for s in bench.sample_ids()}
        out = tmp_path / bid
        bench.write_results(oracle[bid], metas, out)
        return bench, out, oracle[bid]

    return run


def test_coco_results_schema(written):
    bench, out, oracle = written("coco-val2017-det")
    recs = json.loads((out / "coco_instances_results.json").read_text())
    assert recs and all(set(r) == {"image_id", "category_id", "score", "bbox"} for r in recs)
    sid = bench.sample_ids()[0]
    mine = [r for r in recs if r["image_id"] == int(sid)]
    np.testing.assert_allclose([r["bbox"] for r in mine], box_convert(oracle[sid][0].boxes, "xyxy", "xywh"), atol=1e-3)
    bench, out, oracle = written("coco-val2017-seg")
    recs = json.loads((out / "coco_instances_results.json").read_text())
    # mask results carry no bbox: cocoapi would take the box area for the area ranges
    assert all(set(r) == {"image_id", "category_id", "score", "segmentation"} for r in recs)
    np.testing.assert_array_equal(rle_to_mask(recs[0]["segmentation"]), oracle[str(recs[0]["image_id"])][0].masks[0])


def test_ytvis_results_schema(written):
    bench, out, oracle = written("ytvis19-dev")
    recs = json.loads((out / "results.json").read_text())
    videos = bench.index["videos"]
    assert len(recs) == sum(len(set(oracle[s][0].track_ids.tolist())) for s in oracle)
    for r in recs:
        assert set(r) == {"video_id", "category_id", "score", "segmentations"}
        assert len(r["segmentations"]) == len(videos[r["video_id"]]["file_names"])
        assert all(s["size"] == [24, 32] and isinstance(s["counts"], str) for s in r["segmentations"])


def test_sot_text_formats(written):
    _, out, oracle = written("lasot-test")
    rows = (out / "tracking_results/airplane-1.txt").read_text().splitlines()
    assert len(rows) == 4 and all(len(r.split("\t")) == 4 for r in rows)
    b = box_convert(oracle["airplane-1"][2].boxes, "xyxy", "xywh")[0]
    assert rows[2].split("\t") == ["%d" % v for v in b]
    _, out, _ = written("trackingnet-test")
    rows = (out / "tracking_results/-0dcVF6Jt1w_0.txt").read_text().splitlines()
    assert len(rows) == 11 and all(len(r.split(",")) == 4 for r in rows)
    _, out, _ = written("got10k-val")
    assert (out / "tracking_results/GOT-10k_Val_000001/GOT-10k_Val_000001_001.txt").is_file()


def test_bdd_box_track_schema(written):
    bench, out, oracle = written("bdd100k-box-track-val")
    frames = json.loads((out / "box_track_results.json").read_text())
    assert [f["name"] for f in frames] == [n for v in bench.sample_ids() for n in bench.index[v]]
    lab = frames[0]["labels"][0]
    assert set(lab) == {"id", "category", "score", "box2d"} and lab["category"] in ("car", "pedestrian")


def test_vspw_pngs_hold_train_ids(written, data):
    root, _ = data
    bench, out, _ = written("vspw-val")
    v = bench.sample_ids()[0]
    pred = np.asarray(Image.open(out / "semantic" / v / "00000000.png"))
    gt = np.asarray(Image.open(root / "VSPW_480p/data" / v / "mask/00000000.png"))
    np.testing.assert_array_equal(pred, gt.astype(int) - 1)


def test_vipseg_pngs_match_pred_json(written):
    bench, out, _ = written("vipseg-val")
    pred = json.loads((out / "pred.json").read_text())["annotations"]
    assert [p["video_id"] for p in pred] == bench.sample_ids()
    for video in pred:
        for frame in video["annotations"]:
            rgb = np.asarray(Image.open(out / "pan_pred" / video["video_id"] / frame["file_name"])).astype(np.int64)
            ids = set(np.unique(rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]).tolist()) - {0}
            assert ids == {s["id"] for s in frame["segments_info"]}


def test_ref_davis_merges_objects_per_annotator(written):
    bench, out, _ = written("ref-davis17-val")
    assert sorted(p.name for p in out.iterdir()) == ["anno_0", "anno_1", "anno_2", "anno_3"]
    lab = np.asarray(Image.open(out / "anno_2/bike-packing/00001.png"))
    assert Image.open(out / "anno_2/bike-packing/00001.png").mode == "P"
    assert set(np.unique(lab).tolist()) == {0, 1, 2}
