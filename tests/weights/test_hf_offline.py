"""Hugging Face sources: a test-made hub cache resolves offline; a missing file offline is a
clear error that names the file and the cache and makes no network call."""
from __future__ import annotations

from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import hf_hub_download

from evalkit.errors import WeightsError
from evalkit.hub import fetch_weights, hf_cache_dir, parse_hf_source
from weights_helpers import make_card, sha

COMMIT = "0123456789abcdef0123456789abcdef01234567"
DATA = b"tiny checkpoint bytes\n" * 10


def make_hf_cache(root: Path, repo_folder: str, filename: str, data: bytes,
                  revision: str = "main") -> Path:
    """The on-disk layout huggingface_hub writes: blobs/<etag>, snapshots/<commit>/<file> →
    blob (symlink), refs/<revision> holding the commit."""
    repo = root / repo_folder
    blob = repo / "blobs" / sha(data)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    snap = repo / "snapshots" / COMMIT / filename
    snap.parent.mkdir(parents=True)
    snap.symlink_to(Path("../" * (filename.count("/") + 2)) / "blobs" / sha(data))
    (repo / "refs").mkdir()
    (repo / "refs" / revision).write_text(COMMIT)
    return snap


@pytest.fixture
def offline(caches, monkeypatch):
    """As in a process started with HF_HUB_OFFLINE=1 (huggingface_hub reads it at import)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return caches


@pytest.fixture
def evalkit_offline(caches, monkeypatch):
    """Only EVALKIT_OFFLINE: huggingface_hub itself believes it is online."""
    monkeypatch.setenv("EVALKIT_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    # huggingface_hub caches a registry it fetches from the Hub once per process; forget it so
    # that an attempt to fetch it here would show up as a network call
    detect = _detect_agent_module()
    if detect is not None:
        monkeypatch.setattr(detect, "_registry", None, raising=False)
        monkeypatch.setattr(huggingface_hub.constants, "AGENT_HARNESSES_PATH",
                            str(caches / "no-registry.json"), raising=False)
    return caches


def _detect_agent_module():
    """huggingface_hub's (version-dependent) helper that fetches a registry from the Hub."""
    try:
        import huggingface_hub.utils._detect_agent as detect
    except ImportError:
        return None
    return detect


def test_parse_hf_sources():
    s = parse_hf_source("hf://spaces/Junfeng5/GLEE_demo/MODEL_ZOO/GLEE_Lite_joint.pth@main")
    assert (s.repo_id, s.repo_type, s.filename, s.revision) == \
        ("Junfeng5/GLEE_demo", "space", "MODEL_ZOO/GLEE_Lite_joint.pth", "main")
    assert s.cache_folder == "spaces--Junfeng5--GLEE_demo"
    m = parse_hf_source("hf://google-bert/bert-base-uncased/vocab.txt")
    assert (m.repo_type, m.revision, m.cache_folder) == ("model", None,
                                                         "models--google-bert--bert-base-uncased")
    with pytest.raises(WeightsError, match="bad Hugging Face source"):
        parse_hf_source("hf://owner-only/file")


def test_hf_hub_download_offline_resolves_test_cache(offline, no_network):
    snap = make_hf_cache(hf_cache_dir(), "spaces--Junfeng5--GLEE_demo", "MODEL_ZOO/tiny.pth", DATA)
    got = hf_hub_download("Junfeng5/GLEE_demo", "MODEL_ZOO/tiny.pth", repo_type="space",
                          revision="main", cache_dir=hf_cache_dir(), local_files_only=True)
    assert Path(got) == snap and Path(got).read_bytes() == DATA
    assert not no_network


