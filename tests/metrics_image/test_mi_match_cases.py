"""COCO greedy matching on hand-built pairs whose outcome follows from the official loop.

The rules encoded are those of pycocotools ``cocoeval.py`` ``COCOeval.evaluateImg`` (the loop
over ``dind`` / ``gind``): a GT already matched is skipped unless it is crowd; the best GT is
replaced when ``ious[dind, gind] >= iou`` (so on a tie the *later* GT wins); "matched" is stored
as the GT's id, and ``dtm != 0`` is read as matched, so a GT with id 0 counts as no match.
"""
from __future__ import annotations

import numpy as np

from evalkit.metrics._apeval import EvalParams, PairData, _match, flatten_pairs


def _params() -> EvalParams:
    return EvalParams(area_rngs=[[0.0, 1e10]], area_lbls=("all",))


def _pair(ious, gt_ids, crowd=None) -> PairData:
    ious = np.asarray(ious, np.float64)
    d, g = ious.shape
    return PairData(0, 0, ious, np.asarray(gt_ids, np.int64),
                    np.zeros(g, bool) if crowd is None else np.asarray(crowd, bool),
                    np.full(g, 100.0), np.linspace(0.9, 0.8, d), np.full(d, 100.0))


def test_a_tie_goes_to_the_later_gt_and_id_zero_is_no_match():
    # two detections, each at IoU 0.6 with both GTs; GT ids (0, 7).
    # det 0 takes the later GT of the tie (id 7): matched; det 1 takes the one left (id 0),
    # which reads as unmatched. Thresholds 0.50, 0.55, 0.60 reach 0.6; 0.65 .. 0.95 do not.
    m = _match(flatten_pairs([_pair([[0.6, 0.6], [0.6, 0.6]], [0, 7])]), _params(), chunk=8)
    want = np.zeros((1, 10, 2), bool)
    want[0, :3, 0] = True
    np.testing.assert_array_equal(m.dt_matched, want)
    np.testing.assert_array_equal(m.dt_ignored, np.zeros((1, 10, 2), bool))
    np.testing.assert_array_equal(m.gt_ignored, [[False, False]])


def test_a_crowd_gt_is_never_used_up_and_its_detections_are_ignored():
    # one crowd GT (id 3) at IoU 0.7 with two detections: both match it at 0.50 .. 0.70
    # (5 thresholds), both are then ignored (the matched GT is ignored); above 0.70 neither
    # matches, and an unmatched detection inside the area range is not ignored.
    m = _match(flatten_pairs([_pair([[0.7], [0.7]], [3], crowd=[True])]), _params(), chunk=8)
    want = np.zeros((1, 10, 2), bool)
    want[0, :5, :] = True
    np.testing.assert_array_equal(m.dt_matched, want)
    np.testing.assert_array_equal(m.dt_ignored, want)
    np.testing.assert_array_equal(m.gt_ignored, [[True]])


def test_a_regular_gt_is_preferred_to_a_better_ignored_one():
    # GT 0 crowd at IoU 0.9, GT 1 regular at IoU 0.55: the official loop stops looking once it
    # holds a regular GT and the next one is ignored (``if m > -1 and gtIg[m] == 0 and
    # gtIg[gind] == 1: break``), so thresholds 0.50, 0.55 take the regular GT (not ignored),
    # 0.60 .. 0.90 the crowd GT (ignored), 0.95 nothing.
    m = _match(flatten_pairs([_pair([[0.9, 0.55]], [1, 2], crowd=[True, False])]), _params(), chunk=8)
    np.testing.assert_array_equal(m.dt_matched[0, :, 0], [True] * 9 + [False])
    np.testing.assert_array_equal(m.dt_ignored[0, :, 0], [False, False] + [True] * 7 + [False])
