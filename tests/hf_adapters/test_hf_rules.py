"""Hand-derived cases on the edges of the transformers adapters' rules: the expected numbers
below are worked out by hand, not by re-running the code under test.

* Grounding DINO detection scoring: GroundingDINO ``demo/test_ap_on_coco.py``
  ``PostProcessCocoGrounding`` (caption ``" . ".join(names) + " ."``, token spans from
  ``create_positive_map_from_span``, category score = mean token probability, top-k pairs).
* OWLv2 boxes: relative to the bottom/right padded square, so scaled by the longer side.
* Mask2Former: class → category by name; MinVIS alignment through the shared matcher.
"""
from __future__ import annotations

import math
import types

import numpy as np
import pytest
import torch

from evalkit.types import Categories, Frames


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _adapter(module, tiny_fn, model_id, **options):
    from evalkit.zoo.cards import get_card

    model, processor = tiny_fn()
    cls = {"grounding_dino": "GroundingDinoAdapter", "owlv2": "Owlv2Adapter"}[module.__name__.rsplit(".", 1)[1]]
    a = getattr(module, cls)(model_id=model_id, model=model, processor=processor,
                             card=get_card(model_id), **options)
    a.prepare("det")
    return a


def test_category_caption_spans():
    from evalkit.adapters.hf.grounding_dino import category_caption

    caption, spans = category_caption(("Red circle", "cat"))
    assert caption == "red circle . cat ."
    assert spans == [(0, 10), (13, 16)]  # "red circle" = chars 0..9, "cat" = 13..15


def test_positive_map_rows_average_the_span_tokens():
    from evalkit.adapters.hf import tiny
    from evalkit.adapters.hf.grounding_dino import _positive_map, category_caption

    tok = tiny.grounding_dino()[1].tokenizer
    caption, spans = category_caption(("ab", "c"))  # "ab . c ."
    enc = tok(caption)
    # character-level WordPiece: [CLS] a ##b . c . [SEP]
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == ["[CLS]", "a", "##b", ".", "c", ".", "[SEP]"]
    pos = _positive_map(enc, spans, 7)
    assert pos.tolist() == [[0, 0.5, 0.5, 0, 0, 0, 0], [0, 0, 0, 0, 1.0, 0, 0]]


def test_grounding_dino_scores_are_mean_token_probabilities_top_k():
    """Two queries, categories "ab" (tokens 1, 2) and "c" (token 4).

    query 0: token probs (1: .9, 2: .5, 4: .2) -> "ab" (.9+.5)/2 = .70, "c" .20
    query 1: token probs (1: .1, 2: .1, 4: .6) -> "ab" .10,            "c" .60
    top-2 pairs: (q0, ab, .70), (q1, c, .60); box of q0 = cxcywh (.5,.5,.5,.5) on a 40×80
    image -> xyxy (20, 10, 60, 30).
    """
    from evalkit.adapters.hf import grounding_dino as gd, tiny

    a = _adapter(gd, tiny.grounding_dino, "grounding-dino-tiny", num_select=2)
    logits = torch.full((1, 2, 7), -20.0)
    for q, probs in ((0, {1: .9, 2: .5, 4: .2}), (1, {1: .1, 2: .1, 4: .6})):
        for t, p in probs.items():
            logits[0, q, t] = _logit(p)
    boxes = torch.tensor([[[.5, .5, .5, .5], [.25, .25, .1, .1]]])
    fake = types.SimpleNamespace(logits=logits, pred_boxes=boxes)
    a.run = lambda image, caption: (fake, a.processor.tokenizer(caption, return_tensors="pt")["input_ids"])
    [inst] = gd.predict_detection(a.bundle(), a.context, Frames.from_image(np.zeros((40, 80, 3), np.uint8)),
                                  Categories(("ab", "c"), (7, 9))).instances
    assert inst.labels.tolist() == [7, 9]
    np.testing.assert_allclose(inst.scores, [.70, .60], atol=1e-6)
    np.testing.assert_allclose(inst.boxes[0], [20, 10, 60, 30], atol=1e-4)


