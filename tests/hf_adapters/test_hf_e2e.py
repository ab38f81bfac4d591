"""The transformers adapters end to end: each card id with ``tiny=true`` (a tiny random
configuration, no download) through ``evalkit.evaluate`` on the shapes suite — the images go
through the model's own processor, the outputs through its post-processing (counted here), the
official results writer and the registered metric. Random weights: the scores mean nothing, the
run must complete and be scored."""
from __future__ import annotations

import importlib.util
import json
import math

import pytest

import evalkit

#: (card id, shapes benchmark, processor methods that must be called: "class:method")
CASES = [
    ("grounding-dino-tiny", "shapes-coco-det",
     ["GroundingDinoProcessor:__call__", "GroundingDinoProcessor:post_process_grounded_object_detection"]),
    ("grounding-dino-tiny", "shapes-refcoco-rec",
     ["GroundingDinoProcessor:__call__", "GroundingDinoProcessor:post_process_grounded_object_detection"]),
    ("owlv2-base-patch16-ensemble", "shapes-coco-det",
     ["Owlv2Processor:__call__", "Owlv2ImageProcessorPil:post_process_object_detection"]),
    ("mask2former-swin-t-coco-instance", "shapes-coco-seg",
     ["Mask2FormerImageProcessorPil:__call__", "Mask2FormerImageProcessorPil:post_process_instance_segmentation"]),
    ("mask2former-swin-t-coco-instance", "shapes-ytvis", ["Mask2FormerImageProcessorPil:__call__"]),
]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def _count_calls(monkeypatch, targets: list[str]) -> dict[str, int]:
    import transformers

    calls = {t: 0 for t in targets}
    for t in targets:
        cls_name, meth = t.split(":")
        cls = getattr(transformers, cls_name)
        orig = getattr(cls, meth)

        def wrapped(self, *a, _orig=orig, _t=t, **k):
            calls[_t] += 1
            return _orig(self, *a, **k)

        monkeypatch.setattr(cls, meth, wrapped)
    return calls


@pytest.mark.parametrize("model,bench,methods", CASES, ids=[f"{m}-{b}" for m, b, _ in CASES])
def test_tiny_card_through_the_runner(model, bench, methods, isolated, monkeypatch):
    calls = _count_calls(monkeypatch, methods)
    [res] = evalkit.evaluate(model, bench, limit=2, model_options={"tiny": True},
                             runs_root=str(isolated / "runs"), threads=1)
    assert res.samples["failed"] == 0 and res.samples["done"] == 2
    assert res.metrics and all(isinstance(v, float) and math.isfinite(v) for v in res.metrics.values()
                               if v is not None)
    assert all(n >= 1 for n in calls.values()), calls
    record = json.loads((res.run_dir / "run.json").read_text())
    text = json.dumps(record)
    assert '"random_config": true' in text and "settings" in text


def test_sam2_video_without_torchvision_is_one_clear_error(isolated):
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed: the SAM 2 path is exercised by the next test")
    from evalkit.errors import EvalkitError

    from evalkit.adapters.hf.sam2_video import torchvision_install_command

    with pytest.raises(EvalkitError, match="SAM 2 video needs torchvision") as err:
        evalkit.evaluate("sam2-hiera-tiny", "shapes-davis", limit=1, model_options={"tiny": True},
                         runs_root=str(isolated / "runs"), threads=1)
    assert str(err.value).endswith(torchvision_install_command()) and "\n" not in str(err.value)


@pytest.mark.parametrize("version,command", [
    ("2.13.0+cpu", "pip install torchvision --index-url https://download.pytorch.org/whl/cpu"),
    ("2.5.1+cu124", "pip install torchvision --index-url https://download.pytorch.org/whl/cu124"),
    ("2.5.1", "pip install torchvision"),
])
def test_torchvision_install_command_follows_the_torch_build(version, command, monkeypatch):
    import torch

    from evalkit.adapters.hf.sam2_video import torchvision_install_command

    monkeypatch.setattr(torch, "__version__", version)
    assert torchvision_install_command() == command


def test_no_torchvision_free_sam2_processor_in_this_transformers():
    """The SAM 2 end-to-end test can only run with torchvision because transformers offers no
    other SAM 2 processor backend (SAM 1 has ``SamImageProcessorPil``; SAM 2 has none, and its
    video processor derives from the torchvision-only ``BaseVideoProcessor``). When a release adds
    one, this fails: switch ``tiny.sam2_video`` and the adapter to it so CI runs SAM 2 end to end."""
    import transformers

    assert hasattr(transformers, "SamImageProcessorPil")  # the naming scheme the check relies on
    assert not any(hasattr(transformers, n) for n in ("Sam2ImageProcessorPil", "Sam2VideoVideoProcessorPil"))


def test_sam2_video_tiny_through_the_runner(isolated):
    if importlib.util.find_spec("torchvision") is None:
        from evalkit.adapters.hf.sam2_video import torchvision_install_command

        pytest.skip(f"torchvision missing: transformers' SAM 2 processors need it ({torchvision_install_command()})")
    [res] = evalkit.evaluate("sam2-hiera-tiny", "shapes-davis", limit=1, model_options={"tiny": True},
                             runs_root=str(isolated / "runs"), threads=1)
    assert res.samples["failed"] == 0 and "J&F-Mean" in res.metrics


def test_unknown_and_mistyped_options_are_refused(isolated):
    from evalkit.errors import EvalkitError

    with pytest.raises(EvalkitError, match=r"unknown Grounding DINO option\(s\) 'box_thresh'.*box_threshold"):
        evalkit.evaluate("grounding-dino-tiny", "shapes-coco-det", limit=1,
                         model_options={"tiny": True, "box_thresh": 0.3}, runs_root=str(isolated / "runs"))
    with pytest.raises(EvalkitError, match="OWLv2 option max_detections expects an integer, got 'many'"):
        evalkit.evaluate("owlv2-base-patch16-ensemble", "shapes-coco-det", limit=1,
                         model_options={"tiny": True, "max_detections": "many"}, runs_root=str(isolated / "runs"))


def test_unsupported_task_is_refused(isolated):
    from evalkit.errors import EvalkitError

    with pytest.raises(EvalkitError, match="does not support task 'vos'"):
        evalkit.evaluate("owlv2-base-patch16-ensemble", "shapes-davis", limit=1,
                         model_options={"tiny": True}, runs_root=str(isolated / "runs"))
