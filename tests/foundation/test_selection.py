"""Sample selections (``--limit``, ``--samples``): parsing, order, records, resume rules."""
from __future__ import annotations

import hashlib
import json

import pytest

from evalkit.errors import EvalkitError
from evalkit.selection import parse_samples, recorded_selection, resume_selection, select_samples

SPLIT = ["a", "b", "c", "d", "e"]


def test_samples_keep_the_split_order_and_limit_applies_after():
    s = select_samples(SPLIT, "x-val", samples="e,b,b,d")
    assert s.ids == ("b", "d", "e") and s.rule == "samples" and s.partial and s.total == 5
    s = select_samples(SPLIT, "x-val", samples="e,b,d", limit=2)
    assert s.ids == ("b", "d") and s.rule == "samples+limit" and s.describe() == "2 of 5 samples (--samples, --limit 2)"
    # a selection of every sample (or a limit beyond the split) is the whole split: not partial
    assert not select_samples(SPLIT, "x-val", samples=",".join(SPLIT)).partial
    assert not select_samples(SPLIT, "x-val", limit=9).partial
    assert select_samples(SPLIT, "x-val", limit=5).describe() == "all 5 samples"


def test_record_hashes_the_ids_and_lists_few_of_them():
    s = select_samples(SPLIT, "x-val", limit=3)
    rec = s.record()
    assert rec == {"rule": "limit", "limit": 3, "count": 3, "total": 5,
                   "sha256": hashlib.sha256(b"a\nb\nc").hexdigest(), "ids": ["a", "b", "c"]}
    assert "ids" not in s.record(max_ids=2) and s.record(max_ids=2)["count"] == 3


def test_parse_samples_sources(tmp_path):
    f = tmp_path / "ids.txt"
    f.write_text("  b \n# a comment\n\nd\n")
    assert parse_samples(f"@{f}") == parse_samples(str(f)) == ["b", "d"]
    assert parse_samples(" a , c ,") == ["a", "c"]
    assert parse_samples(["a", 3]) == ["a", "3"]
    with pytest.raises(EvalkitError, match="no such file"):
        parse_samples(f"@{tmp_path / 'missing.txt'}")


def test_unknown_id_names_it_and_the_split():
    with pytest.raises(EvalkitError, match=r"'zz' is not a sample id of x-val \(5 samples, e\.g\. a, b, c\); 1 more"):
        select_samples(SPLIT, "x-val", samples="a,zz,yy")


def test_runs_before_selection_records_fall_back_on_their_limit(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"limit": 2}))
    old = recorded_selection(tmp_path, SPLIT)
    assert old.ids == ("a", "b") and old.rule == "limit"
    assert resume_selection(tmp_path, select_samples(SPLIT, "x-val"), False, SPLIT).ids == ("a", "b")
    with pytest.raises(EvalkitError, match="would replace"):
        resume_selection(tmp_path, select_samples(SPLIT, "x-val", samples="b,c"), True, SPLIT)
    # extending (a superset) is allowed; an unfinished run (no metrics.json) takes any selection
    assert resume_selection(tmp_path, select_samples(SPLIT, "x-val", limit=4), True, SPLIT).ids == tuple("abcd")
    (tmp_path / "metrics.json").unlink()
    (tmp_path / "selection.json").write_text(json.dumps(select_samples(SPLIT, "x-val", limit=3).record()))
    assert resume_selection(tmp_path, select_samples(SPLIT, "x-val", limit=1), True, SPLIT).ids == ("a",)
