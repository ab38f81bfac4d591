"""Paper-faithful layouts: headline columns only (raw counts in the csv export), integers as
integers, Paper/Δ columns only where a published number exists, one column order in every
format, ↓ on lower-is-better headers, and the radar figure's axes and missing-task marks."""
from __future__ import annotations

import argparse
import csv
import io
import xml.etree.ElementTree as ET

import pytest

from evalkit.reports import cli
from reports_rundata import write_run

# TrackEval's combined result of the demo's MOT run (evalkit run -m uninext-tiny -b shapes-mot)
MOT = {"HOTA_TP": 105.47368421052632, "HOTA_FN": 4.526315789473684, "HOTA_FP": 3.526315789473684,
       "AssA": 0.9401447368801042, "DetA": 0.9464983653958245, "HOTA": 0.9429879027583974,
       "CLR_TP": 109.0, "CLR_FN": 1.0, "CLR_FP": 0.0, "IDSW": 2.0, "MT": 11.0, "PT": 0.0, "ML": 0.0,
       "Frag": 0.0, "CLR_Frames": 40.0, "MOTA": 0.9727272727272728, "MOTP": 0.9430728270922396,
       "FP_per_frame": 0.0, "IDTP": 108.0, "IDFN": 2.0, "IDFP": 1.0, "IDF1": 0.9863013698630136,
       "Dets": 109.0, "GT_Dets": 110.0, "IDs": 12.0, "GT_IDs": 11.0}
DONE = (4, 4, 0)


def _report(*argv: str):
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    return cli.render(p.parse_args(list(argv)))


@pytest.fixture
def runs(tmp_path):
    write_run(tmp_path, "shapes-mot", "uninext-tiny", "a" * 64, "mot", "mot-challenge", MOT, "fraction",
              "complete", None, DONE, "2026-12-01T00:00:00Z")
    write_run(tmp_path, "shapes-mot", "other-tiny", "b" * 64, "mot", "mot-challenge",
              {**MOT, "IDSW": 5.0, "MOTA": 0.95, "HOTA": 0.95}, "fraction", "complete", None, DONE, "2026-12-01T00:00:00Z")
    write_run(tmp_path, "davis17-val", "uninext-r50", "c" * 64, "vos", "davis-semi",
              {"J&F-Mean": 0.7412, "J-Mean": 0.7101, "J-Decay": 0.068, "F-Mean": 0.7723, "F-Decay": 0.028},
              "fraction", "complete", None, (30, 30, 0), "2026-12-01T00:00:00Z")
    write_run(tmp_path, "davis17-val", "uniref-pp-r50", "d" * 64, "vos", "davis-semi",
              {"J&F-Mean": 0.8125, "J-Mean": 0.782, "J-Decay": 0.028, "F-Mean": 0.843, "F-Decay": 0.068},
              "fraction", "complete", None, (30, 30, 0), "2026-12-01T00:00:00Z")
    write_run(tmp_path, "shapes-sot", "uninext-tiny", "a" * 64, "sot", "sot", {"AO": 94.3, "SR0.5": 100.0, "SR0.75": 100.0},
              "percent", "complete", None, DONE, "2026-12-01T00:00:00Z")
    return tmp_path


def test_mot_table_headline_columns_and_counts(runs):
    md, tables = _report(str(runs), "--benchmark", "shapes-mot")
    (t,) = tables
    # the headline keys of mot-challenge (keys.csv), IDSw once: TrackEval's IDs is not IDSw
    assert [c.key for c in t.columns] == ["HOTA", "MOTA", "IDF1", "IDSw"]
    row = next(l for l in md.splitlines() if "| uninext-tiny |" in l)
    # IDSw 2 < 5: lower is better, bold; IDF1 equal for both rows: both bold
    assert row.endswith("| 94.3 | **97.3** | **98.6** | **2** |")
    assert "shapes IDSw ↓" in md and "Layout as in" not in md  # no paper layout for shapes-mot
    rows = list(csv.DictReader(io.StringIO(_report(str(runs), "--benchmark", "shapes-mot", "--format", "csv")[0])))
    mine = {r["metric"]: r for r in rows if r["model"] == "uninext-tiny"}
    # every key in the csv, counts as integers, sizes (IDs, GT_Dets) never ranked
    assert mine["FN"]["ours"] == "1" and mine["TP"]["ours"] == "109" and mine["IDs"]["ours"] == "12"
    assert mine["HOTA_TP"]["ours"] == "105.4736842105"  # a mean over α: not an integer
    assert mine["IDs"]["mark"] == "" and mine["GT_Dets"]["mark"] == ""
    assert mine["IDSw"]["mark"] == "best" and mine["MOTA"]["mark"] == "best"
    assert {r["metric"] for r in rows} >= {"FP", "FN", "Frag", "ML", "IDFN", "FP_per_frame", "Frames"}


