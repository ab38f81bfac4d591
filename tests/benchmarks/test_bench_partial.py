"""Partial runs (``--samples``, ``--limit``) are scored against the ground truth of the samples
run, in every split family: the run's metrics equal the same metric on a restricted *copy* of
the ground truth, which these tests write by hand from each official layout (the ground truth
an official toolkit would be given for a split holding only those samples).

Predictions are the ground truth shifted by 2 pixels (boxes and masks), so that no score is
trivially perfect and a sample scored against a GT it was not run on changes the numbers.
"""
from __future__ import annotations

import json
import math
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from evalkit.benchmarks.base import build_benchmark
from evalkit.metrics import compute
from evalkit.registry import MODELS
from evalkit.runner import RunConfig, run_evaluation
from evalkit.types import Instances

from shapes_oracle import shapes_oracle
from test_bench_runner import OracleAdapter, _key
from test_bench_splits import _oracle_preds

SHIFT = 2


def _shift(inst: Instances) -> Instances:
    """The same instances moved ``SHIFT`` pixels right (boxes clipped to the frame, masks wrapped)."""
    h, w = inst.image_size
    boxes = masks = None
    if inst.boxes is not None:
        boxes = np.asarray(inst.boxes, np.float32).copy()
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]] + SHIFT, 0, w)
    dense = inst.dense_masks()
    if dense is not None:
        masks = np.roll(dense, SHIFT, axis=2)  # wrapped: a semantic map stays a full cover
    return Instances(inst.image_size, boxes, masks, inst.scores, inst.labels, inst.track_ids)


def _register(bench, table_of) -> str:
    """A hidden model answering each sample of ``bench`` with ``table_of(sid, sample)`` shifted."""
    table = {}
    for sid in bench.sample_ids():
        s = bench.load_sample(sid)
        table[_key(s.frames, s.prompt)] = [_shift(p) for p in table_of(sid, s)]
    mid = f"test-shifted-{bench.id}"
    MODELS.register(mid, lambda **kw: OracleAdapter(table, {bench.task}, **kw), hidden=True, overwrite=True)
    return mid


def _run(mid, bid, root, out, **kw):
    return run_evaluation(RunConfig(model=mid, benchmark=bid, data_root=None if root is None else str(root),
                                    output_dir=str(out), quiet=True, num_workers=0, **kw))


def _same(a: dict, b: dict) -> bool:
    if set(a) != set(b):
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        if x != pytest.approx(y, rel=1e-9, abs=1e-12):
            return False
    return True


# ------------------------------------------------------------------------------------------
# restricted copies of the ground truth, written from the official layouts
# ------------------------------------------------------------------------------------------
def _json_subset(src: Path, out: Path, **keep) -> Path:
    data = json.loads(Path(src).read_text())
    for k, pred in keep.items():
        data[k] = [x for x in data[k] if pred(x)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data))
    return out


def _copy_dirs(src: Path, names, out: Path) -> Path:
    for n in names:
        shutil.copytree(Path(src) / n, out / n)
    return out


def _relabel_copy(src: Path, out: Path, keep: dict[int, int]):
    from PIL import Image

    from evalkit.benchmarks._io import indexed_png

    out.mkdir(parents=True)
    for png in sorted(src.glob("*.png")):
        lab = np.array(Image.open(png))
        new = np.zeros_like(lab)
        for old, k in keep.items():
            new[lab == old] = k
        new[lab == 255] = 255
        (out / png.name).write_bytes(indexed_png(new))