def test_owlv2_boxes_scale_by_the_padded_square_and_clip():
    """A 48×80 image is padded to 80×80; box cxcywh (.5, .5, .5, .5) of the square is xyxy
    (20, 20, 60, 60) in pixels, clipped to the 48-row image: (20, 20, 60, 48). Two queries,
    best class per box; max_detections 1 keeps the higher-scored box."""
    from evalkit.adapters.hf import owlv2, tiny

    a = _adapter(owlv2, tiny.owlv2, "owlv2-base-patch16-ensemble", max_detections=1)
    fake = types.SimpleNamespace(
        logits=torch.tensor([[[_logit(.2), _logit(.8)], [_logit(.3), _logit(.1)]]]),
        pred_boxes=torch.tensor([[[.5, .5, .5, .5], [.1, .1, .1, .1]]]))
    a.model = lambda **inputs: fake
    [inst] = owlv2.predict_detection(a.bundle(), a.context, Frames.from_image(np.zeros((48, 80, 3), np.uint8)),
                                     Categories(("x", "y"), (3, 5))).instances
    assert inst.labels.tolist() == [5]
    np.testing.assert_allclose(inst.scores, [.8], atol=1e-6)
    np.testing.assert_allclose(inst.boxes[0], [20, 20, 60, 48], atol=1e-4)


def test_category_lookup_by_name_and_none_matching():
    from evalkit.adapters.hf.hf_common import category_lookup
    from evalkit.errors import EvalkitError

    assert category_lookup({0: "person", 1: "Cat", 2: "tv"}, ("cat", "dog", "person"), (17, 18, 1), "m") == \
        {0: 1, 1: 17}
    with pytest.raises(EvalkitError, match="none of its 1 classes"):
        category_lookup({0: "person"}, ("cat",), (17,), "m")


def _m2f_adapter(**options):
    from evalkit.adapters.hf import tiny
    from evalkit.adapters.hf.mask2former import Mask2FormerAdapter
    from evalkit.zoo.cards import get_card

    model, processor = tiny.mask2former()
    return Mask2FormerAdapter(model_id="mask2former-swin-t-coco-instance", model=model,
                              processor=processor, card=get_card("mask2former-swin-t-coco-instance"),
                              **options)


def _m2f_outputs(class_logits, mask_logits, embeds=None):
    return types.SimpleNamespace(class_queries_logits=torch.tensor([class_logits], dtype=torch.float32),
                                 masks_queries_logits=torch.tensor([mask_logits], dtype=torch.float32),
                                 transformer_decoder_last_hidden_state=None if embeds is None else
                                 torch.tensor([embeds], dtype=torch.float32))


def test_mask2former_instance_masks_are_cut_from_the_padded_canvas():
    """A 32×64 image processed unscaled onto a 64×64 canvas (32 rows of padding). One query,
    mask logits 16×16 (stride 4): +10 on rows 0-3, -10 below, i.e. canvas rows 0-15. Cut from
    the canvas the mask is image rows 0-15 (box 0, 0, 64, 16); resizing the whole padded
    canvas onto the image instead would squash it to rows 0-7."""
    from evalkit.adapters.hf.mask2former import predict_instances
    from evalkit.adapters.hf.tiny import SHAPES_CLASSES

    a = _m2f_adapter()
    a.prepare("inst-seg")
    cls = [[10.0] + [-10.0] * 9]  # "red circle", no-object last
    masks = [[[10.0] * 16] * 4 + [[-10.0] * 16] * 12]
    a.run = lambda image: (_m2f_outputs(cls, masks), (32, 64), (64, 64))
    [inst] = predict_instances(a.bundle(), a.context, Frames.from_image(np.zeros((32, 64, 3), np.uint8)),
                               Categories(SHAPES_CLASSES, tuple(range(11, 20)))).instances
    assert inst.labels.tolist() == [11]
    m = inst.masks[0]
    assert m[:16].all() and not m[16:].any()
    np.testing.assert_allclose(inst.boxes[0], [0, 0, 64, 16])


def test_mask2former_vis_follows_the_matched_query():
    """MinVIS: frame 1 returns the two objects in swapped query slots (embeddings swapped);
    after matching, the video's best (query, class) pair — "red circle" on the left half in
    both frames (class logit 6 vs 4 for "green circle") — keeps the left half in frame 1 too."""
    from evalkit.adapters.hf.mask2former import predict_video
    from evalkit.adapters.hf.tiny import SHAPES_CLASSES

    a = _m2f_adapter(vis_topk=1)
    a.prepare("vis")
    left = [[10.0, 10.0, -10.0, -10.0]] * 4
    right = [[-10.0, -10.0, 10.0, 10.0]] * 4
    red = [6.0] + [-10.0] * 9
    green = [-10.0] * 3 + [4.0] + [-10.0] * 6
    steps = iter([_m2f_outputs([red, green], [left, right], [[1.0, 0.0], [0.0, 1.0]]),
                  _m2f_outputs([green, red], [right, left], [[0.0, 1.0], [1.0, 0.0]])])
    a.run = lambda image: (next(steps), (16, 16), (16, 16))
    image = np.zeros((16, 16, 3), np.uint8)
    frames = predict_video(a.bundle(), a.context, Frames([image, image], sizes=[(16, 16)] * 2),
                           Categories(SHAPES_CLASSES, tuple(range(1, 10)))).instances
    for f in frames:
        assert f.labels.tolist() == [1] and f.track_ids.tolist() == [0]
        m = f.dense_masks()[0]
        assert m[:, :8].all() and not m[:, 8:].any()


