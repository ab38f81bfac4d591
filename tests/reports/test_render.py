"""Every output format, rendered through the report command and parsed back."""
from __future__ import annotations

import argparse
import csv
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
import yaml

from evalkit.reports import cli
from evalkit.reports.paper import lookup
from reports_rundata import RUNS, SHA_A, make_runs


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("runs"))


def report(*argv: str) -> str:
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    text, _ = cli.render(p.parse_args(list(argv)))
    return text


def run_main(*argv: str) -> int:
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    return cli.main(p.parse_args(list(argv)))


def test_markdown(root):
    md = report(str(root), "--paper")
    assert "### Semi-supervised video object segmentation" in md
    lines = [l for l in md.splitlines() if l.startswith("|")]
    for block in re.split(r"\n(?=###)", md):
        rows = [l for l in block.splitlines() if l.startswith("|")]
        assert len({l.count("|") - l.count("\\|") for l in rows}) == 1, "ragged markdown table"
    # the left block is Method | Backbone | Model | Weights, as in LaTeX and HTML
    assert lines[0].startswith("| Method | Backbone | Model | Weights |")
    row = next(l for l in lines if "| uniref-pp-r50 |" in l)
    assert "**81.2**" in row and "81.5" in row and "-0.2" in row and "-3.3*" in row
    pend = next(l for l in lines if "| uninext-r50 |" in l and "–†" in l)
    assert "74.1" in pend and "77.0" in pend  # DAVIS ours and YouTube-VOS paper G
    assert "60.0‡" in md
    assert "† Awaiting server score" in md and "‡ Partial run" in md


def test_latex_booktabs(root):
    tex = report(str(root), "--paper", "--format", "latex")
    assert tex.count(r"\begin{table*}") == 3 == tex.count(r"\bottomrule") == tex.count(r"\toprule")
    assert r"\multicolumn{6}{c}{RefCOCO}" in tex and r"\cmidrule(lr){5-10}" in tex
    assert r"\textbf{81.2}" in tex and r"$^\dagger$" in tex and r"$^\ddagger$" in tex
    assert r"$\mathcal{J}\&\mathcal{F}$" in tex
    assert tex.count("{") == tex.count("}")
    for table in tex.split(r"\begin{table*}")[1:]:
        body = table.split(r"\toprule")[1].split(r"\bottomrule")[0]
        rows = [l for l in body.splitlines() if l.endswith(r"\\")]
        ncols = table.split(r"\begin{tabular}{")[1].split("}")[0]
        for l in rows:
            spans = sum(int(n) for n in re.findall(r"\\multicolumn\{(\d+)\}", l))
            cells = l.count(" & ") + 1 - len(re.findall(r"\\multicolumn", l)) + spans
            assert cells == len(ncols), l
    assert "-{}-limit 5" in tex  # no en dash from "--"


def test_csv_long_format(root):
    rows = list(csv.DictReader(io.StringIO(report(str(root), "--paper", "--format", "csv"))))
    got = {(r["benchmark"], r["model"], r["weights_sha256"], r["metric"]): r for r in rows}
    for bench, model, sha, _task, _m, metrics, scale, status, *_ in RUNS:
        for key, raw in metrics.items():
            r = got[(bench, model, sha, key)]
            assert r["status"] == status
            ours = raw * 100 if scale == "fraction" and key != "IDSw" else raw
            assert float(r["ours"]) == pytest.approx(ours)
            pv = lookup(model, bench, key)
            if pv is None:
                assert r["paper"] == "" and r["delta"] == ""
            else:
                assert float(r["paper"]) == pv.value
                assert float(r["delta"]) == pytest.approx(ours - pv.value)
                assert r["paper_source"] == pv.source
    pend = got[("ytvos18-val", "uninext-r50", SHA_A, "G")]
    assert pend["ours"] == "" and pend["status"] == "server-pending" and pend["paper"] == "77.0"
    assert got[("davis17-val", "uniref-pp-r50", "b" * 64, "F-Mean")]["flagged"] == "1"
    assert got[("davis17-val", "glee-lite-vos", "c" * 64, "J&F")]["limit"] == "5"


