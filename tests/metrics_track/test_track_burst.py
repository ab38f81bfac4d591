"""BURST: class-split averaging of run.py, agreement with TrackEval HOTA, open-world, errors."""
import json

import numpy as np
import pytest
import trackeval
from pycocotools import mask as mu

from evalkit.errors import ResultsError
from evalkit.metrics import compute

H, W = 24, 32
AIRPLANE, APPLE, ACORN = 4, 13, 1  # two "common" (COCO) TAO categories and an uncommon one


def _rle(m):
    return mu.encode(np.asfortranarray(m.astype(np.uint8)))["counts"].decode()


def _rect(y, x, h=6, w=8):
    m = np.zeros((H, W), bool)
    m[max(y, 0):y + h, max(x, 0):x + w] = True
    return m


def _burst(seqs, split="val"):
    """seqs: {seq_id: (track_category_ids, [frame -> {track: mask}])}."""
    out = {"split": split, "categories": [], "sequences": []}
    for sid, (cats, frames) in seqs.items():
        paths = [f"frame{t:04d}.jpg" for t in range(len(frames))]
        out["sequences"].append({
            "id": sid, "width": W, "height": H, "dataset": "synth", "seq_name": f"s{sid}", "fps": 30,
            "all_image_paths": paths, "annotated_image_paths": paths, "neg_category_ids": [],
            "not_exhaustive_category_ids": [], "track_category_ids": {str(k): v for k, v in cats.items()},
            "segmentations": [{str(k): {"rle": _rle(m), "score": 0.9} for k, m in f.items()} for f in frames],
        })
    return out


def _scene(rng, n_frames=4):
    cats = {1: AIRPLANE, 2: APPLE, 3: ACORN}
    gt, pred = [], []
    for t in range(n_frames):
        g = {1: _rect(1, 1 + t), 2: _rect(12, 2), 3: _rect(2, 20)}
        p = {1: _rect(1 + int(rng.integers(-1, 2)), 1 + t), 2: _rect(12, 2 + int(rng.integers(0, 3)))}
        if t % 2:
            p[7] = _rect(2, 20)  # acorn found every other frame, under another id
        gt.append(g)
        pred.append(p)
    return cats, gt, pred


def test_perfect_and_split_averages(tmp_path):
    cats, gt, _ = _scene(np.random.default_rng(0))
    (tmp_path / "all_classes.json").write_text(json.dumps(_burst({1: (cats, gt)})))
    r = compute("burst", tmp_path, _burst({1: (cats, gt)}))
    for k in ("HOTA", "DetA", "AssA", "AP"):
        assert r[f"{k}_all"] == pytest.approx(100) and r[f"{k}_common"] == pytest.approx(100)
    # drop the acorn (uncommon) predictions: its class scores 0, common classes stay perfect
    pred = [{k: m for k, m in f.items() if k != 3} for f in gt]
    r = compute("burst", tmp_path / "all_classes.json", _burst({1: (cats, pred)}))
    assert r["HOTA_uncommon"] == 0 and r["HOTA_common"] == pytest.approx(100)
    assert r["HOTA_all"] == pytest.approx(100 * 2 / 3) and r["AP_all"] == pytest.approx(100 * 2 / 3)


def _hota_direct(gt, pred):
    """TrackEval HOTA of single-class data computed from the masks directly (no BURST plumbing)."""
    data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_timesteps": len(gt)}
    gm, pm = {}, {}
    for g, p in zip(gt, pred):
        gk, pk = list(g), list(p)
        data["gt_ids"].append(np.array([gm.setdefault(k, len(gm)) for k in gk], int))
        data["tracker_ids"].append(np.array([pm.setdefault(k, len(pm)) for k in pk], int))
        enc = lambda ms: [mu.encode(np.asfortranarray(m.astype(np.uint8))) for m in ms]
        s = np.asarray(mu.iou(enc([g[k] for k in gk]), enc([p[k] for k in pk]), [0] * len(pk))) if gk and pk else np.zeros((len(gk), len(pk)))
        data["similarity_scores"].append(s.reshape(len(gk), len(pk)))
    data.update(num_gt_ids=len(gm), num_tracker_ids=len(pm), num_gt_dets=sum(map(len, data["gt_ids"])),
                num_tracker_dets=sum(map(len, data["tracker_ids"])))
    return trackeval.metrics.HOTA({"PRINT_CONFIG": False}).eval_sequence(data)


