"""The results writers fed as a stream write the same files as the writers fed whole dicts.

``streamed_digests.json`` holds, for every split of the generated datasets and every shapes
split, a digest of each file the writers wrote when they still took ``predictions`` / ``metas``
dicts of every sample (the runner's ``_finalise`` of that time: records read back from the
prediction store, ``Instances.from_json``, ``time_s`` added to the meta). The tests write the
same store records through today's two entry points — the runner's streaming path
(:func:`evalkit.finalise.write_results`: ``PredictionStore.iter_predictions`` → ``write_stream``)
and the dict form ``Benchmark.write_results`` — and compare every file.

Scores are replaced by seeded random values so that the writers' score orderings (label maps
painted in ascending score, a REC writer's top instance) are exercised, not just ties of 1.0.

Re-record (only when a format change is intended): ``python tests/benchmarks/test_bench_streamed_writers.py``.
"""
from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from evalkit.benchmarks.base import build_benchmark
from evalkit.registry import BENCHMARKS
from evalkit.store import PredictionStore, encode_record
from evalkit.types import Instances

HERE = Path(__file__).parent
GOLDEN = HERE / "streamed_digests.json"
SHAPES = tuple(BENCHMARKS.groups()["shapes"])
GENERATED = tuple(b for b in BENCHMARKS.ids() if b not in SHAPES)


def file_digest(path: Path) -> str:
    """sha256 of a written file; PNGs by (mode, size, palette, pixels) and zips by (member
    name, member digest) so that the digest does not depend on the zlib build."""
    data = path.read_bytes()
    if path.suffix == ".png":
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            pal = im.getpalette() if im.mode == "P" else None
            blob = repr((im.mode, im.size, pal)).encode() + im.tobytes()
        return hashlib.sha256(blob).hexdigest()
    if path.suffix == ".zip":
        h = hashlib.sha256()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():  # archive order is part of the format (sorted)
                h.update(name.encode() + b"\0" + hashlib.sha256(zf.read(name)).digest())
        return h.hexdigest()
    return hashlib.sha256(data).hexdigest()


def tree_digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _rescored(preds: list[Instances], rng) -> list[Instances]:
    out = []
    for p in preds:
        n = len(p)
        scores = np.round(rng.uniform(0.05, 1.0, n), 4).astype(np.float32) if n else p.scores
        out.append(Instances(p.image_size, p.boxes, p.masks, scores, p.labels, p.track_ids, dict(p.extra)))
    return out


def oracle_predictions(bid: str, data_root: Path | None, oracle: dict | None) -> tuple:
    """(benchmark, sample id → per-frame Instances, sample id → meta) with seeded scores."""
    bench = build_benchmark(bid, data_root)
    rng = np.random.default_rng(sum(map(ord, bid)))  # seeded per split, stable across runs
    preds, metas = {}, {}
    for sid in bench.sample_ids():
        s = bench.load_sample(sid)
        if oracle is None:
            from shapes_oracle import shapes_oracle

            p = shapes_oracle(bench, sid, s)
        else:
            from test_bench_splits import _oracle_preds

            p = _oracle_preds(bench, sid, s, oracle)
        preds[sid] = _rescored(p, rng)
        metas[sid] = s.meta
    return bench, preds, metas


def fill_store(store_dir: Path, preds: dict, metas: dict) -> PredictionStore:
    """A prediction store holding ``preds`` (one record per sample, time_s 0.25), in reverse id
    order so that a writer relying on the store's order would show."""
    store = PredictionStore(store_dir)
    store.init("k", {"model": "oracle"})
    shard = store.open_shard(0, 1)
    for sid in reversed(list(preds)):
        shard.append_line(encode_record({"sample_id": sid, "instances": [p.to_json() for p in preds[sid]],
                                         "meta": metas[sid], "time_s": 0.25}))
    shard.close()
    return store


def dicts_from_store(store: PredictionStore, ids) -> tuple[dict, dict]:
    """The dicts the runner built before writing, as it built them (every sample at once)."""
    done, _ = store.read()
    predictions = {i: [Instances.from_json(d) for d in done[i]["instances"]] for i in ids if i in done}
    metas = {i: {**done[i].get("meta", {}), "time_s": done[i].get("time_s")} for i in ids if i in done}
    return predictions, metas


@pytest.fixture(scope="module")
def shapes_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("EVALKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


def _case(bid, data, shapes_cache):
    if bid in SHAPES:
        return oracle_predictions(bid, None, None)
    root, oracle = data
    return oracle_predictions(bid, root, oracle)


@pytest.mark.parametrize("bid", SHAPES + GENERATED)
def test_streamed_writer_equals_the_dict_writer(bid, data, shapes_cache, tmp_path):
    from evalkit.finalise import write_results

    golden = json.loads(GOLDEN.read_text())[bid]
    bench, preds, metas = _case(bid, data, shapes_cache)
    store = fill_store(tmp_path / "predictions", preds, metas)
    ids = bench.sample_ids()
    streamed = tmp_path / "streamed"
    streamed.mkdir()
    write_results(bench, store, ids, streamed)
    assert tree_digests(streamed) == golden
    p, m = dicts_from_store(store, ids)
    whole = tmp_path / "whole"
    bench.write_results(p, m, whole)
    assert tree_digests(whole) == golden


def _record() -> None:  # pragma: no cover - run by hand to re-record the digests
    import os
    import tempfile

    sys.path[:0] = [str(HERE), str(HERE.parent / "plugins")]
    from benchmark_generator import load_benchmark_generator

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["EVALKIT_CACHE"] = str(tmp / "cache")
        data = (tmp / "datasets", load_benchmark_generator().generate(tmp / "datasets"))
        for bid in SHAPES + GENERATED:
            bench, preds, metas = _case(bid, data, None)
            store = fill_store(tmp / bid / "predictions", preds, metas)
            p, m = dicts_from_store(store, bench.sample_ids())
            bench.write_results(p, m, tmp / bid / "results")
            out[bid] = tree_digests(tmp / bid / "results")
    GOLDEN.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"{GOLDEN}: {len(out)} splits, {sum(map(len, out.values()))} files")


if __name__ == "__main__":  # pragma: no cover
    _record()


def test_ref_davis_refuses_a_video_whose_expressions_are_split(tmp_path):
    """Ref-DAVIS merges a video's expressions into shared PNGs, so it writes a video once its
    expressions stop coming; a video named with a "/" ("a/b") sorts between the expressions of
    video "a", which would overwrite a's PNGs with a partial merge: refused instead."""
    from evalkit.benchmarks.refdavis import RefDavis17
    from evalkit.errors import ResultsError

    bench = RefDavis17(tmp_path, id="ref-davis-test")
    exps = {str(k): {"exp": "x"} for k in range(4)}
    bench._index_cache = {"a": {"frames": ["00000"], "expressions": {**exps, "c": {"exp": "y"}}},
                          "a/b": {"frames": ["00000"], "expressions": exps}}
    one = [Instances((2, 2), masks=np.ones((1, 2, 2), bool), scores=[1.0])]
    stream = [("a/0", one, {}), ("a/b/0", one, {}), ("a/c", one, {})]
    with pytest.raises(ResultsError, match="'a/c' comes after other videos' expressions"):
        bench.write_stream(iter(stream), tmp_path / "out")
