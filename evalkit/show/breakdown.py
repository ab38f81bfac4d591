"""Per-sample scores of a run, for ordering the gallery worst-first.

They come from the run's ``breakdown.json`` (schema 1, ``docs/breakdown.md``): ``samples`` maps
each sample id to its fields, ``score_key`` names the field to sort by and
``higher_is_better`` its direction (worst first = ascending when true). Without a breakdown,
or with one whose metric has no per-sample value (``score_key`` null: YouTube-VIS AP is per
category only), :func:`sample_scores` returns no scores and the gallery keeps the split's
order of the sample ids and says so on the page.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..breakdown import load_breakdown
from ..errors import EvalkitError

__all__ = ["SampleScores", "sample_scores", "worst_first"]


@dataclass
class SampleScores:
    """Per-sample values of one key.

    Attributes:
        values: sample id -> value (``None``: no per-sample scores; a sample absent from the
            mapping, or null in the file, has no value and is placed last).
        key: the key the values are of (the breakdown's ``score_key``).
        higher_better: its direction.
        note: one line saying where the order comes from (shown in the gallery).
    """

    values: dict[str, float] | None
    key: str | None
    higher_better: bool
    note: str

def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def sample_scores(run_dir) -> SampleScores:
    """The per-sample scores of ``run_dir`` (see the module docstring). A malformed
    ``breakdown.json`` is an error naming the file and field; a missing one is not."""
    path = Path(run_dir) / "breakdown.json"
    if not path.is_file():
        return SampleScores(None, None, True, "no breakdown.json in the run: samples in id order")
    data = load_breakdown(path)  # checked: schema, field types, units
    key = data.get("score_key")
    if key is None:
        return SampleScores(None, None, True, f"{path.name} has no per-sample score for metric "
                                              f"{data.get('metric')!r}: samples in id order")
    samples = data["samples"]
    values: dict[str, float] = {}
    for sid, row in samples.items():
        if not isinstance(row, dict):
            raise EvalkitError(f"{path}: samples[{sid!r}] must be an object of fields, got {type(row).__name__}")
        v = _number(row.get(key))
        if v is not None:
            values[str(sid)] = v
    higher = data["higher_is_better"]
    return SampleScores(values, str(key), higher,
                        f"worst first by per-sample {key} ({'lower' if higher else 'higher'} is worse) "
                        f"from {path.name}")


def _value(values: dict[str, float], sid: str) -> float | None:
    """The value of sample ``sid``, or of the unit it belongs to where the metric's unit is
    coarser than the sample (Ref-DAVIS scores sequences, its samples are ``<video>/<expression>``:
    an expression takes its sequence's value)."""
    while True:
        if sid in values:
            return values[sid]
        if "/" not in sid:
            return None
        sid = sid.rsplit("/", 1)[0]


def worst_first(ids: list[str], scores: SampleScores) -> list[str]:
    """``ids`` ordered worst-first by ``scores`` (ties and samples without a value keep the
    split's order; those without a value come last); the split's order without scores. A
    sample without a value of its own takes its unit's value (:func:`_value`)."""
    if scores.values is None:
        return list(ids)
    pos = {s: k for k, s in enumerate(ids)}
    sign = 1.0 if scores.higher_better else -1.0

    def rank(s: str):
        v = _value(scores.values, s)
        return (v is None, sign * v if v is not None else 0.0, pos[s])

    return sorted(ids, key=rank)
