"""Which samples of a split a run covers: ``--limit N`` (the first N in the split's order),
``--samples`` (ids, comma-separated, or ``@FILE`` / a path to a file of ids, one per line), or
both (the first N of the ids given). The selection is recorded with the run
(``selection.json`` when the run starts; ``metrics.json`` / ``run.json`` when it ends) so that
a partial run is scored against the ground truth of its samples only, re-scored the same way,
and never silently replaced by a run over another set of samples.
"""
from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .errors import EvalkitError

__all__ = ["Selection", "parse_samples", "select_samples", "recorded_selection", "resume_selection",
           "score_selection", "SELECTION_FILE"]

#: written into the run directory when a run starts (before any sample is inferred)
SELECTION_FILE = "selection.json"
#: record the ids themselves in metrics.json / run.json up to this many (a count and a hash beyond)
MAX_RECORDED_IDS = 1000


@dataclass(frozen=True)
class Selection:
    """The samples of a run, in the split's order.

    Attributes:
        ids: the selected sample ids.
        total: the number of samples of the split.
        rule: ``all`` | ``limit`` | ``samples`` | ``samples+limit``.
        limit: the ``--limit`` value, if any.
    """

    ids: tuple[str, ...]
    total: int
    rule: str = "all"
    limit: int | None = None

    @property
    def partial(self) -> bool:
        return len(self.ids) < self.total

    @property
    def sha256(self) -> str:
        return hashlib.sha256("\n".join(self.ids).encode()).hexdigest()

    def record(self, max_ids: int = MAX_RECORDED_IDS) -> dict[str, Any]:
        """The JSON block of ``metrics.json`` / ``run.json``: the rule, counts, a hash of the
        ids (newline-joined, sha256) and the ids themselves when there are few enough."""
        out: dict[str, Any] = {"rule": self.rule, "limit": self.limit, "count": len(self.ids),
                               "total": self.total, "sha256": self.sha256}
        if len(self.ids) <= max_ids:
            out["ids"] = list(self.ids)
        return out

    def describe(self) -> str:
        """``3 of 4 samples (--limit 3)`` / ``all 4 samples``."""
        if not self.partial:
            return f"all {self.total} samples"
        how = {"limit": f"--limit {self.limit}", "samples": "--samples",
               "samples+limit": f"--samples, --limit {self.limit}"}.get(self.rule, self.rule)
        return f"{len(self.ids)} of {self.total} samples ({how})"


def parse_samples(spec: str | Sequence[str]) -> list[str]:
    """Sample ids from a ``--samples`` value: ``a,b,c``; ``@FILE`` or the path of an existing
    file (one id per line; blank lines and ``#`` comments skipped); or a list of ids."""
    if not isinstance(spec, str):
        ids = [str(s) for s in spec]
    else:
        text = spec.strip()
        path = Path(text[1:]) if text.startswith("@") else Path(text)
        if text.startswith("@") or (text and "," not in text and path.is_file()):
            if not path.is_file():
                raise EvalkitError(f"--samples {spec}: no such file (expected one sample id per line)")
            lines = path.read_text(encoding="utf-8").splitlines()
            ids = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
            if not ids:
                raise EvalkitError(f"--samples {spec}: the file lists no sample id")
        else:
            ids = [s.strip() for s in text.split(",") if s.strip()]
    if not ids:
        raise EvalkitError("--samples: no sample id given (expected ids separated by commas, or @FILE)")
    return ids


def select_samples(split_ids: Sequence[str], benchmark: str, limit: int | None = None,
                   samples: str | Sequence[str] | None = None) -> Selection:
    """The selection of a run over ``split_ids`` (the split's samples, in order).

    Raises EvalkitError naming the first id of ``samples`` that the split lacks."""
    split_ids = list(split_ids)
    if limit is not None and limit < 1:
        raise EvalkitError(f"--limit must be a positive number of samples, got {limit}")
    if samples is None:
        ids, rule = split_ids, "all"
    else:
        wanted = parse_samples(samples)
        known = set(split_ids)
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise EvalkitError(
                f"--samples: {unknown[0]!r} is not a sample id of {benchmark} "
                f"({len(split_ids)} samples, e.g. {', '.join(split_ids[:3])})"
                + (f"; {len(unknown) - 1} more unknown" if len(unknown) > 1 else "")
            )
        keep = set(wanted)
        ids, rule = [s for s in split_ids if s in keep], "samples"  # the split's order
    if limit is not None:
        ids, rule = ids[:limit], ("samples+limit" if samples is not None else "limit")
    return Selection(tuple(ids), len(split_ids), rule, limit)


def recorded_selection(run_dir: Path, split_ids: Sequence[str] | None = None) -> Selection | None:
    """The selection a run directory records (``selection.json``; for runs written before it
    existed, the ``limit`` of ``metrics.json`` applied to ``split_ids``), or None."""
    run_dir = Path(run_dir)
    f = run_dir / SELECTION_FILE
    if f.is_file():
        try:
            d = json.loads(f.read_text())
            return Selection(tuple(d["ids"]), int(d["total"]), d.get("rule", "all"), d.get("limit"))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise EvalkitError(f"{f}: not a selection record (expected ids, total, rule, limit)") from None
    m = run_dir / "metrics.json"
    if split_ids is not None and m.is_file():
        try:
            limit = json.loads(m.read_text()).get("limit")
        except json.JSONDecodeError:
            return None
        split_ids = list(split_ids)
        if limit:
            return Selection(tuple(split_ids[: int(limit)]), len(split_ids), "limit", int(limit))
        return Selection(tuple(split_ids), len(split_ids))
    return None


def resume_selection(run_dir: Path, requested: Selection, explicit: bool, split_ids: Sequence[str]) -> Selection:
    """The selection of a resumed run: the recorded one when none is given on the command
    line; the requested one if it keeps every sample of a finished run's record (it extends
    it). Anything else would replace the run's metrics with those of another sample set:
    refused with an EvalkitError."""
    old = recorded_selection(run_dir, split_ids)
    if old is None:
        return requested
    if not explicit:
        return old
    finished = (Path(run_dir) / "metrics.json").is_file()
    if finished and not set(old.ids) <= set(requested.ids):
        raise EvalkitError(
            f"--resume {run_dir}: the run covers {old.describe()}; this invocation selects "
            f"{requested.describe()}, which would replace its metrics with those of other samples "
            f"(drop --limit/--samples to continue it, or start a new run without --resume)"
        )
    return requested


def score_selection(bench: Any, results_dir: Path, selection: Selection) -> dict[str, float]:
    """``bench.score`` of the results of a run: a partial selection against the ground
    truth restricted to its samples (``samples=``), never against the whole split."""
    if not selection.partial:
        return bench.score(results_dir)
    if "samples" not in inspect.signature(bench.score).parameters:
        raise EvalkitError(
            f"{bench.id}: {type(bench).__name__}.score() takes no samples= argument, so a run over "
            f"{selection.describe()} cannot be scored against their ground truth; run the whole split"
        )
    return bench.score(results_dir, samples=list(selection.ids))
