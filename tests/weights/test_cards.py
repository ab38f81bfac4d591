"""Model cards: schema over every card, the numbers match the paper table, clear errors for
missing architectures, and listing models never imports torch."""
from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError, UnknownNameError
from evalkit.zoo.cards import get_card, list_cards, load_card_file, resolve_target
from evalkit.zoo.cards_schema import validate_card
from weights_helpers import BASE_CARD, make_card

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CARDS = [c.id for c in list_cards()]
REQUIRED = {
    "uninext-r50", "uninext-convnext-l", "uninext-vit-h", "uninext-r50-image",
    "uninext-convnext-l-image", "uninext-vit-h-image", "uniref-pp-r50", "uniref-pp-swin-l",
    "glee-lite", "glee-plus", "glee-pro", "glee-lite-pretrain", "glee-plus-pretrain",
    "glee-pro-pretrain", "glee-lite-scaleup", "glee-plus-scaleup", "glee-pro-scaleup",
    "univs-r50", "univs-swin-t", "univs-swin-b", "univs-swin-l", "univs-r50-stage2",
    "univs-swin-t-stage2", "univs-swin-b-stage2", "univs-swin-l-stage2",
}
W = {"name": "w.pth", "role": "model", "sources": ["https://example.org/w.pth"], "sha256": "a" * 64}


def test_required_cards_exist():
    assert REQUIRED <= set(CARDS)


@pytest.mark.parametrize("model_id", CARDS)
def test_card_schema(model_id):
    card = get_card(model_id)
    path = card.path
    validate_card(json.loads(path.read_text()), str(path))  # the file itself, not the object
    assert path.stem == card.id and card.model_weights.role == "model"
    for wf in card.weights:
        assert wf.pinned or wf.unpinned  # a hash or an explicit reason
    for task in card.tasks:
        assert task in card.input_sizes


@pytest.mark.parametrize("model_id", CARDS)
def test_builder_and_converter_resolve_or_fail_clearly(model_id):
    card = get_card(model_id)
    for what in ("builder", "converter"):
        try:
            assert callable(resolve_target(getattr(card, what), card, what))
        except EvalkitError as exc:
            assert model_id in str(exc) and "not implemented in this version" in str(exc)


