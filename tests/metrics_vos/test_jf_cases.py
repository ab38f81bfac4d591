"""Boundary F and the DAVIS aggregation on cases small enough to work out by hand.

Encoded rules: ``davis2017-evaluation`` ``davis2017/metrics.py`` ``f_measure`` (boundaries
dilated by ``disk(r)``, precision/recall from the matched boundary pixels, no match on both
sides -> F = 0) and ``davis2017/evaluation.py`` / ``evaluation_method.py`` (every statistic
averaged over all objects, J&F-Mean = (J-Mean + F-Mean) / 2).
"""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.metrics.jf import BoundaryPart, ObjectScores, Statistics, disk, f_batch, global_measures


def _dot(y: int, x: int) -> BoundaryPart:
    return BoundaryPart(np.ones((1, 1), bool), y, x, 1)


@pytest.mark.parametrize(
    "gt_at, want",
    [
        ((10, 12), 1.0),  # 2 px to the east: inside disk(2), each point matches the other
        ((12, 12), 0.0),  # diagonal, sqrt(8) > 2: inside the disk's box but not the disk
        ((10, 13), 0.0),  # 3 px away: farther than the radius, P = R = 0
    ],
)
def test_f_of_two_single_boundary_pixels(gt_at, want):
    assert f_batch([(_dot(10, 10), _dot(*gt_at))], disk(2), 2.0) == [want]


def test_f_without_boundaries():
    # no predicted boundary: P = 1, R = 0 -> F = 0; neither has one: P = R = 1 -> F = 1
    assert f_batch([(None, _dot(0, 0)), (None, None)], disk(2), 2.0) == [0.0, 1.0]


def test_global_measures_weight_every_object_equally():
    objects = [
        ObjectScores("a_1", Statistics(1.0, 1.0, 0.0), Statistics(0.5, 0.0, 0.25)),
        ObjectScores("a_2", Statistics(0.5, 0.0, 0.5), Statistics(0.5, 1.0, 0.25)),
        ObjectScores("b_1", Statistics(0.0, 0.0, 0.1), Statistics(0.2, 0.0, 0.1)),
    ]
    got = global_measures(objects)
    assert got == pytest.approx({
        "J&F-Mean": (0.5 + 0.4) / 2, "J-Mean": 0.5, "J-Recall": 1 / 3, "J-Decay": 0.2,
        "F-Mean": 0.4, "F-Recall": 1 / 3, "F-Decay": 0.2,
    })
    assert list(got) == ["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"]
    assert objects[1].row() == {"Sequence": "a_2", "J-Mean": 0.5, "J-Recall": 0.0, "J-Decay": 0.5,
                                "F-Mean": 0.5, "F-Recall": 1.0, "F-Decay": 0.25}
