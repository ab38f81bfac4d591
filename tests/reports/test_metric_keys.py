"""The metric-key table (``evalkit/metrics/keys.csv``) against every registered metric, and every
report format parsed back against ``metrics.json``.

For every metric id a generated case is scored three times (``metric_cases.py``); every key the
metric returns must be in the table. The three results are recorded as three runs, rendered as
Markdown, LaTeX, HTML, CSV and model-index, and every printed cell is parsed back: it must equal
the run's ``metrics.json`` value under its key in the table's scale (fractions ×100, counts as
integers), and bold / underline must sit on the best / second-best value on the side of the key's
direction (never on a key without one).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from evalkit.metrics import keys as K
from evalkit.registry import METRICS
from evalkit.reports import cli
from metric_cases import CASES, VARIANTS, benchmark_of, metric_of, score_case

MODELS = ("gen-oracle", "gen-shift1", "gen-shift2")  # variants 0, 1, 2


# -- the table itself ------------------------------------------------------------------------------
def test_every_registered_metric_has_its_keys_listed():
    for mid in METRICS.ids():
        meta = METRICS.get(mid).meta
        rows = {r.key: r for r in K.keys_of(mid)}
        assert rows, f"{mid}: no rows in evalkit/metrics/keys.csv"
        missing = [k for k in meta["reports"] if K.lookup(mid, k) is None]
        assert not missing, f"{mid}: declared keys {missing} are not in keys.csv"
        # the registry's primary is the table's first headline key
        assert K.headline(mid)[0].canonical == K.resolve(meta["primary"], mid), mid
        # the registry's count keys are exactly the table's counts and sizes
        assert set(meta["count_keys"]) == {k for k, r in rows.items() if r.is_count}, mid
        # and its scale is the table's scale of every score key
        scales = {r.scale for r in rows.values() if r.scale in ("fraction", "percent")}
        assert scales == {meta["scale"]}, (mid, scales)


def test_one_meaning_per_canonical_key():
    by_canon: dict[str, set] = {}
    for r in K.table():
        assert r.label and r.latex, r
        by_canon.setdefault(r.canonical, set()).add((r.direction, r.is_count))
    mixed = {k: v for k, v in by_canon.items() if len(v) > 1}
    assert not mixed, mixed


def test_aliases_are_exact_and_listed():
    # TrackEval's IDSW (CLEAR id switches, trackeval/metrics/clear.py) is IDSw; its IDs (number
    # of tracker identities, trackeval/metrics/count.py) is not an alias of it
    assert K.resolve("IDSW", "mot-challenge") == "IDSw" == K.resolve("IDSw", "bdd100k-box-track")
    assert K.resolve("IDs", "mot-challenge") == "IDs" and K.canonical("IDs").direction == "none"
    assert K.resolve("ids") is None and K.resolve("j&f") is None  # no case folding, no guessing
    # one official name, two quantities: TrackEval's MOTS sMOTA is sMOTSA (trackeval/metrics/clear.py
    # on mask IoU); the metric id decides
    assert K.resolve("sMOTA", "mot-challenge") == "sMOTA" and K.resolve("sMOTA", "mots-challenge") == "sMOTSA"
    # direction: DAVIS decay = mean of the first quarter − mean of the last (davis2017-evaluation
    # davis2017/utils.py db_statistics): a larger decay is worse
    for key in ("J-Decay", "F-Decay", "FP", "FN", "IDSw", "Frag", "ML", "IDFN", "FP_per_frame", "V"):
        assert K.canonical(key).direction == "lower", key
    for key in ("GT_Dets", "GT_IDs", "IDs", "Dets", "Frames", "PT"):
        assert K.canonical(key).direction == "none", key


def test_every_printed_paper_name_resolves(shared_dir):
    """Every metric name printed in the papers that the package data maps to a key resolves to
    exactly that key (reports/data/paper_results.csv, built from the reference extraction)."""
    from importlib import resources

    path = resources.files("evalkit.reports").joinpath("data", "paper_results.csv")
    with path.open("r", encoding="utf-8", newline="") as f:
        pairs = {(r["paper_metric"], r["metric_key"]) for r in csv.DictReader(f)}
    for printed, key in sorted(pairs):
        assert K.resolve(printed) == (key or None), printed
    from evalkit.reports.mapping import fallback_benchmarks

    for b in fallback_benchmarks().values():
        for key in b.metrics:
            assert K.canonical(key) is not None, (b.id, key)


def test_breakdown_templates_match_whole_names_only():
    assert K.lookup("bdd100k-box-track", "car/MOTA").canonical == "{class}/MOTA"
    assert K.lookup("bdd100k-box-track", "car/MOTAL") is None
    assert K.lookup("odinw", "AP/Aquarium").is_breakdown
    assert K.lookup("davis-semi", "seq/bike-packing_1/J-Mean").is_breakdown
    assert K.lookup("coco-bbox", "AP/cat") is None  # a template belongs to its metric only


# -- the generated cases ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scored(generated_datasets, tmp_path_factory):
    root, oracle = generated_datasets
    out = tmp_path_factory.mktemp("metric_cases")
    return {c: [score_case(c, k, root, oracle, out / c / str(k)) for k in VARIANTS] for c in CASES}


def test_cases_cover_every_registered_metric():
    assert {metric_of(c) for c in CASES} == set(METRICS.ids())


def _write_runs(root: Path, case: str, results: list[dict]) -> Path:
    bench, metric = benchmark_of(case), metric_of(case)
    meta = METRICS.get(metric)
    for k, (model, metrics) in enumerate(zip(MODELS, results)):
        d = root / bench / model / "20261201-000000"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({  # the runner's record (evalkit/runner.py)
            "schema": 1, "benchmark": bench, "model": model, "task": meta.task, "metric": metric,
            "metrics": metrics, "scale": meta.meta["scale"], "status": "complete", "limit": None,
            "samples": {"total": 4, "done": 4, "failed": 0}, "weights_sha256": f"{k}" * 64,
            "created": "2026-12-01T00:00:00+00:00"}, allow_nan=True))
    return root


def _expected(metric: str, metrics: dict) -> dict[str, tuple[float, K.MetricKey]]:
    out = {}
    for key, v in metrics.items():
        row = K.require(metric, key)  # a key the table lacks fails here
        if row.is_breakdown:
            continue
        shown = K.to_display(row, v)
        if shown is not None:
            out.setdefault(row.canonical, (shown, row))
    return out


def _render(root: Path, fmt: str):
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    return cli.render(p.parse_args([str(root), "--format", fmt]))


_NUM = re.compile(r"^[−-]?\d+(\.\d+)?$")


def _check_marks(col_vals: dict[str, float], marks: dict[str, str], direction: str, where: str) -> None:
    """``col_vals``: model → value (full precision); ``marks``: model → best|second|''."""
    if direction == "none" or len(col_vals) < 2:
        assert not any(marks.values()), f"{where}: a key without a direction is marked {marks}"
        return
    uniq = sorted(set(col_vals.values()), reverse=direction == "higher")
    for model, v in col_vals.items():
        want = "best" if v == uniq[0] else "second" if len(uniq) > 1 and v == uniq[1] and len(col_vals) >= 3 else ""
        assert marks.get(model, "") == want, f"{where}: {model} {v} marked {marks.get(model)!r}, expected {want!r}"


def _close(text: str, value: float, row: K.MetricKey, decimals: int, where: str) -> None:
    assert _NUM.match(text), f"{where}: cell {text!r} is not a number"
    if row.is_count and float(value).is_integer():
        assert "." not in text, f"{where}: count printed as {text!r}"
    assert abs(float(text.replace("−", "-")) - value) <= 0.5 * 10 ** -decimals + 1e-9, f"{where}: {text} vs {value}"


class _Cells(HTMLParser):
    """(family, [[(text, tags)]]) of every ``table.lb`` body row."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell, self._tags, self._body = [], None, None, set(), False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "lb" in (a.get("class") or ""):
            self.tables.append((a.get("data-family"), []))
        elif tag == "tbody":
            self._body = True
        elif tag == "tr" and self._body and self.tables:
            self._row = []
            self.tables[-1][1].append(self._row)
        elif tag == "td" and self._row is not None:
            self._cell, self._tags = "", set()
        elif tag in ("b", "u", "sup") and self._cell is not None:
            self._tags.add(tag)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append((self._cell, set(self._tags)))
            self._cell = None
        elif tag == "tbody":
            self._body, self._row = False, None

    def handle_data(self, data):
        if self._cell is not None and "sup" not in self._tags:
            self._cell += data


