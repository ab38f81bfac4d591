"""Corrupt datasets and bad predictions give clear errors naming the file and the entry."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from evalkit.benchmarks._io import atomic_write_json, prefetch, read_png, write_indexed_png
from evalkit.benchmarks.base import build_benchmark
from evalkit.errors import DatasetError, ResultsError
from evalkit.types import Instances


def _gen(gen, tmp_path, *which):
    return tmp_path, gen.generate(tmp_path, only=tuple(getattr(gen, w) for w in which))


def test_missing_image_named(gen, tmp_path):
    root, _ = _gen(gen, tmp_path, "gen_coco")
    victim = sorted((root / "coco/val2017").iterdir())[1]
    victim.unlink()
    with pytest.raises(DatasetError, match=f"missing image.*{victim.name}"):
        build_benchmark("coco-val2017-det", root).validate()


def test_missing_video_frames_named(gen, tmp_path):
    root, _ = _gen(gen, tmp_path, "gen_vos", "gen_vis", "gen_sot")
    (root / "DAVIS/JPEGImages/480p/blackswan/00002.jpg").unlink()
    with pytest.raises(DatasetError, match="missing frame .*blackswan/00002.jpg"):
        build_benchmark("davis17-val", root).validate()
    f = json.loads((root / "ytvis_2019/valid.json").read_text())["videos"][0]["file_names"][1]
    (root / "ytvis_2019/valid/JPEGImages" / f).unlink()
    with pytest.raises(DatasetError, match=f"missing frame of video 1.*{f}"):
        build_benchmark("ytvis19-val", root).validate()
    (root / "LaSOT/bird/bird-3/img/00000004.jpg").unlink()
    with pytest.raises(DatasetError, match="bird-3/groundtruth.txt: 4 boxes for 3 frames"):
        build_benchmark("lasot-test", root).validate()


def test_truncated_json_named(gen, tmp_path):
    root, _ = _gen(gen, tmp_path, "gen_coco", "gen_rvos")
    p = root / "coco/annotations/instances_val2017.json"
    p.write_text(p.read_text()[:-40])
    with pytest.raises(DatasetError, match=r"instances_val2017.json: invalid JSON at line 1 column \d+.*truncated"):
        build_benchmark("coco-val2017-det", root).validate()
    p = root / "ref-youtube-vos/meta_expressions/valid/meta_expressions.json"
    p.write_text(p.read_text()[:25])
    with pytest.raises(DatasetError, match="meta_expressions.json: invalid JSON"):
        build_benchmark("ref-ytvos-val", root).sample_ids()


def test_annotation_pointing_to_missing_image(gen, tmp_path):
    root, _ = _gen(gen, tmp_path, "gen_coco", "gen_vis")
    p = root / "coco/annotations/instances_val2017.json"
    d = json.loads(p.read_text())
    d["annotations"][2]["image_id"] = 999
    p.write_text(json.dumps(d))
    with pytest.raises(DatasetError, match=r"annotations\[2\] \(id 3\) points to image_id 999, which is not in 'images'"):
        build_benchmark("coco-val2017-det", root).validate()
    p = root / "ytvis_2019/valid_sub.json"
    d = json.loads(p.read_text())
    d["annotations"][0]["video_id"] = 77
    p.write_text(json.dumps(d))
    with pytest.raises(DatasetError, match=r"annotations\[0\] points to video_id 77"):
        build_benchmark("ytvis19-dev", root).validate()


def test_refcoco_entry_must_hold_one_expression(gen, tmp_path):
    root, _ = _gen(gen, tmp_path, "gen_refcoco")
    p = root / "annotations/refcoco-unc/instances_testB.json"
    d = json.loads(p.read_text())
    im = d["images"][1]
    im["expressions"] = [im.pop("caption"), "another one"]
    p.write_text(json.dumps(d))
    with pytest.raises(DatasetError, match=f"image entry {im['id']} lists 2 expressions"):
        build_benchmark("refcoco-testB-rec", root).validate()


def test_png_of_wrong_size_or_mode(gen, tmp_path):
    root, _ = _gen(gen, tmp_path, "gen_vos", "gen_vspw", "gen_bdd")
    ann = root / "DAVIS/Annotations/480p/bike-packing/00000.png"
    with Image.open(ann) as im:
        im.resize((10, 8)).save(ann)
    with pytest.raises(DatasetError, match=r"bike-packing/00000.png: size 8x10 \(HxW\), expected 24x32"):
        build_benchmark("davis17-val", root).validate()
    ann = root / "ytbvos18/valid/Annotations/0a49f5265b/00000.png"
    with Image.open(ann) as im:
        im.convert("RGB").save(ann)
    with pytest.raises(DatasetError, match="0a49f5265b/00000.png: PNG mode 'RGB', expected one of"):
        build_benchmark("ytvos18-val", root).validate()
    mask = sorted((root / "VSPW_480p/data").glob("*/mask/00000001.png"))[0]
    Image.new("RGB", (32, 24)).save(mask)
    with pytest.raises(DatasetError, match="VSPW mask .*00000001.png: PNG mode 'RGB'"):
        build_benchmark("vspw-val", root).validate()
    bm = sorted((root / "bdd100k/labels/seg_track_20/bitmasks/val").rglob("*.png"))[0]
    Image.new("RGB", (32, 24)).save(bm)
    with pytest.raises(DatasetError, match="BDD100K bitmask .*PNG mode 'RGB', expected one of \\['RGBA'\\]"):
        build_benchmark("bdd100k-seg-track-val", root).validate()


def test_missing_dataset_folder_named(tmp_path):
    with pytest.raises(DatasetError, match="missing COCO annotation file: expected the file .*instances_val2017.json"):
        build_benchmark("coco-val2017-det", tmp_path).validate()
    with pytest.raises(DatasetError, match="missing video list: expected the file .*ImageSets/2017/val.txt"):
        build_benchmark("davis17-val", tmp_path).validate()
    with pytest.raises(DatasetError, match="missing BDD100K box-track labels"):
        build_benchmark("bdd100k-box-track-val", tmp_path).validate()


def test_bad_predictions_rejected(gen, tmp_path):
    root, oracle = _gen(gen, tmp_path, "gen_vos", "gen_coco")
    bench = build_benchmark("davis17-val", root)
    metas = {s: bench.load_sample(s).meta for s in bench.sample_ids()}
    preds = dict(oracle["davis17-val"])
    preds["blackswan"] = preds["blackswan"][:2]
    with pytest.raises(ResultsError, match="video blackswan: 2 per-frame predictions for 4 frames"):
        bench.write_results(preds, metas, tmp_path / "r1")
    bad = Instances((24, 32), masks=np.ones((1, 24, 32), bool), track_ids=[300])
    with pytest.raises(ResultsError, match="object id 300 does not fit an indexed PNG"):
        bench.write_results({"blackswan": [bad] * 4}, metas, tmp_path / "r2")
    small = Instances((12, 16), masks=np.ones((1, 12, 16), bool), track_ids=[1])
    with pytest.raises(ResultsError, match=r"prediction of size \(12, 16\) for a frame of size \(24, 32\)"):
        bench.write_results({"blackswan": [small] * 4}, metas, tmp_path / "r3")
    seg = build_benchmark("coco-val2017-seg", root)
    sid = seg.sample_ids()[0]
    with pytest.raises(ResultsError, match=f"sample {sid}: the segmentation task needs masks"):
        seg.write_results({sid: [Instances((24, 32), boxes=[[0, 0, 4, 4]], scores=[1.0], labels=[1])]},
                          {}, tmp_path / "r4")


def test_written_pngs_read_back(gen, tmp_path):
    """VOS results: indexed PNGs of the frame size carrying the object ids and the palette of
    the dataset; Ref-YouTube-VOS: 0/255 "L" PNGs."""
    root, oracle = _gen(gen, tmp_path, "gen_vos", "gen_rvos")
    bench = build_benchmark("davis17-val", root)
    metas = {s: bench.load_sample(s).meta for s in bench.sample_ids()}
    bench.write_results(oracle["davis17-val"], metas, tmp_path / "r")
    for t, inst in enumerate(oracle["davis17-val"]["bike-packing"]):
        p = tmp_path / "r/Annotations/bike-packing" / f"{t:05d}.png"
        lab = read_png(p, "result", modes=("P",), size=(24, 32))
        gt = read_png(root / "DAVIS/Annotations/480p/bike-packing" / f"{t:05d}.png", "gt")
        np.testing.assert_array_equal(lab, gt)
        with Image.open(p) as a, Image.open(root / "DAVIS/Annotations/480p/bike-packing/00000.png") as b:
            assert a.getpalette()[:30] == b.getpalette()[:30]
    rb = build_benchmark("ref-ytvos-val", root)
    metas = {s: rb.load_sample(s).meta for s in rb.sample_ids()}
    rb.write_results(oracle["ref-ytvos-val"], metas, tmp_path / "rr")
    pngs = sorted((tmp_path / "rr/Annotations").rglob("*.png"))
    assert len(pngs) == 2 * 2 * 3
    with Image.open(pngs[0]) as im:
        assert im.mode == "L" and set(np.unique(np.asarray(im))) <= {0, 255}


def test_prefetch_in_order_and_decoded(gen, tmp_path):
    root, _ = _gen(gen, tmp_path, "gen_coco", "gen_vos")
    bench = build_benchmark("coco-val2017-det", root)
    ids = bench.sample_ids()
    got = list(prefetch(bench, ids, num_workers=3))
    assert [s.id for s in got] == ids
    assert all(isinstance(s.frames._sources[0], np.ndarray) for s in got)  # decoded in the workers
    np.testing.assert_array_equal(got[0].frames[0], bench.load_sample(ids[0]).frames[0])
    vb = build_benchmark("davis17-val", root)
    vids = list(prefetch(vb, vb.sample_ids(), num_workers=2))
    assert all(not isinstance(src, np.ndarray) for s in vids for src in s.frames._sources)  # lazy
    (root / "coco/val2017" / bench.load_sample(ids[1]).meta["file_name"]).unlink()
    it = prefetch(bench, ids, num_workers=2)
    assert next(it).id == ids[0]
    with pytest.raises(DatasetError, match=f"sample {ids[1]}: cannot read its frame .*{ids[1]:0>12}.jpg"):
        next(it)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    p = tmp_path / "results.json"
    atomic_write_json(p, [1, 2])
    with pytest.raises(TypeError):
        atomic_write_json(p, [object()])
    assert json.loads(p.read_text()) == [1, 2] and sorted(x.name for x in tmp_path.iterdir()) == ["results.json"]
    with pytest.raises(ResultsError, match="must be H x W"):
        write_indexed_png(tmp_path / "a.png", np.zeros((2, 2, 2), np.uint8))


def test_uninext_renamed_copies_are_found(gen, tmp_path):
    """``val/`` and ``annotations/instances_val_sub.json`` (UNINEXT/GLEE names) work too."""
    root, _ = _gen(gen, tmp_path, "gen_vis", "gen_vos")
    d = root / "ytvis_2019"
    (d / "valid").rename(d / "val")
    (d / "annotations").mkdir()
    (d / "valid.json").rename(d / "annotations/instances_val_sub.json")
    bench = build_benchmark("ytvis19-val", root)
    bench.validate()
    assert bench.ann_file.name == "instances_val_sub.json" and len(bench.sample_ids()) == 2
    (root / "ytbvos18/valid").rename(root / "ytbvos18/val")
    bench = build_benchmark("ytvos18-val", root)
    bench.validate()
    assert len(bench.sample_ids()) == 2
    (root / "ytvis_2021/valid/instances.json").unlink()
    with pytest.raises(DatasetError, match="missing YouTube-VIS annotation file: expected the file .*valid/instances.json"):
        build_benchmark("ytvis21-val", root).validate()


def test_video_folders_listed_or_named(tmp_path):
    """``list_videos`` (DAVIS-style VOS readers, BDD100K seg-track): sorted sub-folders, files
    ignored; a missing or empty frame folder is a DatasetError naming it and the layout."""
    from evalkit.benchmarks._io import list_videos

    d = tmp_path / "JPEGImages"
    with pytest.raises(DatasetError, match=f"missing frame folder: expected the folder {d} .*<video>/<frame>.jpg"):
        list_videos(d, "frame folder")
    d.mkdir()
    (d / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=f"frame folder {d} holds no video folders"):
        list_videos(d, "frame folder")
    for v in ("dog", "bike-packing"):
        (d / v).mkdir()
    assert list_videos(d, "frame folder") == ["bike-packing", "dog"]


def test_text_results_written_through_the_one_atomic_writer(tmp_path):
    """SOT/MOT text results: UTF-8, ``\\n`` kept as is, via ``evalkit.fileio`` (the one copy)."""
    from evalkit import fileio
    from evalkit.benchmarks import _io

    assert _io.atomic_write_text is fileio.atomic_write_text and _io.atomic_write_bytes is fileio.atomic_write_bytes
    p = _io.atomic_write_text(tmp_path / "seq" / "a.txt", "1,2\r\ncafé\n")
    assert p == tmp_path / "seq" / "a.txt" and p.read_bytes() == b"1,2\r\ncaf\xc3\xa9\n"
    assert [x.name for x in p.parent.iterdir()] == ["a.txt"]
