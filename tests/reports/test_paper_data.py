"""The packaged published numbers: loader, lookups, ambiguity flags, rebuild parity."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evalkit.reports.paper import load_paper_results, lookup, lookup_rows
from evalkit.reports.paper_build import COLUMNS, assemble

SHARED_CSV = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "paper_results.csv"


def test_columns_and_types():
    df = load_paper_results()
    assert list(df.columns) == COLUMNS
    assert len(df) == 2212 + 7  # the four papers' cells + the curated external_results.csv rows
    assert df.value.dtype == float
    assert set(df.paper) == {"UNINEXT", "UniVS", "UniRef++", "GLEE", "Grounding DINO", "Mask2Former", "OWLv2", "SAM 2"}
    assert set(df.role) <= {"main", "ablation", "variant", "efficiency"}


def test_one_primary_row_per_lookup_key():
    df = load_paper_results()
    prim = df[df.primary]
    assert not prim.duplicated(["model_id", "benchmark_id", "metric_key"]).any()
    assert (prim.role == "main").all() and (prim.model_id != "").all() and (prim.benchmark_id != "").all()


def test_ambiguity_flags_are_kept():
    df = load_paper_results()
    amb = df[df.ambiguous]
    assert len(amb) == 24
    assert amb.notes.str.contains("AMBIGUOUS").all()
    # UniVS Table 2: the VideoK-Net row one cell short.
    vk = amb[(amb.method == "VideoK-Net") & (amb.paper_metric == "VPQ")]
    assert vk.value.tolist() == [26.1]


@pytest.mark.parametrize(
    "model,bench,metric,expected,source",
    [
        ("uninext-r50", "davis17-val", "J&F", 74.5, "UNINEXT Table 6"),
        ("uninext-r50", "davis17-val", "J-Mean", 71.3, "UNINEXT Table 6"),
        ("uninext-vit-h", "coco-val2017-det", "AP", 60.6, "UNINEXT Table 1"),
        ("uninext-r50", "refcoco-testA-rec", "P@0.5", 91.52, "UNINEXT Table 3"),
        ("uniref-pp-swin-l", "refcoco-val-res", "oIoU", 79.13, "UniRef++ Table 1"),
        ("uninext-convnext-l", "bdd100k-seg-track-val", "mMOTA", 32.0, "UNINEXT Table 8"),  # printed mMOTSA
        ("uninext-convnext-l", "bdd100k-box-track-val", "IDSw", 9134, "UNINEXT Table 7"),
        ("glee-lite-vos", "ytvos18-val", "G", 80.4, "GLEE Table 4"),  # the VOS fine-tuned checkpoint
        ("glee-pro", "odinw13", "AP", 50.5, "GLEE Table 8"),
        ("univs-r50", "vipseg-val", "VPQ", None, "UniVS Table 2"),
    ],
)
def test_lookup_by_our_ids(model, bench, metric, expected, source):
    pv = lookup(model, bench, metric)
    assert pv is not None and pv.source == source
    if expected is not None:
        assert pv.value == pytest.approx(expected)
    # The value is the one printed in that table.
    rows = lookup_rows(model, bench, metric)
    assert pv.value in rows.value.tolist()


def test_lookup_by_printed_names_and_aliases():
    assert lookup("UNINEXT-R50", "DAVIS-2017", "J").value == 71.3
    assert lookup("UNINEXT", "DAVIS-2017/val", "J&F", backbone="ResNet-50").value == 74.5
    assert lookup("uninext-r50", "davis17-val", "J-Mean").value == 71.3  # the canonical key
    # names are matched exactly (keys.csv lists every spelling): no case folding, no guessing
    assert lookup("uninext-r50", "davis17-val", "j-mean") is None
    assert lookup("uninext-r50", "lvis-v1-val", "AP") is None  # no paper prints it
    assert lookup("no-such-model", "davis17-val", "J&F") is None


def test_own_paper_wins_over_comparisons():
    # UNINEXT-R50's DAVIS J&F is printed in UNINEXT, UniVS and GLEE tables.
    rows = lookup_rows("uninext-r50", "davis17-val", "J&F")
    assert len(rows) >= 2
    assert lookup("uninext-r50", "davis17-val", "J&F").paper == "UNINEXT"


def test_ablations_only_on_request():
    assert lookup_rows("uninext-r50", "coco-val2017-det", "AP").role.eq("main").all()
    abl = lookup_rows("uninext-r50", "coco-val2017-det", "AP", include_ablations=True)
    assert (abl.role == "ablation").any()


def test_not_a_byte_copy_of_the_extraction():
    from importlib import resources

    ours = resources.files("evalkit.reports").joinpath("data", "paper_results.csv").read_bytes()
    if SHARED_CSV.is_file():
        assert ours != SHARED_CSV.read_bytes()
    assert ours.splitlines()[0].decode().split(",") == COLUMNS


def test_rebuild_from_extraction_matches_package_data():
    if not SHARED_CSV.is_file():
        pytest.skip("../shared is not present")
    src = pd.read_csv(SHARED_CSV, dtype=str, keep_default_na=False)
    rebuilt = assemble(src)
    packaged = load_paper_results()
    rebuilt["primary"] = rebuilt.primary.astype(bool)
    rebuilt["ambiguous"] = rebuilt.ambiguous.astype(bool)
    pd.testing.assert_frame_equal(rebuilt.reset_index(drop=True), packaged.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("model,bench,metric,expected,other", [
    # Grounding DINO paper Table 2 (zero-shot 2017val), also the GroundingDINO README
    ("grounding-dino-tiny", "coco-val2017-det", "AP", 48.4, "coco-val2017-seg"),
    ("mask2former-swin-t-coco-instance", "coco-val2017-seg", "AP", 45.0, "coco-val2017-det"),  # MODEL_ZOO.md
    # scenic OWL-ViT README, row OWLv2 CLIP B/16 ST/FT ens (box AP: the det split, not the seg one)
    ("owlv2-base-patch16-ensemble", "lvis-v1-val-det", "AP", 43.9, "lvis-v1-val-seg"),
    ("owlv2-base-patch16-ensemble", "lvis-v1-val-det", "APr", 40.5, "lvis-v1-val-seg"),
    # SAM 2 README, SAM 2.1 table, row sam2.1_hiera_tiny; its "LVOS v2" column is not evalkit's
    # lvos-val (LVOS v1), so no number may appear there
    ("sam2-hiera-tiny", "mose-val", "J&F", 71.8, "lvos-val"),
])
def test_external_models_published_numbers(model, bench, metric, expected, other):
    pv = lookup(model, bench, metric)
    assert pv is not None and pv.value == expected and "source:" in pv.notes
    assert lookup(model, other, metric) is None


def test_external_rows_without_an_evalkit_benchmark_are_kept_unmapped():
    df = load_paper_results()
    sam = df[df.model_id == "sam2-hiera-tiny"]
    unmapped = sam[sam.benchmark_id == ""]
    assert sorted(zip(unmapped.paper_benchmark, unmapped.value)) == [("LVOS v2", 77.3), ("SA-V", 76.5)]
    assert not unmapped.primary.any()
