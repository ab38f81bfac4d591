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


def test_teta_per_class_and_per_video_by_hand(tmp_path):
    """TETA (SysCV/tet ``teta/metrics/teta.py``: per class, counts summed over the videos, then
    the "average" row = plain mean over the classes): the breakdown's class rows rebuild it."""
    from test_track_teta import _results, _tao

    box = (0.0, 0.0, 10.0, 10.0)
    # video 1: a c1 object tracked perfectly as c1; video 2: a c2 object tracked perfectly but
    # labelled c1 -> Cls_FN of c2 and Cls_FP of c1 (2 frames, every alpha)
    gt, ids = _tao({1: [[(1, 1, box)], [(1, 1, box)]], 2: [[(2, 2, box)], [(2, 2, box)]]})
    res = _results({1: [[(5, 1, box)], [(5, 1, box)]], 2: [[(6, 1, box)], [(6, 1, box)]]}, ids)
    with collecting() as found:
        m = compute("tao-teta", gt, res)
    [bd] = found
    write_breakdown(tmp_path / "breakdown.json", bd, benchmark="tao-val", model="m", metric="tao-teta", metrics=m)
    bd = load_breakdown(tmp_path)
    c1, c2 = bd["categories"]["1"], bd["categories"]["2"]
    # c1: LocA = AssocA = 100, ClsA = 2 / (2 + 2 FP) = 50 -> TETA 250 / 3; c2: ClsA 0 -> 200 / 3
    assert (c1["name"], c1["LocA"], c1["AssocA"], c1["ClsA"]) == ("c1", 100.0, 100.0, 50.0)
    assert c1["TETA"] == pytest.approx(250 / 3) and c2["TETA"] == pytest.approx(200 / 3) and c2["ClsA"] == 0.0
    assert m["TETA"] == pytest.approx(75.0) and m["ClsA"] == pytest.approx(25.0)
    assert set(bd["aggregates"]) == set(m)
    for key in m:
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-9), key
    # per video (not official): video 1 alone has no Cls_FP, so its c1 TETA is 100
    v1, v2 = bd["samples"]["1"], bd["samples"]["2"]
    assert v1["TETA"] == pytest.approx(100.0) and v2["TETA"] == pytest.approx(200 / 3)
    assert v1["n_classes"] == v2["n_classes"] == 1


@pytest.mark.parametrize("seed", range(3))
def test_teta_breakdown_rebuilds_every_key_on_random_videos(seed):
    from test_track_teta import _results, _synth, _tao

    rng = np.random.default_rng(seed)
    gt_v, pr_v = {}, {}
    for v in range(1, 4):
        g1, p1 = _synth(rng, 6, 2, cat=1)
        g2, p2 = _synth(rng, 6, 2, cat=int(rng.integers(2, 4)))
        # some predictions carry the wrong class: Cls_FP / Cls_FN across classes
        p2 = [[(t + 50, 1 if rng.random() < 0.3 else c, b) for t, c, b in f] for f in p2]
        gt_v[v] = [a + [(t + 10, c, b) for t, c, b in b_] for a, b_ in zip(g1, g2)]
        pr_v[v] = [a + b_ for a, b_ in zip(p1, p2)]
    gt, ids = _tao(gt_v)
    with collecting() as found:
        m = compute("tao-teta", gt, _results(pr_v, ids))
    [bd] = found
    for key in m:
        assert aggregate({"aggregates": bd.aggregates, "categories": bd.categories}, key) == pytest.approx(
            m[key], abs=1e-9), key


def test_burst_open_world_breakdown(tmp_path):
    """BURST open world (``burstapi/eval/run.py`` with ``BURST_OW``, TrackEval ``HOTA``:
    ``combine_sequences`` sums HOTA_TP / HOTA_FN and weights AssA by HOTA_TP; DetRe =
    TP / (TP + FN) per alpha, then the mean over the 19 alphas)."""
    import json

    from test_track_burst import _rect, _scene

    cats, gt, pred = _scene(np.random.default_rng(3))
    gt2 = [{1: _rect(1, 1)} for _ in range(4)]  # video 2: one object, never predicted
    for split, keep in (("all", {1, 2, 3}), ("common", {1, 2}), ("uncommon", {3})):
        g = [{k: m for k, m in f.items() if k in keep} for f in gt]
        seqs = {1: ({k: cats[k] for k in keep}, g)}
        if split != "uncommon":
            seqs[2] = ({1: cats[1]}, gt2)
        (tmp_path / f"{split}_classes.json").write_text(json.dumps(_burst(seqs)))
    res = _burst({1: ({1: 1, 2: 1, 7: 1}, pred), 2: ({}, [{} for _ in range(4)])})
    with collecting() as found:
        m = compute("burst", tmp_path, res, task="open_world")
    [bd] = found
    write_breakdown(tmp_path / "breakdown.json", bd, benchmark="burst-val-ow", model="m", metric="burst", metrics=m)
    bd = load_breakdown(tmp_path)
    s1, s2 = bd["samples"]["synth/s1"], bd["samples"]["synth/s2"]
    # video 2 has 4 GT detections and no prediction: TP 0 at every alpha, DetRe 0
    assert (s2["all/TP@0.50"], s2["all/GT@0.50"], s2["all/DetRe"]) == (0, 4, 0.0)
    assert "uncommon/DetRe" not in s2 and s1["uncommon/GT@0.05"] == 4  # the acorn, 4 frames
    # video 1 has 3 objects on 4 frames; pooled DetRe at alpha 0.05 = TP / (12 + 4)
    assert s1["all/GT@0.05"] == 12
    assert aggregate(bd, "DetRe_all") == pytest.approx(m["DetRe_all"], abs=1e-9)
    assert aggregate(bd, "DetRe_common") == pytest.approx(m["DetRe_common"], abs=1e-9)
    for key in bd["aggregates"]:
        assert aggregate(bd, key) == pytest.approx(m[key], abs=1e-9), key
    assert {"AssA_all", "AssA_common"} <= set(bd["aggregates"])  # AssA: TP-weighted over the videos
    assert not any(k.startswith("OWTA") for k in bd["aggregates"])
    assert bd["score_key"] == "all/OWTA" and s1["all/OWTA"] > s2["all/OWTA"] == 0.0
    # video 1 alone: its own DetRe is the pooled one
    assert aggregate(bd, "DetRe_all", ["synth/s1"]) == pytest.approx(s1["all/DetRe"], abs=1e-9)
