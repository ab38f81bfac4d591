"""load_state_dict_safely: tensors only; pickled code is refused and never runs."""
from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from evalkit.errors import WeightsError
from evalkit.hub import load_state_dict_safely


class Payload:
    """Unpickling this object calls Path.touch(marker): a stand-in for arbitrary code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _state():
    g = torch.Generator().manual_seed(0)
    return OrderedDict(w=torch.randn(3, 4, generator=g), b=torch.arange(4))


@pytest.mark.parametrize("fmt", ["torch-zip", "legacy-pickle"])
def test_malicious_pickle_is_refused_and_not_run(tmp_path, fmt):
    marker = tmp_path / "pwned"
    ckpt = {"model": _state(), "trainer": Payload(marker)}
    path = tmp_path / "evil.pth"
    if fmt == "torch-zip":
        torch.save(ckpt, path)
    else:  # a detectron2-style plain pickle of numpy arrays, plus the payload
        ckpt["model"] = {k: v.numpy() for k, v in ckpt["model"].items()}
        path.write_bytes(pickle.dumps(ckpt, protocol=2))
    assert not marker.exists()
    with pytest.raises(WeightsError) as err:
        load_state_dict_safely(path)
    msg = str(err.value)
    assert "refusing to load" in msg and "pickled code" in msg
    assert "getattr" in msg or "pathlib" in msg  # names what it would have called
    assert not marker.exists(), "the pickle payload ran"
    # sanity: the same file does run its payload when loaded unsafely
    if fmt == "torch-zip":
        torch.load(path, weights_only=False)
    else:
        pickle.loads(path.read_bytes())
    assert marker.exists()


def test_detectron2_style_checkpoint_is_unwrapped(tmp_path):
    state = _state()
    torch.save({"model": state, "iteration": 89999, "__author__": "x"}, tmp_path / "d2.pth")
    got = load_state_dict_safely(tmp_path / "d2.pth")
    assert list(got) == ["w", "b"] and torch.equal(got["w"], state["w"])


def test_numpy_pickle_checkpoint(tmp_path):
    """detectron2 .pkl files: plain pickles of numpy arrays (no code)."""
    arrays = {"model": {"stem.conv1.weight": np.ones((2, 3), np.float32)}, "__author__": "d2"}
    (tmp_path / "r50.pkl").write_bytes(pickle.dumps(arrays))
    got = load_state_dict_safely(tmp_path / "r50.pkl")
    assert got["stem.conv1.weight"].dtype == torch.float32 and got["stem.conv1.weight"].sum() == 6


def test_safetensors_and_bare_state_dict(tmp_path):
    state = _state()
    save_file(dict(state), str(tmp_path / "w.safetensors"))
    torch.save(state, tmp_path / "bare.pth")
    for name in ("w.safetensors", "bare.pth"):
        got = load_state_dict_safely(tmp_path / name)
        assert set(got) == {"w", "b"} and torch.equal(got["b"], state["b"])


def test_bad_files(tmp_path):
    with pytest.raises(WeightsError, match="no such weights file"):
        load_state_dict_safely(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(WeightsError):
        load_state_dict_safely(tmp_path / "junk.pth")
    torch.save({"model": {"note": "no tensors"}}, tmp_path / "empty.pth")
    with pytest.raises(WeightsError, match="no tensors"):
        load_state_dict_safely(tmp_path / "empty.pth")


def test_torch_legacy_format(tmp_path):
    state = _state()
    torch.save({"state_dict": state}, tmp_path / "old.pth", _use_new_zipfile_serialization=False)
    got = load_state_dict_safely(tmp_path / "old.pth")
    assert torch.equal(got["w"], state["w"])
