"""Drawing (evalkit/show/draw.py): one colour per track, the same on every frame whatever the
order of the instances; the number of instances drawn; the ground-truth overlay.

Expected pixels are computed by hand from the rule "mask fill = (1 - alpha) * frame + alpha *
colour" on a frame of one grey value, so a wrong blend, a colour taken from the list position
instead of the track id, or an instance drawn twice / not at all changes them."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.show.draw import Style, display_scale, draw_instances, id_colour
from evalkit.show.render import filter_instances
from evalkit.types import Instances

GREY = 100
STYLE = Style(alpha=0.5, min_side=1)  # alpha 1/2: expected fill = (100 + colour) / 2 exactly-ish


def _mask(h, w, x0, y0, x1, y1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def _fill(colour):
    return tuple(int(np.floor((GREY + c) / 2 + 0.5)) for c in colour)


def test_colours_are_distinct_for_neighbouring_ids_and_stable():
    colours = [id_colour(i) for i in range(12)]
    assert len(set(colours)) == 12
    assert id_colour(7) == id_colour(7)
    # neighbouring ids differ clearly (max channel difference), not by a shade
    assert min(max(abs(a - b) for a, b in zip(colours[i], colours[i + 1])) for i in range(11)) > 60


def test_one_colour_per_track_across_frames():
    h, w = 60, 80
    frame = np.full((h, w, 3), GREY, np.uint8)
    # frame 0: track 3 on the left, track 8 on the right; frame 1: swapped places AND swapped
    # order in the list: colours must follow the track id, not the position or the index
    f0 = Instances((h, w), None, np.stack([_mask(h, w, 5, 30, 25, 55), _mask(h, w, 50, 30, 70, 55)]),
                   np.array([0.9, 0.8]), None, np.array([3, 8]))
    f1 = Instances((h, w), None, np.stack([_mask(h, w, 5, 30, 25, 55), _mask(h, w, 50, 30, 70, 55)]),
                   np.array([0.9, 0.8]), None, np.array([8, 3]))
    out0 = draw_instances(frame, f0, scale=1, style=STYLE)
    out1 = draw_instances(frame, f1, scale=1, style=STYLE)
    # interior pixels (below the label tag, inside the outline)
    left, right = (45, 15), (45, 60)
    assert tuple(out0[left]) == _fill(id_colour(3)) == tuple(out1[right])
    assert tuple(out0[right]) == _fill(id_colour(8)) == tuple(out1[left])
    # outlines are the solid colour; background untouched
    assert tuple(out0[40, 5]) == id_colour(3)
    assert tuple(out0[5, 40]) == (GREY,) * 3
    # exactly two fill colours inside the two masks of each frame
    for out, f in ((out0, f0), (out1, f1)):
        inner = f.masks.any(0)
        inner[30:40] = False  # the rows the label tags may cover
        cols = {tuple(p) for p in out[inner].reshape(-1, 3)}
        assert cols - {id_colour(3), id_colour(8)} == {_fill(id_colour(3)), _fill(id_colour(8))}


def test_untracked_instances_are_coloured_by_category_else_index_and_boxes_drawn():
    h, w = 50, 50
    frame = np.full((h, w, 3), GREY, np.uint8)
    boxes = np.array([[5, 20, 20, 45], [28, 20, 45, 45]], np.float32)
    inst = Instances((h, w), boxes, None, np.array([0.9, 0.7]), np.array([4, 9]))
    out = draw_instances(frame, inst, {4: "a", 9: "b"}, scale=1, style=STYLE)
    assert tuple(out[35, 5]) == id_colour(4) and tuple(out[35, 28]) == id_colour(9)
    assert tuple(out[35, 12]) == (GREY,) * 3  # a box is an outline, not a fill
    assert tuple(out[35, 4]) == (20, 20, 20)  # with a dark ring outside it
    out = draw_instances(frame, Instances((h, w), boxes, None, np.array([0.9, 0.7])), scale=1, style=STYLE)
    assert tuple(out[35, 5]) == id_colour(0) and tuple(out[35, 28]) == id_colour(1)


def test_best_scoring_instance_is_drawn_on_top():
    h, w = 40, 40
    frame = np.full((h, w, 3), GREY, np.uint8)
    m = np.stack([_mask(h, w, 5, 20, 30, 38), _mask(h, w, 10, 20, 35, 38)])
    # best-first, as filter_instances orders them: track 1 (0.9) must cover track 2 where they overlap
    inst = Instances((h, w), None, m, np.array([0.9, 0.4]), None, np.array([1, 2]))
    out = draw_instances(frame, inst, scale=1, style=Style(alpha=1.0, min_side=1))
    assert tuple(out[33, 20]) == id_colour(1)


def test_the_number_of_instances_drawn_follows_the_threshold():
    h, w = 40, 120
    frame = np.full((h, w, 3), GREY, np.uint8)
    masks = np.stack([_mask(h, w, 5 + 25 * k, 20, 25 + 25 * k, 38) for k in range(4)])
    inst = Instances((h, w), None, masks, np.array([0.9, 0.2, 0.5, 0.31]), None, np.array([1, 2, 3, 4]))
    keep = filter_instances(inst, 0.3, 30)
    assert list(keep.track_ids) == [1, 3, 4]  # by score, 0.2 dropped
    assert list(filter_instances(inst, 0.3, 2).track_ids) == [1, 3]
    out = draw_instances(frame, keep, scale=1, style=STYLE)
    fills = {tuple(out[34, 15 + 25 * k]) for k in range(4)}
    assert fills == {_fill(id_colour(t)) for t in (1, 3, 4)} | {(GREY,) * 3}
    assert tuple(out[34, 40]) == (GREY,) * 3  # track 2 (score 0.2) not drawn


def test_ground_truth_overlay_is_white_dashed():
    h, w = 50, 50
    frame = np.full((h, w, 3), GREY, np.uint8)
    gt = Instances((h, w), np.array([[10, 10, 40, 40]], np.float32))
    out = draw_instances(frame, Instances.empty((h, w)), scale=1, gt=gt, style=STYLE)
    top = out[10, 10:40]
    white = (top == 255).all(1)
    assert 0.3 < white.mean() < 0.8  # dashes: white and gaps along the edge
    assert tuple(out[25, 25]) == (GREY,) * 3


def test_display_scale_enlarges_small_frames_only():
    assert display_scale((128, 128)) == 3
    assert display_scale((480, 640)) == 1
    frame = np.zeros((10, 12, 3), np.uint8)
    assert draw_instances(frame, Instances.empty((10, 12)), scale=3).shape == (30, 36, 3)


def test_label_reads_name_score_track():
    from evalkit.show.draw import _label

    inst = Instances((5, 5), np.zeros((1, 4)), None, np.array([0.876]), np.array([2]), np.array([11]))
    assert _label(inst, 0, {2: "red circle"}) == "red circle 0.88 #11"


@pytest.mark.parametrize("n", [1, 5, 11])
def test_frame_strip_picks_evenly(n):
    from evalkit.show.video import frame_strip

    frames = [np.full((20, 30, 3), k, np.uint8) for k in range(n)]
    strip = frame_strip(frames, [f"f{k}" for k in range(n)], columns=4, height=20)
    assert strip.shape[1] == min(n, 4) * 30 + (min(n, 4) - 1) * 4
