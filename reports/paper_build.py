"""Builds the packaged table of published results from the papers' long-format extraction.

Input: the long-format CSV extracted from the four papers (one row per printed table cell, columns
``source_file, table, method, backbone, benchmark, split, metric, value, notes``). Output:
``reports/data/paper_results.csv``, the same cells in our normalised form:

=================  ===========================================================================
column             meaning
=================  ===========================================================================
paper              the paper the table is in (UNINEXT, UniVS, UniRef++, GLEE)
table              table label as printed (``Table 3a`` for sub-tables)
method, backbone   the row as printed (citations removed, backbone names normalised)
model_id           our model id when the row is one of our models, else empty
paper_benchmark    benchmark / split / metric names as normalised by the extraction
paper_split
paper_metric
benchmark_id       our benchmark id (``dataset-split[-task]``) when we have that split, else empty
metric_key         our metric key (the official name), else empty
value              the printed number (percent points for scores; counts as counts)
unit               ``percent`` | ``count`` | ``fps`` | ``other``
role               ``main`` (headline comparison), ``ablation``, ``variant`` (individual or
                   differently trained models, few-shot settings) or ``efficiency``
primary            1 on the one row a lookup by (model_id, benchmark_id, metric_key) returns:
                   a ``main`` row, preferring the model's own paper, then unambiguous rows,
                   then the earliest table
ambiguous          1 when the extraction flagged the cell AMBIGUOUS (see notes)
notes              setting / header text / ambiguity explanation, as extracted
=================  ===========================================================================

Besides the four papers' cells, the table holds the published numbers of the other models
evalkit evaluates (the transformers adapters: Grounding DINO, Mask2Former, ...), curated by hand
in ``reports/data/external_results.csv`` (columns ``paper, table, method, backbone, model_id,
benchmark, split, metric, value, notes``; ``notes`` cites the source file and row of each
number) and appended by :func:`assemble`; their ``model_id`` is given, not matched.

Run ``python -m evalkit.reports.paper_build SRC.csv [OUT.csv]`` to rebuild after the extraction
changes; the mapping rules are the CSVs beside the output (benchmarks, metrics, models).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ..errors import ResultsError
from .mapping import all_models, fallback_benchmarks, metric_info, resolve_metric_key

__all__ = ["normalise", "normalise_external", "assemble", "SOURCE_PAPERS", "build", "EXTERNAL"]

#: the hand-curated published numbers of models outside the four papers
EXTERNAL = Path(__file__).parent / "data" / "external_results.csv"

# Extraction file name prefix → paper short name.
SOURCE_PAPERS = {"000": "UNINEXT", "001": "UNINEXT", "002": "UniVS", "003": "UniRef++", "004": "GLEE"}

# Tables whose rows are not the released models' headline numbers, by (paper, table).
_TABLE_ROLES = {
    ("UniVS", "Table 1a"): "variant",  # individual (not jointly trained) models
    ("UniVS", "Table 1b"): "variant",
    ("UniRef++", "Table 8"): "variant",  # SAM-based variant, no released checkpoint
    ("UniRef++", "Table 11"): "efficiency",
    ("GLEE", "Table 3"): "efficiency",
    ("GLEE", "Table 7"): "variant",  # interactive segmentation
    ("GLEE", "Table 9"): "variant",  # few-shot fine-tuning
}

# Splits the extraction leaves empty where the paper states the split in prose only.
_DEFAULT_SPLIT = {"COCO": "val2017", "TAO": "", "BURST": ""}

COLUMNS = [
    "paper", "table", "method", "backbone", "model_id", "paper_benchmark", "paper_split",
    "paper_metric", "benchmark_id", "metric_key", "value", "unit", "role", "primary",
    "ambiguous", "notes",
]


def _role(paper: str, table: str, notes: str) -> str:
    if notes.lower().startswith("ablation"):
        return "ablation"
    return _TABLE_ROLES.get((paper, table), "main")


def _model_id(paper: str, table: str, method: str, backbone: str) -> str:
    """Our model id for a printed row; a mapping restricted to named tables wins there."""
    where = f"{paper} {table}"
    hits = [
        m for m in all_models()
        if (method == m.method or method in m.aliases)
        and (backbone == m.backbone if backbone else True)
        and (not m.tables or where in m.tables)
    ]
    restricted = [m for m in hits if m.tables]
    hits = restricted or hits
    return hits[0].id if len(hits) == 1 else ""


def _benchmark_id(bench: str, split: str, metric_key: str, notes: str) -> str:
    split = split or _DEFAULT_SPLIT.get(bench, split)
    cands = [
        b for b in fallback_benchmarks().values()
        if b.paper_benchmark == bench and b.paper_split == split and metric_key in b.metrics
    ]
    if len(cands) > 1:  # COCO box vs mask AP: the extraction notes say which
        fam = "seg" if "mask" in notes.lower() else "det"
        cands = [b for b in cands if b.family == fam]
    return cands[0].id if len(cands) == 1 else ""


def _unit(metric: str) -> str:
    if metric == "FPS":
        return "fps"
    key = resolve_metric_key(metric)
    if key is None:
        return "other"
    return "count" if metric_info(key).kind == "count" else "percent"


def normalise(src: pd.DataFrame) -> pd.DataFrame:
    """The extraction's rows (all columns str) → our normalised table (see module docstring)."""
    missing = {"source_file", "table", "method", "backbone", "benchmark", "split", "metric", "value", "notes"} - set(src.columns)
    if missing:
        raise ResultsError(f"paper results table lacks column(s) {sorted(missing)}; expected the long-format extraction")
    rows = []
    for i, r in enumerate(src.to_dict("records")):
        paper = SOURCE_PAPERS.get(str(r["source_file"])[:3])
        if paper is None:
            raise ResultsError(f"paper results row {i + 2}: unknown source_file {r['source_file']!r}")
        try:
            value = float(r["value"])
        except ValueError:
            raise ResultsError(f"paper results row {i + 2}: value {r['value']!r} is not a number") from None
        key = resolve_metric_key(r["metric"]) or ""
        bid = _benchmark_id(r["benchmark"], r["split"], key, r["notes"]) if key else ""
        rows.append({
            "paper": paper, "table": r["table"], "method": r["method"], "backbone": r["backbone"],
            "model_id": _model_id(paper, r["table"], r["method"], r["backbone"]),
            "paper_benchmark": r["benchmark"], "paper_split": r["split"], "paper_metric": r["metric"],
            "benchmark_id": bid, "metric_key": key, "value": value, "unit": _unit(r["metric"]),
            "role": _role(paper, r["table"], r["notes"]), "primary": 0,
            "ambiguous": int("AMBIGUOUS" in r["notes"]), "notes": r["notes"],
        })
    out = pd.DataFrame(rows, columns=COLUMNS)
    _mark_primary(out)
    return out


