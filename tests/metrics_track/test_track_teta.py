"""TETA: agreement with TrackEval HOTA where the definitions coincide, and hand-checked cases."""
import numpy as np
import pytest
import trackeval

from evalkit.errors import ResultsError
from evalkit.metrics import compute
from evalkit.metrics.teta import box_iou_trackeval, evaluate_classes


def _tao(videos, n_images=None):
    """videos: {vid: [frame -> [(track_id, cat, xywh)]]} → (gt dict, image ids)."""
    gt = {"videos": [], "images": [], "annotations": [], "tracks": [],
          "categories": [{"id": c, "name": f"c{c}"} for c in range(1, 6)]}
    img_id = 0
    ids = {}
    for v, frames in videos.items():
        gt["videos"].append({"id": v, "name": f"vid/{v}", "neg_category_ids": [], "not_exhaustive_category_ids": []})
        for t, dets in enumerate(frames):
            img_id += 1
            ids[v, t] = img_id
            gt["images"].append({"id": img_id, "video_id": v, "frame_index": t})
            for tid, cat, box in dets:
                gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": img_id, "video_id": v,
                                          "track_id": tid, "category_id": cat, "bbox": list(map(float, box))})
    return gt, ids


def _results(preds, ids):
    return [{"image_id": ids[v, t], "track_id": tid, "category_id": cat, "bbox": list(map(float, box)), "score": 0.9}
            for v, frames in preds.items() for t, dets in enumerate(frames) for tid, cat, box in dets]


def _hota(gt_videos, pred_videos):
    hota = trackeval.metrics.HOTA({"PRINT_CONFIG": False})
    per = {}
    for v in gt_videos:
        data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_timesteps": len(gt_videos[v])}
        gm, pm = {}, {}
        for g, p in zip(gt_videos[v], pred_videos[v]):
            data["gt_ids"].append(np.array([gm.setdefault(i, len(gm)) for i, _, _ in g], int))
            data["tracker_ids"].append(np.array([pm.setdefault(i, len(pm)) for i, _, _ in p], int))
            gb = np.array([b for *_, b in g], float).reshape(-1, 4)
            pb = np.array([b for *_, b in p], float).reshape(-1, 4)
            data["similarity_scores"].append(box_iou_trackeval(gb, pb))
        data.update(num_gt_ids=len(gm), num_tracker_ids=len(pm), num_gt_dets=sum(map(len, data["gt_ids"])),
                    num_tracker_dets=sum(map(len, data["tracker_ids"])))
        per[v] = hota.eval_sequence(data)
    return hota.combine_sequences(per)


def _synth(rng, n_frames, n_obj, cat=1):
    base = rng.uniform(0, 500, size=(n_obj, 2))
    pid = {o: 100 + o for o in range(n_obj)}
    gt, pred = [], []
    for _ in range(n_frames):
        g, p = [], []
        for o in range(n_obj):
            if rng.random() < 0.1:
                continue
            x, y = base[o] + rng.normal(0, 3, 2)
            g.append((o + 1, cat, (x, y, 40.0, 60.0)))
            if rng.random() < 0.1:
                pid[o] = int(rng.integers(1000, 10**6))
            if rng.random() < 0.8:  # small jitter: the prediction overlaps its object by IoU >= 0.5
                p.append((pid[o], cat, (x + rng.uniform(-4, 4), y + rng.uniform(-4, 4), 40.0, 60.0)))
        gt.append(g)
        pred.append(p)
    return gt, pred


