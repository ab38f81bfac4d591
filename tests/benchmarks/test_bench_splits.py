"""Every registered split: validates, loads samples, writes the official results from oracle
predictions; locally scored splits score perfectly, server splits produce their upload file."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from evalkit.benchmarks.base import build_benchmark
from evalkit.registry import BENCHMARKS, METRICS
from evalkit.types import Categories, Expression, Frames, Instances, Reference

# the embedded shapes suite generates its own data and has its own oracle tests (tests/shapes)
ALL = [i for i in BENCHMARKS.ids() if i not in BENCHMARKS.groups().get("shapes", ())]


def test_every_split_has_generated_data(data):
    _, oracle = data
    assert sorted(oracle) == ALL


def test_groups_resolve():
    groups = BENCHMARKS.groups()
    for g in ("uninext-20", "uninext", "uniref", "glee", "univs", "image", "video", "server"):
        members = [e.id for e in BENCHMARKS.select(g)]
        assert members and set(members) <= set(ALL), g
    assert set(groups["server"]) == {i for i in ALL if BENCHMARKS.get(i).meta["server"]}
    # every server split has no local metric and every local split has one (VIPOSeg: none yet)
    for i in ALL:
        meta = BENCHMARKS.get(i).meta
        assert (meta["metric"] is None) == meta["server"], i
    # the UNINEXT-20 group is the 20 benchmarks of its Tables 1-10, one split each (COCO det and
    # seg, RefCOCO/+/g REC and RES count separately); "uninext" holds every split they report
    def benchmarks_of(group):
        return [next((m["benchmark"], BENCHMARKS.get(i).task) for m in BENCHMARKS.get(i).meta["paper"]
                     if m["paper"] == "UNINEXT" and m["table"] != "Table 11") for i in groups[group]]

    assert len(groups["uninext-20"]) == 20 == len(set(benchmarks_of("uninext-20")))
    assert len(groups["uninext"]) == 31 and set(benchmarks_of("uninext")) == set(benchmarks_of("uninext-20"))
    assert set(groups["uninext-20"]) <= set(groups["uninext"])


def _oracle_preds(bench, sid, sample, oracle):
    preds = oracle[bench.id][sid]
    if preds is None:  # interactive: the clicked instance's ground-truth mask
        im, ann = bench._ann(sid)
        m = bench._mask(im, ann)
        preds = [Instances(m.shape, masks=m[None], scores=[1.0])]
    return preds


@pytest.mark.parametrize("bid", ALL)
def test_split_end_to_end(bid, data, tmp_path):
    root, oracle = data
    bench = build_benchmark(bid, root)
    meta = BENCHMARKS.get(bid).meta
    assert bench.task == BENCHMARKS.get(bid).task and bench.prompt == meta["prompt"]
    bench.validate()
    ids = bench.sample_ids()
    assert ids == build_benchmark(bid, root).sample_ids()  # deterministic, fresh instance
    assert len(set(ids)) == len(ids) and set(ids) == set(oracle[bid])
    assert len(bench.fingerprint()) == 64
    preds, metas = {}, {}
    kinds = {"categories": Categories, "expression": Expression, "reference": Reference}
    for sid in ids:
        s = bench.load_sample(sid)
        assert s.id == sid and isinstance(s.prompt, kinds[bench.prompt])
        assert isinstance(s.frames, Frames) and len(s.frames) >= 1
        if len(s.frames) > 1:  # videos are lazy: frame sources are paths, decoded on access
            assert all(isinstance(src, Path) for src in s.frames._sources)
        f0 = s.frames[0]
        assert f0.dtype == np.uint8 and f0.ndim == 3 and f0.shape[2] == 3
        json.dumps(s.meta)  # the runner stores meta in the prediction store
        preds[sid] = _oracle_preds(bench, sid, s, oracle)
        assert len(preds[sid]) == len(s.frames)
        metas[sid] = s.meta
    written = bench.write_results(preds, metas, tmp_path)
    assert written and all(Path(p).is_file() for p in written)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp files
    assert bench.results_path(tmp_path).exists()
    if bench.server:
        sub = tmp_path / "submission.zip"
        assert sub.is_file()
        with zipfile.ZipFile(sub) as zf:
            assert zf.testzip() is None and zf.namelist()
    if bench.metric is not None:
        scores = bench.score(tmp_path)
        entry = METRICS.get(bench.metric)
        primary = entry.meta["primary"]
        top = 100.0 if entry.meta.get("scale") == "percent" else 1.0
        # oracle predictions equal the ground truth: the headline number is perfect (SOT AUC
        # is the mean success over thresholds 0..1 with IoU > t strict, so it tops out at 20/21)
        expected, tol = top, 1e-6
        if bench.metric == "sot":
            # pytracking AUC is the mean success over thresholds 0..1 with IoU > t strict, so
            # it tops out at 20/21 (float32 curves, as the official tensors); GOT-10k: AO
            primary = "AO" if bench.layout == "got10k" else "AUC"
            expected, tol = (top, 1e-6) if primary == "AO" else (top * 20 / 21, 1e-4)
        if bench.metric.startswith("bdd100k"):
            # mMOTA averages the 8 classes, absent ones count 0: the pooled numbers are perfect
            primary = "MOTA"
            assert scores["MOTP"] == pytest.approx(top) and scores["IDF1"] == pytest.approx(top)
        assert scores[primary] == pytest.approx(expected, abs=tol), scores


def test_docs_list_every_split():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md").read_text()
    missing = [i for i in ALL if f"| `{i}` |" not in doc]
    assert not missing, f"docs/benchmarks.md lacks rows for {missing}"


def test_paper_references_exist_in_paper_results():
    """Every (paper, table, benchmark, split, metric) a split cites is a cell of the papers."""
    import csv

    csv_path = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "paper_results.csv"
    if not csv_path.is_file():
        pytest.skip(f"{csv_path} is absent")
    papers = {"000": "UNINEXT", "001": "UNINEXT", "002": "UniVS", "003": "UniRef++", "004": "GLEE"}
    with open(csv_path, newline="", encoding="utf-8") as f:
        cells = {(papers[r["source_file"][:3]], r["table"], r["benchmark"], r["split"], r["metric"])
                 for r in csv.DictReader(f)}
    missing = [(i, ref) for i in ALL for ref in BENCHMARKS.get(i).meta["paper"]
               if (ref["paper"], ref["table"], ref["benchmark"], ref["split"], ref["metric"]) not in cells]
    assert not missing, missing[:10]