def restricted_gt(bench, chosen: list[str], tmp: Path, oracle) -> tuple[object, dict]:
    """``(ground truth, metric options)`` of the split cut to ``chosen``, for the metric alone."""
    m, opts = bench.metric, dict(bench.metric_options())
    gt = bench.gt_path() if bench.derived_gt is None else None
    out = tmp / "restricted"
    if m in ("coco-bbox", "coco-segm", "lvis-bbox", "lvis-segm", "refcoco-rec", "refcoco-res"):
        keep = {int(s) for s in chosen}  # cocoapi evaluates every image of the GT file
        return _json_subset(gt, out / "gt.json", images=lambda im: im["id"] in keep,
                            annotations=lambda a: a["image_id"] in keep), opts
    if m == "fss":  # the per-query GT of every query, then only those chosen
        full = tmp / "full"
        ids = bench.sample_ids()
        bench.write_results({s: oracle[bench.id][s] for s in ids}, {}, full)
        keep = set(chosen)
        return _json_subset(full / bench.derived_gt, out / "fss_gt.json", queries=lambda q: q["query_id"] in keep), opts
    if m == "odinw":  # each dataset's COCO file cut to its chosen images; the mean over those
        from evalkit.benchmarks.odinw import ODINW13

        per: dict[str, set] = {}
        for s in chosen:
            n, _, i = s.partition("/")
            per.setdefault(n, set()).add(int(i))
        gts = {n: _json_subset(bench.root / ODINW13[n][0], out / f"{n}.json", images=lambda im, k=k: im["id"] in k,
                               annotations=lambda a, k=k: a["image_id"] in k) for n, k in per.items()}
        return gts, {**opts, "require_all": False}
    if m == "davis-semi":  # a DAVIS root whose ImageSets list holds the chosen videos
        res = opts.get("resolution", "480p")
        _copy_dirs(gt / "Annotations" / res, chosen, out / "Annotations" / res)
        (out / "ImageSets" / "2017").mkdir(parents=True)
        (out / "ImageSets" / "2017" / f"{opts.get('subset', 'val')}.txt").write_text("\n".join(chosen) + "\n")
        return out, opts
    if m == "sot":  # a dataset folder of the chosen sequences only
        for s in chosen:
            if opts["protocol"] == "trackingnet":
                raise AssertionError("TrackingNet is server-scored")
            d = next(p.parent for p in gt.rglob("groundtruth.txt") if p.parent.name == s)
            shutil.copytree(d, out / d.relative_to(gt))
        return out, opts
    if m == "lvos":  # the split folder with its meta cut to the chosen videos
        meta = json.loads((gt / "valid_meta.json").read_text())
        out.mkdir(parents=True)
        (out / "valid_meta.json").write_text(json.dumps({"videos": {v: meta["videos"][v] for v in chosen}}))
        _copy_dirs(gt / "Annotations", chosen, out / "Annotations")
        if (gt / "unseen_videos.txt").is_file():
            shutil.copy(gt / "unseen_videos.txt", out)
        return out, opts
    if m == "ref-davis":
        # per annotator k: the GT of the objects whose k-th expression was chosen, numbered
        # 1..n in object order, for the videos with such an object (4 expressions per object,
        # expression i of a video = object i // 4, annotator i % 4)
        per: dict[int, dict[str, list[int]]] = {}
        for s in chosen:
            v, _, e = s.rpartition("/")
            i = list(bench.index[v]["expressions"]).index(e)
            per.setdefault(i % 4, {}).setdefault(v, []).append(i // 4)
        split_gt = {}
        for k, videos in per.items():
            for v, objs in videos.items():
                _relabel_copy(gt / v, out / f"anno_{k}" / v, {o + 1: r + 1 for r, o in enumerate(sorted(objs))})
            split_gt[f"anno_{k}"] = out / f"anno_{k}"
        return {"split_gt": split_gt, "splits": sorted(split_gt)}, opts
    if m == "ytvis":
        keep = {int(s) for s in chosen}
        return _json_subset(gt, out / "gt.json", videos=lambda v: v["id"] in keep,
                            annotations=lambda a: a["video_id"] in keep), opts
    if m == "mot-challenge":  # TrackEval evaluates every sequence folder of its GT
        return _copy_dirs(gt, chosen, out), opts
    if m == "bdd100k-box-track":
        out.mkdir(parents=True)
        for v in chosen:
            shutil.copy(gt / f"{v}.json", out)
        return out, opts
    if m == "bdd100k-seg-track":
        return _copy_dirs(gt, chosen, out), opts
    if m == "tao-teta":
        data = json.loads(gt.read_text())
        keep = {int(s) for s in chosen}
        images = {im["id"] for im in data["images"] if im["video_id"] in keep}
        return _json_subset(gt, out / "gt.json", videos=lambda v: v["id"] in keep, images=lambda im: im["id"] in images,
                            tracks=lambda t: t["video_id"] in keep,
                            annotations=lambda a: a["image_id"] in images), opts
    if m == "burst":
        keep = set(chosen)
        return _json_subset(gt, out / "gt.json", sequences=lambda s: f"{s['dataset']}/{s['seq_name']}" in keep), opts
    if m == "vspw":  # the VSPW root with its video list cut
        _copy_dirs(gt / "data", chosen, out / "data")
        shutil.copy(gt / "label_num_dic_final.json", out)
        (out / f"{opts.get('split', 'val')}.txt").write_text("\n".join(chosen) + "\n")
        return out, opts
    if m == "vipseg":
        keep = set(chosen)
        g = _json_subset(gt, out / "gt.json", videos=lambda v: v["video_id"] in keep,
                         annotations=lambda a: a["video_id"] in keep)
        return g, {**opts, "gt_masks": str(gt.parent / "panomasksRGB")}
    if m == "viposeg":
        for sub in ("Annotations_gt", "Annotations"):
            _copy_dirs(gt / sub, chosen, out / sub)
        shutil.copy(gt / "obj_class.json", out)
        return out, opts
    raise AssertionError(f"no restricted copy for metric {m}")


# one split of every family (the generated official layouts; MOTChallenge and YouTube-VIS on the
# shapes suite too, the splits of the reported failures)
FAMILIES = {
    "coco-val2017-det": "COCO", "coco-val2017-seg": "COCO", "lvis-v1-val-seg": "LVIS",
    "refcoco-val-rec": "RefCOCO", "refcocog-val-u-res": "RefCOCO", "fss1000-test-1shot": "FSS",
    "odinw13-val": "ODinW", "davis17-val": "DAVIS", "lvos-val": "LVOS", "ref-davis17-val": "Ref-DAVIS",
    "ytvis21-dev": "YouTube-VIS", "ovis-dev": "OVIS", "lasot-test": "SOT", "got10k-val": "SOT",
    "bdd100k-box-track-val": "BDD100K", "bdd100k-seg-track-val": "BDD100K", "tao-val": "TAO",
    "burst-val": "BURST", "vspw-val": "VSPW", "vipseg-val": "VIPSeg", "viposeg-val": "VIPOSeg",
}
SHAPES = ("shapes-mot", "shapes-ytvis", "shapes-coco-det", "shapes-davis", "shapes-sot", "shapes-refcoco-res")
# YouTube-VOS, MOSE, Ref-YouTube-VOS, YouTube-VIS/OVIS val: the server scores the upload file
SERVER = ("ytvos18-val", "mose-val", "ref-ytvos-val", "ytvis19-val", "ovis-val", "got10k-test")


def _every_other(ids: list[str]) -> list[str]:
    """Not a prefix: the 2nd, 4th ... sample (the last one of a 2-sample split)."""
    return ids[1::2]


def _check_record(res, chosen, total):
    m = json.loads((res.run_dir / "metrics.json").read_text())
    assert m["samples"]["total"] == total and m["samples"]["selected"] == len(chosen)
    assert m["selection"]["ids"] == chosen and m["selection"]["total"] == total
    run = json.loads((res.run_dir / "run.json").read_text())
    assert run["selection"] == m["selection"]
    return m


@pytest.mark.parametrize("bid", sorted(FAMILIES))
def test_samples_run_equals_scoring_the_restricted_gt(bid, data, tmp_path):
    root, oracle = data
    bench = build_benchmark(bid, root)
    ids = bench.sample_ids()
    chosen = _every_other(ids)
    assert 0 < len(chosen) < len(ids)
    mid = _register(bench, lambda sid, s: _oracle_preds(bench, sid, s, oracle))
    res = _run(mid, bid, root, tmp_path / "run", samples=",".join(chosen))
    assert res.status == "partial"
    _check_record(res, chosen, len(ids))
    gt, opts = restricted_gt(bench, chosen, tmp_path, oracle)
    results = bench.results_path(res.run_dir / "results")
    if bench.metric == "ref-davis":
        expected = compute("ref-davis", bench.gt_path(), results, **opts, **gt)
    elif bench.metric == "odinw":
        expected = compute("odinw", gt, {n: results / f"{n}.json" for n in gt}, **opts)
    else:
        expected = compute(bench.metric, gt, results, **opts)
    assert _same(res.metrics, expected), (res.metrics, expected)


def test_ref_davis_partial_video(data, tmp_path):
    """One object's expression of one annotator: annotator 1 is scored on object 2 of
    bike-packing alone (relabelled 1), annotator 0 on bmx-trees; the others are left out."""
    root, oracle = data
    bench = build_benchmark("ref-davis17-val", root)
    chosen = ["bike-packing/5", "bmx-trees/0"]
    mid = _register(bench, lambda sid, s: _oracle_preds(bench, sid, s, oracle))
    res = _run(mid, bench.id, root, tmp_path / "run", samples=chosen)
    gt, opts = restricted_gt(bench, chosen, tmp_path, oracle)
    assert sorted(gt["split_gt"]) == ["anno_0", "anno_1"]
    expected = compute("ref-davis", bench.gt_path(), res.run_dir / "results", **opts, **gt)
    assert _same(res.metrics, expected) and "anno_1/J&F" in res.metrics and "anno_2/J&F" not in res.metrics


def test_interactive_samples_equal_a_split_of_those_clicks(data, tmp_path):
    """COCO interactive (one sample per instance, derived per-click GT): a --samples run scores
    as the whole run of a split whose annotation file holds only the chosen instances."""
    root, oracle = data
    bench = build_benchmark("coco-val2017-interactive", root)
    chosen = _every_other(bench.sample_ids())  # 1-2, 2-4, 3-6
    mid = _register(bench, lambda sid, s: _oracle_preds(bench, sid, s, oracle))
    res = _run(mid, bench.id, root, tmp_path / "run", samples=chosen)
    assert res.status == "partial"
    # the restricted split: a copy of the COCO folder with only the chosen instances
    small = tmp_path / "small"
    (small / "coco" / "annotations").mkdir(parents=True)
    (small / "coco" / "val2017").symlink_to(bench.image_dir.resolve())
    anns = {int(s.split("-")[1]) for s in chosen}
    _json_subset(bench.ann_file, small / "coco" / "annotations" / bench.ann_file.name,
                 annotations=lambda a: a["id"] in anns)
    small_bench = build_benchmark(bench.id, small)
    assert small_bench.sample_ids() == chosen
    whole = _run(_register(small_bench, lambda sid, s: _oracle_preds(bench, sid, s, oracle)), bench.id, small,
                 tmp_path / "whole")
    assert whole.status == "complete" and _same(res.metrics, whole.metrics), (res.metrics, whole.metrics)


# ------------------------------------------------------------------------------------------
# the shapes suite (MOTChallenge, YouTube-VIS ... layouts): --limit, as the demo runs it
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shapes_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("EVALKIT_CACHE", str(tmp_path_factory.mktemp("shapes-cache")))
    yield
    mp.undo()


@pytest.mark.parametrize("bid", SHAPES)
def test_shapes_limit_run_equals_scoring_the_restricted_gt(bid, shapes_cache, tmp_path):
    """``--limit 3`` of a 4-sample shapes split (``evalkit demo --limit 3``): shapes-mot used to
    fail (TrackEval needs a results file for every GT sequence), shapes-ytvis was scored
    against the 4 videos of the GT."""
    bench = build_benchmark(bid)
    ids = bench.sample_ids()
    assert len(ids) > 3
    mid = _register(bench, lambda sid, s: shapes_oracle(bench, sid, s))
    res = _run(mid, bid, None, tmp_path / "run", limit=3)
    assert res.status == "partial"
    m = _check_record(res, ids[:3], len(ids))
    assert m["selection"]["rule"] == "limit" and m["limit"] == 3
    gt, opts = restricted_gt(bench, ids[:3], tmp_path, None)
    expected = compute(bench.metric, gt, bench.results_path(res.run_dir / "results"), **opts)
    assert _same(res.metrics, expected), (res.metrics, expected)
    # `evalkit score --run` re-scores the run on the samples it covers
    from evalkit.cli import main

    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["score", "--run", str(res.run_dir), "--json"]) == 0
    assert _same(json.loads(buf.getvalue()), res.metrics)