def test_fetch_weights_offline_from_space_cache(offline, no_network):
    make_hf_cache(hf_cache_dir(), "spaces--Junfeng5--GLEE_demo", "MODEL_ZOO/tiny.pth", DATA)
    card = make_card([{"name": "tiny.pth", "role": "model", "sha256": sha(DATA),
                       "sources": ["hf://spaces/Junfeng5/GLEE_demo/MODEL_ZOO/tiny.pth@main"]}])
    assert fetch_weights(card).read_bytes() == DATA
    assert not no_network


def test_evalkit_offline_resolves_without_network(evalkit_offline, no_network):
    make_hf_cache(hf_cache_dir(), "models--org--repo", "w.bin", DATA)
    card = make_card([{"name": "w.bin", "role": "model", "sha256": sha(DATA),
                       "sources": ["hf://org/repo/w.bin@main"]}])
    assert fetch_weights(card).read_bytes() == DATA
    assert not no_network


def test_hf_home_is_honoured(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "ev"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    make_hf_cache(tmp_path / "home" / "hub", "models--org--repo", "w.bin", DATA)
    card = make_card([{"name": "w.bin", "role": "model", "sha256": sha(DATA),
                       "sources": ["hf://org/repo/w.bin"]}])
    assert fetch_weights(card) == tmp_path / "home/hub/models--org--repo/snapshots" / COMMIT / "w.bin"


@pytest.mark.parametrize("mode", ["offline", "evalkit_offline"])
def test_missing_file_offline_names_file_and_cache(mode, request, no_network):
    request.getfixturevalue(mode)
    url = "https://drive.google.com/file/d/XYZ/view?usp=sharing"
    card = make_card([{"name": "GLEE_Lite_joint.pth", "role": "model", "sha256": None,
                       "unpinned": "test",
                       "sources": ["hf://spaces/Junfeng5/GLEE_demo/MODEL_ZOO/GLEE_Lite_joint.pth",
                                   url]}])
    with pytest.raises(WeightsError) as err:
        fetch_weights(card)
    msg = str(err.value)
    assert "GLEE_Lite_joint.pth" in msg and "offline" in msg
    assert str(hf_cache_dir() / "spaces--Junfeng5--GLEE_demo") in msg
    assert "evalkit/weights/uninext-test/GLEE_Lite_joint.pth" in msg
    assert not no_network  # neither the hub nor the Drive URL was contacted


def test_wrong_hash_in_hf_cache_is_an_error(offline, no_network):
    make_hf_cache(hf_cache_dir(), "models--org--repo", "w.bin", DATA)
    card = make_card([{"name": "w.bin", "role": "model", "sha256": "f" * 64,
                       "sources": ["hf://org/repo/w.bin"]}])
    with pytest.raises(WeightsError, match="card pins"):
        fetch_weights(card)


def test_hf_space_download_through_endpoint(http_server, caches, monkeypatch,
                                            local_network_only):
    """Online: a Space file comes from HF_ENDPOINT (here a local server speaking the hub's
    resolve/ protocol) with the HF_TOKEN, lands in the HF cache, and is then found there
    without any request."""
    detect = _detect_agent_module()
    if detect is not None:  # its one-off registry fetch would go to huggingface.co
        monkeypatch.setattr(detect, "_registry", {"standardEnvVars": [], "harnesses": {}},
                            raising=False)
    http_server.files["/spaces/Junfeng5/GLEE_demo/resolve/main/MODEL_ZOO/tiny.pth"] = DATA
    monkeypatch.setenv("HF_ENDPOINT", http_server.url)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    card = make_card([{"name": "tiny.pth", "role": "model", "sha256": sha(DATA),
                       "sources": ["hf://spaces/Junfeng5/GLEE_demo/MODEL_ZOO/tiny.pth@main"]}])
    path = fetch_weights(card)
    assert path.read_bytes() == DATA
    assert str(path).startswith(str(hf_cache_dir() / "spaces--Junfeng5--GLEE_demo"))
    assert "Bearer hf_test_token" in http_server.auth
    n = len(http_server.requests)
    assert fetch_weights(card) == path and len(http_server.requests) == n