def test_decay_bold_on_the_lower_side(runs):
    _, tables = _report(str(runs), "--benchmark", "davis17-val", "--format", "csv")
    text = _report(str(runs), "--benchmark", "davis17-val", "--format", "csv")[0]
    marks = {(r["model"], r["metric"]): r["mark"] for r in csv.DictReader(io.StringIO(text))}
    # DAVIS decay = first-quarter mean − last-quarter mean (davis2017-evaluation
    # davis2017/utils.py db_statistics): 2.8 beats 6.8
    assert marks[("uniref-pp-r50", "J-Decay")] == "best" and marks[("uninext-r50", "J-Decay")] == ""
    assert marks[("uninext-r50", "F-Decay")] == "best" and marks[("uniref-pp-r50", "J&F")] == "best"


def test_paper_columns_only_where_published(runs):
    md, tables = _report(str(runs), "--paper")
    by = {t.family: t for t in tables}
    # DAVIS 2017: UNINEXT Table 6 prints J&F, J, F for both models → Ours | Paper | Δ
    assert {c.kind for c in by["vos"].columns} == {"ours", "paper", "delta"}
    # shapes benchmarks: no published number → no Paper/Δ columns and no "Ours" level at all
    assert {c.kind for c in by["mot"].columns} == {"ours"} and by["mot"].depth == 2
    assert "Paper" not in md.split("### Multiple object tracking")[1]


def test_one_column_order_in_every_format(runs):
    md, (t,) = _report(str(runs), "--benchmark", "davis17-val", "--paper")
    tex = _report(str(runs), "--benchmark", "davis17-val", "--paper", "--format", "latex")[0]
    page = _report(str(runs), "--benchmark", "davis17-val", "--paper", "--format", "html")[0]
    head = next(l for l in md.splitlines() if l.startswith("| Method"))
    assert head.startswith("| Method | Backbone | Model | Weights |")
    assert r"Method & Backbone & Model & Weights" in tex
    assert page.index(">Method<") < page.index(">Backbone<") < page.index(">Model<") < page.index(">Weights<")
    # leaf metric headers in the same order in Markdown and LaTeX, in the papers' notation
    assert [h.split()[-2] for h in head.strip("|").split(" | ")[4:]][::3] == ["J&F", "J", "F"]
    assert tex.index(r"$\mathcal{J}\&\mathcal{F}$") < tex.index(r"\multicolumn{3}{c}{$\mathcal{J}$}")


def _svg_text(path) -> str:
    return "".join(ET.parse(path).getroot().itertext())


def test_radar_every_task_and_missing_marked(runs, tmp_path):
    _, tables = _report(str(runs))
    from evalkit.reports.radar import write_radar

    paths = write_radar(tables, tmp_path / "fig" / "radar")
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"]
    assert paths[2].read_bytes()[:5] == b"%PDF-"
    text = _svg_text(paths[1])
    for axis in ("SOT", "VOS", "MOT"):  # SOT scored by AO, MOT by HOTA: headline keys of keys.csv
        assert axis in text
    assert "not evaluated" in text  # uniref-pp-r50 has VOS only
    assert "94.3" in text and "81.2" in text  # the value table under the chart


def test_radar_with_two_tasks_is_a_bar_chart(tmp_path):
    write_run(tmp_path / "r", "davis17-val", "uniref-pp-r50", "d" * 64, "vos", "davis-semi",
              {"J&F-Mean": 0.8125}, "fraction", "complete", None, (30, 30, 0), "2026-12-01T00:00:00Z")
    write_run(tmp_path / "r", "refcoco-val-res", "uniref-pp-r50", "d" * 64, "res", "refcoco-res",
              {"oIoU": 82.0, "mIoU": 83.0}, "percent", "complete", None, (10, 10, 0), "2026-12-01T00:00:00Z")
    _, tables = _report(str(tmp_path / "r"))
    from evalkit.reports.radar import write_radar

    svg = write_radar(tables, tmp_path / "two")[1]
    text = _svg_text(svg)
    assert "score (percent points)" in text and "81.2" in text and "82.0" in text
