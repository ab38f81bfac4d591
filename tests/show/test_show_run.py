"""``evalkit show`` and ``evalkit report --gallery`` on runs of the shapes suite.

The runs are made without a model: their prediction store holds the ground truth of each sample
(tests/plugins/shapes_oracle.py), with scores and, for the video, the ground-truth track ids.
So the pixels of each drawn object are known: the frame blended with the colour of its track.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalkit.benchmarks.base import build_benchmark
from evalkit.cli import main as cli_main
from evalkit.show.draw import Style, display_scale, id_colour
from evalkit.store import PredictionStore, encode_record
from shapes_oracle import shapes_oracle


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("cache")
    mp.setenv("EVALKIT_CACHE", str(root))
    yield root
    mp.undo()


def make_run(folder: Path, benchmark: str, ids: list[str] | None = None, scores=None, labels: bool = True) -> Path:
    """A run directory whose store holds the oracle predictions of ``ids`` (default: all);
    ``labels=False``: without category ids, as a REC / RES adapter predicts."""
    bench = build_benchmark(benchmark)
    run = folder / benchmark
    (run / "predictions").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"config": {"benchmark": benchmark, "data_root": None},
                                              "metric": {"id": bench.metric}}))
    store = PredictionStore(run / "predictions")
    store.init("test", {})
    shard = store.open_shard(0, 1)
    for k, sid in enumerate(ids or bench.sample_ids()):
        preds = shapes_oracle(bench, sid, bench.load_sample(sid))
        for p in preds:  # distinct scores, so that a threshold keeps a known subset
            p.scores = np.linspace(0.95, 0.5, len(p)).astype(np.float32) if scores is None else scores(len(p))
            if not labels:
                p.labels = None
        shard.append({"sample_id": sid, "instances": [p.to_json() for p in preds], "meta": {}})
    shard.close()
    return run


def _single_mask_pixels(masks: np.ndarray, margin: int = 2) -> list[np.ndarray]:
    """Per object, the pixels inside its mask by ``margin`` and in no other mask, in the lower
    half of the mask (label tags sit above or at the top of it)."""
    from scipy.ndimage import binary_erosion

    others = masks.sum(0)
    out = []
    for m in masks:
        ys = np.nonzero(m)[0]
        core = binary_erosion(m, iterations=margin) & (others == 1)
        core[: (ys.min() + ys.max()) // 2 + 1] = False
        out.append(core)
    return out


def test_show_video_colours_follow_the_tracks(cache, tmp_path):
    run = make_run(tmp_path, "shapes-ytvis", ids=["1"])
    from evalkit.show.render import open_run, render_sample

    view = open_run(run)
    r = render_sample(view, "1", gt_mode="none", score_thresh=0.0)
    bench, sample = view.bench, view.bench.load_sample("1")
    gt = shapes_oracle(bench, "1", sample)
    scale = display_scale(sample.frames.sizes[0], Style())
    seen: dict[int, set] = {}
    for t, panel in enumerate(r.pred):
        frame = np.repeat(np.repeat(sample.frames[t], scale, 0), scale, 1).astype(np.float32)
        masks = np.repeat(np.repeat(gt[t].masks, scale, 1), scale, 2)
        assert r.drawn[t] == len(gt[t]) > 0
        for tid, core in zip(gt[t].track_ids, _single_mask_pixels(masks)):
            if not core.any():
                continue
            want = np.clip(0.55 * frame[core] + 0.45 * np.array(id_colour(int(tid))) + 0.5, 0, 255).astype(np.uint8)
            got = panel[core]
            assert np.abs(got.astype(int) - want).max() <= 1, (t, tid)
            seen.setdefault(int(tid), set()).add(id_colour(int(tid)))
    # every track drawn, each with one colour on all its frames, all colours distinct
    assert set(seen) == {int(i) for f in gt for i in f.track_ids}
    assert all(len(c) == 1 for c in seen.values())
    assert len({next(iter(c)) for c in seen.values()}) == len(seen)


def test_show_cli_writes_png_webp_and_strip(cache, tmp_path, capsys):
    img_run = make_run(tmp_path / "a", "shapes-coco-seg", ids=["1", "2"])
    vid_run = make_run(tmp_path / "b", "shapes-ytvis", ids=["2"])
    assert cli_main(["show", str(img_run), "--sample", "2", "--out", str(tmp_path / "o1")]) == 0
    png = Image.open(tmp_path / "o1" / "2.png")
    assert png.format == "PNG" and png.width > 2 * 384  # prediction and ground truth side by side
    assert cli_main(["show", str(vid_run), "--out", str(tmp_path / "o2"), "--gt", "overlay"]) == 0
    webp = Image.open(tmp_path / "o2" / "2.webp")
    n = len(build_benchmark("shapes-ytvis").load_sample("2").frames)
    assert webp.format == "WEBP" and webp.n_frames == n
    assert (tmp_path / "o2" / "2_strip.png").is_file()
    # a sample the run did not predict: one line naming it and the run
    assert cli_main(["show", str(img_run), "--sample", "7"]) == 2
    assert "sample '7' has no prediction" in capsys.readouterr().err


def test_show_mp4_with_pyav(cache, tmp_path):
    av = pytest.importorskip("av", reason="PyAV missing: bash scripts/install.sh test (the viz extra)")
    run = make_run(tmp_path, "shapes-ytvis", ids=["1"])
    assert cli_main(["show", str(run), "--video", "mp4", "--out", str(tmp_path / "o")]) == 0
    with av.open(str(tmp_path / "o" / "1.mp4")) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == len(build_benchmark("shapes-ytvis").load_sample("1").frames)


def test_show_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert cli_main(["show", str(tmp_path)]) == 2
    assert "run.json is missing" in capsys.readouterr().err


def _cards(page: Path) -> list[str]:
    return re.findall(r'<div class="card" data-id="([^"]+)"', page.read_text())


def _breakdown(samples: dict, score_key, higher: bool = True, metric: str = "coco-bbox") -> str:
    """A schema-1 ``breakdown.json`` (docs/breakdown.md) with the given per-sample rows."""
    return json.dumps({"schema": 1, "benchmark": "shapes-coco-det", "metric": metric, "unit": "image",
                       "score_key": score_key, "higher_is_better": higher, "samples": samples,
                       "categories": {}, "aggregates": {}})


def test_gallery_lists_every_sample_worst_first(cache, tmp_path):
    run = make_run(tmp_path, "shapes-coco-det")
    ids = build_benchmark("shapes-coco-det").sample_ids()
    rng = np.random.default_rng(0)
    values = {sid: float(v) for sid, v in zip(ids, rng.random(len(ids)))}
    (run / "breakdown.json").write_text(_breakdown({s: {"recall@0.5": v} for s, v in values.items()}, "recall@0.5"))
    page = run.parent / "g" / "index.html"
    assert cli_main(["report", str(run), "--gallery", str(page.parent)]) == 0
    assert _cards(page) == sorted(ids, key=lambda s: values[s])  # higher is better -> lowest first
    html = page.read_text()
    assert "worst first by per-sample recall@0.5" in html
    for sid in ids:
        assert (page.parent / "thumbs" / f"{sid}.jpg").is_file() and (page.parent / "overlays" / f"{sid}.jpg").is_file()
    # the category filter offers the categories present, each card lists its own
    assert '<option value="red circle">' in html or '<option value="blue square">' in html
    assert "<script" in html and "http" not in html.split("<script", 1)[1]  # no CDN
    # drawn by two processes: the same page
    from evalkit.show.gallery import write_gallery

    assert write_gallery(run, run.parent / "g2", workers=2).read_text() == html


def test_gallery_without_breakdown_keeps_the_split_order_and_says_so(cache, tmp_path):
    run = make_run(tmp_path, "shapes-davis", ids=None)
    from evalkit.show.gallery import write_gallery

    page = write_gallery(run)
    assert page == run / "gallery" / "index.html"
    assert _cards(page) == build_benchmark("shapes-davis").sample_ids()
    assert "no breakdown.json in the run: samples in id order" in page.read_text()
    assert all(p.suffix == ".webp" for p in (run / "gallery" / "overlays").iterdir())


def test_breakdown_direction_missing_values_and_errors(tmp_path):
    from evalkit.errors import EvalkitError
    from evalkit.show.breakdown import sample_scores, worst_first

    ids = ["a", "b", "c", "d"]
    path = tmp_path / "breakdown.json"
    path.write_text(_breakdown({"a": {"err": 3}, "b": {"err": 9}, "c": {"err": 0}, "d": {"err": None}}, "err", False, "sot"))
    s = sample_scores(tmp_path)
    assert not s.higher_better
    assert worst_first(ids, s) == ["b", "a", "c", "d"]  # lower is better: largest first; d (null) last
    # a metric without per-sample values (YouTube-VIS AP): the split's order, said on the page
    path.write_text(_breakdown({}, None, True, "ytvis"))
    s = sample_scores(tmp_path)
    assert s.values is None and worst_first(ids, s) == ids and "no per-sample score" in s.note
    path.write_text(json.dumps({"schema": 2}))
    with pytest.raises(EvalkitError, match='breakdown.json: expected a breakdown object with "schema": 1'):
        sample_scores(tmp_path)
    path.write_text(_breakdown([], "IoU"))
    with pytest.raises(EvalkitError, match="field 'samples' must be a dict"):
        sample_scores(tmp_path)


@pytest.mark.parametrize("benchmark", ["shapes-coco-det", "shapes-coco-seg", "shapes-refcoco-rec", "shapes-refcoco-res",
                                       "shapes-davis", "shapes-ytvis", "shapes-sot", "shapes-mot"])
def test_every_shapes_benchmark_draws_each_object_beside_its_ground_truth(cache, tmp_path, benchmark):
    """Oracle predictions of the first sample: on every frame the prediction panel draws as many
    instances as the ground truth has, and a ground-truth panel is there (a reader for each
    layout of the suite)."""
    from evalkit.show.render import open_run, render_sample

    bench = build_benchmark(benchmark)
    sid = bench.sample_ids()[0]
    view = open_run(make_run(tmp_path, benchmark, ids=[sid]))
    r = render_sample(view, sid, score_thresh=0.0, max_instances=1000)
    gt = shapes_oracle(bench, sid, bench.load_sample(sid))
    assert r.drawn == [len(g) for g in gt]
    assert r.gt is not None and len(r.gt) == len(r.pred) == len(gt)
    assert not any("no ground-truth reader" in line for line in r.head)


def test_tide_of_a_run_matches_its_official_ap50(cache, tmp_path, capsys):
    """``evalkit tide RUN`` on a shapes-coco-det run whose predictions are the ground truth with
    every third object given the next category: TIDE's AP50 equals the official COCOeval AP50
    of the same results file, and the damage shows up as Cls errors only."""
    pytest.importorskip("tidecv", reason="tidecv missing: bash scripts/install.sh test (the viz extra)")
    from evalkit.types import Instances

    bench = build_benchmark("shapes-coco-det")
    ids = bench.sample_ids()[:10]
    run = make_run(tmp_path, "shapes-coco-det", ids=ids)
    done, _ = PredictionStore(run / "predictions").read()
    preds, k = {}, 0
    for sid in ids:
        inst = Instances.from_json(done[sid]["instances"][0])
        for i in range(len(inst)):
            if k % 3 == 0:
                inst.labels[i] = inst.labels[i] % 9 + 1
            k += 1
        preds[sid] = [inst]
    bench.write_results(preds, {s: bench.load_sample(s).meta for s in ids}, run / "results")
    official = bench.score(run / "results", samples=ids)
    (run / "metrics.json").write_text(json.dumps({"benchmark": "shapes-coco-det", "metric": "coco-bbox",
                                                  "status": "partial", "selection": {"ids": ids}}))
    assert cli_main(["tide", str(run), "--json"]) == 0
    [r] = json.loads(capsys.readouterr().out).values()
    assert abs(r["AP50"] - 100 * official["AP50"]) < 1e-6
    assert r["counts"]["Cls"] > 0 and r["dAP"]["Cls"] > 0
    assert all(r["counts"][t] == 0 for t in ("Loc", "Both", "Dupe", "Bkg"))
    # report --tide over a folder skips the runs TIDE does not apply to
    other = make_run(tmp_path / "x", "shapes-davis", ids=[build_benchmark("shapes-davis").sample_ids()[0]])
    (other / "metrics.json").write_text(json.dumps({"benchmark": "shapes-davis", "metric": "davis-semi"}))
    assert cli_main(["report", str(tmp_path), "--tide"]) == 0
    captured = capsys.readouterr()
    assert "skip" in captured.err and "davis-semi" in captured.err and "shapes-coco-det | " in captured.out


def test_referred_object_is_drawn_without_a_category_number(cache, tmp_path):
    """RefCOCO: the prompt is an expression, so the ground-truth object carries no category name;
    its category id is not printed (nor listed) and it takes the prediction's colour."""
    from evalkit.show.render import open_run, render_sample

    view = open_run(make_run(tmp_path, "shapes-refcoco-res", ids=["1"], labels=False))
    r = render_sample(view, "1", score_thresh=0.0)
    assert r.categories == []
    assert r.head[1].startswith('expression: "')
    # the same colour (index 0) fills the object in both panels (the prediction is the oracle's)
    bench = view.bench
    [gt] = shapes_oracle(bench, "1", bench.load_sample("1"))
    scale = display_scale(gt.image_size, Style())
    [core] = _single_mask_pixels(np.repeat(np.repeat(gt.masks, scale, 1), scale, 2))
    assert core.any() and (r.pred[0][core] == r.gt[0][core]).all()
    frame = np.repeat(np.repeat(bench.load_sample("1").frames[0], scale, 0), scale, 1)
    assert not (r.gt[0][core] == frame[core]).all()  # and it is filled, not left as it was


def test_show_without_sample_draws_the_worst_first(cache, tmp_path, capsys):
    run = make_run(tmp_path, "shapes-coco-det", ids=["1", "2", "3", "4"])
    (run / "breakdown.json").write_text(_breakdown({"1": {"recall@0.5": 0.9}, "2": {"recall@0.5": 0.1},
                                                           "3": {"recall@0.5": 0.5}, "4": {"recall@0.5": 1.0}},
                                                          "recall@0.5"))
    assert cli_main(["show", str(run), "--limit", "2", "--out", str(tmp_path / "o")]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["2.png", "3.png"]
    assert "worst first by per-sample recall@0.5" in capsys.readouterr().err
