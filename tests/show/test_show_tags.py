"""Label tags of ``evalkit show``: two detections of one object both stay readable (a duplicate
or the same box with another class is the error an overlay must show), and the frame strip,
which reduces its frames, draws its tags large enough to read after the reduction."""
from __future__ import annotations

import math

import numpy as np

from evalkit.cli import main as cli_main
from evalkit.show import draw
from evalkit.show.draw import Style, draw_instances, id_colour
from evalkit.types import Instances
from test_show_run import _breakdown, cache, make_run  # noqa: F401 - the module's fixture, reused


def _two(boxes) -> Instances:
    return Instances((128, 128), boxes=np.asarray(boxes, np.float32), scores=np.array([0.9, 0.4], np.float32),
                     labels=np.array([1, 2], np.int64))


def _pixels(img: np.ndarray, rgb) -> np.ndarray:
    return np.all(img == np.asarray(rgb, np.uint8), axis=-1)


def test_tags_of_a_duplicate_box_do_not_cover_each_other():
    frame = np.full((128, 128, 3), 128, np.uint8)
    names = {1: "red circle", 2: "red square"}
    # the same box twice, another class: the second box is under the first, only its tag can show
    out = draw_instances(frame, _two([[40, 60, 90, 110]] * 2), names, scale=3)
    second = _pixels(out, id_colour(2))
    assert second.sum() > 0.6 * 60 * 14, second.sum()  # the tag of "red square 0.40" (about 60 x 14 px)
    ys, xs = np.nonzero(second)
    first_tag_rows = np.nonzero(_pixels(out, id_colour(1))[: 60 * 3].sum(1) > 20)[0]
    assert ys.min() > first_tag_rows.min()  # below the better one's tag, which keeps its place above the box
    # boxes apart: both tags above their own box, where they always were
    apart = draw_instances(frame, _two([[5, 60, 40, 100], [80, 60, 120, 100]]), names, scale=3)
    for k, x0 in ((1, 5), (2, 80)):
        ys, xs = np.nonzero(_pixels(apart, id_colour(k))[: 60 * 3])  # rows above the boxes' top edge
        assert ys.max() < 60 * 3 and xs.min() >= x0 * 3 - 1


def test_style_font_sets_the_tag_size():
    frame = np.full((128, 128, 3), 128, np.uint8)
    one = Instances((128, 128), boxes=np.array([[40, 60, 90, 110]], np.float32), scores=np.array([0.9], np.float32),
                    labels=np.array([1], np.int64))
    heights = []
    for size in (None, 24):
        img = draw_instances(frame, one, {1: "c"}, scale=3, style=Style(font=size))
        rows = np.nonzero(_pixels(img, id_colour(1))[: 60 * 3 - 2].sum(1) > 10)[0]  # the tag, above the box
        heights.append(rows.max() - rows.min() + 1)
    assert heights[1] >= 1.7 * heights[0], heights  # twice the font size: about twice the height


def test_the_strip_redraws_its_frames_with_tags_sized_for_the_reduction(cache, tmp_path, monkeypatch):  # noqa: F811
    sizes = []
    real = draw._font

    def spy(size=12):
        sizes.append(size)
        return real(size)

    monkeypatch.setattr(draw, "_font", spy)
    run = make_run(tmp_path, "shapes-ytvis", ids=["1"])
    assert cli_main(["show", str(run), "--out", str(tmp_path / "o")]) == 0
    # frames of 128 pixels are drawn at 384 (x3) and reduced to 160 in the strip: 9 px after it
    want = math.ceil(9 * 384 / 160)
    assert want in sizes and set(sizes) <= {10, 11, 12, want}  # 11, 12: the caption bars


def test_gallery_says_when_every_sample_ties_and_drops_empty_category_lines(cache, tmp_path):  # noqa: F811
    from evalkit.show.gallery import write_gallery

    run = make_run(tmp_path / "a", "shapes-coco-det", ids=["1", "2", "3"])
    (run / "breakdown.json").write_text(_breakdown({s: {"recall@0.5": 1.0} for s in ("1", "2", "3")}, "recall@0.5"))
    page = write_gallery(run).read_text()
    assert "every sample scores 1.000, so they stay in the split&#x27;s order" in page
    assert page.count('class="c"') == 3  # the categories drawn on each image
    vos = write_gallery(make_run(tmp_path / "b", "shapes-davis", ids=None)).read_text()
    assert 'class="c"' not in vos and "every sample scores" not in vos  # no categories, no scores


def test_gallery_thumbnails_are_drawn_with_tags_sized_for_the_reduction(cache, tmp_path, monkeypatch):  # noqa: F811
    from evalkit.show.gallery import write_gallery

    sizes = []
    real = draw._font
    monkeypatch.setattr(draw, "_font", lambda size=12: sizes.append(size) or real(size))
    write_gallery(make_run(tmp_path, "shapes-coco-seg", ids=["1", "2"]))
    # 128-pixel images drawn at 384, thumbnails of 200: tags of 9 px once reduced
    assert sizes.count(math.ceil(9 * 384 / 200)) == 2  # one thumbnail per sample