def test_grounding_dino_long_category_lists_are_chunked():
    """Tiny text tower: max_text_len 128; a 10-letter name is 10 character tokens plus its dot,
    so n names take 11 n + 2 tokens ([CLS], [SEP]): 11 names fit (123), 12 do not (134). 20
    names → chunks [0, 11) and [11, 20); a name of 65 two-letter words (130 tokens) alone does not fit at all."""
    from evalkit.adapters.hf import grounding_dino as gd, tiny
    from evalkit.errors import EvalkitError

    a = _adapter(gd, tiny.grounding_dino, "grounding-dino-tiny")
    names = tuple("abcdefghij" for _ in range(20))
    plan = a.caption_plan(names)
    assert [(s, e) for s, e, _, _ in plan] == [(0, 11), (11, 20)]
    assert plan[1][3].shape == (9, 128) and plan[1][3][0, 1:11].sum() == pytest.approx(1.0)
    with pytest.raises(EvalkitError, match="alone is longer than the text tower's 128 tokens"):
        a.caption_plan((" ".join(["ab"] * 65),))


def test_sam2_vos_loop_with_torch_stand_ins_for_the_torchvision_processors():
    """The SAM 2 procedure's plumbing against the real ``Sam2VideoModel`` and the real
    ``Sam2VideoProcessor`` session methods (mask prompts, propagation). transformers 5 gives
    the SAM 2 image/video processors only a torchvision backend, so here the two are replaced by
    plain-torch stand-ins (resize + normalise in; bilinear resize + threshold out); the end-to-end
    test with the real processors runs where torchvision is installed. Objects: 1 on frame 0,
    2 appearing on frame 1 (``frames_of_objects``): frame 0 must carry object 1 only."""
    import torch.nn.functional as F
    from transformers import Sam2VideoModel, Sam2VideoProcessor

    from evalkit.adapters.hf import tiny
    from evalkit.adapters.hf.sam2_video import Sam2VideoAdapter, predict_vos
    from evalkit.types import Reference
    from evalkit.zoo.cards import get_card

    side = 64

    class Video:
        def __call__(self, videos, device=None, return_tensors=None):
            x = torch.from_numpy(np.stack(videos)).permute(0, 3, 1, 2).float() / 255
            x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
            return types.SimpleNamespace(pixel_values_videos=[(x - .5) / .5],
                                         original_sizes=[list(videos[0].shape[:2])])

    class Image:
        def post_process_masks(self, masks, original_sizes, mask_threshold, binarize, *_):
            m = F.interpolate(masks[0].float(), size=tuple(original_sizes[0]), mode="bilinear",
                              align_corners=False)
            return [m > mask_threshold if binarize else m]

    proc = object.__new__(Sam2VideoProcessor)
    proc.target_size, proc.video_processor, proc.image_processor = side, Video(), Image()
    model = Sam2VideoModel(tiny.sam2_video_config()).eval()  # the model alone: no torchvision needed
    a = Sam2VideoAdapter(model_id="sam2-hiera-tiny", model=model, processor=proc,
                         card=get_card("sam2-hiera-tiny"))
    a.prepare("vos")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (48, 40, 3), dtype=np.uint8) for _ in range(3)]
    masks = np.zeros((2, 48, 40), bool)
    masks[0, 5:20, 5:20] = True
    masks[1, 25:40, 20:35] = True
    res = predict_vos(a.bundle(), a.context, Frames(images),
                      Reference(object_ids=(1, 2), masks=masks, frames_of_objects=(0, 1)))
    out = list(res.instances)
    # two first frames (0 and 1): two sessions; the counts are complete once the stream is
    assert res.stats == {"frames": 3, "objects": 2, "sessions": 2}
    assert len(out) == 3
    assert out[0].track_ids.tolist() == [1]
    assert sorted(out[2].track_ids.tolist()) == [1, 2]
    assert all(f.dense_masks().shape[1:] == (48, 40) for f in out)
    assert all(f.dense_masks().sum(0).max() <= 1 for f in out)  # one object per pixel

