"""URL downloads: resume after a dropped connection, hash rejection, Drive confirm pages,
share-link rewriting, folder archives."""
from __future__ import annotations

import io
import logging
import zipfile

import pytest

from evalkit.download import direct_url, download_url
from evalkit.errors import WeightsError
from evalkit.hub import cache_root, fetch_weights

from weights_helpers import make_card, sha

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # ~1 MiB, not a multiple of the chunk size


def test_interrupted_transfer_resumes(http_server, tmp_path, caplog):
    http_server.files["/w.pth"] = PAYLOAD
    http_server.drop_first.add("/w.pth")
    dest = tmp_path / "w.pth"
    with caplog.at_level(logging.WARNING, "evalkit.download"):
        digest = download_url(http_server.url + "/w.pth", dest, sha(PAYLOAD))
    assert digest == sha(PAYLOAD) and dest.read_bytes() == PAYLOAD
    assert not dest.with_name("w.pth.part").exists()
    # second request asked only for the missing half
    ranges = [r for p, _, r in http_server.requests if p == "/w.pth"]
    assert ranges == [None, f"bytes={len(PAYLOAD) // 2}-"]
    assert "resuming from byte" in caplog.text


def test_server_ignoring_range_restarts_cleanly(http_server, tmp_path):
    http_server.files["/w.pth"] = PAYLOAD
    http_server.drop_first.add("/w.pth")
    http_server.ranges = False
    dest = tmp_path / "w.pth"
    assert download_url(http_server.url + "/w.pth", dest, sha(PAYLOAD)) == sha(PAYLOAD)
    assert dest.read_bytes() == PAYLOAD


def test_wrong_hash_is_rejected_and_partial_not_used(http_server, caches):
    http_server.files["/w.pth"] = PAYLOAD
    card = make_card([{"name": "w.pth", "role": "model", "sources": [http_server.url + "/w.pth"],
                       "sha256": "0" * 64}])
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        fetch_weights(card)
    folder = cache_root() / "weights" / card.id
    assert not (folder / "w.pth").exists() and not (folder / "w.pth.part").exists()
    # a second attempt downloads again from byte 0 (nothing stale is resumed)
    http_server.requests.clear()
    with pytest.raises(WeightsError):
        fetch_weights(card)
    assert http_server.requests[0][2] is None


def test_pinned_download_into_cache_then_reused(http_server, caches):
    http_server.files["/w.pth"] = PAYLOAD
    card = make_card([{"name": "w.pth", "role": "model", "sources": [http_server.url + "/w.pth"],
                       "sha256": sha(PAYLOAD)}])
    path = fetch_weights(card)
    assert path == cache_root() / "weights" / card.id / "w.pth" and path.read_bytes() == PAYLOAD
    n = len(http_server.requests)
    assert fetch_weights(card) == path and len(http_server.requests) == n  # no new request


def test_sources_are_tried_in_order(http_server, caches):
    http_server.files["/w.pth"] = PAYLOAD
    card = make_card([{"name": "w.pth", "role": "model", "sha256": sha(PAYLOAD),
                       "sources": [http_server.url + "/missing.pth", http_server.url + "/w.pth"]}])
    assert fetch_weights(card).read_bytes() == PAYLOAD


@pytest.mark.parametrize("style", ["form", "link"])
def test_google_drive_confirm_page(http_server, tmp_path, style):
    http_server.files["/FILEID"] = PAYLOAD
    http_server.confirm_style = style
    dest = tmp_path / "w.pth"
    download_url(http_server.url + "/uc?export=download&id=FILEID", dest, sha(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD
    confirmed = [q for p, q, _ in http_server.requests if q.get("confirm") == "t0ken"]
    assert confirmed and confirmed[0]["id"] == "FILEID"
    if style == "form":
        assert confirmed[0]["uuid"] == "abc-123"


def test_html_instead_of_file_is_an_error(http_server, tmp_path):
    http_server.files["/page"] = b""
    http_server.confirm_style = "none"
    with pytest.raises(WeightsError, match="HTML page"):
        download_url(http_server.url + "/uc?export=download&id=nothing-here", tmp_path / "x")


def test_share_links_become_direct_downloads():
    assert direct_url("https://drive.google.com/file/d/1PJQ7ryy-x_/view?usp=sharing") == \
        "https://drive.google.com/uc?export=download&id=1PJQ7ryy-x_"
    assert direct_url("https://drive.google.com/open?id=abc") == \
        "https://drive.google.com/uc?export=download&id=abc"
    sp = ("https://maildluteducn-my.sharepoint.com/:f:/g/personal/yan_bin_mail_dlut_edu_cn/"
          "ErbTZCzv0vJAoIMwa90_3qoBOFbHIJJTVxI58-kk2nfkhw?e=4qvjrR")
    assert direct_url(sp) == sp.split("?")[0] + "?download=1"
    assert direct_url("https://1drv.ms/u/s!AbCd").startswith(
        "https://api.onedrive.com/v1.0/shares/u!aHR0cHM6Ly8xZHJ2Lm1zL3UvcyFBYkNk/root/content")
    assert direct_url("https://example.org/a.pth") == "https://example.org/a.pth"


def test_folder_archive_member_is_extracted(http_server, caches):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("video_joint_r50/last_checkpoint", b"model_final.pth")
        z.writestr("video_joint_r50/model_final.pth", PAYLOAD)
    http_server.files["/folder"] = buf.getvalue()
    card = make_card([{"name": "model_final.pth", "role": "model", "member": "model_final.pth",
                       "sources": [http_server.url + "/folder"], "sha256": sha(PAYLOAD)}])
    path = fetch_weights(card)
    assert path.read_bytes() == PAYLOAD
    assert [p.name for p in path.parent.iterdir() if p.suffix not in (".json", ".lock")] == \
        ["model_final.pth"]


def test_stale_part_past_the_end_restarts(http_server, tmp_path):
    """A .part longer than the file (changed upstream) gets HTTP 416: start over."""
    http_server.files["/w.pth"] = PAYLOAD
    dest = tmp_path / "w.pth"
    dest.with_name("w.pth.part").write_bytes(b"x" * (len(PAYLOAD) + 10))
    assert download_url(http_server.url + "/w.pth", dest, sha(PAYLOAD)) == sha(PAYLOAD)


def test_every_source_failing_names_each(http_server, caches):
    card = make_card([{"name": "w.pth", "role": "model", "sha256": None, "unpinned": "test",
                       "sources": [http_server.url + "/gone.pth", str(caches / "nowhere.pth")]}])
    with pytest.raises(WeightsError) as err:
        fetch_weights(card)
    msg = str(err.value)
    assert "HTTP 404" in msg and "nowhere.pth" in msg and "--weights PATH" in msg
