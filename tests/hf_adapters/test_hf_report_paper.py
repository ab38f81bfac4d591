"""``evalkit report --paper`` puts the published numbers of the transformers models beside our
runs, from ``reports/data/external_results.csv``:

* tiny Grounding DINO / Mask2Former / OWLv2 runs on the generated COCO val2017 and LVIS v1 val
  layouts, then the leaderboard's Paper and Δ cells (Grounding DINO paper Table 2: 48.4 box AP;
  Mask2Former MODEL_ZOO: 45.0 mask AP; scenic OWL-ViT README, OWLv2 B/16 ST/FT ens: 43.9 LVIS AP,
  40.5 APr);
* SAM 2.1 Hiera-T on MOSE val (server-scored, and its model needs torchvision): a run record with a
  recorded J&F of 0.700, whose Paper cell is the SAM 2 README's 71.8 and Δ therefore -1.8 points
  (70.0 - 71.8, by hand).
"""
from __future__ import annotations

import json

import pytest

import evalkit
from evalkit.reports.rundirs import load_runs
from evalkit.reports.table import build_tables


def _cells(table, key: str) -> dict:
    """``{"ours" | "paper" | "delta": cell}`` of metric ``key`` in the table's only row."""
    assert len(table.rows) == 1
    return {c.kind: cell for c, cell in zip(table.columns, table.rows[0].cells) if c.key == key}


@pytest.mark.parametrize("model,bench,paper", [
    ("grounding-dino-tiny", "coco-val2017-det", {"AP": 48.4}),
    ("mask2former-swin-t-coco-instance", "coco-val2017-seg", {"AP": 45.0}),
    ("owlv2-base-patch16-ensemble", "lvis-v1-val-det", {"AP": 43.9, "APr": 40.5}),
])
def test_paper_and_delta_columns(model, bench, paper, generated_data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    [res] = evalkit.evaluate(model, bench, data_root=str(generated_data_root), model_options={"tiny": True},
                             runs_root=str(tmp_path / "runs"), threads=1)
    assert res.samples["failed"] == 0
    (t,) = build_tables(load_runs([tmp_path / "runs"]), paper=True)
    for key, value in paper.items():
        cells = _cells(t, key)
        assert cells["paper"].value == value, key
        ours = 100 * res.metrics[key]
        assert cells["ours"].value == pytest.approx(ours), key
        assert cells["delta"].value == pytest.approx(ours - value), key


def _recorded_run(root, benchmark: str, model: str, task: str, metrics: dict):
    """A run directory as the runner writes it, with ``metrics`` recorded (fractions)."""
    d = root / benchmark / model / "20261201-100000"
    (d / "predictions").mkdir(parents=True)
    (d / "results").mkdir()
    (d / "metrics.json").write_text(json.dumps({
        "schema": 1, "benchmark": benchmark, "model": model, "task": task, "metric": "davis-semi",
        "metrics": metrics, "scale": "fraction", "status": "complete", "limit": None,
        "samples": {"total": 3, "done": 3, "failed": 0}, "weights_sha256": "e" * 64,
        "created": "2026-12-01T10:00:00Z"}))
    (d / "run.json").write_text(json.dumps({"weights_sha256": "e" * 64, "hardware": {"device": "cpu"},
                                            "timings": {"total_s": 1.0}, "config": {"limit": None}}))
    (d / "log.txt").write_text("")


def test_sam2_mose_val_paper_and_delta(tmp_path):
    _recorded_run(tmp_path, "mose-val", "sam2-hiera-tiny", "vos", {"J&F": 0.700, "J-Mean": 0.68, "F-Mean": 0.72})
    (t,) = build_tables(load_runs([tmp_path]), paper=True)
    cells = _cells(t, "J&F")
    assert cells["ours"].value == pytest.approx(70.0)
    assert cells["paper"].value == 71.8  # SAM 2 README, SAM 2.1 table, sam2.1_hiera_tiny, MOSE val
    assert cells["delta"].value == pytest.approx(-1.8)
    # the README prints no J or F: no Paper column for them rather than one borrowed from another row
    assert set(_cells(t, "J-Mean")) == {"ours"}
