"""Adapter options the same way in every family: an unknown ``-a`` key is refused with the list
of the valid ones, the input size has one option name (``input_size``; the older names are
refused naming it), and the resolved settings reach ``run.json``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError

HERE = Path(__file__).resolve().parent
for folder in ("glee", "univs"):  # the tiny random-weight builders of those families' tests
    if str(HERE.parent / folder) not in sys.path:
        sys.path.insert(0, str(HERE.parent / folder))


def _uninext(**options):
    from evalkit.adapters.tiny_uninext import build_adapter

    return build_adapter(model_id="uninext-tiny", **options)


def _uniref(**options):
    from evalkit.adapters.tiny_uniref import build_adapter

    return build_adapter(model_id="uniref-pp-tiny", **options)


def _glee(**options):
    from glee_helpers import tiny_adapter

    return tiny_adapter(**options)


def _univs(**options):
    from univs_tiny import build_tiny_adapter

    return build_tiny_adapter(**options)


FAMILIES = {"UNINEXT": _uninext, "UniRef++": _uniref, "GLEE": _glee, "UniVS": _univs}


def _shipped(model_id: str) -> bool:
    from evalkit.zoo.tiny import weights_file

    return weights_file(model_id).is_file()


def _skip_unshipped(family: str) -> None:
    model = {"UNINEXT": "uninext-tiny", "UniRef++": "uniref-pp-tiny"}.get(family)
    if model and not _shipped(model):
        pytest.skip(f"{model} weights not trained yet")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_unknown_option_is_refused_listing_the_valid_ones(family):
    _skip_unshipped(family)
    pattern = rf"unknown {family.replace('+', '[+]')} option\(s\) 'bogus'; valid options: .*input_size"
    with pytest.raises(EvalkitError, match=pattern):
        FAMILIES[family](bogus=1)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_old_input_size_names_name_the_new_one(family):
    _skip_unshipped(family)
    for old in ("min_size", "max_size", "min_size_test"):
        with pytest.raises(EvalkitError, match=rf"'{old}' is now 'input_size'"):
            FAMILIES[family](**{old: 640})


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_input_size_option_is_checked(family):
    _skip_unshipped(family)
    adapter = FAMILIES[family](input_size="large")
    with pytest.raises(EvalkitError, match=r"option input_size expects a short edge .* got 'large'"):
        adapter.input_size("vos" if family in ("UniRef++", "UniVS") else "inst-seg")


@pytest.mark.parametrize("model,benchmark,procedure,field,value", [
    ("uninext-tiny", "shapes-coco-det", "DetectionSettings", "nms_thresh", 0.7),
    ("uniref-pp-tiny", "shapes-davis", "VOSSettings", "score_thres", 0.3),
])
def test_run_json_records_the_resolved_settings(model, benchmark, procedure, field, value, tmp_path,
                                                monkeypatch):
    from evalkit.runner import RunConfig, run_evaluation

    if not _shipped(model):
        pytest.skip(f"{model} weights not trained yet")
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    cfg = RunConfig(model=model, benchmark=benchmark, runs_root=str(tmp_path / "runs"), num_workers=0,
                    quiet=True, limit=1, mode="infer")
    res = run_evaluation(cfg)
    settings = json.loads((res.run_dir / "run.json").read_text())["model"]["settings"]
    assert settings["procedure"] == procedure
    assert settings[field] == value


def test_glee_run_json_records_the_resolved_settings(tmp_path):
    import evalkit_testkit
    from evalkit.registry import MODELS
    from evalkit.runner import RunConfig, run_evaluation

    MODELS.register("glee-tiny-options", lambda **kw: _glee(**{k: v for k, v in kw.items()
                                                                 if k not in ("model_id", "device", "weights")}),
                    task="det", hidden=True, overwrite=True)
    try:
        evalkit_testkit.generate(tmp_path / "data" / "blobs", n_images=1)
        cfg = RunConfig(model="glee-tiny-options", benchmark="test-blobs-val", data_root=str(tmp_path / "data"),
                        output_dir=str(tmp_path / "run"), quiet=True, num_workers=0, mode="infer",
                        model_options={"test_topk_per_image": 7})
        res = run_evaluation(cfg)
        with pytest.raises(EvalkitError, match=r"'max_detections' is now 'test_topk_per_image'"):
            run_evaluation(RunConfig(model="glee-tiny-options", benchmark="test-blobs-val",
                                     data_root=str(tmp_path / "data"), output_dir=str(tmp_path / "run2"),
                                     quiet=True, num_workers=0, model_options={"max_detections": 7}))
    finally:
        MODELS.unregister("glee-tiny-options")
    settings = json.loads((res.run_dir / "run.json").read_text())["model"]["settings"]
    assert settings == {"procedure": "GLEESettings", "video_window_size": 10, "test_topk_per_image": 7,
                        "interactive_score": "ffn"}
