"""``evalkit report --paper`` puts the published numbers of the transformers models beside our
runs: a tiny Grounding DINO / Mask2Former run on the generated COCO val2017 layout, then the
leaderboard's Paper and Δ cells (GroundingDINO README 48.4 box AP; Mask2Former MODEL_ZOO 45.0
mask AP, from reports/data/external_results.csv)."""
from __future__ import annotations

import pytest

import evalkit
from evalkit.reports.rundirs import load_runs
from evalkit.reports.table import build_tables


@pytest.mark.parametrize("model,bench,paper", [
    ("grounding-dino-tiny", "coco-val2017-det", 48.4),
    ("mask2former-swin-t-coco-instance", "coco-val2017-seg", 45.0),
])
def test_paper_and_delta_columns(model, bench, paper, generated_data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    [res] = evalkit.evaluate(model, bench, data_root=str(generated_data_root), model_options={"tiny": True},
                             runs_root=str(tmp_path / "runs"), threads=1)
    assert res.samples["failed"] == 0
    (t,) = build_tables(load_runs([tmp_path / "runs"]), paper=True)
    cells = {}
    for c, cell in zip(t.columns, t.rows[0].cells):
        if c.key == "AP":
            cells[c.kind] = cell
    ours = 100 * res.metrics["AP"]
    assert cells["ours"].value == pytest.approx(ours)
    assert cells["paper"].value == paper
    assert cells["delta"].value == pytest.approx(ours - paper)
