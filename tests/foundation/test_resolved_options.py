"""run.json names the metric variant that ran: the metric's defaults overlaid with the options given."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import ResultsError
from evalkit.metrics.resolved import resolved_options
from evalkit.finalise import _metric_record


def test_defaults_of_the_variant_options_are_recorded():
    assert resolved_options("sot", {"protocol": "lasot-ext"}) == {
        "protocol": "lasot-ext", "variant": "uninext", "sequences": None}
    assert resolved_options("burst", {"task": "exemplar_guided"}) == {
        "task": "exemplar_guided", "max_detections": 300, "exemplar_classes": "predicted"}
    assert resolved_options("vspw", {"vc_labels": "univs"}) == {
        "split": "val", "videos": None, "vc": [8, 16], "vc_labels": "univs"}
    # a given option overrides the default; paths and tuples become JSON values
    assert resolved_options("vspw", {"videos": ("a", "b"), "split": Path("x")})["videos"] == ["a", "b"]


class _Bench:
    metric = "sot"

    def metric_options(self):
        return {"protocol": "lasot"}

    def results_options(self, results_dir):
        if results_dir is None:
            raise ResultsError("no results")
        return {"sequences": ["cat-1"]}


def test_runner_record_includes_static_and_results_options(tmp_path):
    rec = _metric_record(_Bench(), tmp_path)
    assert rec == {"id": "sot", "options": {"protocol": "lasot", "variant": "uninext", "sequences": ["cat-1"]}}
    json.dumps(rec)
    # results that cannot be listed still leave the variant on record
    assert _metric_record(_Bench(), None)["options"]["variant"] == "uninext"
    b = _Bench()
    b.metric = None  # server-scored split
    assert _metric_record(b, tmp_path) is None


def test_unknown_metric_is_an_error():
    with pytest.raises(Exception, match="sott"):
        resolved_options("sott")