class _LeaderboardParser(HTMLParser):
    """Collects, per ``table.lb``: header rows as [(text, colspan)], body rows as
    [(data-v, text)]; plus any external references."""

    def __init__(self):
        super().__init__()
        self.tables, self.external, self.scripts, self.svgs = [], [], 0, 0
        self._cell = None
        self._section = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if k in a and not a[k].startswith("#"):
                self.external.append(a[k])
        if tag == "link":
            self.external.append(a.get("href", "link"))
        if tag == "script":
            self.scripts += 1
        if tag == "svg":
            self.svgs += 1
        if tag == "table" and "lb" in a.get("class", ""):
            self.tables.append({"family": a["data-family"], "head": [], "body": []})
        elif self.tables and tag in ("thead", "tbody"):
            self._section = tag
        elif self.tables and tag == "tr" and self._section:
            self.tables[-1]["head" if self._section == "thead" else "body"].append([])
        elif self.tables and tag in ("th", "td") and self._section:
            self._cell = [a.get("data-v"), "", int(a.get("colspan", 1)), a.get("class", "")]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            part = "head" if self._section == "thead" else "body"
            self.tables[-1][part][-1].append(tuple(self._cell))
            self._cell = None
        if tag == "table":
            self._section = None


def test_html_parses_and_matches(root):
    doc = report(str(root), "--paper", "--format", "html")
    p = _LeaderboardParser()
    p.feed(doc)
    assert p.external == [] and p.scripts == 1 and p.svgs >= 1
    assert [t["family"] for t in p.tables] == ["rec", "vos", "mot"]
    for t in p.tables:
        nleaf = len(t["head"][-1])  # the last header row holds only leaf headers
        assert sum(span for *_x, span, _c in t["head"][0]) == 4 + nleaf  # left block spans all rows
        for level in t["head"][1:-1]:
            assert sum(span for *_x, span, _c in level) == nleaf
        assert all(len(row) == 4 + nleaf for row in t["body"])
    vos = p.tables[1]
    uniref = next(r for r in vos["body"] if r[2][1] == "uniref-pp-r50")
    values = [(v, text, cls) for v, text, _s, cls in uniref]
    assert ("81.25", "81.2", "ours gs") in values  # data-v keeps full precision for sorting
    flagged = [(float(v), text) for v, text, cls in values if "flag" in cls.split()]
    assert len(flagged) == 1 and flagged[0][0] == pytest.approx(84.3 - 87.6) and flagged[0][1] == "-3.3*"
    pend = next(r for r in vos["body"] if r[2][1] == "uninext-r50")
    assert any(text == "–†" and v == "" for v, text, _s, _c in pend)


def test_html_sort_script_and_headers(root):
    doc = report(str(root), "--format", "html")
    assert "addEventListener('click'" in doc
    assert 'class="leaf' in doc and "<b>81.2</b>" in doc


def test_model_index(root):
    docs = list(yaml.safe_load_all(report(str(root), "--format", "model-index")))
    by = {d["model-index"][0]["name"]: d["model-index"][0] for d in docs}
    assert set(by) == {"uninext-r50", "uniref-pp-r50", "uninext-convnext-l"}  # GLEE's run is partial
    res = {r["dataset"]["type"]: r for r in by["uniref-pp-r50"]["results"]}
    assert res["davis17-val"]["task"]["type"] == "video-object-segmentation"
    assert {m["type"]: m["value"] for m in res["davis17-val"]["metrics"]} == {"J&F": 81.25, "J-Mean": 78.2, "F-Mean": 84.3}
    # Pending splits are not exported.
    assert all(r["dataset"]["type"] != "ytvos18-val" for d in by.values() for r in d["results"])


def test_radar_png_and_svg(root, tmp_path):
    assert run_main(str(root), "--format", "md", "--out", str(tmp_path / "lb.md"), "--radar", str(tmp_path / "fig" / "radar")) == 0
    png = (tmp_path / "fig" / "radar.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = ET.parse(tmp_path / "fig" / "radar.svg").getroot()
    texts = "".join(svg.itertext())
    for axis in ("REC", "VOS", "MOT"):
        assert axis in texts
    assert "81.2" in texts and "uniref-pp-r50" in texts
    assert (tmp_path / "lb.md").read_text().startswith("### ")


def test_cli_filters_and_errors(root, tmp_path, capsys):
    md = report(str(root), "--benchmark", "refcoco*", "--model", "uninext-*")
    assert "RefCOCO" in md and "DAVIS" not in md
    assert run_main(str(tmp_path / "nope")) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert run_main(str(root), "--model", "zzz") == 2
    assert "no run matches" in capsys.readouterr().err


def test_latex_compiles_when_pdflatex_is_installed(root, tmp_path):
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    (tmp_path / "body.tex").write_text(report(str(root), "--paper", "--format", "latex"), encoding="utf-8")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\\usepackage[T1]{fontenc}\\usepackage{booktabs}\\usepackage{graphicx}"
        "\\begin{document}\\input{body}\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
