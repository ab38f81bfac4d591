"""The UNINEXT input canvas per backbone and path, as the official inference builds it.

Official rule (UNINEXT ``uninext_img.py:preprocess_image`` / ``uninext_vid.py:preprocess_video``
batch with detectron2 ``ImageList.from_tensors(images)``, divisibility 0; ``models/ddetrs*.py``
``coco_inference`` / ``coco_inference_ref`` / ``coco_inference_ref_vos`` re-pad with
``nested_tensor_from_tensor_list(samples, getattr(backbone, "size_divisibility", 32))``): the
canvas is the batch's largest resized frame, rounded up to 32 only for backbones that report 32.
detectron2's ResNet reports 0 (``Backbone.size_divisibility`` is not overridden), UNINEXT's
ConvNeXt and ViT report 32 (``uninext/backbone/convnext.py``, ``vit.py``). Expected shapes below
are derived by hand from that rule: ``ceil(x / 32) * 32`` for ConvNeXt, ``x`` for R50.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.adapters.uninext import build_adapter
from evalkit.types import Categories, Frames, Reference

from uninext_helpers import TINY, write_vocab

CONVNEXT = dict(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))


def _adapter(tmp_path, model_id, backbone, input_size):
    vocab = write_vocab(tmp_path)
    torch.manual_seed(0)
    return build_adapter(model_id=model_id, random_weights=True, tokenizer=str(vocab),
                         overrides={**TINY, "backbone_overrides": backbone, "template_size": 64},
                         input_size=input_size)


@pytest.fixture(scope="module")
def r50(tmp_path_factory):
    return _adapter(tmp_path_factory.mktemp("v_r50"), "uninext-r50", TINY["backbone_overrides"], (206, 1333))


@pytest.fixture(scope="module")
def convnext(tmp_path_factory):
    return _adapter(tmp_path_factory.mktemp("v_cnx"), "uninext-convnext-l", CONVNEXT, (206, 1333))


def _img(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_backbones_report_the_official_divisibility(r50, convnext):
    assert r50.model.size_divisibility == 0  # detectron2 ResNet: Backbone default 0
    assert convnext.model.size_divisibility == 32  # UNINEXT D2ConvNeXt.size_divisibility


@pytest.mark.parametrize("size,r50_canvas,convnext_canvas", [
    ((206, 320), (206, 320), (224, 320)),  # 206 -> ceil(206/32)*32 = 224; 320 = 10*32
    ((128, 213), (128, 213), (128, 224)),  # 213 -> 7*32 = 224
    ((480, 854), (480, 854), (480, 864)),  # DAVIS 480p: 854 -> 27*32 = 864
])
def test_single_frame_canvas(r50, convnext, size, r50_canvas, convnext_canvas):
    h, w = size
    for ad, want in ((r50, r50_canvas), (convnext, convnext_canvas)):
        # input_size (short edge = h): the frame keeps its size, only the padding differs
        ad.options["input_size"] = (h, 1333)
        batch = ad.preprocess([_img(h, w)], "det")
        assert tuple(batch.images.shape[-2:]) == want, (type(ad.model.backbone).__name__, size)
        assert batch.transforms[0].resized_size == size
        assert not batch.padding_mask[0, :h, :w].any() and batch.padding_mask[0].sum() == want[0] * want[1] - h * w


def test_batch_pads_only_to_its_largest_frame(r50, convnext):
    # short edge 206: a 206×320 landscape and a 300×206 portrait frame keep their sizes; the
    # canvas is their max (300, 320) (ImageList.from_tensors), for ConvNeXt rounded to 32:
    # 300 -> ceil(300/32)*32 = 320
    for ad, want in ((r50, (300, 320)), (convnext, (320, 320))):
        ad.options["input_size"] = (206, 1333)
        batch = ad.preprocess([_img(206, 320), _img(300, 206, 1)], "det")
        assert [t.resized_size for t in batch.transforms] == [(206, 320), (300, 206)]
        assert tuple(batch.images.shape[-2:]) == want
        assert not batch.padding_mask[1, :300, :206].any()
        assert batch.padding_mask[1, :, 206:].all() and batch.padding_mask[0, 206:].all()


def test_r50_runs_detection_and_vos_on_an_unpadded_odd_frame(r50):
    """An R50 frame whose sides are no multiple of 32 (here 70×117 → canvas 70×117) goes through
    detection and the VOS template / tracking passes (the official R50 VOS loop feeds DAVIS's
    480×854 frame unpadded)."""
    r50.options["input_size"] = (70, 1333)
    h, w = 70, 117
    frames = Frames([_img(h, w, s) for s in range(3)])
    assert tuple(r50.preprocess([frames[0]], "vos").images.shape[-2:]) == (70, 117)
    r50.prepare("inst-seg")
    inst = next(iter(r50.predict(Frames([frames[0]]), Categories(("car",), (3,)))))
    assert inst.image_size == (h, w) and len(inst) > 0
    masks = np.zeros((1, h, w), bool)
    masks[0, 20:50, 30:80] = True
    prompt = Reference(object_ids=(1,), masks=masks)
    r50.prepare("vos")
    out = list(r50.predict(frames, prompt))
    assert len(out) == 3 and all(o.image_size == (h, w) for o in out)
    assert out[0].track_ids.tolist() == [1]
