"""`evalkit download` and the status column of `evalkit ls models`; unpinned files."""
from __future__ import annotations

import argparse
import logging
import os

import pytest

import evalkit.hub as hub
import evalkit.zoo.cards as cards_mod
from evalkit.cli_download import add_arguments, main, model_status
from evalkit.errors import UnsupportedTaskError, WeightsError
from evalkit.hub import cache_root, fetch_weights
from evalkit.registry import BENCHMARKS
from weights_helpers import make_card, sha

MODEL = b"model bytes " * 1000
TEXT = b"text tower " * 500


@pytest.fixture
def served(http_server, caches, monkeypatch):
    """A card whose files live on the local server: a pinned checkpoint and an unpinned text
    encoder needed only for R-VOS; registered as model 'uninext-test'."""
    http_server.files.update({"/model.pth": MODEL, "/text.pth": TEXT})
    card = make_card([
        {"name": "model.pth", "role": "model", "sha256": sha(MODEL),
         "sources": [http_server.url + "/model.pth"]},
        {"name": "text.pth", "role": "text-encoder", "sha256": None, "unpinned": "test file",
         "tasks": ["rvos"], "sources": [http_server.url + "/text.pth"]},
    ])
    monkeypatch.setattr(hub, "_warned_unpinned", set())
    real = cards_mod._all_cards()
    monkeypatch.setattr(cards_mod, "_all_cards", lambda: {**real, card.id: card})
    return card


def _args(**kw):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = [f"--{k}={v}" for k, v in kw.items()]
    return parser.parse_args(argv)


def test_status_values(served, caplog):
    assert model_status("uninext-test") == "not cached"
    fetch_weights("uninext-test")
    assert model_status("uninext-test") == "not cached"  # text encoder still missing
    with caplog.at_level(logging.WARNING, "evalkit.hub"):
        fetch_weights("uninext-test", name="text.pth")
    assert "unpinned" in caplog.text and sha(TEXT) in caplog.text
    assert model_status("uninext-test") == "unpinned"
    assert model_status("uninext-r50") == "not cached"


def test_status_cached_when_everything_pinned(http_server, caches, monkeypatch):
    http_server.files["/model.pth"] = MODEL
    card = make_card([{"name": "model.pth", "role": "model", "sha256": sha(MODEL),
                       "sources": [http_server.url + "/model.pth"]}])
    monkeypatch.setattr(cards_mod, "_all_cards", lambda: {card.id: card})
    fetch_weights(card)
    assert model_status(card.id) == "cached"


def test_unpinned_hash_is_recorded_and_checked(served):
    path = fetch_weights("uninext-test", name="text.pth")
    record = path.with_name("text.pth.json")
    assert sha(TEXT) in record.read_text()
    assert fetch_weights("uninext-test", name="text.pth") == path  # same bytes: fine
    path.write_bytes(TEXT[:-1] + b"!")  # corrupted after the first download
    os.utime(path, ns=(1, 1))
    with pytest.raises(WeightsError, match="changed since its first download"):
        fetch_weights("uninext-test", name="text.pth")


def test_download_command_all_files(served, capsys):
    assert main(_args(model="uninext-test")) == 0
    out = capsys.readouterr().out
    assert "model.pth" in out and "text.pth" in out and "2 file(s) ready" in out
    assert (cache_root() / "weights" / "uninext-test" / "model.pth").read_bytes() == MODEL


def test_download_command_for_a_benchmark(served, capsys, http_server):
    BENCHMARKS.register("test-det-bench", "x:y", task="det", hidden=True, overwrite=True)
    BENCHMARKS.register("test-vos-bench", "x:y", task="vos", hidden=True, overwrite=True)
    try:
        assert main(_args(model="uninext-test", benchmark="test-det-bench")) == 0
        assert "1 file(s) ready for uninext-test on task det" in capsys.readouterr().out
        assert not any(p == "/text.pth" for p, _, _ in http_server.requests)
        with pytest.raises(UnsupportedTaskError, match="does not support task 'vos'"):
            main(_args(model="uninext-test", benchmark="test-vos-bench"))
    finally:
        BENCHMARKS.unregister("test-det-bench")
        BENCHMARKS.unregister("test-vos-bench")


def test_download_command_with_local_weights(served, tmp_path, capsys, http_server, caplog):
    local = tmp_path / "official.pth"
    local.write_bytes(MODEL)
    assert main(_args(model="uninext-test", weights=str(local))) == 0
    assert str(local) in capsys.readouterr().out
    assert not any(p == "/model.pth" for p, _, _ in http_server.requests)
    other = tmp_path / "finetuned.pth"
    other.write_bytes(b"something else")
    with caplog.at_level(logging.WARNING, "evalkit.hub"):
        assert fetch_weights("uninext-test", weights=other) == other
    assert "not the official file" in caplog.text
    with pytest.raises(WeightsError, match="no such file"):
        fetch_weights("uninext-test", weights=tmp_path / "missing.pth")
