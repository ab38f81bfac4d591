"""GLEE-Pro's LSJ test input (``coco_instance_lsj`` mapper of every Pro config, IMAGE_SIZE 1536):
``ResizeShortestEdge(S, max_size=S)`` + ``FixedSizeCrop((S, S))`` padding with 128 before
normalisation, predictions mapped back through the crop ``(int(H·r), int(W·r))``,
``r = S / max(H, W)`` and boxes clamped (``GLEE.forward`` / ``LSJ_box_postprocess``,
``projects/GLEE/glee/GLEE.py``). Expected values derived by hand from those lines."""
from __future__ import annotations

import numpy as np
import torch

from evalkit.adapters.glee import GLEEAdapter
from evalkit.adapters.glee_image import boxes_to_original
from evalkit.adapters.glee_lsj import LSJTransform, lsj_crop_size
from evalkit.types import Frames
from evalkit.zoo.cards import get_card

from glee_helpers import frames_array, tiny_glee, tiny_tokenizer

LSJ = {t: {"min_size": 64, "max_size": 64, "pad_square": 64} for t in ("det", "inst-seg", "vis")}
MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def _adapter():
    return GLEEAdapter(tiny_glee(), tiny_tokenizer(), input_sizes=LSJ, model_id="glee-tiny-lsj")


def test_crop_size_truncates_where_the_resize_rounds():
    # r = 1536/500 = 3.072: 333·r = 1022.976 -> crop 1022 (int), the resize rounds to 1023
    assert lsj_crop_size((333, 500), 1536) == (1022, 1536)
    assert lsj_crop_size((480, 640), 1536) == (1152, 1536)  # r = 2.4 exactly
    assert lsj_crop_size((50, 70), 64) == (45, 64)  # 50·64/70 = 45.71


def test_lsj_canvas_pads_with_128_and_maps_through_the_crop():
    ad = _adapter()
    img = frames_array(1, h=50, w=70)[0]
    batch = ad.bundle().preprocess(Frames([img]), ad.context_for("det"))
    # ResizeShortestEdge(64, 64): scale 64/70 -> 45.71 x 64 -> (46, 64); canvas 64 x 64
    assert tuple(batch.images.shape[-2:]) == (64, 64)
    tf = batch.transforms[0]
    assert isinstance(tf, LSJTransform) and tf.resized_size == (45, 64) and tf.padded_size == (64, 64)
    assert not batch.padding_mask[0, :46].any() and batch.padding_mask[0, 46:].all()
    for c in range(3):  # rows 46..63: the normalised 128
        np.testing.assert_allclose(batch.images[0, c, 46:].numpy(), (128.0 - MEAN[c]) / STD[c], rtol=1e-6)
    # the whole canvas as a box: (0, 0, 64, 64) * (70/64, 50/45) = (0, 0, 70, 71.1), clamped to 50
    full = torch.tensor([[0.5, 0.5, 1.0, 1.0]])
    np.testing.assert_allclose(boxes_to_original(full, tf).numpy(), [[0.0, 0.0, 70.0, 50.0]], atol=1e-4)


def test_detection_runs_on_the_lsj_canvas():
    from evalkit.types import Categories

    ad = _adapter()
    ad.prepare("inst-seg")
    out = ad.predict(Frames(frames_array(1, h=50, w=70)), Categories(("cat", "dog"), (1, 2)))
    assert out[0].image_size == (50, 70) and len(out[0]) > 0
    assert (out[0].boxes[:, 0::2] >= 0).all() and (out[0].boxes[:, 0::2] <= 70).all()
    assert (out[0].boxes[:, 1::2] >= 0).all() and (out[0].boxes[:, 1::2] <= 50).all()


def test_pro_cards_use_the_official_lsj_size():
    for model in ("glee-pro", "glee-pro-pretrain", "glee-pro-scaleup"):
        card = get_card(model)
        for task in card.input_sizes:
            assert card.input_size(task) == {"min_size": 1536, "max_size": 1536, "pad_square": 1536}, (model, task)
    lite = get_card("glee-lite").input_size("det")
    assert lite.get("pad_square") is None and (lite["min_size"], lite["max_size"]) == (800, 1333)
