"""BDD100K box tracking on single-class data agrees with TrackEval CLEAR and Identity.

On the separated synthetic data of ``track_synth`` every definition agrees on the assignment,
so MOTA, MOTP, IDF1, IDSW, FP, FN and ML must be equal; MT may differ only by objects
tracked exactly 80% of the time (motmetrics counts ratio >= 0.8, TrackEval > 0.8). Fragmentations
differ by definition: TrackEval counts a fragment when tracking resumes after frames where the
object was absent, motmetrics only after missed frames; and TrackEval skips frames without any
prediction, so tracked / no-prediction frame / tracked is no fragment there. They are equal
when objects never leave and every frame has a prediction (even seeds).
"""
import numpy as np
import pytest
import trackeval

from evalkit.metrics import compute
from track_synth import separated_video, to_scalabel, trackeval_data


def _trackeval(videos):
    clear, ident = trackeval.metrics.CLEAR({"PRINT_CONFIG": False}), trackeval.metrics.Identity({"PRINT_CONFIG": False})
    seq_c, seq_i = {}, {}
    for v, (g, p) in videos.items():
        data = trackeval_data(g, p)
        seq_c[v], seq_i[v] = clear.eval_sequence(data), ident.eval_sequence(data)
    return {**clear.combine_sequences(seq_c), **ident.combine_sequences(seq_i)}


@pytest.mark.parametrize("seed", range(12))
def test_single_class_matches_trackeval(seed):
    rng = np.random.default_rng(seed)
    n_videos = int(rng.integers(1, 4))
    videos = {}
    for k in range(n_videos):
        videos[f"v{k}"] = separated_video(
            rng, n_frames=int(rng.integers(5, 40)), n_objects=int(rng.integers(1, 8)),
            p_absent=0.0 if seed % 2 == 0 else rng.uniform(0, 0.3), p_miss=rng.uniform(0, 0.5), p_switch=rng.uniform(0, 0.2),
            jitter=int(rng.integers(1, 12)), p_fp=1.0 if seed % 2 == 0 else 0.3,
        )
    gt = to_scalabel({v: g for v, (g, _) in videos.items()})
    pred = to_scalabel({v: p for v, (_, p) in videos.items()})
    if seed == 0:  # empty predictions
        pred = [{**f, "labels": []} for f in pred]
        videos = {v: (g, [[] for _ in p]) for v, (g, p) in videos.items()}
    ours = compute("bdd100k-box-track", gt, pred, categories=["pedestrian"])
    te = _trackeval(videos)
    assert ours["MOTA"] == pytest.approx(100 * te["MOTA"], abs=1e-9)
    assert ours["IDF1"] == pytest.approx(100 * te["IDF1"], abs=1e-9)
    if te["CLR_TP"]:
        assert ours["MOTP"] == pytest.approx(100 * te["MOTP"], abs=1e-9)
    assert (ours["FP"], ours["FN"], ours["IDSw"], ours["ML"]) == (te["CLR_FP"], te["CLR_FN"], te["IDSW"], te["ML"])
    if seed % 2 == 0 and seed:
        assert ours["FM"] == te["Frag"]
    assert ours["MT"] + ours["PT"] == te["MT"] + te["PT"] and ours["MT"] >= te["MT"]
    # one class evaluated: the class mean equals the pooled value
    assert ours["mMOTA"] == pytest.approx(ours["MOTA"])


CLASSES = ["pedestrian", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]


@pytest.mark.parametrize("seed", range(4))
def test_multi_class_mean_matches_per_class_trackeval(seed):
    rng = np.random.default_rng(100 + seed)
    videos = {f"v{k}": separated_video(rng, n_frames=int(rng.integers(5, 25)), n_objects=int(rng.integers(2, 9)),
                                       p_switch=0.0, p_fp=0.0)
              for k in range(2)}
    # one class per ground-truth object; its predictions carry the same class
    cls_of = {(v, o): CLASSES[int(rng.integers(0, 5))] for v, (g, _) in videos.items() for f in g for o, _ in f}
    gt = [{"name": f"{v}-{t}", "videoName": v, "frameIndex": t,
           "labels": [{"id": str(o), "category": cls_of[v, o],
                       "box2d": {"x1": b[0], "y1": b[1], "x2": b[2] - 1, "y2": b[3] - 1}} for o, b in f]}
          for v, (g, _) in videos.items() for t, f in enumerate(g)]
    pred = [{"name": f"{v}-{t}", "videoName": v, "frameIndex": t,
             "labels": [{"id": str(i), "category": cls_of[v, i],
                         "box2d": {"x1": b[0], "y1": b[1], "x2": b[2] - 1, "y2": b[3] - 1}} for i, b in f]}
            for v, (_, p) in videos.items() for t, f in enumerate(p)]  # no id switches: pred id = object id
    ours = compute("bdd100k-box-track", gt, pred)
    motas = []
    for c in CLASSES:
        sub = {v: ([[d for d in f if cls_of[v, d[0]] == c] for f in g], [[d for d in f if cls_of[v, d[0]] == c] for f in p])
               for v, (g, p) in videos.items()}
        if not any(f for g, _ in sub.values() for f in g):
            assert np.isnan(ours[f"{c}/MOTA"])
            motas.append(0.0)
            continue
        te = _trackeval(sub)
        assert ours[f"{c}/MOTA"] == pytest.approx(100 * te["MOTA"], abs=1e-9)
        assert ours[f"{c}/IDF1"] == pytest.approx(100 * te["IDF1"], abs=1e-9)
        motas.append(100 * te["MOTA"])
    assert ours["mMOTA"] == pytest.approx(np.mean(motas), abs=1e-9)