@pytest.mark.parametrize("case", CASES)
def test_every_format_prints_metrics_json(case, scored, tmp_path):
    metric, bench = metric_of(case), benchmark_of(case)
    results = scored[case]
    exp = {m: _expected(metric, r) for m, r in zip(MODELS, results)}
    root = _write_runs(tmp_path, case, results)
    decimals = 1

    # CSV: every key of the runs (raw counts included), at full precision
    text, tables = _render(root, "csv")
    (t,) = tables
    rows = [r for r in csv.DictReader(io.StringIO(text))]
    for m in MODELS:
        got = {r["metric"]: r for r in rows if r["model"] == m}
        assert set(got) == set(exp[m]), (m, set(got) ^ set(exp[m]))
        for key, (v, row) in exp[m].items():
            cell = got[key]["ours"]
            if row.is_count and float(v).is_integer():
                assert cell == str(int(v)), (key, cell)
            assert float(cell) == pytest.approx(v, rel=1e-9, abs=1e-9), (m, key)
    for key in exp[MODELS[0]]:
        vals = {m: exp[m][key][0] for m in MODELS if key in exp[m]}
        marks = {r["model"]: r["mark"] for r in rows if r["metric"] == key}
        _check_marks(vals, marks, exp[MODELS[0]][key][1].direction, f"csv {key}")

    cols = [c for c in t.columns if c.kind == "ours"]
    assert cols and all(c.benchmark == bench for c in cols)
    # the shown columns are the task's headline keys (no paper layout for most cases) or the
    # paper layout of the benchmark: never a raw count beyond those
    heads = {r.canonical for r in K.headline(metric)}
    from evalkit.reports.mapping import benchmark_info

    layout = set(benchmark_info(bench).metrics) if benchmark_info(bench).known else set()
    assert {c.key for c in cols} <= heads | layout, {c.key for c in cols} - heads - layout

    def check_grid(fmt: str, grid: dict[str, list[tuple[str, str]]]) -> None:
        """grid: model → [(cell text, mark)] in column order."""
        assert set(grid) == set(MODELS), (fmt, set(grid))
        for j, c in enumerate(t.columns):
            vals, marks = {}, {}
            for m in MODELS:
                text, mark = grid[m][j]
                if c.key not in exp[m]:
                    assert text in ("–", "--"), (fmt, m, c.key, text)
                    continue
                v, row = exp[m][c.key]
                _close(text, v, row, decimals, f"{fmt} {case} {m} {c.key}")
                vals[m], marks[m] = v, mark
            _check_marks(vals, marks, K.canonical(c.key).direction, f"{fmt} {c.key}")

    # Markdown
    md, _ = _render(root, "md")
    grid = {}
    for line in md.splitlines():
        cells = [x.strip() for x in line.strip("|").split(" | ")]
        if len(cells) > 4 and cells[2] in MODELS:
            parsed = []
            for x in cells[4:]:
                mark = "best" if x.startswith("**") else "second" if x.startswith("<u>") else ""
                parsed.append((re.sub(r"\*\*|</?u>|[†‡*§°]+$", "", x), mark))
            grid[cells[2]] = parsed
    check_grid("md", grid)

    # LaTeX
    tex, _ = _render(root, "latex")
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    grid = {}
    for line in body.strip().splitlines():
        cells = [x.strip() for x in line.rstrip().removesuffix(r"\\").split(" & ")]
        parsed = []
        for x in cells[4:]:
            mark = "best" if x.startswith(r"\textbf{") else "second" if x.startswith(r"\underline{") else ""
            x = re.sub(r"^\\(textbf|underline)\{(.*)\}$", r"\2", x).replace("$-$", "-")
            parsed.append((x, mark))
        grid[cells[2].replace(r"\_", "_")] = parsed
    check_grid("latex", grid)

    # HTML
    page, _ = _render(root, "html")
    p = _Cells()
    p.feed(page)
    (fam, trs), = p.tables
    assert fam == t.family
    grid = {}
    for tr in trs:
        grid[tr[2][0]] = [(txt, "best" if "b" in tags else "second" if "u" in tags else "") for txt, tags in tr[4:]]
    check_grid("html", grid)

    # model-index: the table's columns, complete runs, counts as integers
    mi, _ = _render(root, "model-index")
    docs = {d["model-index"][0]["name"]: d["model-index"][0] for d in yaml.safe_load_all(mi)}
    for m in MODELS:
        (res,) = [r for r in docs[m]["results"] if r["dataset"]["type"] == bench]
        got = {x["type"]: x["value"] for x in res["metrics"]}
        assert set(got) == {c.key for c in cols if c.key in exp[m]}, (m, got)
        for key, value in got.items():
            v, row = exp[m][key]
            if row.is_count and float(v).is_integer():
                assert isinstance(value, int) and value == int(v), (key, value)
            else:
                assert value == pytest.approx(v, abs=0.5 * 10 ** -(decimals + 1) + 1e-9), (m, key)


def test_mot_case_idsw_and_ids_by_hand(scored):
    """The generated MOT case, variant 2 (metric_cases._mot_files): 2 sequences × 8 frames × 3
    boxes (GT = 48); on the 4 even frames every prediction is shifted 24 px (IoU 16/64 < 0.5:
    24 FN and 24 FP); object 3 takes a new id after frame 4 (one switch per sequence: IDSW = 2);
    tracker ids {1, 2, 3, 13} per sequence (TrackEval Count: IDs = 8). CLEAR MOTA =
    1 − (FN + FP + IDSW) / GT = 1 − 50/48 (trackeval/metrics/clear.py)."""
    m = scored["mot-challenge"][2]
    assert (m["CLR_FN"], m["CLR_FP"], m["IDSW"], m["IDs"], m["GT_Dets"]) == (24, 24, 2, 8, 48)
    assert m["MOTA"] == pytest.approx(1 - 50 / 48)
    exp = _expected("mot-challenge", m)
    assert exp["IDSw"][0] == 2 and exp["IDs"][0] == 8 and exp["MOTA"][0] == pytest.approx(100 * (1 - 50 / 48))
