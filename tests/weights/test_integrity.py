"""Changed or damaged weights are detected.

Policy (evalkit/hub.py): a weight file's recorded sha256 is reused only while its size,
mtime, inode and ctime are all unchanged (ctime cannot be set back by a user); a converted
cache entry is re-hashed on every load against the sha256 stored beside it, and rebuilt when
it differs or cannot be read."""
from __future__ import annotations

import multiprocessing as mp
import os

import pytest
import torch
from safetensors.torch import save_file

from evalkit import hub
from evalkit.hub import cache_root, load_converted, weights_sha256
from weights_helpers import make_card, sha


def _flip_keep_mtime(path) -> None:
    """Flip one bit in place and put the mtime back (as a restore from a backup tool would)."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size


@pytest.fixture
def card(caches):
    path = caches / "official.pth"
    torch.save({"model": {"w": torch.arange(64.0).reshape(8, 8)}}, path)
    return make_card([{"name": "model_final.pth", "role": "model", "sources": [str(path)],
                       "sha256": None, "unpinned": "test"}]), path


def test_bit_flip_with_the_mtime_restored_is_hashed_again(card, tmp_path):
    """Before: the hash was reused from a (path, size, mtime) record, so run.json kept the old
    weights_sha256 after this edit."""
    c, _ = card
    user = tmp_path / "mine.pth"
    torch.save({"w": torch.ones(16, 16)}, user)
    first = weights_sha256(c, user)
    _flip_keep_mtime(user)
    second = weights_sha256(c, user)
    assert first != second == sha(user.read_bytes())


def test_changed_cached_source_is_refused(card):
    c, path = card
    weights_sha256(c)
    _flip_keep_mtime(path)
    with pytest.raises(hub.WeightsError, match="changed since its first download"):
        weights_sha256(c)


class _Conv:
    version = "1"

    def __init__(self):
        self.calls = 0

    def __call__(self, state):
        self.calls += 1
        return {"ours." + k: v for k, v in state.items()}


def _entry(c):
    (target,) = (cache_root() / "converted" / c.id).glob("*.safetensors")
    return target


@pytest.mark.parametrize("damage", ["bit-flip", "truncated", "digest-missing", "replaced"])
def test_damaged_converted_cache_is_rebuilt(card, damage, caplog):
    c, _ = card
    conv = _Conv()
    first = load_converted(c, convert_fn=conv)
    target = _entry(c)
    if damage == "bit-flip":
        _flip_keep_mtime(target)
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:40])
    elif damage == "digest-missing":
        target.with_name(target.name + ".sha256.json").unlink()
    else:  # a valid safetensors file with other values: only the stored digest tells
        save_file({"ours.w": torch.zeros(8, 8)}, str(target))
    with caplog.at_level("WARNING", "evalkit.hub"):
        again = load_converted(c, convert_fn=conv)
    assert conv.calls == 2, damage
    assert "rebuilding the cache entry" in caplog.text
    assert torch.equal(again["ours.w"], first["ours.w"])
    assert load_converted(c, convert_fn=conv) and conv.calls == 2  # the rebuilt entry is trusted


def _writer(card_path: str, n: int, barrier) -> None:
    c = make_card([{"name": "model_final.pth", "role": "model", "sources": [card_path], "sha256": None,
                    "unpinned": "test"}])
    barrier.wait()
    for _ in range(n):
        hub._write_record(c, c.model_weights, hub.Path(card_path), "0" * 64, card_path)


def test_download_record_written_atomically_by_concurrent_processes(card):
    """The record goes through a unique temporary name + fsync + rename (before: a fixed
    ``.json.tmp`` that two processes overwrote and renamed under each other)."""
    c, path = card
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_writer, args=(str(path), 40, barrier)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    folder = cache_root() / "weights" / c.id
    assert [p.name for p in folder.iterdir()] == ["model_final.pth.json"]
    assert hub._read_record(c, c.model_weights)["sha256"] == "0" * 64
