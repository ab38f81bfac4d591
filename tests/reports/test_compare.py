"""``evalkit compare`` and the paired bootstrap: reproducibility, coverage on simulated paired
data with a known difference, hand-checked intervals, ordering of regressions, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from evalkit.breakdown import write_breakdown
from evalkit.errors import EvalkitError
from evalkit.metrics._breakdown import Breakdown, mean, ratio
from evalkit.reports.bootstrap import paired_bootstrap
from evalkit.reports.compare import compare_runs, main, render_compare


def _means(x):
    return np.stack([np.asarray(x, float), np.ones(len(x))], 1)


def test_bootstrap_is_reproducible_with_a_seed():
    rng = np.random.default_rng(5)
    a = _means(rng.random(50))
    b = _means(rng.random(50))
    one, two = paired_bootstrap(a, b, seed=3), paired_bootstrap(a, b, seed=3)
    assert one == two
    other = paired_bootstrap(a, b, seed=4)
    assert (other.low, other.high) != (one.low, one.high)
    assert other.delta == one.delta  # the point estimate does not depend on the seed


def test_bootstrap_of_identical_runs_is_zero_and_within_noise():
    a = _means([0.2, 0.5, 0.9])
    ci = paired_bootstrap(a, a.copy())
    assert (ci.delta, ci.low, ci.high) == (0.0, 0.0, 0.0) and ci.within_noise


def test_bootstrap_of_a_constant_shift_is_that_shift():
    # every unit improves by exactly 0.1: every resample's mean difference is 0.1
    a = _means([0.1, 0.4, 0.7, 0.2])
    ci = paired_bootstrap(a, _means([0.2, 0.5, 0.8, 0.3]))
    assert ci.delta == pytest.approx(0.1) and ci.low == pytest.approx(0.1) and ci.high == pytest.approx(0.1)
    assert not ci.within_noise


def test_bootstrap_ratio_replicates_are_recomputed_not_averaged():
    # two units (I, U): (1, 1) and (0, 3); resampling only unit 0 gives 1, only unit 1 gives 0,
    # one of each 1/4: the replicates of the ratio take exactly these three values
    a = np.array([[0.0, 1.0], [0.0, 3.0]])
    b = np.array([[1.0, 1.0], [0.0, 3.0]])
    ci = paired_bootstrap(a, b, resamples=400, level=0.5)
    assert ci.delta == pytest.approx(0.25)
    assert {round(ci.low, 6), round(ci.high, 6)} <= {0.0, 0.25, 1.0}


@pytest.mark.parametrize("reduce", ["mean", "ratio"])
def test_bootstrap_coverage_in_a_simulated_paired_case(reduce):
    """200 simulated pairs of runs on 80 units with a known true difference of the population
    metric: the 95% interval must cover it in 90%..99% of the repetitions."""
    rng = np.random.default_rng(0)
    reps, n, covered = 200, 80, 0
    for _ in range(reps):
        if reduce == "mean":  # per-unit scores, B better by 0.03 on average, correlated with A
            base = rng.beta(4, 2, n)
            a = _means(base + rng.normal(0, 0.05, n))
            b = _means(base + 0.03 + rng.normal(0, 0.05, n))
            true = 0.03
        else:  # oIoU-like: unions vary, B's intersections are 0.6 vs A's 0.5 of the union on average
            u = rng.uniform(50, 500, n)
            a = np.stack([u * np.clip(rng.normal(0.5, 0.15, n), 0, 1), u], 1)
            b = np.stack([u * np.clip(rng.normal(0.6, 0.15, n), 0, 1), u], 1)
            true = 0.1  # population ratio difference (clipping at 0/1 is negligible at 3.3 sigma)
        ci = paired_bootstrap(a, b, resamples=1000, seed=int(rng.integers(1 << 30)))
        covered += ci.low <= true <= ci.high
    assert 0.90 <= covered / reps <= 0.99, covered / reps


def _bd(tmp_path, name, values, *, benchmark="shapes-refcoco-rec", categories=None):
    run = tmp_path / name
    samples = {k: {"IoU": v, "hit@0.5": int(v > 0.5)} for k, v in values.items()}
    bd = Breakdown("expression", "IoU", True, samples, categories or {}, {"IoU": "iou"},
                   {"P@0.5": mean("hit@0.5", scale=100.0), "mIoU": mean("IoU", scale=100.0)})
    if categories:
        bd.aggregates["AP"] = mean("AP", over="categories")
    write_breakdown(run / "breakdown.json", bd, benchmark=benchmark, model=name, metric="refcoco-rec")
    return run


def test_compare_lists_every_shared_sample_and_sorts_regressions(tmp_path):
    a = _bd(tmp_path, "a", {"1": 0.9, "2": 0.8, "3": 0.7, "10": 0.6})
    b = _bd(tmp_path, "b", {"1": 0.5, "2": 0.85, "3": 0.1, "10": 0.6})
    c = compare_runs(a, b, top=5)
    assert [r["id"] for r in c["samples"]] == ["1", "2", "3", "10"]  # numeric ids in numeric order
    assert [r["id"] for r in c["regressions"]] == ["3", "1"]  # -0.6 before -0.4; no gain, no tie listed
    assert c["regressions"][0]["delta"] == pytest.approx(-0.6)
    m = {x["key"]: x for x in c["metrics"]}
    assert m["mIoU"]["delta"] == pytest.approx((-0.4 + 0.05 - 0.6) / 4 * 100)
    assert m["P@0.5"]["a"] == 100.0 and m["P@0.5"]["b"] == 50.0 and m["P@0.5"]["n_units"] == 4
    assert c["shared"] == 4 and c["only_a"] == c["only_b"] == 0
    assert json.loads(render_compare(c, "json"))["metrics"] == c["metrics"]
    md = render_compare(c, "md")
    assert "| mIoU |" in md and "| 3 | 0.7000 | 0.1000 | -0.6000 |" in md
    assert "samples that regressed most" in render_compare(c, "table")


def test_compare_errors_name_the_mismatch(tmp_path):
    a = _bd(tmp_path, "a", {"1": 0.9, "2": 0.8})
    with pytest.raises(EvalkitError, match="same benchmark.*shapes-refcoco-rec.*shapes-refcoco-res"):
        compare_runs(a, _bd(tmp_path, "other", {"1": 0.9}, benchmark="shapes-refcoco-res"))
    with pytest.raises(EvalkitError, match="share no sample"):
        compare_runs(a, _bd(tmp_path, "disjoint", {"7": 0.9, "8": 0.1}))
    partial = _bd(tmp_path, "partial", {"1": 0.5, "3": 0.4})
    with pytest.raises(EvalkitError, match=r"different samples.*1 only in A, 1 only in B \(first: '2'\).*--shared-only"):
        compare_runs(a, partial)
    c = compare_runs(a, partial, shared_only=True)
    assert [r["id"] for r in c["samples"]] == ["1"] and c["only_a"] == 1 and c["only_b"] == 1
    with pytest.raises(EvalkitError, match="no breakdown file.*--mode score --resume"):
        compare_runs(a, tmp_path / "nothing")


def test_compare_leaves_category_metrics_out_of_a_shared_only_comparison(tmp_path):
    cats = {"1": {"name": "x", "AP": 0.5}, "2": {"name": "y", "AP": 0.7}}
    a = _bd(tmp_path, "a", {"1": 0.9, "2": 0.8}, categories=cats)
    b = _bd(tmp_path, "b", {"1": 0.9}, categories=cats)
    assert "AP" not in {m["key"] for m in compare_runs(a, b, shared_only=True)["metrics"]}
    full = {m["key"]: m for m in compare_runs(a, a)["metrics"]}
    assert full["AP"]["unit"] == "category" and full["AP"]["n_units"] == 2 and full["AP"]["within_noise"]


def test_compare_cli_exit_codes(tmp_path, capsys):
    import argparse

    from evalkit.reports.compare import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    a = _bd(tmp_path, "a", {"1": 0.9, "2": 0.8})
    b = _bd(tmp_path, "b", {"1": 0.3, "2": 0.8})
    assert main(p.parse_args([str(a), str(b), "-f", "json", "--seed", "7"])) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seed"] == 7 and out["regressions"][0]["id"] == "1"
    assert main(p.parse_args([str(a), str(tmp_path / "missing")])) == 2
    assert "evalkit compare: error:" in capsys.readouterr().err


def test_ratio_aggregate_unit(tmp_path):
    bd = Breakdown("expression", "IoU", True, {"1": {"I": 1, "U": 2}, "2": {"I": 0, "U": 2}}, {}, {},
                   {"oIoU": ratio("I", "U", scale=100.0)})
    write_breakdown(tmp_path / "breakdown.json", bd, benchmark="b", model="m", metric="refcoco-res")
    from evalkit.breakdown import aggregate, load_breakdown

    d = load_breakdown(tmp_path)
    assert aggregate(d, "oIoU") == 25.0
    assert aggregate(d, "oIoU", ["1", "1"]) == 50.0  # a resample with unit 1 twice


def test_compare_average_aggregate_recomputes_each_component(tmp_path):
    # LVOS-like: J&F-Mean = mean of a seen and an unseen object-weighted mean; video "u" is
    # unseen. By hand, A: seen (0.8*2 + 0.4*1) / 3 = 2/3, unseen 0.5 -> 7/12; B: seen 2/3, unseen 0.9
    from evalkit.metrics._breakdown import average, weighted

    def run(name, u):
        samples = {"s1": {"J_seen": 0.8, "n": 2, "J_unseen": None}, "s2": {"J_seen": 0.4, "n": 1, "J_unseen": None},
                   "u": {"J_seen": None, "n": 1, "J_unseen": u}}
        bd = Breakdown("sequence", None, True, samples, {}, {},
                       {"J-Mean": average(weighted("J_seen", "n"), weighted("J_unseen", "n"))})
        write_breakdown(tmp_path / name / "breakdown.json", bd, benchmark="lvos-val", model=name, metric="lvos")
        return tmp_path / name

    [m] = compare_runs(run("a", 0.5), run("b", 0.9), resamples=500)["metrics"]
    assert m["a"] == pytest.approx(7 / 12) and m["b"] == pytest.approx((2 / 3 + 0.9) / 2)
    assert m["delta"] == pytest.approx(0.2) and m["n_units"] == 3
    # a resample without the unseen video has no unseen mean (NaN, as the official mean of
    # nothing) and is dropped; every kept replicate moves by exactly 0.4 / 2
    assert m["low"] == pytest.approx(0.2) and m["high"] == pytest.approx(0.2)

