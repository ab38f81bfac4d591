"""VIPOSeg breakdown: per video, per bucket sums and counts of the (object, frame) IoUs; every
bucket mean and G rebuilt from them (``eval_pvos.py`` pools the pairs of all videos per bucket,
G = mean of the four bucket scores), on the seeded datasets of the parity test."""
import numpy as np
import pytest

from evalkit.breakdown import aggregate, load_breakdown, write_breakdown
from evalkit.metrics import compute
from evalkit.metrics._breakdown import collecting
import evalkit.metrics.catalog  # noqa: F401

from test_pvos_viposeg import _make


@pytest.mark.parametrize("seed", range(3))
def test_viposeg_breakdown_rebuilds_every_bucket_and_g(tmp_path, seed):
    gt, res = _make(tmp_path, np.random.default_rng(seed), n_videos=4)
    with collecting() as found:
        m = compute("viposeg", gt, res)
    [bd] = found
    write_breakdown(tmp_path / "breakdown.json", bd, benchmark="viposeg-val", model="m", metric="viposeg", metrics=m)
    bd = load_breakdown(tmp_path)
    assert len(bd["samples"]) == 4 and set(bd["aggregates"]) == set(m)
    for key, value in m.items():
        got = aggregate(bd, key)
        assert (np.isnan(got) and np.isnan(value)) or got == pytest.approx(value, abs=1e-9), key
    counts = sum(r[f"{b}_n"] for r in bd["samples"].values() for b in ("thing_seen", "stuff_seen"))
    assert counts > 0
