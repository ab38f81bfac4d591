"""The run summary of ``evalkit run`` / ``evalkit demo`` and the demo's MOT run read back from
every report format."""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
from pathlib import Path

import pytest

from evalkit.reports import cli as report_cli
from evalkit.reports.summary import headline_text, print_summary
from evalkit.runner import RunResult


def test_headline_in_the_papers_scale():
    # COCO AP is a fraction (pycocotools COCOeval.summarize), -1 = no GT in that area range
    coco = {"AP": 0.9264, "AP50": 1.0, "AP75": 0.95, "APs": 0.9, "APm": 0.8, "APl": -1.0, "AR1": 0.5}
    assert headline_text("coco-bbox", coco) == "AP 92.6 · AP50 100.0 · AP75 95.0 · APs 90.0 · APm 80.0"
    # RefCOCO precision is already a percentage (UNINEXT refcocoeval prints ×100)
    assert headline_text("refcoco-rec", {"P@0.5": 87.0, "P@0.9": 20.0}) == "P@0.5 87.0"
    # TrackEval: HOTA / MOTA / IDF1 fractions, IDSW a count; the first keys of the dict (HOTA_TP,
    # HOTA_FN, ...) are not headline metrics
    mot = {"HOTA_TP": 105.47, "HOTA_FN": 4.5, "HOTA": 0.9430, "MOTA": 0.97273, "IDF1": 0.98630,
           "IDSW": 2.0, "IDs": 12.0}
    assert headline_text("mot-challenge", mot) == "HOTA 94.3 · MOTA 97.3 · IDF1 98.6 · IDSw 2"
    # BDD100K MOTS prints mMOTA as mMOTSA (UNINEXT Table 8); the metric returns both names
    seg = {"mMOTA": 30.0, "mMOTSA": 30.0, "mMOTP": 60.0, "mMOTSP": 60.0, "mIDF1": 45.0, "IDSw": 1634.0}
    assert headline_text("bdd100k-seg-track", seg) == "mMOTSA 30.0 · mMOTSP 60.0 · mIDF1 45.0 · IDSw 1634"
    assert headline_text("sot", {"AO": 71.0, "SR0.5": 80.0, "SR0.75": 60.0}) == "AO 71.0 · SR0.5 80.0 · SR0.75 60.0"
    assert headline_text("burst", {"HOTA_all": 50.0, "HOTA_common": float("nan")}) == "HOTA (all) 50.0"
    assert headline_text("coco-bbox", None) == "-"


def test_piped_summary_is_never_cut(tmp_path):
    deep = tmp_path / ("a-very-long-folder-name-" * 6) / "shapes-mot" / "uninext-tiny" / "20261208-011434"
    deep.mkdir(parents=True)
    (deep / "metrics.json").write_text(json.dumps({"metric": "mot-challenge"}))
    res = RunResult(deep, {"HOTA": 0.943, "MOTA": 0.9727, "IDF1": 0.9863, "IDSW": 2.0}, "complete", {})
    buf = io.StringIO()  # not a terminal: rich would wrap and cut at 80 columns
    print_summary([("uninext-tiny-with-a-long-model-id", "shapes-mot", res)], file=buf)
    out = buf.getvalue()
    assert str(deep) in out and "…" not in out
    assert "uninext-tiny-with-a-long-model-id" in out and "HOTA 94.3 · MOTA 97.3 · IDF1 98.6 · IDSw 2" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:  # rich sizes its output to a terminal of COLUMNS columns
        return True


def test_terminal_summary_prints_full_run_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    deep = tmp_path / ("x" * 90) / "shapes-davis" / "uninext-tiny" / "20261208-011434"
    res = RunResult(deep, {"J&F-Mean": 0.846, "J-Mean": 0.808, "F-Mean": 0.884}, "complete", {})
    out = _Terminal()
    print_summary([("uninext-tiny", "shapes-davis", res)], file=out)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # colours off
    # the table fits 60 columns; the directory is on its own line, whole (soft-wrapped, not cut)
    assert f"run dir (uninext-tiny on shapes-davis): {deep}" in text and "…" not in text
    # a cell may wrap on a narrow terminal, but never between a metric's name and its value
    for pair in ("│ J&F 84.6 ", "│ J 80.8 ", "│ F 88.4 "):
        assert pair in text, text


def _report(*argv: str) -> str:
    p = argparse.ArgumentParser()
    report_cli.add_arguments(p)
    return report_cli.render(p.parse_args(list(argv)))[0]


@pytest.mark.slow
def test_demo_mot_run_idsw_satisfies_mota(tmp_path, capsys):
    """``evalkit run -m uninext-tiny -b shapes-mot``: the IDSw cell of every format is the CLEAR
    ID-switch count: MOTA = 1 − (FN + FP + IDSw) / GT (trackeval/metrics/clear.py), with FN, FP
    and GT (GT_Dets) read from the csv export; TrackEval's IDs (tracker identities) is a
    different number and is never printed as IDSw."""
    from evalkit.cli import main

    assert main(["run", "-m", "uninext-tiny", "-b", "shapes-mot", "--runs-root", str(tmp_path),
                 "--num-workers", "1"]) == 0
    summary = capsys.readouterr().out
    (run,) = list(tmp_path.glob("shapes-mot/uninext-tiny/*"))
    assert str(run) in summary and re.search(r"HOTA \d+\.\d · MOTA \d+\.\d · IDF1 \d+\.\d · IDSw \d+", summary)
    raw = json.loads((run / "metrics.json").read_text())["metrics"]
    rows = {r["metric"]: r["ours"] for r in csv.DictReader(io.StringIO(_report(str(tmp_path), "--format", "csv")))}
    fn, fp, gt = (int(rows[k]) for k in ("FN", "FP", "GT_Dets"))  # integers printed as integers
    md = _report(str(tmp_path))
    head = next(l for l in md.splitlines() if l.startswith("| Method"))
    body = next(l for l in md.splitlines() if "| uninext-tiny |" in l)
    names = [c.strip().removesuffix(" ↓") for c in head.strip("|").split("|")]  # IDSw ↓: lower is better
    assert "shapes IDSw ↓" in head
    cells = dict(zip(names, [c.strip() for c in body.strip("|").split("|")]))
    idsw = int(next(v for k, v in cells.items() if k.endswith("IDSw")))
    mota = float(next(v for k, v in cells.items() if k.endswith("MOTA")))
    assert idsw == raw["IDSW"] and sum(k.endswith("IDSw") for k in cells) == 1
    assert mota == pytest.approx(100 * (1 - (fn + fp + idsw) / gt), abs=0.05)
    assert raw["IDs"] != raw["IDSW"]  # would have caught the old IDs → IDSw alias
    tex = _report(str(tmp_path), "--format", "latex")
    assert re.search(rf"& {idsw} \\\\$", tex, re.M)  # the LaTeX row ends with the same IDSw count
