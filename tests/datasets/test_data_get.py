"""`evalkit data get` against a loopback HTTP server (127.0.0.1 only) serving a generated DAVIS
archive: resume after a kill, sha256 refused, path traversal refused, layout validated; the
dataset cards themselves; the missing-data and gated-dataset messages."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalkit.data_get import get_dataset, safe_members
from evalkit.datasets import (DatasetCard, benchmarks_of, card_for_folder, dataset_cards,
                              get_dataset_card, missing_data_message)
from evalkit.errors import DatasetError, UnknownNameError
from evalkit.registry import BENCHMARKS

REPO = Path(__file__).resolve().parents[2]
BLOB = np.random.default_rng(0).integers(0, 256, 3 << 20, dtype=np.uint8).tobytes()  # 3 MiB, incompressible


def davis_zip(with_val_list: bool = True) -> bytes:
    """A DAVIS-2017-trainval-480p.zip in the official layout: top folder ``DAVIS/``, one video
    of 2 frames with indexed annotation PNGs, plus a stored 3 MiB blob so that the transfer
    spans several 1 MiB chunks (the downloader's read size)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for k in range(2):
            jpg = io.BytesIO()
            Image.fromarray(np.full((24, 32, 3), 40 * k, np.uint8)).save(jpg, "JPEG")
            z.writestr(f"DAVIS/JPEGImages/480p/bear/{k:05d}.jpg", jpg.getvalue())
            lab = np.zeros((24, 32), np.uint8)
            lab[4:12, 4:12] = 1
            png = io.BytesIO()
            im = Image.fromarray(lab, "P")
            im.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
            im.save(png, "PNG")
            z.writestr(f"DAVIS/Annotations/480p/bear/{k:05d}.png", png.getvalue())
        if with_val_list:
            z.writestr("DAVIS/ImageSets/2017/val.txt", "bear\n")
        z.writestr("DAVIS/blob.bin", BLOB)
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        path = urllib.parse.urlsplit(self.path).path
        rng = self.headers.get("Range")
        srv.requests.append((path, rng))
        data = srv.files.get(path)
        if data is None:
            self.send_error(404)
            return
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if srv.stall_after is not None and not start:
            # send part of the body, then hang (until the test releases it): the client is killed meanwhile
            self.wfile.write(body[: srv.stall_after])
            self.wfile.flush()
            srv.release.wait(30)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.files, srv.requests, srv.stall_after, srv.release = {}, [], None, threading.Event()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def davis_card(url: str, sha256: str | None = None) -> DatasetCard:
    """The real DAVIS card with its archive served from the loopback server."""
    real = get_dataset_card("davis")
    f = replace(real.files[0], url=url, sha256=sha256, mirrors=())
    return replace(real, files=(f,))


def test_get_extracts_into_the_official_layout_and_validates(server, tmp_path):
    data = davis_zip()
    server.files["/DAVIS-2017-trainval-480p.zip"] = data
    report = get_dataset(davis_card(server.url + "/DAVIS-2017-trainval-480p.zip",
                                    hashlib.sha256(data).hexdigest()), tmp_path)
    assert report.validated == {"davis17-val": "ok"} and report.ok
    assert (tmp_path / "DAVIS" / "ImageSets" / "2017" / "val.txt").read_text() == "bear\n"  # "DAVIS/" stripped once
    assert not any(p.name.startswith(".evalkit-extract") for p in tmp_path.iterdir())  # temporary folder gone
    assert not (tmp_path / ".evalkit-downloads" / "DAVIS" / "DAVIS-2017-trainval-480p.zip").exists()


def test_get_reports_an_incomplete_layout(server, tmp_path):
    server.files["/d.zip"] = davis_zip(with_val_list=False)
    report = get_dataset(davis_card(server.url + "/d.zip"), tmp_path)
    assert not report.ok and "val.txt" in report.validated["davis17-val"]


def test_unpinned_archive_hash_is_recorded_then_checked(server, tmp_path, caplog):
    server.files["/d.zip"] = davis_zip()
    card = davis_card(server.url + "/d.zip")
    get_dataset(card, tmp_path, keep_archives=True)
    record = tmp_path / ".evalkit-downloads" / "DAVIS" / "DAVIS-2017-trainval-480p.zip.sha256"
    assert record.read_text().split()[0] == hashlib.sha256(server.files["/d.zip"]).hexdigest()
    # the same name now serves other bytes: refused against the first-download record
    (tmp_path / ".evalkit-downloads" / "DAVIS" / "DAVIS-2017-trainval-480p.zip").unlink()
    server.files["/d.zip"] = davis_zip(with_val_list=False)
    with pytest.raises(DatasetError, match="recorded at its first download"):
        get_dataset(card, tmp_path)


def test_sha256_mismatch_is_refused_and_nothing_extracted(server, tmp_path):
    server.files["/d.zip"] = davis_zip()
    with pytest.raises(DatasetError, match="sha256 mismatch"):
        get_dataset(davis_card(server.url + "/d.zip", "0" * 64), tmp_path)
    assert not (tmp_path / "DAVIS").exists()
    assert not list((tmp_path / ".evalkit-downloads" / "DAVIS").glob("*.part"))


@pytest.mark.parametrize("member", ["../evil.txt", "DAVIS/../../evil.txt", "/tmp/evil.txt"])
def test_path_traversal_is_refused(server, tmp_path, member):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("DAVIS/ImageSets/2017/val.txt", "bear\n")
        z.writestr(zipfile.ZipInfo(member), "pwned")  # ZipInfo keeps the name as given
    server.files["/d.zip"] = buf.getvalue()
    root = tmp_path / "root"
    with pytest.raises(DatasetError, match="refusing to extract"):
        get_dataset(davis_card(server.url + "/d.zip"), root)
    assert not (tmp_path / "evil.txt").exists() and not (root / "DAVIS").exists()


def test_tar_links_are_refused(tmp_path):
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as t:
        info = tarfile.TarInfo("DAVIS/link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t.addfile(info)
    with pytest.raises(DatasetError, match="'DAVIS/link' is a link"):
        safe_members(archive)


_CHILD = """
import sys
from dataclasses import replace
from evalkit.data_get import get_dataset
from evalkit.datasets import get_dataset_card
real = get_dataset_card("davis")
card = replace(real, files=(replace(real.files[0], url=sys.argv[1], sha256=sys.argv[3], mirrors=()),))
get_dataset(card, sys.argv[2])
"""


def test_resume_after_a_kill(server, tmp_path):
    data = davis_zip()
    sha = hashlib.sha256(data).hexdigest()
    server.files["/d.zip"] = data
    server.stall_after = (2 << 20) + 12345  # two full chunks reach the disk, then the server hangs
    url = server.url + "/d.zip"
    part = tmp_path / ".evalkit-downloads" / "DAVIS" / "DAVIS-2017-trainval-480p.zip.part"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, url, str(tmp_path), sha])
    try:
        deadline = time.monotonic() + 60
        while not (part.exists() and part.stat().st_size >= 2 << 20):
            assert proc.poll() is None and time.monotonic() < deadline, "the download never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # a killed `evalkit data get`
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    kept = part.stat().st_size
    assert kept >= 2 << 20 and not (tmp_path / "DAVIS").exists()
    server.stall_after = None
    report = get_dataset(davis_card(url, sha), tmp_path)
    assert report.ok and report.fetched == [("DAVIS-2017-trainval-480p.zip", sha)]
    assert server.requests[-1] == ("/d.zip", f"bytes={kept}-")  # resumed, not restarted


