"""Converted-weights cache: reused on the second run, invalidated by a new converter
version, keyed by the source file's sha256."""
from __future__ import annotations

import dataclasses
import logging
import re
import time

import pytest
import torch

from evalkit.errors import EvalkitError
from evalkit.hub import cache_root, load_converted
from weights_helpers import make_card, sha


def _official(path):
    g = torch.Generator().manual_seed(0)
    head = torch.randn(8, 8, generator=g)
    # DETR-style aliasing: the same tensor under two names (safetensors refuses shared memory)
    state = {"detr.backbone.w": torch.randn(64, 64, generator=g), "detr.class_embed.0.w": head,
             "detr.transformer.decoder.class_embed.0.w": head}
    torch.save({"model": state}, path)
    return path


class Converter:
    """Counts calls; renames keys. The pause stands in for the work of a real converter (a
    few seconds on a 1 GB checkpoint), so that the logged cache-hit time is clearly lower."""

    def __init__(self, version):
        self.version = version
        self.calls = 0

    def __call__(self, state):
        self.calls += 1
        time.sleep(0.2)
        return {k.replace("detr.", ""): v for k, v in state.items()}


@pytest.fixture
def card(caches):
    path = _official(caches / "official.pth")
    return make_card([{"name": "model_final.pth", "role": "model", "sha256": sha(path.read_bytes()),
                       "sources": [str(path)]}])


def _times(caplog):
    return [(m.group(1), float(m.group(2))) for r in caplog.records
            if (m := re.search(r"(cache hit|converted and cached) .* \(([\d.]+) s\)", r.getMessage()))]


def test_second_run_reuses_cache_and_is_faster(card, caplog):
    conv = Converter("1")
    with caplog.at_level(logging.INFO, "evalkit.hub"):
        first = load_converted(card, convert_fn=conv)
        second = load_converted(card, convert_fn=conv)
    assert conv.calls == 1
    assert set(first) == {"backbone.w", "class_embed.0.w", "transformer.decoder.class_embed.0.w"}
    assert all(torch.equal(first[k], second[k]) for k in first)
    (kind1, t1), (kind2, t2) = _times(caplog)
    assert (kind1, kind2) == ("converted and cached", "cache hit")
    assert t2 < t1, f"cache hit ({t2:.3f} s) not faster than conversion ({t1:.3f} s)"
    files = list((cache_root() / "converted" / card.id).glob("*.safetensors"))
    assert [f.name for f in files] == [f"model_final-{card.model_weights.sha256[:16]}-v1.safetensors"]


def test_new_converter_version_invalidates(card, caplog):
    old, new = Converter("1"), Converter("2")
    load_converted(card, convert_fn=old)
    with caplog.at_level(logging.INFO, "evalkit.hub"):
        load_converted(card, convert_fn=new)
        load_converted(card, convert_fn=new)
    assert (old.calls, new.calls) == (1, 1)
    assert "invalidating model_final-" in caplog.text
    names = [f.name for f in (cache_root() / "converted" / card.id).glob("*.safetensors")]
    assert len(names) == 1 and names[0].endswith("-v2.safetensors")


def test_other_source_file_is_a_different_entry(card, caches):
    conv = Converter("1")
    load_converted(card, convert_fn=conv)
    other = _official(caches / "other.pth")
    torch.save({"model": {"detr.x": torch.ones(2)}}, other)  # different bytes, different sha
    out = load_converted(card, weights=other, convert_fn=conv)
    assert conv.calls == 2 and set(out) == {"x"}
    assert len(list((cache_root() / "converted" / card.id).glob("*.safetensors"))) == 2


def test_converter_needs_a_version(card):
    with pytest.raises(EvalkitError, match="has no version"):
        load_converted(card, convert_fn=lambda s: s)


def test_missing_family_code_is_a_clear_error(card):
    card = dataclasses.replace(card, converter="evalkit.zoo.nofamily.convert:convert_nofamily")
    with pytest.raises(EvalkitError, match="architecture not implemented in this version"):
        load_converted(card)