def _mark_primary(df: pd.DataFrame) -> None:
    own = {m.id: m.paper for m in all_models()}
    ok = (df.role == "main") & (df.model_id != "") & (df.benchmark_id != "") & (df.metric_key != "")
    cand = df[ok].copy()
    cand["_own"] = [0 if own.get(m) == p else 1 for m, p in zip(cand.model_id, cand.paper)]
    cand["_order"] = range(len(cand))
    cand = cand.sort_values(["_own", "ambiguous", "_order"], kind="stable")
    first = cand.drop_duplicates(["model_id", "benchmark_id", "metric_key"]).index
    df.loc[first, "primary"] = 1


def normalise_external(ext: pd.DataFrame) -> pd.DataFrame:
    """The curated rows of :data:`EXTERNAL` (all columns str) → our normalised table (``main``
    rows with the given ``model_id``; benchmark and metric keys mapped as for the papers)."""
    need = {"paper", "table", "method", "backbone", "model_id", "benchmark", "split", "metric", "value", "notes"}
    missing = need - set(ext.columns)
    if missing:
        raise ResultsError(f"{EXTERNAL.name} lacks column(s) {sorted(missing)}")
    rows = []
    for i, r in enumerate(ext.to_dict("records")):
        try:
            value = float(r["value"])
        except ValueError:
            raise ResultsError(f"{EXTERNAL.name} row {i + 2}: value {r['value']!r} is not a number") from None
        if not r["model_id"] or "source:" not in r["notes"]:
            raise ResultsError(f"{EXTERNAL.name} row {i + 2}: expected a model_id and notes citing 'source: ...'")
        key = resolve_metric_key(r["metric"]) or ""
        rows.append({
            "paper": r["paper"], "table": r["table"], "method": r["method"], "backbone": r["backbone"],
            "model_id": r["model_id"], "paper_benchmark": r["benchmark"], "paper_split": r["split"],
            "paper_metric": r["metric"], "value": value, "unit": _unit(r["metric"]), "role": "main",
            "benchmark_id": _benchmark_id(r["benchmark"], r["split"], key, r["notes"]) if key else "",
            "metric_key": key, "primary": 0, "ambiguous": 0, "notes": r["notes"],
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def assemble(src: pd.DataFrame, external: pd.DataFrame | None = None) -> pd.DataFrame:
    """The packaged table: the papers' extraction (:func:`normalise`) followed by the curated
    rows (``external``, default :data:`EXTERNAL`), primary rows marked over both."""
    if external is None:
        external = pd.read_csv(EXTERNAL, dtype=str, keep_default_na=False)
    out = pd.concat([normalise(src), normalise_external(external)], ignore_index=True)
    out["primary"] = 0
    _mark_primary(out)
    return out


def build(src_path: str | Path, out_path: str | Path) -> pd.DataFrame:
    src = pd.read_csv(src_path, dtype=str, keep_default_na=False)
    out = assemble(src)
    out.to_csv(out_path, index=False, lineterminator="\n")
    return out


def _main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m evalkit.reports.paper_build SRC.csv [OUT.csv]", file=sys.stderr)
        return 2
    out = argv[1] if len(argv) > 1 else Path(__file__).parent / "data" / "paper_results.csv"
    df = build(argv[0], out)
    print(f"{len(df)} rows, {int(df.primary.sum())} primary lookups -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
