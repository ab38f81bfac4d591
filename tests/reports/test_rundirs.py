"""Finding and reading run directories; scale conversion; clear errors on bad records."""
from __future__ import annotations

import json

import pytest

from evalkit.errors import ResultsError
from evalkit.registry import METRICS
from evalkit.reports.rundirs import find_run_dirs, load_run, load_runs, select_latest
from reports_rundata import RUNS, SHA_A, make_runs, write_run


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("runs"))


def test_find_recursive_single_and_metrics_file(root):
    dirs = find_run_dirs([root])
    assert len(dirs) == len(RUNS) + 2
    one = dirs[0]
    assert find_run_dirs([one]) == [one]
    assert find_run_dirs([one / "metrics.json"]) == [one]
    assert find_run_dirs([root, one]) == dirs  # duplicates collapse


def test_find_errors(tmp_path):
    with pytest.raises(ResultsError, match="no such file"):
        find_run_dirs([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResultsError, match="no run directories found"):
        find_run_dirs([tmp_path / "empty"])


def test_fraction_scaled_to_percent_counts_untouched(root):
    runs = {(r.benchmark, r.model, r.status): r for r in load_runs([root])}
    davis = runs[("davis17-val", "uninext-r50", "complete")]
    assert davis.values["J&F"] == pytest.approx(74.12)
    assert davis.raw["J&F"] == 0.7412
    mot = runs[("bdd100k-box-track-val", "uninext-convnext-l", "complete")]
    assert mot.values["mMOTA"] == 44.2  # percent scale: unchanged
    assert mot.values["IDSw"] == 10222  # a count: never rescaled
    pending = runs[("ytvos18-val", "uninext-r50", "server-pending")]
    assert pending.values == {}


def test_fraction_scale_never_rescales_counts(tmp_path):
    d = write_run(tmp_path, "bdd100k-seg-track-val", "m", "e" * 64, "mots", None,
                  {"mMOTA": 0.31, "IDSw": 1634, "mIDF1": 0.45}, "fraction", "complete", None, (1, 1, 0), "t")
    r = load_run(d)
    assert r.values == {"mMOTA": pytest.approx(31.0), "IDSw": 1634, "mIDF1": pytest.approx(45.0)}


def test_metric_registry_entry_decides_scale_and_counts(tmp_path):
    METRICS.register("reports-test-metric", "builtins:dict", task="mot", hidden=True, overwrite=True,
                     scale="percent", count_keys=["Frag"], reports=["HOTA", "Frag"])
    try:
        d = write_run(tmp_path, "tao-val", "m", None, "mot", "reports-test-metric",
                      {"HOTA": 41.5, "Frag": 7}, "fraction", "complete", None, (1, 1, 0), "t")
        r = load_run(d)
        # The registry says percent: the run's (wrong) "fraction" is overridden.
        assert r.values == {"HOTA": 41.5, "Frag": 7}
        assert r.count_keys == {"Frag"}
    finally:
        METRICS.unregister("reports-test-metric")


def test_aliases_resolve_to_canonical_keys(tmp_path):
    d = write_run(tmp_path, "lasot-test", "m", None, "sot", None,
                  {"AUC": 0.689, "Norm Precision": 0.771, "Precision": 0.75}, "fraction", "complete", None, (1, 1, 0), "t")
    assert set(load_run(d).values) == {"AUC", "P_Norm", "P"}


@pytest.mark.parametrize(
    "patch,match",
    [
        ({"benchmark": None}, "field 'benchmark' should be str"),
        ({"status": "done"}, "field 'status' is 'done'"),
        ({"scale": "ratio"}, "field 'scale' is 'ratio'"),
        ({"metrics": {"AP": "high"}}, r"metrics\['AP'\] should be a number"),
    ],
)
def test_bad_records_name_file_and_field(tmp_path, patch, match):
    d = write_run(tmp_path, "coco-val2017-det", "m", None, "det", None, {"AP": 0.5}, "fraction", "complete", None, (1, 1, 0), "t")
    m = json.loads((d / "metrics.json").read_text())
    m.update(patch)
    (d / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(ResultsError, match=match) as e:
        load_run(d)
    assert "metrics.json" in str(e.value)


def test_missing_field_and_invalid_json(tmp_path):
    d = write_run(tmp_path, "coco-val2017-det", "m", None, "det", None, {"AP": 0.5}, "fraction", "complete", None, (1, 1, 0), "t")
    m = json.loads((d / "metrics.json").read_text())
    del m["model"]
    (d / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(ResultsError, match="missing field 'model'"):
        load_run(d)
    (d / "metrics.json").write_text("{not json")
    with pytest.raises(ResultsError, match="invalid JSON"):
        load_run(d)


def test_select_latest_prefers_complete_then_newest(root):
    chosen = select_latest(load_runs([root]))
    r = chosen[("uninext-r50", SHA_A, "davis17-val")]
    assert r.status == "complete"  # a newer partial run exists, the complete one wins
    assert ("uninext-r50", "d" * 64, "refcoco-val-rec") in chosen  # other weights: own key
