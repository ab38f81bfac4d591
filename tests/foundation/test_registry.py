"""Registries: lazy targets, selection by id/tag/group/pattern, did-you-mean, plugins."""
from __future__ import annotations

import pytest

from evalkit.errors import EvalkitError, UnknownNameError
from evalkit.registry import Registry


def _reg():
    r = Registry("widget")
    r.register("refcoco-val-rec", "json:dumps", tags=("image", "rec"), task="rec")
    r.register("refcoco-testA-rec", "json:loads", tags=("image",), task="rec")
    r.register("davis17-val", "os.path:join", tags=("video",), task="vos")
    r.register("secret", "os:getcwd", hidden=True)
    r.register_group("paper-set", ["davis17-val", "refcoco-val-rec"])
    return r


def test_select_by_id_tag_group_and_pattern():
    r = _reg()
    assert [e.id for e in r.select("davis17-val")] == ["davis17-val"]
    assert [e.id for e in r.select("video")] == ["davis17-val"]
    assert [e.id for e in r.select("paper-set")] == ["davis17-val", "refcoco-val-rec"]
    assert [e.id for e in r.select("ref*")] == ["refcoco-testA-rec", "refcoco-val-rec"]
    assert [e.id for e in r.select("davis17-val,ref*")] == ["davis17-val", "refcoco-testA-rec", "refcoco-val-rec"]
    assert "secret" not in r.ids() and r.get("secret").id == "secret"
    assert r.load("refcoco-val-rec").__name__ == "dumps"


def test_unknown_names_suggest_and_list():
    r = _reg()
    with pytest.raises(UnknownNameError) as e:
        r.get("davis-17-val")
    assert "Did you mean 'davis17-val'" in str(e.value) and "Known widgets" in str(e.value)
    with pytest.raises(UnknownNameError, match="no widget matches"):
        r.select("zz*")
    with pytest.raises(EvalkitError, match="registered twice"):
        r.register("davis17-val", "os:getcwd")


def test_env_plugins_and_entry_points(monkeypatch, tmp_path):
    mod = tmp_path / "my_evalkit_plugin.py"
    mod.write_text(
        "from evalkit.registry import Registry\n"
        "import sys\nREG = sys.modules['__test_reg__']\n"
        "REG.register('plugged', 'os:getcwd', tags=('third-party',))\n"
    )
    import sys

    r = Registry("widget")
    sys.modules["__test_reg__"] = r
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("EVALKIT_PLUGINS", "my_evalkit_plugin")
    try:
        assert r.ids() == ["plugged"]
        assert [e.id for e in r.select("third-party")] == ["plugged"]
    finally:
        del sys.modules["__test_reg__"]


def test_entry_point_plugins_are_called(monkeypatch):
    import importlib.metadata as md

    r = Registry("widget", entry_point_group="evalkit.widgets")

    class EP:
        def load(self):
            return lambda: r.register("from-entry-point", "os:getcwd")

    monkeypatch.setattr(md, "entry_points", lambda group: [EP()] if group == "evalkit.widgets" else [])
    monkeypatch.delenv("EVALKIT_PLUGINS", raising=False)
    assert r.ids() == ["from-entry-point"]


def test_missing_implementation_is_a_clear_error():
    r = Registry("widget")
    r.register("future-model", "evalkit.zoo.not_yet_written:build")
    with pytest.raises(EvalkitError, match="not available in this version"):
        r.load("future-model")
    r.register("needs-dep", "evalkit_test_missing_dependency_xyz.sub:build")
    with pytest.raises(EvalkitError, match="not available"):
        r.load("needs-dep")