def test_missing_module_attribute_and_dependency(tmp_path, monkeypatch):
    card = make_card([W], builder="evalkit.zoo.nofamily.model:build_nofamily")
    with pytest.raises(EvalkitError, match="architecture not implemented.*no module"):
        resolve_target("evalkit.zoo.nofamily.model:build", card, "builder")
    with pytest.raises(EvalkitError, match="not implemented.*has no 'build_nothing'"):
        resolve_target("evalkit.hub:build_nothing", card, "builder")
    (tmp_path / "needs_dep_mod.py").write_text("import not_installed_package_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(EvalkitError, match="needs the package 'not_installed_package_xyz'"):
        resolve_target("needs_dep_mod:build", card, "builder")
    with pytest.raises(EvalkitError, match="not implemented in this version"):
        card.build()


def test_unknown_card_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean 'uninext-r50'"):
        get_card("uninext-r5")


def _rows():
    path = SHARED / "reference" / "paper_results.csv"
    if not path.is_file():
        pytest.skip("shared reference data not available")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_paper_results_match_the_paper_table():
    rows = {(r["table"], r["benchmark"], r["split"], r["metric"], r["value"], r["notes"])
            for r in _rows()}
    for card in list_cards():
        for r in card.paper_results:
            key = (r.table, r.benchmark, r.split, r.metric, r.printed, r.notes)
            assert key in rows, f"{card.id}: {key} not in paper_results.csv"
    # the paper's headline models carry their numbers
    for model_id, table, bench, metric, printed in [
        ("uninext-r50", "Table 1", "COCO", "AP", "51.3"),
        ("uninext-vit-h", "Table 6", "DAVIS-2017", "J&F", "81.8"),
        ("uniref-pp-r50", "Table 5", "YouTube-VOS-2018", "G", "81.9"),
        ("univs-swin-l", "Table 2", "OVIS", "AP", "41.7"),
        ("glee-lite-scaleup", "Table 8", "ODinW13", "AP", None),
    ]:
        hits = [r for r in get_card(model_id).paper_results
                if (r.table, r.benchmark, r.metric) == (table, bench, metric)]
        assert hits and (printed is None or hits[0].printed == printed), model_id
    # ablations and fine-tuned variants are not attributed to released checkpoints
    for card in list_cards():
        assert not any(r.notes.startswith("ablation") for r in card.paper_results), card.id


def _broken(**changes):
    data = copy.deepcopy(BASE_CARD)
    data["weights"] = [copy.deepcopy(W)]
    for path, value in changes.items():
        obj, *keys = path.split(".")
        target = data if obj == "card" else data["weights"][0]
        for k in keys[:-1]:
            target = target[k]
        if value is KeyError:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return data


@pytest.mark.parametrize("changes, message", [
    ({"card.tasks": ["det", "teleport"]}, "unknown task 'teleport'"),
    ({"w.sha256": KeyError}, r"weights\[0\].sha256: missing"),
    ({"w.sha256": "ABC"}, "64 lower-case hex"),
    ({"w.sha256": None}, "say why the file is not pinned"),
    ({"w.sources": ["ftp://x/y"]}, r"sources\[0\]: expected 'hf://'"),
    ({"w.sources": ["hf://only-owner/file"]}, "hf://"),
    ({"w.tasks": ["vos"]}, "'vos' is not one of the card's tasks"),
    ({"w.role": "text-encoder"}, "exactly one file with role 'model'"),
    ({"card.builder": "no_colon"}, "builder: expected 'package.module:function'"),
    ({"card.family": "sam"}, "family: expected one of"),
    ({"card.input_sizes.rvos": KeyError}, r"no input size for tasks \['rvos'\]"),
    ({"card.paper_results": [{"table": "T1", "benchmark": "COCO", "split": "", "metric": "AP",
                              "value": 51.3, "printed": "51.4"}]}, "differs from printed"),
    ({"card.extra_field": 1}, "unknown fields"),
])
def test_schema_errors_name_the_field(changes, message):
    with pytest.raises(EvalkitError, match=message) as err:
        validate_card(_broken(**changes), "bad-card.json")
    assert "bad-card.json" in str(err.value)


def test_card_file_name_must_match_id(tmp_path):
    data = _broken()
    (tmp_path / "other-name.json").write_text(json.dumps(data))
    with pytest.raises(EvalkitError, match="differs from the file name"):
        load_card_file(tmp_path / "other-name.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(EvalkitError, match="not valid JSON"):
        load_card_file(tmp_path / "broken.json")


def test_listing_models_and_status_do_not_import_torch(tmp_path):
    code = textwrap.dedent("""
        import sys
        from evalkit.registry import MODELS
        from evalkit.cli_download import model_status
        ids = MODELS.ids()
        states = {i: model_status(i) for i in ids}
        shipped = [states.pop(m) for m in ("uninext-tiny", "uniref-pp-tiny")]  # bundled: always present
        assert shipped == ["bundled", "bundled"] and set(states.values()) == {"not cached"}, states
        entry = MODELS.get("uninext-r50")
        assert entry.target == "evalkit.adapters.uninext:build_adapter"
        assert {"uninext", "vos", "video-joint"} <= set(entry.tags)
        assert [e.id for e in MODELS.select("univs")][:2] == ["univs-r50", "univs-r50-stage2"]
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "numpy", "safetensors"))
        assert not heavy, heavy
        print(len(ids))
    """)
    env = {"PATH": "/usr/bin:/bin", "EVALKIT_CACHE": str(tmp_path / "c"),
           "HF_HUB_CACHE": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)}
    # run outside the repository: the bundled weights resolve from the installed package
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.strip()) == len(CARDS)
    assert "torch" not in {line.split("|")[-1].strip().split(".")[0]
                           for line in out.stderr.splitlines() if line.startswith("import time:")}


def test_input_size_lookup():
    card = get_card("uninext-r50")
    assert card.input_size("det") == {"min_size": 800, "max_size": 1333}
    assert card.input_size("vis")["min_size"] == 480
    assert card.input_size("vis", "ovis")["min_size"] == 720
    assert card.input_size("vis", "ytvis19")["min_size"] == 480
    assert get_card("univs-swin-l-stage2").input_size("vos") == {"square": 1024}
    with pytest.raises(EvalkitError, match="does not support task 'fss'"):
        card.input_size("fss")
