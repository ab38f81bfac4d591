"""``evalkit report --ci BASELINE``: the paired bootstrap interval against a baseline run as a
leaderboard column in every format (md, html, latex, csv), equal to ``evalkit compare``'s
interval for the same pair and seed, in the key's display scale.

The runs are DAVIS-style: per-sequence J&F with the object count, the headline ``J&F-Mean``
rebuilt as the object-weighted mean of the sequences (davis2017-evaluation
``davis2017/evaluation.py`` ``DAVISEvaluation.evaluate`` averages over objects, not sequences;
``docs/breakdown.md``)."""
from __future__ import annotations

import argparse
import csv
import io
import re

import numpy as np
import pytest
import yaml

from evalkit.breakdown import write_breakdown
from evalkit.errors import EvalkitError
from evalkit.metrics._breakdown import Breakdown, weighted
from evalkit.reports import cli
from evalkit.reports.compare import compare_runs
from reports_rundata import write_run
from test_render import _LeaderboardParser

BENCH = "davis17-val"
OBJECTS = {"bike": 1, "cows": 3, "dogs": 2, "goat": 4}  # n_objects per sequence


def _run(root, model, jf: dict[str, float], *, breakdown: bool = True, sha: str | None = None):
    """A run directory of ``model`` on DAVIS 2017 val with per-sequence J&F ``jf`` (fractions)."""
    n = sum(OBJECTS[s] for s in jf)
    mean = sum(jf[s] * OBJECTS[s] for s in jf) / n  # object-weighted, as the toolkit
    d = write_run(root, BENCH, model, sha or (model[0] * 64), "vos", "davis-semi",
                  {"J&F-Mean": mean, "J-Mean": mean, "F-Mean": mean}, "fraction", "complete", None,
                  (len(jf), len(jf), 0), "2026-12-01T00:00:00Z")
    if breakdown:
        samples = {s: {"J&F": v, "n_objects": OBJECTS[s]} for s, v in jf.items()}
        bd = Breakdown("sequence", "J&F", True, samples, {}, {"J&F": "j&f", "n_objects": "objects"},
                       {"J&F-Mean": weighted("J&F", "n_objects")})
        write_breakdown(d / "breakdown.json", bd, benchmark=BENCH, model=model, metric="davis-semi")
    return d


def _report(*argv: str) -> str:
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    return cli.render(p.parse_args(list(argv)))[0]


BASE = {"bike": 0.60, "cows": 0.70, "dogs": 0.80, "goat": 0.50}


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    base = _run(root, "uninext-r50", BASE)
    _run(root, "uniref-pp-r50", {s: v + 0.05 for s, v in BASE.items()})  # a constant shift of 5 points
    _run(root, "glee-lite-vos", dict(BASE))  # the baseline's numbers again
    _run(root, "univs-r50", {s: v + 0.1 for s, v in BASE.items()}, breakdown=False)  # an old run
    return root, base


def _md_ci(md: str) -> dict[str, str]:
    """model → text of the ci column, read back from the Markdown table."""
    lines = [l for l in md.splitlines() if l.startswith("|")]
    head = [h.strip() for h in lines[0].strip("|").split("|")]
    j = next(i for i, h in enumerate(head) if "Δ vs uninext-r50 [95% CI]" in h)
    rows = [[c.strip() for c in l.strip("|").split(" | ")] for l in lines[2:]]
    return {r[2]: r[j] for r in rows}


def test_ci_column_hand_derived_cells(runs):
    root, base = runs
    md = _report(str(root), "--ci", str(base), "--ci-resamples", "200")
    head = next(l for l in md.splitlines() if l.startswith("| Method"))
    # beside the headline J&F, before J and F; named after the baseline
    assert "| DAVIS 2017 J&F | DAVIS 2017 J&F Δ vs uninext-r50 [95% CI] | DAVIS 2017 J |" in head
    cells = _md_ci(md)
    # every sequence +0.05: every resample's object-weighted Δ is 5 points, so is its interval
    assert cells["uniref-pp-r50"] == "+5.0 [+5.0, +5.0]"
    # identical numbers: Δ 0 with a zero-width interval that contains 0, marked within noise
    assert cells["glee-lite-vos"] == "+0.0 [+0.0, +0.0]≈"
    assert cells["uninext-r50"] == "baseline"
    assert cells["univs-r50"] == "–"  # no breakdown.json: no interval, and a footnote says why
    assert "≈ Within noise" in md and "200 resamples, seed 0" in md and "4 sequences" in md
    assert re.search(r"– No interval: univs-r50 on davis17-val: .*no breakdown file", md)