@pytest.mark.parametrize("seed", range(5))
def test_single_class_equals_hota_when_all_predictions_overlap(seed):
    rng = np.random.default_rng(seed)
    vids = {v: _synth(rng, int(rng.integers(3, 15)), int(rng.integers(1, 6))) for v in range(1, 4)}
    gt_v = {v: g for v, (g, _) in vids.items()}
    pr_v = {v: p for v, (_, p) in vids.items()}
    gt, ids = _tao(gt_v)
    res = _results(pr_v, ids)
    per_alpha = evaluate_classes(gt, res)["c1"]
    ref = _hota(gt_v, pr_v)
    # every prediction overlaps a ground truth, so TETA's FP set is HOTA's and LocA = DetA at
    # HOTA's 19 thresholds (TETA adds alpha = 0 in front)
    np.testing.assert_allclose(per_alpha["LocA"][1:], ref["DetA"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(per_alpha["AssocA"][1:], ref["AssA"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(per_alpha["LocRe"][1:], ref["DetRe"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(per_alpha["Loc_TP"][1:], ref["HOTA_TP"])
    ours = compute("tao-teta", gt, res)
    assert ours["LocA"] == pytest.approx(100 * np.mean(per_alpha["LocA"]))
    assert ours["ClsA"] == 100.0
    assert ours["TETA"] == pytest.approx((ours["LocA"] + ours["AssocA"] + 100) / 3)


def test_far_false_positives_are_free_and_class_errors_counted():
    box = (10.0, 10.0, 40.0, 40.0)
    gt_v = {1: [[(1, 1, box), (2, 2, (200.0, 10.0, 40.0, 40.0))]] * 2}
    pr_v = {1: [[(7, 1, box), (8, 1, (200.0, 10.0, 40.0, 40.0)), (9, 3, (400.0, 400.0, 20.0, 20.0))]] * 2}
    gt, ids = _tao(gt_v)
    r = compute("tao-teta", gt, _results(pr_v, ids))
    # class 1: perfect localisation; class 2: its object is found (agnostic) but labelled 1
    assert r["LocA"] == 100.0 and r["AssocA"] == 100.0
    # class 1: Cls_TP 2 + Cls_FP 2 (track 8 predicted 1 on a class-2 object) -> 0.5; class 2: Cls_FN 2 -> 0
    assert r["ClsA"] == pytest.approx(100 * (0.5 + 0.0) / 2)
    assert r["ClsPr"] == pytest.approx(100 * (0.5 + 0.0) / 2) and r["ClsRe"] == pytest.approx(50.0)


def test_alpha_zero_counts_zero_iou_pairs():
    # frame 0: the track overlaps its object, so it takes part in matching; frame 1: it is far
    # away but still paired by the Hungarian assignment, which counts as a match at alpha = 0
    gt_v = {1: [[(1, 1, (0.0, 0.0, 10.0, 10.0))], [(1, 1, (0.0, 0.0, 10.0, 10.0))]]}
    pr_v = {1: [[(5, 1, (0.0, 0.0, 10.0, 10.0))], [(5, 1, (300.0, 300.0, 10.0, 10.0))]]}
    gt, ids = _tao(gt_v)
    r = evaluate_classes(gt, _results(pr_v, ids))["c1"]
    assert r["Loc_TP"][0] == 2 and (r["Loc_TP"][1:] == 1).all() and (r["Loc_FN"][1:] == 1).all()
    assert (r["Loc_FP"] == 0).all()  # the far detection never overlaps: never a false positive


def test_merged_categories_and_max_detections():
    box = (10.0, 10.0, 40.0, 40.0)
    gt, ids = _tao({1: [[(1, 5, box)], [(1, 1, box)]]})
    gt["categories"][0]["merged"] = [{"id": 5}]  # category 5 is merged into category 1
    pred = {1: [[(7, 5, box), (8, 1, (11.0, 11.0, 40.0, 40.0))], [(7, 1, box)]]}
    res = _results(pred, ids)
    res[1]["score"] = 0.1  # the duplicate detection has the lowest score
    per_class = evaluate_classes(gt, res)
    assert list(per_class) == ["c1"]  # c5 does not exist any more
    assert (per_class["c1"]["Loc_FP"][1:] == 1).all() and (per_class["c1"]["Cls_TP"] == 2).all()
    assert compute("tao-teta", gt, res)["LocA"] < 100
    r = compute("tao-teta", gt, res, max_detections=1)  # keeps the best detection per image only
    assert r["TETA"] == pytest.approx(100)


def test_empty_predictions_and_errors():
    gt, ids = _tao({1: [[(1, 1, (0.0, 0.0, 10.0, 10.0))]]})
    r = compute("tao-teta", gt, [])
    assert r["TETA"] == 0.0 and r["LocA"] == 0.0
    with pytest.raises(ResultsError, match="entry #0 refers to image_id 99"):
        compute("tao-teta", gt, [{"image_id": 99, "track_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}])
    with pytest.raises(ResultsError, match="entry #0: bbox must be"):
        compute("tao-teta", gt, [{"image_id": 1, "track_id": 1, "category_id": 1, "bbox": [0, 0, 1], "score": 1}])
    dup = [{"image_id": 1, "track_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}] * 2
    with pytest.raises(ResultsError, match="track id 1 appears twice"):
        compute("tao-teta", gt, dup)
