"""The transformers adapters have the one adapter shape of the built-in families
(:mod:`evalkit.adapters.base`): built by :class:`~evalkit.adapters.factory.CardFactory`,
``predict`` dispatching to procedures that receive a frozen bundle (never the adapter) and the
prepared context, and return :class:`~evalkit.adapters.base.ProcedureResult` with their counts.

The expected counts are derived by hand from the tiny configurations (``adapters/hf/tiny.py``):
Grounding DINO 30 queries, ``max_text_len`` 128; OWLv2 a 64-pixel square in 16-pixel patches
(16 boxes); Mask2Former 10 queries."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evalkit.adapters.base import Adapter, ProcedureAdapter, ProcedureResult
from evalkit.adapters.factory import CardFactory
from evalkit.adapters.hf.hf_common import HfAdapter, HfModel
from evalkit.adapters.hf.tiny import SHAPES_CLASSES
from evalkit.types import Categories, Frames


def _frames(n: int, h: int = 40, w: int = 48) -> Frames:
    rng = np.random.default_rng(0)
    return Frames([rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)])


def _build(module: str, model_id: str, **options):
    import importlib

    return importlib.import_module(f"evalkit.adapters.hf.{module}").build_adapter(
        model_id=model_id, tiny=True, **options)


def test_the_factory_is_the_card_factory():
    from evalkit.adapters.hf import grounding_dino, mask2former, owlv2, sam2_video

    for mod in (grounding_dino, mask2former, owlv2, sam2_video):
        cls = next(v for k, v in vars(mod).items() if k.endswith("Adapter") and isinstance(v, type)
                   and issubclass(v, HfAdapter) and v is not HfAdapter)
        assert issubclass(cls, CardFactory) and issubclass(cls, ProcedureAdapter)
        assert mod.build_adapter == cls.from_card and mod.tiny_model == cls.tiny_network
    a = _build("owlv2", "owlv2-base-patch16-ensemble")
    assert a.weights_sha256 is None  # tiny: random weights, no digest
    with pytest.raises(Exception, match="is not a OWLv2 model"):
        _build("owlv2", "grounding-dino-tiny")


def test_grounding_dino_procedure_sees_a_frozen_bundle_and_counts():
    """20 ten-letter names: chunks [0, 11) and [11, 20) (11 n + 2 tokens ≤ 128), so 2 passes a
    frame; every (query, category) pair scores ≥ 0 = ``box_threshold``, so each frame keeps
    min(300, 30 queries × 20 names) = 300 detections."""
    a = _build("grounding_dino", "grounding-dino-tiny")
    seen = []
    table = a.procedures()

    def spy(model, ctx, frames, prompt):
        seen.append(model)
        return table["det"][0](model, ctx, frames, prompt)

    a.procedures = lambda: {**table, "det": (spy, Categories)}
    a.prepare("det")
    names = tuple(f"abcdefghi{c}" for c in "abcdefghijklmnopqrst")
    out = a.predict(_frames(2), Categories(names, tuple(range(1, 21))))
    [model] = seen
    assert not isinstance(model, Adapter) and isinstance(model, HfModel)
    assert model.net is a.model and model.processor is a.processor and model.device == a.device
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.net = None
    assert [len(i.scores) for i in out] == [300, 300]
    assert dict(a.last_stats) == {"frames": 2, "passes": 4, "detections": 600}


def test_owlv2_and_mask2former_counts():
    """OWLv2: 16 boxes a frame, all kept (threshold 0, max 300). Mask2Former VIS: the
    ``vis_topk`` 10 best of 10 queries × 9 named classes become the video's objects."""
    a = _build("owlv2", "owlv2-base-patch16-ensemble")
    a.prepare("det")
    out = a.predict(_frames(3), Categories(("cat", "dog"), (1, 2)))
    assert [len(i.scores) for i in out] == [16, 16, 16]
    assert dict(a.last_stats) == {"frames": 3, "detections": 48}

    m = _build("mask2former", "mask2former-swin-t-coco-instance")
    m.prepare("vis")
    frames = list(m.predict(_frames(2, 64, 64), Categories(SHAPES_CLASSES, tuple(range(1, 10)))))
    assert len(frames) == 2 and dict(m.last_stats) == {"frames": 2, "objects": 10}
    m.prepare("inst-seg")
    [inst] = m.predict(_frames(1, 64, 64), Categories(SHAPES_CLASSES, tuple(range(1, 10))))
    assert dict(m.last_stats) == {"frames": 1, "detections": len(inst.scores)}


def test_predict_without_a_task_names_prepare():
    a = _build("owlv2", "owlv2-base-patch16-ensemble")
    with pytest.raises(Exception, match=r"call prepare\(task\) or build the adapter with task=\.\.\. before predict"):
        a.predict(_frames(1), Categories(("cat",), (1,)))


def test_procedures_return_procedure_results():
    from evalkit.adapters.hf import owlv2

    a = _build("owlv2", "owlv2-base-patch16-ensemble")
    res = owlv2.predict_detection(a.bundle(), a.prepare("det"), _frames(1), Categories(("cat",), (1,)))
    assert isinstance(res, ProcedureResult) and res.stats == {"frames": 1, "detections": 16}
