"""Export of Hugging Face ``model-index`` metadata (the evaluation results block of a model card).

One YAML document per (model, weights sha256), separated by ``---``, each a card's front matter
fragment::

    model-index:
    - name: uninext-r50
      results:
      - task: {type: video-object-segmentation, name: Semi-supervised video object segmentation}
        dataset: {name: DAVIS 2017, type: davis17-val, split: val}
        metrics:
        - {type: J&F, name: J&F, value: 74.12, verified: false}
        source: {name: evalkit, url: ...}

Only complete runs are exported (a partial or server-pending run has no number a card should
carry); values are in the papers' scale (percent points; counts as integers), scores rounded to
``decimals + 1`` places; the keys are the table's columns (the task's headline metrics). ``verified: false``: the Hub reserves ``true`` for its own evaluations.
"""
from __future__ import annotations

import yaml

from .mapping import benchmark_info, family
from .table import Table

__all__ = ["model_index", "render_model_index"]


def model_index(tables: list[Table], decimals: int = 1, source_url: str | None = None) -> list[dict]:
    """``[{"model-index": [...]}]``, one entry per (model, weights) row, in table order."""
    docs: dict[tuple[str, str], dict] = {}
    for t in tables:
        fam = family(t.family)
        groups: dict[tuple[str, str], list[int]] = {}
        for j, c in enumerate(t.columns):
            if c.kind == "ours":
                groups.setdefault((c.benchmark, c.key), []).append(j)
        for r in t.rows:
            doc = docs.setdefault((r.model, r.weights_sha256), {"name": r.model, "results": []})
            per_bench: dict[str, list[dict]] = {}
            for (bench, key), js in groups.items():
                run = r.runs.get(bench)
                col, v = t.columns[js[0]], r.cells[js[0]].value  # one "ours" leaf per (benchmark, key)
                if run is None or run.status != "complete" or v is None:
                    continue
                label = benchmark_info(bench).label(key)
                value = int(v) if col.count and float(v).is_integer() else round(float(v), decimals + 1)
                per_bench.setdefault(bench, []).append(
                    {"type": key, "name": label, "value": value, "verified": False})
            for bench, metrics in per_bench.items():
                info = benchmark_info(bench)
                res = {
                    "task": {"type": fam.hf_task or t.family, "name": t.title},
                    "dataset": {"name": info.dataset, "type": bench, "split": info.split},
                    "metrics": metrics,
                }
                src = {"name": "evalkit"}
                if source_url:
                    src["url"] = source_url
                res["source"] = src
                doc["results"].append(res)
    return [{"model-index": [d]} for d in docs.values() if d["results"]]


def render_model_index(tables: list[Table], decimals: int = 1, source_url: str | None = None) -> str:
    docs = model_index(tables, decimals, source_url)
    if not docs:
        return "# no complete runs: nothing to export\n"
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True, default_flow_style=False)