@pytest.mark.parametrize("seed", range(3))
def test_class_hota_matches_trackeval_on_masks(tmp_path, seed):
    rng = np.random.default_rng(seed)
    cats, gt, pred = _scene(rng, n_frames=int(rng.integers(3, 7)))
    gt = [{k: m for k, m in f.items() if k == 1} for f in gt]  # one class: airplane
    pred = [{k: m for k, m in f.items() if k == 1} for f in pred]
    r = compute("burst", _burst({1: ({1: AIRPLANE}, gt)}), _burst({1: ({1: AIRPLANE}, pred)}))
    ref = _hota_direct(gt, pred)
    for k in ("HOTA", "DetA", "AssA"):
        assert r[f"{k}_all"] == pytest.approx(100 * np.mean(ref[k]), abs=1e-10)
        assert r[f"{k}_common"] == r[f"{k}_all"] and np.isnan(r[f"{k}_uncommon"])


def test_open_world(tmp_path):
    cats, gt, pred = _scene(np.random.default_rng(3))
    for split, keep in (("all", {1, 2, 3}), ("common", {1, 2}), ("uncommon", {3})):
        g = [{k: m for k, m in f.items() if k in keep} for f in gt]
        (tmp_path / f"{split}_classes.json").write_text(json.dumps(_burst({1: ({k: cats[k] for k in keep}, g)})))
    r = compute("burst", tmp_path, _burst({1: ({1: 1, 2: 1, 7: 1}, pred)}), task="open_world")
    assert set(r) == {f"{k}_{s}" for k in ("OWTA", "DetRe", "AssA") for s in ("all", "common", "uncommon")}
    assert 0 < r["OWTA_uncommon"] < r["OWTA_common"] <= 100
    with pytest.raises(ResultsError, match="open-world task needs the split folder"):
        compute("burst", tmp_path / "all_classes.json", _burst({1: ({1: 1, 2: 1, 7: 1}, pred)}), task="open_world")


def test_bad_inputs(tmp_path):
    cats, gt, pred = _scene(np.random.default_rng(0))
    g = _burst({1: (cats, gt)})
    bad = _burst({1: (cats, pred)})
    bad["sequences"][0]["segmentations"].pop()
    with pytest.raises(ResultsError, match="sequence 'synth/s1' has 3 segmentation frames but 4"):
        compute("burst", g, bad)
    bad = _burst({1: ({1: AIRPLANE}, pred)})
    with pytest.raises(ResultsError, match="track 2 has no entry in track_category_ids"):
        compute("burst", g, bad)
    with pytest.raises(ResultsError, match="unknown BURST task"):
        compute("burst", g, _burst({1: (cats, pred)}), task="point")


def test_empty_predictions_and_unannotated_frames():
    cats, gt, _ = _scene(np.random.default_rng(1))
    empty = _burst({1: (cats, [{} for _ in gt])})
    r = compute("burst", _burst({1: (cats, gt)}), empty)
    assert r["HOTA_all"] == 0 and r["DetA_common"] == 0
    # predictions at a higher frame rate: frames not annotated in the ground truth are ignored
    pred = _burst({1: (cats, gt + [{1: _rect(0, 0)}])})
    pred["sequences"][0]["annotated_image_paths"][-1] = "frame9999.jpg"
    assert compute("burst", _burst({1: (cats, gt)}), pred)["HOTA_all"] == pytest.approx(100)


