"""One adapter shape for UNINEXT, UniRef++, GLEE, UniVS and the tiny models: ``predict`` hands
every procedure the model (a frozen bundle; UniVS's network itself) and the run's context (never
the adapter), nothing is written on the network, and every family is built by the one card
factory path (:class:`evalkit.adapters.factory.CardFactory`)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from evalkit.adapters.base import Adapter, InferenceContext
from evalkit.types import Categories, Frames

from test_adapter_options import FAMILIES, _skip_unshipped

OWN = ("UNINEXT", "UniRef++", "GLEE", "UniVS")
TASK = {"UNINEXT": "inst-seg", "UniRef++": "res", "GLEE": "inst-seg", "UniVS": "vis"}


def _spy_procedures(adapter):
    """Replace every procedure by one that records its arguments and returns one empty
    ``Instances`` per frame and its count."""
    from evalkit.adapters.base import ProcedureResult
    from evalkit.types import Instances

    seen = []
    table = adapter.procedures()

    def spy(model, ctx, frames, prompt):
        seen.append((model, ctx, prompt))
        return ProcedureResult([Instances.empty(s) for s in frames.sizes], {"frames": len(frames)})

    adapter.procedures = lambda: {t: (spy, typ) for t, (_, typ) in table.items()}
    return seen


@pytest.mark.parametrize("family", OWN)
def test_procedures_receive_a_frozen_bundle_and_the_context(family):
    _skip_unshipped(family)
    a = FAMILIES[family]()
    seen = _spy_procedures(a)
    task = TASK[family]
    prompt = _prompt(task)
    ctx = a.prepare(task, "shapes-coco")
    out = a.predict(Frames([np.zeros((20, 30, 3), np.uint8)]), prompt)
    assert len(out) == 1 and len(seen) == 1 and a.last_stats == {"frames": 1}
    model, got_ctx, got_prompt = seen[0]
    assert got_ctx is ctx and isinstance(got_ctx, InferenceContext) and got_prompt is prompt
    assert not isinstance(model, Adapter)
    if family == "UniVS":  # its procedures take the network; device and text are in the context
        assert model is a.model and got_ctx.device == a.device
    else:
        assert dataclasses.is_dataclass(model) and model.net is a.model and model.device == a.device
        with pytest.raises(dataclasses.FrozenInstanceError):
            model.net = None
    # no clip, no call: the one dispatch answers an empty clip itself
    assert a.predict(Frames([]), prompt) == [] and len(seen) == 1 and a.last_stats == {}


def _prompt(task):
    from evalkit.types import Expression

    return Expression("a red square") if task == "res" else Categories(("square", "circle"), (1, 2))


@pytest.mark.parametrize("family", ("UNINEXT", "UniRef++"))
def test_the_text_encoder_is_not_written(family):
    """The adapter's tokenizer goes to ``tokenize`` as an argument: the encoder's own lazily
    loaded tokenizer stays unset (the factory used to write it into ``_tokenizer``)."""
    _skip_unshipped(family)
    a = FAMILIES[family]()
    assert a.model.text_encoder._tokenizer is None
    a.prepare(TASK[family])
    list(a.predict(Frames([np.zeros((20, 30, 3), np.uint8)]), _prompt(TASK[family])))
    assert a.model.text_encoder._tokenizer is None


def test_glee_is_built_by_the_card_factory(monkeypatch):
    """GLEE goes through the same steps as the other card families: the card's tasks and input
    sizes reach the adapter, the hooks supply the network, the tokenizer and the digest."""
    from glee_helpers import tiny_glee, tiny_tokenizer

    from evalkit.adapters import glee
    from evalkit.adapters.factory import CardFactory

    assert issubclass(glee.GLEEAdapter, CardFactory) and glee.build_adapter == glee.GLEEAdapter.from_card
    calls = []
    monkeypatch.setattr(glee.GLEEAdapter, "load_model",
                        classmethod(lambda cls, card, weights, overrides, random: calls.append(card.id) or tiny_glee()))
    monkeypatch.setattr(glee.GLEEAdapter, "load_tokenizer", classmethod(lambda cls, card, option: tiny_tokenizer()))
    monkeypatch.setattr(glee.GLEEAdapter, "weights_digest", classmethod(lambda cls, card, weights: "0" * 64))
    a = glee.build_adapter(model_id="glee-lite", dataset="ovis")
    assert calls == ["glee-lite"] and a.weights_sha256 == "0" * 64 and "vos" not in a.tasks
    # glee-lite.json: vis 480 / OVIS 720 (the card's per-dataset size)
    ctx = a.prepare("vis")
    assert (ctx.input_size.short_edge, ctx.input_size.lsj_side) == (720, None)
    with pytest.raises(Exception, match="is not a GLEE model"):
        glee.build_adapter(model_id="uninext-tiny")


def test_dataset_rules_match_by_prefix():
    """``InferenceContext.dataset_is``: the rule key is the dataset or a prefix of it."""
    assert InferenceContext("vis", dataset="ovis-val").dataset_is("ovis")
    assert InferenceContext("vis", dataset="ovis").dataset_is("ovis")
    assert not InferenceContext("vis", dataset="ytvis19").dataset_is("ovis")  # a substring is not a prefix
    assert not InferenceContext("vis", dataset="ov").dataset_is("ovis")
    assert not InferenceContext("vis").dataset_is("ovis")


def test_load_into_meta_asks_modules_for_their_unsaved_buffers():
    from evalkit.zoo.convert_utils import load_into_meta

    class WithHook(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(2))
            self.register_buffer("idx", torch.arange(3), persistent=False)

        def init_non_persistent_buffers(self):
            self.register_buffer("idx", torch.arange(3, device=self.w.device), persistent=False)

    class WithoutHook(WithHook):
        init_non_persistent_buffers = None

    with torch.device("meta"):
        ok, bad = WithHook(), WithoutHook()
    state = {"w": torch.ones(2)}
    assert load_into_meta(ok, state).idx.tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError, match=r"\['idx'\].*init_non_persistent_buffers"):
        load_into_meta(bad, state)


@pytest.mark.parametrize("name", ["resnet50", "convnext-large", "vit-huge"])
def test_every_backbone_builder_takes_in_channels(name):
    """UNINEXT's template encoders read RGB + mask: one keyword for every backbone."""
    from evalkit.zoo.backbones import build_backbone

    tiny = {"resnet50": dict(width_per_group=4, stem_out_channels=4),
            "convnext-large": dict(depths=(1, 1, 2, 1), dims=(8, 16, 32, 64)),
            "vit-huge": dict(embed_dim=32, depth=4, num_heads=4, img_size=128, window_size=3,
                             window_block_indexes=(0, 1))}[name]
    with torch.no_grad():
        out = build_backbone(name, in_channels=4, **tiny).eval()(torch.randn(1, 4, 64, 64))
    assert out