@pytest.mark.parametrize("case", range(10))
def test_ci_column_equals_compare_in_every_format(tmp_path, case):
    """Property over drawn cases: for two random runs, seed and printed precision, the column
    reads back from md, html, latex and csv as ``evalkit compare BASELINE RUN``'s interval
    (x100: DAVIS is a fraction)."""
    rng = np.random.default_rng(case)
    a, b = rng.random(4), np.clip(rng.random(4) * 0.3 + rng.random() * 0.7, 0, 1)
    if case == 0:
        b = a + 1e-3  # a tiny gain, printed as 0 at one decimal: the sign rule of the interval text
    seed, decimals = int(rng.integers(2**31)), int(rng.integers(0, 4))
    root = tmp_path
    base = _run(root, "uninext-r50", dict(zip(OBJECTS, map(float, a))))
    other = _run(root, "uniref-pp-r50", dict(zip(OBJECTS, map(float, b))))
    m = {x["key"]: x for x in compare_runs(base, other, seed=seed, resamples=300)["metrics"]}["J&F-Mean"]
    want = [100 * m["delta"], 100 * m["low"], 100 * m["high"]]
    argv = [str(root), "--ci", str(base), "--ci-seed", str(seed), "--ci-resamples", "300", "--decimals", str(decimals)]
    noise = "≈" if m["within_noise"] else ""

    def fmt(v):
        return f"{v:+.{decimals}f}"

    printed = f"{fmt(want[0])} [{fmt(want[1])}, {fmt(want[2])}]"
    assert _md_ci(_report(*argv))["uniref-pp-r50"] == printed + noise

    p = _LeaderboardParser()
    p.feed(_report(*argv, "--format", "html"))
    (t,) = p.tables
    j = next(i for i, (_v, text, *_r) in enumerate(t["head"][-1]) if "Δ vs uninext-r50" in text) + 4
    row = next(r for r in t["body"] if r[2][1] == "uniref-pp-r50")
    v, text, _span, cls = row[j]
    assert float(v) == pytest.approx(want[0], abs=1e-8) and text == printed + noise
    assert ("noise" in cls.split()) == m["within_noise"] and "ci" in cls.split()

    tex = _report(*argv, "--format", "latex")
    line = next(l for l in tex.splitlines() if l.startswith("uniref-pp-r50") or " & uniref-pp-r50 & " in l)
    cell = line.removesuffix(r" \\").split(" & ")[5]  # Method, Backbone, Model, Weights, J&F, then the ci
    assert cell.replace("$-$", "-").replace("$+$", "+").replace(r"$^{\approx}$", "≈") == printed + noise
    assert cell.count("$") % 2 == 0 and tex.count("{") == tex.count("}")

    rows = list(csv.DictReader(io.StringIO(_report(*argv, "--format", "csv"))))
    r = next(r for r in rows if r["model"] == "uniref-pp-r50" and r["metric"] == "J&F")
    got = [float(r["ci_delta"]), float(r["ci_low"]), float(r["ci_high"])]
    assert got == pytest.approx(want, abs=1e-8) and r["ci_within_noise"] == str(int(m["within_noise"]))
    assert r["ci_baseline"] == str(base.resolve())
    assert all(x["ci_delta"] == "" for x in rows if x["metric"] != "J&F")  # the headline's line only


def test_ci_leaves_the_other_exports_alone(runs):
    root, base = runs
    plain = _report(str(root), "--format", "csv")
    assert "ci_delta" not in plain.splitlines()[0]  # without --ci the csv is as it was
    # model-index carries a card's own numbers only: the same document with or without --ci
    with_ci = _report(str(root), "--format", "model-index", "--ci", str(base), "--ci-resamples", "100")
    assert with_ci == _report(str(root), "--format", "model-index")
    assert "Δ" not in with_ci and list(yaml.safe_load_all(with_ci))


def test_ci_errors(runs, tmp_path):
    root, base = runs
    old = _run(tmp_path / "old", "uninext-r50", BASE, breakdown=False)
    with pytest.raises(EvalkitError, match=r"--ci: the baseline run .* has no breakdown.json"):
        _report(str(root), "--ci", str(old))
    with pytest.raises(EvalkitError, match="--ci: two baseline runs of davis17-val"):
        _report(str(root), "--ci", str(root))


def test_seeded_interval_is_reproducible_and_not_the_point_estimate(runs, tmp_path):
    root, base = runs
    rng = np.random.default_rng(3)
    _run(root, "uninext-convnext-l", {s: float(v) for s, v in zip(OBJECTS, rng.random(4))})
    one = _md_ci(_report(str(root), "--ci", str(base), "--decimals", "3"))["uninext-convnext-l"]
    assert one == _md_ci(_report(str(root), "--ci", str(base), "--decimals", "3"))["uninext-convnext-l"]
    delta, low, high = map(float, re.findall(r"[+-]\d+\.\d+", one))
    assert low < delta < high  # a real interval around the point estimate