@pytest.mark.parametrize("bid,key", [("shapes-mot", "MOTA"), ("shapes-ytvis", "AP")])
def test_perfect_answers_on_the_samples_run_score_exactly_one(bid, key, shapes_cache, tmp_path):
    """Ground-truth answers on the 3 sequences of a --limit 3 run: MOTA = 1 - (FN + FP + IDSW) / GT
    = 1 - 0 / GT = 1 and YouTube-VIS AP = 1 exactly, as on a split of those 3. Before, shapes-mot
    failed (TrackEval refuses a GT sequence without results, ``MotChallenge2DBox``) and
    shapes-ytvis gave the AP of all 4 GT videos with 3 answered (lower: the 4th video's tracks
    are all missed, ``YTVOSeval`` evaluates every video of the GT file)."""
    bench = build_benchmark(bid)
    table = {}
    for sid in bench.sample_ids():
        s = bench.load_sample(sid)
        table[_key(s.frames, s.prompt)] = shapes_oracle(bench, sid, s)
    mid = f"test-exact-{bid}"
    MODELS.register(mid, lambda **kw: OracleAdapter(table, {bench.task}, **kw), hidden=True, overwrite=True)
    res = _run(mid, bid, None, tmp_path / "run", limit=3)
    assert res.metrics[key] == pytest.approx(1.0, abs=1e-12)
    if bid == "shapes-ytvis":
        whole = compute("ytvis", bench.gt_path(), bench.results_path(res.run_dir / "results"))
        assert whole["AP"] < 1.0


