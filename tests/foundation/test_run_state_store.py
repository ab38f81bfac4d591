"""The runner's parts in isolation: the PredictionStore reading API (index, done_ids,
iter_predictions, parts), the streamed JSON results writer, the stream order check, the
fallback of a writer that only takes dicts, the metric scale from the key table and RunState."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import evalkit_testkit
from evalkit.benchmarks._stream import StreamedJson, in_order
from evalkit.benchmarks.base import Benchmark
from evalkit.errors import EvalkitError, ResultsError
from evalkit.metrics.keys import metric_scale
from evalkit.run_state import InferStats, RunState
from evalkit.runner import RunConfig, run_evaluation
from evalkit.selection import Selection
from evalkit.store import PredictionStore, encode_record
from evalkit.types import Instances


def _rec(sid, score=0.5, **extra):
    inst = Instances((4, 6), boxes=[[0, 0, 2, 2]], masks=np.eye(4, 6, dtype=bool)[None], scores=[score], labels=[1])
    return {"sample_id": sid, "instances": [inst.to_json()], "meta": {"image_id": 7}, "time_s": 0.5, **extra}


def _store(tmp_path, shards: dict[int, list]) -> PredictionStore:
    """A store whose shard k holds the given records (dicts) or raw lines (bytes)."""
    store = PredictionStore(tmp_path / "predictions")
    store.init("key", {"model": "m", "weights_sha256": "abc", "model_options": {"dtype": "bfloat16"}})
    for rank, lines in shards.items():
        with open(store.shard_path(rank, len(shards)), "wb") as f:
            for x in lines:
                f.write(x if isinstance(x, bytes) else encode_record(x).encode())
    return store


# -- PredictionStore ------------------------------------------------------------------------
def test_index_applies_the_read_rules_without_keeping_records(tmp_path):
    # shard 0: a fails then succeeds; b succeeds then fails (the success stays); c fails only;
    # shard 1 (read after shard 0): a succeeds again, that later record counts
    store = _store(tmp_path, {
        0: [{"sample_id": "a", "error": "E: 1"}, _rec("a", 0.1), _rec("b"), {"sample_id": "b", "error": "E: 2"},
            {"sample_id": "c", "error": "E: 3"}],
        1: [_rec("a", 0.9), b'{"sample_id": "d", "instances": [' ],  # a truncated last line: ignored
    })
    idx = store.index()
    assert sorted(idx.done) == ["a", "b"] and idx.failed == {"c": "E: 3"}
    assert store.done_ids() == {"a", "b"}
    # the index agrees with read(), which holds every record
    done, failed = store.read()
    assert set(done) == set(idx.done) and set(failed) == set(idx.failed)
    # each offset is the start of the record's line
    path, offset = idx.done["a"]
    assert path.name == "shard-1-of-2.jsonl" and offset == 0
    path, offset = idx.done["b"]
    lines = path.read_bytes().split(b"\n")
    assert offset == len(lines[0]) + len(lines[1]) + 2


def test_iter_predictions_in_the_order_asked_one_sample_at_a_time(tmp_path):
    store = _store(tmp_path, {0: [_rec("x", 0.25), _rec("y", 0.75)], 1: [_rec("z", 0.5), {"sample_id": "w", "error": "E"}]})
    out = list(store.iter_predictions(["z", "w", "missing", "x", "y"]))
    assert [sid for sid, _, _ in out] == ["z", "x", "y"]  # failed and unknown ids are skipped
    sid, preds, meta = out[0]
    assert meta == {"image_id": 7, "time_s": 0.5}
    assert len(preds) == 1 and float(preds[0].scores[0]) == 0.5
    assert preds[0].image_size == (4, 6) and preds[0].dense_masks()[0].sum() == 4


def test_damaged_line_is_named_by_index_too(tmp_path):
    store = _store(tmp_path, {0: [_rec("a"), b"not json\n", _rec("b")]})
    with pytest.raises(EvalkitError, match=r"shard-0-of-1\.jsonl:2: damaged prediction record"):
        store.index()
    assert store.repair() == 1 and store.done_ids() == {"a", "b"}


def test_parts_is_the_store_json_parts(tmp_path):
    store = _store(tmp_path, {0: []})
    assert store.parts() == {"model": "m", "weights_sha256": "abc", "model_options": {"dtype": "bfloat16"}}
    assert store.exists() and not PredictionStore(tmp_path / "elsewhere").exists()


# -- streamed JSON writer -------------------------------------------------------------------
def test_streamed_array_is_the_compact_dump(tmp_path):
    entries = [{"a": 1.5, "s": "é"}, [1, 2], None, 0.1 + 0.2]
    with StreamedJson(tmp_path / "r.json") as js:
        js.extend(entries)
    assert (tmp_path / "r.json").read_text() == json.dumps(entries, separators=(",", ":"))
    assert (tmp_path / "r.json").read_text() == '[{"a":1.5,"s":"\\u00e9"},[1,2],null,0.30000000000000004]'
    with StreamedJson(tmp_path / "e.json"):
        pass
    assert (tmp_path / "e.json").read_text() == "[]"


def test_streamed_object_keeps_the_key_order(tmp_path):
    # {**head, fields..., **tail}: the order json.dumps writes a dict built that way in
    with StreamedJson(tmp_path / "o.json", ("x", "y"), head={"h": {"k": 1}}, tail={"t": "z"}) as js:
        js.add(2, "y")
        js.add(1, "x")
        js.add(3, "y")
    assert (tmp_path / "o.json").read_text() == '{"h":{"k":1},"x":[1],"y":[2,3],"t":"z"}'
    with StreamedJson(tmp_path / "p.json", ("only",)) as js:
        pass
    assert (tmp_path / "p.json").read_text() == '{"only":[]}'
    with pytest.raises(ValueError, match="must differ"):
        StreamedJson(tmp_path / "q.json", ("x",), head={"x": 1})
    with pytest.raises(ValueError, match="no array field"):
        with StreamedJson(tmp_path / "q.json", ("x",)) as js:
            js.add(1, "nope")


def test_streamed_writer_error_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with StreamedJson(target, ("a", "b")) as js:
            js.add(1, "a")
            js.add(2, "b")
            raise RuntimeError("writer failed half way")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


# -- stream order and the dict-only writer fallback ----------------------------------------
def test_in_order_refuses_a_stream_out_of_order_or_repeated():
    ok = [("1", [], {}), ("2", [], None), ("10", [], {})]
    assert [s for s, _, m in in_order(ok, int, "b") if m == {}] == ["1", "2", "10"]
    with pytest.raises(ResultsError, match=r"b: results stream out of order: sample '10' after '2'"):
        list(in_order(ok, str, "b"))  # as strings "10" < "2"
    with pytest.raises(ResultsError, match="out of order: sample '1' after '1'"):
        list(in_order([("1", [], {}), ("1", [], {})], int, "b"))


class _DictOnly(Benchmark):
    """A benchmark written before write_stream: it overrides only write_results."""

    def write_results(self, predictions, samples_meta, results_dir):
        self.got = (dict(predictions), dict(samples_meta))
        return []


def test_a_dict_only_writer_is_fed_by_collecting_the_stream(tmp_path):
    b = _DictOnly(tmp_path)
    b.write_stream(iter([("a", ["p"], {"m": 1}), ("b", ["q"], {})]), tmp_path)
    assert b.got == ({"a": ["p"], "b": ["q"]}, {"a": {"m": 1}, "b": {}})
    with pytest.raises(NotImplementedError, match="neither write_stream nor write_results"):
        Benchmark(tmp_path).write_results({"a": []}, {}, tmp_path)


# -- the runner reads through the store API and streams --------------------------------------
@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=6)
    return tmp_path / "data"


def test_finalise_streams_from_the_store(data_root, tmp_path, monkeypatch):
    def whole_store(self):
        raise AssertionError("the runner read every record of the store at once")

    monkeypatch.setattr(PredictionStore, "read", whole_store)
    res = run_evaluation(RunConfig(model="test-blobs", benchmark="test-blobs-val", data_root=str(data_root),
                                   output_dir=str(tmp_path / "run"), quiet=True))
    assert res.status == "complete" and res.samples["done"] == 6
    again = run_evaluation(RunConfig(model="test-blobs", benchmark="test-blobs-val", data_root=str(data_root),
                                     resume=str(tmp_path / "run"), mode="score", quiet=True))
    assert again.metrics == res.metrics


# -- metric scale and RunState ---------------------------------------------------------------
def test_metric_scale_comes_from_the_key_table():
    # COCOeval returns fractions; the RefCOCO evaluator prints precision in percent
    assert metric_scale("coco-bbox") == "fraction" and metric_scale("refcoco-rec") == "percent"
    assert metric_scale("no-such-metric") is None


def test_metrics_json_scale_of_a_plugin_metric_is_its_registered_one():
    from evalkit.finalise import metric_scale as recorded
    from evalkit.registry import METRICS

    METRICS.register("test-plugin-percent", "x:y", task="det", scale="percent", hidden=True, overwrite=True)
    try:
        assert recorded("test-plugin-percent") == "percent"
    finally:
        METRICS.unregister("test-plugin-percent")
    assert recorded("refcoco-res") == "percent" and recorded(None) == "fraction"


def test_run_state_takes_the_model_from_the_store_when_rescoring(tmp_path):
    store = _store(tmp_path, {0: []})
    sel = Selection(("a", "b"), 3)
    state = RunState(RunConfig(model="m", benchmark="b"), object(), sel, store, tmp_path, None, None, "fp", "key",
                     True, None, 0.0, "now")
    assert state.ids == ["a", "b"] and state.results_dir == tmp_path / "results"
    assert state.weights_sha256() == "abc" and state.dtype() == "bfloat16"
    assert state.stats == InferStats()
    with pytest.raises(AttributeError):  # frozen: the steps read it, only stats fill in
        state.adapter = "x"
