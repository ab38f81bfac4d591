"""The leaderboard model: numbers, Δ against the packaged paper data, marks and footnotes."""
from __future__ import annotations

import pytest

from evalkit.reports.paper import lookup
from evalkit.reports.rundirs import load_runs
from evalkit.reports.table import build_tables
from reports_rundata import RUNS, SHA_A, make_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return load_runs([make_runs(tmp_path_factory.mktemp("runs"))])


@pytest.fixture(scope="module")
def tables(runs):
    return {t.family: t for t in build_tables(runs, paper=True)}


def _cells(table, model, sha, bench, key):
    row = next(r for r in table.rows if r.model == model and r.weights_sha256 == sha)
    return {c.kind: cell for c, cell in zip(table.columns, row.cells) if c.benchmark == bench and c.key == key}


def test_families_in_paper_order(tables):
    assert list(tables) == ["rec", "vos", "mot"]


def test_every_number_and_delta_matches_runs_and_paper(tables):
    checked = 0
    for bench, model, sha, task, _metric, metrics, scale, status, *_ in RUNS:
        if status != "complete":
            continue
        fam = {"vos": "vos", "rec": "rec", "mot": "mot"}[task]
        for key, raw in metrics.items():
            cells = _cells(tables[fam], model, sha, bench, key)
            ours = raw * 100 if scale == "fraction" and key != "IDSw" else raw
            assert cells["ours"].value == pytest.approx(ours)
            pv = lookup(model, bench, key)
            assert pv is not None
            assert cells["paper"].value == pv.value
            assert cells["delta"].value == pytest.approx(ours - pv.value)
            checked += 1
    assert checked == 13


def test_delta_flags_beyond_tolerance(tables):
    vos = tables["vos"]
    # uniref-pp-r50 F: 84.3 vs 87.6 → flagged; J&F: 81.25 vs 81.5 → within 0.5.
    assert "flag" in _cells(vos, "uniref-pp-r50", "b" * 64, "davis17-val", "F-Mean")["delta"].marks
    assert "flag" not in _cells(vos, "uniref-pp-r50", "b" * 64, "davis17-val", "J&F")["delta"].marks
    # Compared at the printed precision: 91.00 vs 91.52 prints as -0.5, not beyond 0.5.
    assert "flag" not in _cells(tables["rec"], "uninext-r50", SHA_A, "refcoco-testA-rec", "P@0.5")["delta"].marks
    # Counts: 10222 vs 9134 IDSw is 12 % off, beyond 5 %.
    assert "flag" in _cells(tables["mot"], "uninext-convnext-l", "b" * 64, "bdd100k-box-track-val", "IDSw")["delta"].marks


def test_tolerance_is_configurable(runs):
    vos = {t.family: t for t in build_tables(runs, paper=True, tolerance=5.0)}["vos"]
    assert "flag" not in _cells(vos, "uniref-pp-r50", "b" * 64, "davis17-val", "F-Mean")["delta"].marks
    assert not any(f.symbol == "*" for f in vos.footnotes)


def test_rows_per_model_and_weights(tables):
    rec = tables["rec"]
    assert [(r.model, r.weights_sha256[:1]) for r in rec.rows] == [("uninext-r50", "a"), ("uninext-r50", "d")]


def test_best_and_second_best(tables):
    vos = tables["vos"]
    # DAVIS J&F among complete runs: uniref 81.25 > uninext 74.12 (partial GLEE run not ranked).
    assert "best" in _cells(vos, "uniref-pp-r50", "b" * 64, "davis17-val", "J&F")["ours"].marks
    assert not ({"best", "second"} & _cells(vos, "uninext-r50", SHA_A, "davis17-val", "J&F")["ours"].marks)
    glee = _cells(vos, "glee-lite-vos", "c" * 64, "davis17-val", "J&F")["ours"]
    assert glee.marks == {"partial"}
    rec = tables["rec"]
    assert "best" in _cells(rec, "uninext-r50", SHA_A, "refcoco-val-rec", "P@0.5")["ours"].marks


def test_footnotes_for_pending_and_partial(tables):
    vos = tables["vos"]
    notes = {f.symbol: f.text for f in vos.footnotes}
    assert "uninext-r50 on ytvos18-val" in notes["†"]
    assert "glee-lite-vos on davis17-val: --limit 5, 5 of 30 samples" in notes["‡"]
    pend = _cells(vos, "uninext-r50", SHA_A, "ytvos18-val", "G")
    assert pend["ours"].value is None and "pending" in pend["ours"].marks
    assert pend["paper"].value == 77.0 and pend["delta"].value is None
    # A partial run's Δ is shown but never flagged.
    assert "flag" not in _cells(vos, "glee-lite-vos", "c" * 64, "davis17-val", "J&F")["delta"].marks


def test_header_levels(tables):
    rec = tables["rec"]
    assert rec.caption_metric == "P@0.5"  # one metric: the metric level is dropped
    assert rec.columns[0].levels == ("RefCOCO", "val", "Ours")
    assert rec.header_spans(0) == [("RefCOCO", 6)]
    vos = tables["vos"]
    assert vos.columns[0].levels == ("YouTube-VOS 2018", "G", "Ours")  # one split each: dropped
    assert [lab for lab, _ in vos.header_spans(0)] == ["YouTube-VOS 2018", "DAVIS 2017"]


def test_without_paper_only_ours(runs):
    for t in build_tables(runs):
        assert {c.kind for c in t.columns} == {"ours"}
