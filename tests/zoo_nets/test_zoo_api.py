"""build_model / convert_checkpoint / load_model against a stand-in model card."""
import subprocess
import sys
import types

import pytest
import torch

import evalkit.zoo
from evalkit.errors import WeightsError
from evalkit.zoo import api
from evalkit.zoo.backbones.resnet import resnet_key_map
from evalkit.zoo.convert_utils import KeyMap

TINY_ARGS = dict(width_per_group=4, stem_out_channels=4, out_features=("res4", "res5"))


def official_convert(official_sd, expected):
    """A family-style converter: the official backbone lives under ``detr.backbone.``."""
    km = (KeyMap().drop(r"criterion\..*", "training-only")
          .nested("detr.backbone.", "", resnet_key_map()))
    return km.convert(official_sd, expected, what="stand-in checkpoint")


@pytest.fixture
def card(monkeypatch):
    c = types.SimpleNamespace(builder="evalkit.zoo.backbones.resnet:build_resnet", builder_args=dict(TINY_ARGS),
                              converter=official_convert)
    monkeypatch.setattr(api, "get_card", lambda model_id: c if model_id == "tiny-r50" else pytest.fail(model_id))
    return c


def official_checkpoint(seed=0):
    torch.manual_seed(seed)
    ref = api.build_model("tiny-r50")
    sd = {"detr.backbone." + k: torch.randn(v.shape) for k, v in ref.state_dict().items()}
    sd["criterion.empty_weight"] = torch.ones(2)
    return {"model": sd, "iteration": 90000}


def test_build_model_uses_card_and_overrides(card):
    m = api.build_model("tiny-r50")
    assert list(m.output_shape()) == ["res4", "res5"]
    m4 = evalkit.zoo.build_model("tiny-r50", in_channels=4)
    assert m4.stem.conv1.weight.shape[1] == 4
    card.builder, card.builder_args = "evalkit.zoo.convert_utils:expected_shapes", {}
    with pytest.raises(TypeError, match="not an nn.Module"):
        api.build_model("tiny-r50", target={})


def test_convert_checkpoint_maps_and_checks(card):
    ckpt = official_checkpoint()
    ours = evalkit.zoo.convert_checkpoint("tiny-r50", ckpt)
    assert set(ours) == set(api.build_model("tiny-r50").state_dict())
    torch.testing.assert_close(ours["res5.0.conv2.weight"], ckpt["model"]["detr.backbone.res5.0.conv2.weight"])

    bad = official_checkpoint()
    bad["model"]["detr.mask_head.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError, match=r"neither mapped nor declared dropped: detr\.mask_head\.weight"):
        api.convert_checkpoint("tiny-r50", bad)
    bad = official_checkpoint()
    bad["model"]["detr.backbone.res4.0.conv1.weight"] = torch.zeros(3, 3, 1, 1)
    with pytest.raises(WeightsError, match=r"res4\.0\.conv1\.weight: checkpoint \(3, 3, 1, 1\)"):
        api.convert_checkpoint("tiny-r50", bad)
    # overrides reach the expected model: a 3-channel checkpoint does not fit a 4-channel stem
    with pytest.raises(WeightsError, match=r"stem\.conv1\.weight"):
        api.convert_checkpoint("tiny-r50", official_checkpoint(), in_channels=4)


def test_converter_returning_dict_is_still_checked(card):
    card.converter = lambda sd, expected: {k[len("detr.backbone."):]: v for k, v in sd.items()
                                           if k.startswith("detr.backbone.") and "res5" not in k}
    with pytest.raises(WeightsError, match=r"not provided by the checkpoint: res5\."):
        api.convert_checkpoint("tiny-r50", official_checkpoint())


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    calls = []

    def fetch_weights(card_or_id, weights=None):
        calls.append(weights)
        return weights or str(tmp_path / "official.pth")

    def load_state_dict_safely(path):
        return torch.load(path, map_location="cpu", weights_only=True)

    mod = types.ModuleType("evalkit.hub")
    mod.fetch_weights, mod.load_state_dict_safely = fetch_weights, load_state_dict_safely
    monkeypatch.setitem(sys.modules, "evalkit.hub", mod)
    return tmp_path, calls


def test_load_model_fetches_converts_and_loads(card, fake_hub):
    tmp, calls = fake_hub
    ckpt = official_checkpoint(seed=3)
    torch.save(ckpt, tmp / "official.pth")
    m = evalkit.zoo.load_model("tiny-r50")
    assert not m.training and calls == [None]
    torch.testing.assert_close(m.res4[0].conv1.weight, ckpt["model"]["detr.backbone.res4.0.conv1.weight"])
    torch.testing.assert_close(m.stem.conv1.norm.running_var, ckpt["model"]["detr.backbone.stem.conv1.norm.running_var"])

    # weights already in our layout (published converted weights) load without the converter
    torch.save(m.state_dict(), tmp / "ours.pth")
    card.converter = lambda *a: pytest.fail("converter must not run on our own layout")
    m2 = api.load_model("tiny-r50", weights=str(tmp / "ours.pth"))
    torch.testing.assert_close(m2.res5[1].conv3.weight, m.res5[1].conv3.weight)

    # a broken file is a WeightsError naming the problem
    card.converter = official_convert
    bad = dict(ckpt["model"])
    del bad["detr.backbone.res5.2.conv3.weight"]
    torch.save(bad, tmp / "bad.pth")
    with pytest.raises(WeightsError, match=r"res5\.2\.conv3\.weight"):
        api.load_model("tiny-r50", weights=str(tmp / "bad.pth"))


def test_import_zoo_does_not_import_torch():
    code = ("import sys, evalkit.zoo; assert 'torch' not in sys.modules, 'torch imported'; "
            "import evalkit.zoo.text; assert 'torch' not in sys.modules; "
            "f = evalkit.zoo.build_model; assert 'torch' in sys.modules; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    with pytest.raises(AttributeError):
        evalkit.zoo.no_such_function