# -- exemplar-guided: run.py's order of operations, hand-derived ---------------------------------
# burstapi/eval/run.py main(): ``dataset = BURST(pred_path=..., gt_path=..., config=defaults)`` converts
# the predictions with EXEMPLAR_GUIDED False (format_converter.py _visit_seq keeps each track's
# ``track_category_ids`` entry and its local id), then ``dataset.config["EXEMPLAR_GUIDED"] = True``
# only skips the Hungarian pre-matching in burst_base.py get_preprocessed_seq_data.
def _two_frames(tracks):
    return [dict(tracks) for _ in range(2)]


def test_exemplar_guided_keeps_the_predicted_class():
    g = {1: _rect(1, 1), 2: _rect(12, 20)}
    gt = _burst({1: ({1: AIRPLANE, 2: ACORN}, _two_frames(g))})
    pred = _burst({1: ({1: APPLE, 2: ACORN}, _two_frames(g))})  # exact masks, track 1 labelled apple
    r = compute("burst", gt, pred, task="exemplar_guided")
    # classes evaluated = classes with GT: airplane gets no prediction (HOTA 0), acorn is exact (100);
    # apple has no GT and is not evaluated -> HOTA_all = (0 + 100) / 2
    assert r["HOTA_all"] == pytest.approx(50.0)  # evalkit before: 100 (GT class substituted)
    assert r["HOTA_common"] == pytest.approx(0.0) and r["HOTA_uncommon"] == pytest.approx(100.0)
    # the documented intent ("the class value is irrelevant"), as a named variant
    v = compute("burst", gt, pred, task="exemplar_guided", exemplar_classes="ground_truth")
    assert v["HOTA_all"] == pytest.approx(100.0) and v["HOTA_common"] == pytest.approx(100.0)


def test_exemplar_guided_scores_a_track_id_the_gt_lacks():
    # an exact acorn track keeps every class split non-empty (run.py's print_results divides by
    # the number of classes of a split and fails on an empty one)
    gt = _burst({1: ({1: AIRPLANE, 2: ACORN}, _two_frames({1: _rect(1, 1), 2: _rect(12, 20)}))})
    # track 9 (not in the GT) is an airplane mask away from every object in both frames
    pred = _burst({1: ({1: AIRPLANE, 2: ACORN, 9: AIRPLANE},
                       _two_frames({1: _rect(1, 1), 2: _rect(12, 20), 9: _rect(14, 2)}))})
    r = compute("burst", gt, pred, task="exemplar_guided")
    # airplane, every alpha: TP 2 (IoU 1), FP 2 (track 9, IoU 0), FN 0 -> DetA = 2 / 4; the matched
    # pair is one GT id with one track id over both frames -> AssA 1; HOTA = sqrt(0.5 * 1)
    assert r["DetA_common"] == pytest.approx(50.0) and r["AssA_common"] == pytest.approx(100.0)
    assert r["HOTA_common"] == pytest.approx(100 * np.sqrt(0.5))  # evalkit before: ResultsError (KeyError: '9')
    assert r["HOTA_all"] == pytest.approx((100 * np.sqrt(0.5) + 100) / 2)
    with pytest.raises(ResultsError, match="track 9 is not a ground-truth track"):
        compute("burst", gt, pred, task="exemplar_guided", exemplar_classes="ground_truth")


def test_exemplar_classes_option_is_checked():
    g = _burst({1: ({1: AIRPLANE}, _two_frames({1: _rect(1, 1)}))})
    with pytest.raises(ResultsError, match="unknown BURST exemplar_classes 'gt'"):
        compute("burst", g, g, task="exemplar_guided", exemplar_classes="gt")
    with pytest.raises(ResultsError, match="applies to the exemplar_guided task, not to 'class_guided'"):
        compute("burst", g, g, exemplar_classes="ground_truth")
