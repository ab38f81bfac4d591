"""UniRef++ input canvas: unlike UNINEXT, every official UniRef++ inference path pads to a
multiple of 32 whatever the backbone (``uniref/models/ddetrs.py:DDETRSegmUni.coco_inference``
hard-codes ``size_divisibility=32`` with the backbone lookup commented out;
``uniref/uniref.py`` ``forward_ref_backbone`` and the VOS / R-VOS loops do the same), after
``ImageList.from_tensors`` batched the frames to the largest one. Expected canvases derived by
hand: ``ceil(x / 32) * 32`` of the batch's largest side, although the R50 backbone reports 0."""
from __future__ import annotations

import numpy as np
import pytest

from uniref_helpers import tiny_adapter


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    return tiny_adapter(tmp_path_factory.mktemp("uniref_inputs"), input_size=(206, 1333))


def _img(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("size,canvas", [((206, 320), (224, 320)), ((128, 213), (128, 224)),
                                         ((480, 854), (480, 864))])
def test_uniref_pads_to_32_with_an_r50_backbone(adapter, size, canvas):
    assert adapter.model.backbone.size_divisibility == 0  # what the official code does not ask
    adapter.options["input_size"] = (size[0], 1333)
    batch = adapter.preprocess([_img(*size)], "res")
    assert tuple(batch.images.shape[-2:]) == canvas and batch.transforms[0].resized_size == size


def test_uniref_support_batch_canvas(adapter):
    # FSS supports share one canvas: max (300, 320) of 206×320 and 300×206, rounded to (320, 320)
    adapter.options["input_size"] = (206, 1333)
    batch = adapter.preprocess([_img(206, 320), _img(300, 206, 1)], "fss")
    assert tuple(batch.images.shape[-2:]) == (320, 320)
    assert not batch.padding_mask[1, :300, :206].any() and batch.padding_mask[1, :, 206:].all()


def test_unknown_option_is_refused_and_settings_are_described(tmp_path):
    from evalkit.errors import EvalkitError
    from evalkit.types import Expression

    with pytest.raises(EvalkitError, match=r"unknown UniRef\+\+ option\(s\) 'score_thresh'; valid options:.*score_thres"):
        tiny_adapter(tmp_path, score_thresh=0.3)
    vos = tiny_adapter(tmp_path, dataset="davis17")
    vos.prepare("vos")
    # official inference_vos_3f: DAVIS 0.3
    assert vos.describe()["settings"] == {"procedure": "VOSSettings", "score_thres": 0.3, "object_batch": 8}
    rvos = tiny_adapter(tmp_path, dataset="ref-davis")
    rvos.prepare("rvos")
    # Ref-DAVIS: the expression alone on every frame, no score threshold
    assert rvos.describe()["settings"] == {"procedure": "RVOSSettings", "rvos_propagation": False,
                                           "score_thres": None}


def test_rvos_score_thres_option_zero_is_kept():
    from evalkit.adapters.uniref_settings import RVOSSettings, resolve

    assert resolve("rvos", "refytvos", {}) == RVOSSettings(score_thres=0.3, rvos_propagation=True)
    assert resolve("rvos", "refytvos", {"score_thres": 0}).score_thres == 0.0
