"""The shapes suite: deterministic generation, readers of the official layouts, and perfect
scores for ground-truth predictions through the official writers and the registered metrics."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from evalkit.benchmarks.base import build_benchmark
from evalkit.benchmarks.shapes import layouts, suite
from evalkit.benchmarks.shapes.scenes import Shape, expression, render, sample_scene
from evalkit.registry import BENCHMARKS
from shapes_oracle import shapes_oracle

IDS = ("shapes-coco-det", "shapes-coco-seg", "shapes-refcoco-rec", "shapes-refcoco-res", "shapes-davis",
       "shapes-ytvis", "shapes-sot", "shapes-mot")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("cache")
    mp.setenv("EVALKIT_CACHE", str(root))
    yield root
    mp.undo()


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_group_and_registration():
    assert BENCHMARKS.groups()["shapes"] == IDS
    for bid in IDS:
        entry = BENCHMARKS.get(bid)
        assert entry.meta["metric"] in ("coco-bbox", "coco-segm", "refcoco-rec", "refcoco-res", "davis-semi",
                                        "ytvis", "sot", "mot-challenge")


@pytest.mark.parametrize("dataset", ["shapes-refcoco", "shapes-davis"])
def test_generation_is_deterministic(tmp_path, dataset):
    layouts.write_dataset(tmp_path / "a", dataset, "val")
    layouts.write_dataset(tmp_path / "b", dataset, "val")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_scene_rendering_and_expressions():
    rng = np.random.default_rng(0)
    shapes = [Shape("red", "circle", 30, 30, 10), Shape("red", "circle", 90, 30, 10),
              Shape("blue", "square", 60, 32, 8)]
    img, vis = render(shapes, 128, 128, rng)
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    assert tuple(img[30, 30]) == (220, 40, 40) and tuple(img[32, 60]) == (40, 70, 220)
    assert all(m.any() for m in vis)
    # two red circles: the expression must use a relation that tells them apart
    text = expression(shapes, 0, np.random.default_rng(1))
    assert text == "the red circle left of the blue square"
    scenes = [sample_scene(np.random.default_rng(s), unique=True) for s in range(20)]
    assert all(len({s.category_id for s in sc}) == len(sc) for sc in scenes)


def test_generated_once_and_found_again(cache):
    b = build_benchmark("shapes-sot")
    assert b.root == suite.suite_root() / "shapes-sot"
    marker = b.root / ".complete-val"
    stamp = marker.stat().st_mtime_ns
    build_benchmark("shapes-sot")
    assert marker.stat().st_mtime_ns == stamp  # not regenerated


PERFECT = {"shapes-coco-det": ("AP", 1.0), "shapes-coco-seg": ("AP", 1.0), "shapes-refcoco-rec": ("P@0.5", 1.0),
           "shapes-refcoco-res": ("oIoU", 1.0), "shapes-davis": ("J&F-Mean", 1.0), "shapes-ytvis": ("AP", 1.0),
           "shapes-sot": ("AO", 1.0), "shapes-mot": ("MOTA", 1.0)}


@pytest.mark.parametrize("bid", IDS)
def test_ground_truth_scores_perfectly(cache, tmp_path, bid):
    bench = build_benchmark(bid)
    bench.validate()
    ids = bench.sample_ids()
    assert ids
    preds, metas = {}, {}
    for sid in ids:
        sample = bench.load_sample(sid)
        preds[sid] = shapes_oracle(bench, sid, sample)
        metas[sid] = sample.meta
        assert len(preds[sid]) == len(sample.frames)
    bench.write_results(preds, metas, tmp_path)
    scores = bench.score(tmp_path)
    key, value = PERFECT[bid]
    got = {k.lower(): v for k, v in scores.items()}
    assert key.lower() in got, sorted(scores)
    assert got[key.lower()] == pytest.approx(value * (100 if got[key.lower()] > 1.5 else 1), abs=1e-6), scores