# -- the cards ---------------------------------------------------------------------------------
def test_every_registered_dataset_has_a_card():
    folders = {BENCHMARKS.get(i).meta.get("dataset", i) for i in BENCHMARKS.ids()}
    missing = sorted(f for f in folders if not f.startswith("shapes-") and card_for_folder(f) is None)
    assert not missing  # the shapes datasets are generated on first use, not downloaded
    for card in dataset_cards().values():
        assert benchmarks_of(card.folder), f"card {card.id} serves no registered benchmark"
        assert card.layout and card.homepage and card.license, card.id
        if card.access != "open" or any(not f.downloadable for f in card.files):
            # by-hand steps name where things come from and the exact target paths
            assert any("http" in s for s in card.steps) and any("{root}" in s for s in card.steps), card.id
        for f in card.files:
            assert f.sha256 is None or len(f.sha256) == 64  # only published/verified hashes are pinned


def test_unknown_dataset_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean 'davis'"):
        get_dataset_card("davsi")
    assert get_dataset_card("DAVIS").id == "davis"  # the folder name works too


def _cli(args, env_extra=None, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    env.pop("EVALKIT_DATA", None)
    env.pop("EVALKIT_DATA_DAVIS", None)
    return subprocess.run([sys.executable, "-m", "evalkit", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def test_missing_dataset_error_names_roots_variable_and_command(tmp_path):
    proc = _cli(["run", "-m", "uninext-tiny", "-b", "davis17-val", "--data-root", str(tmp_path)])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    msg = lines[0]
    for part in ("DAVIS 2017", str(tmp_path / "DAVIS"), "--data-root", "$EVALKIT_DATA_DAVIS",
                 "$EVALKIT_DATA", "./datasets", "evalkit data get davis"):
        assert part in msg, (part, msg)


def test_missing_data_message_follows_the_root_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("EVALKIT_DATA", raising=False)
    monkeypatch.setenv("EVALKIT_DATA_DAVIS", str(tmp_path / "mine"))
    msg = missing_data_message("DAVIS", None)
    assert f"$EVALKIT_DATA_DAVIS = {tmp_path / 'mine'} <- used" in msg and "--data-root = (not set)" in msg


def test_gated_dataset_prints_steps_and_target_paths(tmp_path):
    proc = _cli(["data", "get", "ytvos18", "--root", str(tmp_path)])
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "needs a login" in out and "codalab" in out.lower()
    assert f"{tmp_path}/ytbvos18/valid/meta.json" in out  # the exact target path
    assert "ytbvos18/valid/JPEGImages/<video>/00000.jpg" in out  # the expected layout
    assert not (tmp_path / "ytbvos18").exists()  # nothing half-made


def test_data_ls_json_lists_every_card():
    proc = _cli(["data", "ls", "--json"])
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["datasets"]
    assert {r["id"] for r in rows} == set(dataset_cards())
    davis = next(r for r in rows if r["id"] == "davis")
    assert davis["files"][0]["url"].startswith("https://data.vision.ee.ethz.ch/")
    assert davis["env"] == "EVALKIT_DATA_DAVIS" and "davis17-val" in davis["benchmarks"]


def test_only_fetches_the_named_files(server, tmp_path):
    server.files["/d.zip"] = davis_zip()
    card = davis_card(server.url + "/d.zip")
    with pytest.raises(DatasetError, match="no file nope.zip.*expected some of: DAVIS-2017-trainval-480p.zip"):
        get_dataset(card, tmp_path, only=["nope.zip"])
    assert server.requests == []
    assert get_dataset(card, tmp_path, only=["DAVIS-2017-trainval-480p.zip"]).ok
