"""Weights that resolve, and failures that say what happened: no retry on a refused
connection or a DNS failure, at most 2 retries otherwise, messages that match the files on
disk, folder share links turned into exact by-hand steps, bundled weights from any working
directory, ``download`` taking ``run``'s flags, the offline message."""
from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import urllib.error

import pytest

import evalkit.download as dl
import evalkit.hub as hub
from evalkit.cli_download import add_arguments
from evalkit.download import download_url
from evalkit.errors import WeightsError
from evalkit.hub import fetch_weights, file_status

from weights_helpers import make_card

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connecting is refused
    return port


def test_refused_connection_is_not_retried_and_claims_no_partial_file(tmp_path, caplog):
    retries = []
    dest = tmp_path / "w.pth"
    with caplog.at_level(logging.WARNING, "evalkit.download"), pytest.raises(WeightsError) as exc:
        download_url(f"http://127.0.0.1:{_closed_port()}/w.pth", dest, on_retry=lambda *a: retries.append(a))
    msg = str(exc.value)
    assert retries == [] and "interrupted" not in caplog.text  # was: 5 retries, "resuming from byte 0"
    assert "not retried" in msg and "ConnectionRefusedError" in msg and "nothing was received" in msg
    assert ".part" not in msg and not dest.with_name("w.pth.part").exists()


def test_dns_failure_is_not_retried(tmp_path, monkeypatch):
    def no_dns(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(dl, "_open", no_dns)
    retries = []
    with pytest.raises(WeightsError, match="gaierror.*not retried"):
        download_url("https://no-such-host.invalid/w.pth", tmp_path / "w.pth",
                     on_retry=lambda *a: retries.append(a))
    assert retries == []


def test_at_most_two_retries_and_the_kept_bytes_are_named(http_server, tmp_path, monkeypatch):
    monkeypatch.setattr(dl.time, "sleep", lambda s: None)
    http_server.files["/w.pth"] = PAYLOAD

    calls = []
    real = dl._transfer

    def always_drop(url, part, timeout, headers):
        calls.append(part.stat().st_size if part.exists() else 0)
        http_server.drop_first.add("/w.pth")  # every attempt is cut half-way
        return real(url, part, timeout, headers)

    monkeypatch.setattr(dl, "_transfer", always_drop)
    with pytest.raises(WeightsError) as exc:
        download_url(http_server.url + "/w.pth", tmp_path / "w.pth")
    part = tmp_path / "w.pth.part"
    assert len(calls) == 3  # the first attempt and 2 retries (was 6)
    assert f"the {part.stat().st_size} bytes received are kept in {part}" in str(exc.value)


def test_folder_link_failure_names_the_file_and_the_target(caches, monkeypatch):
    link = "https://example-my.sharepoint.com/:f:/g/personal/someone/AbCdEf?e=x"
    card = make_card([{"name": "model_final.pth", "role": "model", "sha256": None, "unpinned": "t",
                       "member": "model_final.pth", "notes": "outputs/video_joint_r50/", "sources": [link]}])

    def unreachable(*args):
        raise WeightsError("download failed: gaierror (not retried)")

    monkeypatch.setattr(hub, "_fetch_source", unreachable)
    with pytest.raises(WeightsError) as exc:
        fetch_weights(card)
    msg = str(exc.value)
    assert f"open {link} in a browser, download the file model_final.pth (outputs/video_joint_r50/)" in msg
    assert f"save it as {caches / 'evalkit' / 'weights' / 'uninext-test' / 'model_final.pth'}" in msg


def test_bundled_weights_resolve_outside_the_repository(tmp_path, monkeypatch, caches):
    from evalkit.zoo.cards import get_card

    monkeypatch.chdir(tmp_path)  # was: "./zoo/tiny/..." relative to the working directory
    card = get_card("uninext-tiny")
    assert file_status(card, card.model_weights) == "bundled"
    path = fetch_weights(card)
    assert path.is_file() and path.parent.name == "tiny" and tmp_path not in path.parents


def test_download_takes_the_flags_of_run():
    p = argparse.ArgumentParser()
    add_arguments(p)
    a = p.parse_args(["-m", "uninext-r50", "-b", "davis17-val"])
    assert (a.model, a.benchmark) == ("uninext-r50", "davis17-val")
    a = p.parse_args(["-M", "uninext-r50", "-t", "davis17-val"])  # the old spellings still work
    assert (a.model, a.benchmark) == ("uninext-r50", "davis17-val")


def test_offline_download_names_the_file_the_caches_and_the_way_out(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EVALKIT_CACHE": str(tmp_path / "c"),
           "HF_HUB_CACHE": str(tmp_path / "hf")}
    proc = subprocess.run([sys.executable, "-m", "evalkit", "download", "-m", "uninext-r50"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    err = proc.stderr
    assert "model_final.pth" in err and "not available offline" in err
    assert str(tmp_path / "c" / "weights" / "uninext-r50" / "model_final.pth") in err
    assert "evalkit download --model uninext-r50" in err and "--weights PATH" in err
