"""BURST breakdown: per-class HOTA/DetA/AssA/AP combined over videos, and the ``_all`` /
``_common`` / ``_uncommon`` keys rebuilt as means over classes (``burstapi/eval/run.py``
averages the classes of each group with equal weight)."""
import numpy as np
import pytest

from evalkit.breakdown import aggregate, load_breakdown, write_breakdown
from evalkit.metrics import compute
from evalkit.metrics._breakdown import collecting
import evalkit.metrics.catalog  # noqa: F401

from test_track_burst import ACORN, AIRPLANE, APPLE, _burst, _scene


def test_burst_per_class_by_hand_and_aggregates(tmp_path):
    cats, gt, pred = _scene(np.random.default_rng(1))
    no_acorn = [{k: m for k, m in f.items() if k != 3} for f in gt]
    with collecting() as found:
        # video 1 perfect but without the acorn, video 2 the noisy scene
        m = compute("burst", _burst({1: (cats, gt), 2: (cats, gt)}),
                    _burst({1: (cats, no_acorn), 2: ({**cats, 7: ACORN}, pred)}))
    [bd] = found
    write_breakdown(tmp_path / "breakdown.json", bd, benchmark="burst-val", model="m", metric="burst", metrics=m)
    bd = load_breakdown(tmp_path)
    c = bd["categories"]
    assert set(c) == {str(AIRPLANE), str(APPLE), str(ACORN)}
    assert c[str(AIRPLANE)]["common"] == 1 and c[str(ACORN)]["common"] == 0
    assert c[str(ACORN)]["HOTA_uncommon"] == c[str(ACORN)]["HOTA"] and c[str(ACORN)].get("HOTA_common") is None
    assert m["HOTA_uncommon"] == pytest.approx(c[str(ACORN)]["HOTA"])  # the only uncommon class
    for key in m:
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-9, nan_ok=True), key
    s = bd["samples"]
    assert set(s) == {"synth/s1", "synth/s2"} and s["synth/s1"]["n_classes"] == 3
    assert s["synth/s2"]["HOTA"] < s["synth/s1"]["HOTA"] < 100  # the noisy video is worse; s1 misses the acorn
