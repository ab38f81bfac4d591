"""Benchmark registry metadata wins over the packaged mapping; unknown benchmarks still render."""
from __future__ import annotations

import pytest

from evalkit.registry import BENCHMARKS
from evalkit.reports.mapping import benchmark_info
from evalkit.reports.rundirs import load_runs
from evalkit.reports.table import build_tables
from reports_rundata import write_run


@pytest.fixture
def registered():
    BENCHMARKS.register(
        "reports-test-davis", "builtins:dict", task="vos", hidden=True, overwrite=True,
        paper=[{"paper": "UNINEXT", "table": "Table 6", "benchmark": "DAVIS-2017", "metric": "J&F"}],
    )
    yield "reports-test-davis"
    BENCHMARKS.unregister("reports-test-davis")


def test_registry_paper_refs_give_the_published_number(tmp_path, registered):
    write_run(tmp_path, registered, "uninext-r50", "a" * 64, "vos", None, {"J&F": 0.70}, "fraction",
              "complete", None, (3, 3, 0), "t")
    info = benchmark_info(registered)
    assert info.family == "vos" and info.metrics == ("J&F",) and not info.known
    (t,) = build_tables(load_runs([tmp_path]), paper=True)
    assert t.family == "vos"
    cells = {c.kind: cell for c, cell in zip(t.columns, t.rows[0].cells)}
    assert cells["ours"].value == pytest.approx(70.0)
    assert cells["paper"].value == 74.5 and cells["paper"].source == "UNINEXT Table 6"
    assert cells["delta"].value == pytest.approx(-4.5) and "flag" in cells["delta"].marks


def test_unknown_benchmark_uses_run_task_and_keys(tmp_path):
    write_run(tmp_path, "mystery-val", "some-model", None, "sot", None, {"AUC": 0.5, "Extra": 0.25},
              "fraction", "complete", None, (3, 3, 0), "t")
    (t,) = build_tables(load_runs([tmp_path]), paper=True)
    assert t.family == "sot"
    assert [c.key for c in t.columns if c.kind == "ours"] == ["AUC", "Extra"]
    assert t.rows[0].cells[0].value == pytest.approx(50.0)
    assert t.rows[0].method == "some-model" and t.rows[0].sha_short == "—"


def test_unscored_runs_are_footnoted(tmp_path):
    write_run(tmp_path, "davis17-val", "uninext-r50", None, "vos", "davis-semi", {}, "fraction",
              "inferred", None, (3, 3, 0), "t")
    (t,) = build_tables(load_runs([tmp_path]))
    assert all(c.value is None and "unscored" in c.marks for c in t.rows[0].cells)
    assert t.footnotes[0].symbol == "°"