@pytest.mark.parametrize("bid", SERVER)
def test_server_split_partial_upload_holds_only_the_samples(bid, data, tmp_path):
    """Server-scored families (YouTube-VOS, MOSE, Ref-YouTube-VOS, YouTube-VIS, OVIS, GOT-10k test):
    the upload file of a --samples run holds exactly those samples, and the record says so."""
    root, oracle = data
    bench = build_benchmark(bid, root)
    ids = bench.sample_ids()
    chosen = _every_other(ids)
    mid = _register(bench, lambda sid, s: _oracle_preds(bench, sid, s, oracle))
    res = _run(mid, bid, root, tmp_path / "run", samples=chosen)
    assert res.status == "server-pending" and res.metrics is None
    _check_record(res, chosen, len(ids))
    with zipfile.ZipFile(res.run_dir / "results" / "submission.zip") as zf:
        names = zf.namelist()
        if bid.startswith(("ytvis", "ovis")):
            got = {str(e["video_id"]) for e in json.loads(zf.read("results.json"))}
        elif bid == "got10k-test":
            got = {n.split("/")[0] for n in names}
        elif bid == "ref-ytvos-val":
            got = {"/".join(n.split("/")[1:3]) for n in names}
        else:
            got = {n.split("/")[1] for n in names}
    assert got == set(chosen), (got, chosen)


def test_score_names_an_id_the_split_lacks(data, tmp_path):
    from evalkit.errors import DatasetError

    root, _ = data
    bench = build_benchmark("davis17-val", root)
    with pytest.raises(DatasetError, match=r"davis17-val: 'no-such-video' is not a sample id of the split"):
        bench.score(tmp_path, samples=["bike-packing", "no-such-video"])
