"""Rule-based checkpoint conversion: mapping, drops, strict checks and their error messages."""
import pytest
import torch
from torch import nn

from evalkit.errors import WeightsError
from evalkit.zoo.convert_utils import KeyMap, load_strict, squeeze_leading, unwrap_checkpoint


def widen_input_channels(channels: int):
    """A rule transform for the tests: zero-pad axis 1 up to ``channels`` (3c -> 4c stem)."""

    def fn(t: torch.Tensor) -> torch.Tensor:
        if t.shape[1] > channels:
            raise WeightsError(f"cannot widen axis 1 from {t.shape[1]} to {channels} channels")
        return torch.cat([t, t.new_zeros(t.shape[0], channels - t.shape[1], *t.shape[2:])], dim=1)

    return fn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(4, 2, 1)
        self.head = nn.Linear(2, 3)


def official():
    torch.manual_seed(0)
    return {
        "detr.backbone.weight": torch.randn(2, 3, 1, 1),
        "detr.backbone.bias": torch.randn(2),
        "detr.class_embed.weight": torch.randn(3, 2),
        "detr.class_embed.bias": torch.randn(3),
        "criterion.empty_weight": torch.ones(2),
    }


def keymap():
    return (KeyMap()
            .drop(r"criterion\..*", "training-only loss weights")
            .prefix("detr.backbone.weight", "backbone.weight", widen_input_channels(4))
            .prefix("detr.backbone.", "backbone.")
            .prefix("detr.class_embed.", "head."))


def test_convert_maps_drops_and_transforms():
    sd = official()
    ours, rep = keymap().convert(sd, expected=Tiny())
    assert set(ours) == set(Tiny().state_dict())
    assert ours["backbone.weight"].shape == (2, 4, 1, 1)
    torch.testing.assert_close(ours["backbone.weight"][:, :3], sd["detr.backbone.weight"])
    assert (ours["backbone.weight"][:, 3] == 0).all()
    assert rep.dropped == {"criterion.empty_weight": "training-only loss weights"}
    assert rep.mapped["detr.class_embed.bias"] == "head.bias"
    assert rep.ok
    m = Tiny()
    load_strict(m, ours)
    torch.testing.assert_close(m.head.weight, sd["detr.class_embed.weight"])


def test_unmapped_keys_are_listed():
    sd = official()
    sd["detr.extra_head.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError, match=r"neither mapped nor declared dropped: detr\.extra_head\.weight"):
        keymap().convert(sd, expected=Tiny(), what="test checkpoint")


def test_missing_unexpected_and_shape_errors():
    sd = official()
    del sd["detr.class_embed.bias"]
    with pytest.raises(WeightsError, match=r"not provided by the checkpoint: head\.bias"):
        keymap().convert(sd, expected=Tiny())
    sd = official()
    sd["detr.class_embed.weight"] = torch.zeros(5, 2)
    with pytest.raises(WeightsError, match=r"detr\.class_embed\.weight -> head\.weight: checkpoint \(5, 2\) vs model \(3, 2\)"):
        keymap().convert(sd, expected=Tiny())
    km = keymap().prefix("extra.", "extra.")
    sd = official()
    sd["extra.w"] = torch.zeros(1)
    with pytest.raises(WeightsError, match=r"the model does not have: extra\.w"):
        km.convert(sd, expected=Tiny())
    # non-strict: the report carries the problems instead
    _, rep = km.convert(sd, expected=Tiny(), strict=False)
    assert rep.unexpected == ["extra.w"] and not rep.ok


def test_aliases_must_agree():
    km = KeyMap().rename(r"(decoder\.)?bbox_embed\.(?P<i>\d+)\.w", r"bbox_embed.\g<i>.w")
    w = torch.randn(3)
    ours, rep = km.convert({"decoder.bbox_embed.0.w": w, "bbox_embed.0.w": w.clone()})
    assert list(ours) == ["bbox_embed.0.w"] and rep.aliases == {"bbox_embed.0.w": ["bbox_embed.0.w"]}
    with pytest.raises(WeightsError, match="aliased official keys with different values"):
        km.convert({"decoder.bbox_embed.0.w": w, "bbox_embed.0.w": w + 1})
    with pytest.raises(WeightsError, match="aliased official keys with different values"):
        km.convert({"decoder.bbox_embed.0.w": w, "bbox_embed.0.w": torch.zeros(4)})
    m = torch.empty(3, device="meta")  # shape-only checks: same shape counts as an alias
    _, rep = km.convert({"decoder.bbox_embed.0.w": m, "bbox_embed.0.w": m})
    assert rep.ok and rep.aliases


def test_nested_and_first_rule_wins():
    inner = KeyMap().drop(r".*\.num_batches_tracked", "counter").rename(r"(?P<k>res\d\..*)", r"\g<k>")
    km = (KeyMap().nested("detr.backbone.0.body.", "backbone.", inner)
          .drop(r"detr\.backbone\..*", "unused backbone extras"))
    rule, new = km.map_key("detr.backbone.0.body.res2.0.conv1.weight")
    assert new == "backbone.res2.0.conv1.weight"
    rule, new = km.map_key("detr.backbone.0.body.res2.0.bn.num_batches_tracked")
    assert new is None and rule.reason == "counter"
    rule, new = km.map_key("detr.backbone.0.body.fc.weight")  # inner has no rule: falls through
    assert new is None and rule.reason == "unused backbone extras"
    assert km.map_key("something.else") == (None, None)
    with pytest.raises(ValueError, match="reason"):
        KeyMap().drop("x", "")


def test_unwrap_checkpoint_and_prefixes():
    t = torch.zeros(1)
    assert unwrap_checkpoint({"model": {"a": t}, "iteration": 5}) == {"a": t}
    assert unwrap_checkpoint({"state_dict": {"module.a": t, "module.b": t}}) == {"a": t, "b": t}
    assert unwrap_checkpoint({"a": t}) == {"a": t}
    with pytest.raises(WeightsError, match="not tensors: iteration"):
        unwrap_checkpoint({"a": t, "iteration": 5})
    with pytest.raises(WeightsError, match="expected a dict"):
        unwrap_checkpoint([t])


def test_transforms():
    assert squeeze_leading(torch.ones(1, 5)).shape == (5,)
    assert squeeze_leading(torch.ones(5)).shape == (5,)
    w = torch.ones(8, 3, 7, 7)
    assert widen_input_channels(4)(w).shape == (8, 4, 7, 7)
    assert widen_input_channels(4)(torch.ones(8, 4, 7, 7)).shape == (8, 4, 7, 7)
    with pytest.raises(WeightsError):
        widen_input_channels(2)(w)


def test_load_strict_lists_problems():
    m = Tiny()
    sd = m.state_dict()
    sd["head.weight"] = torch.zeros(1, 1)
    with pytest.raises(WeightsError, match=r"head\.weight -> head\.weight: checkpoint \(1, 1\) vs model \(3, 2\)"):
        load_strict(m, sd)


def test_meta_expected_and_meta_tensors():
    with torch.device("meta"):
        m = Tiny()
    sd = {k: torch.empty(v.shape, device="meta") for k, v in official().items()}
    ours, rep = keymap().convert(sd, expected=m)
    assert rep.ok and ours["backbone.weight"].shape == (2, 4, 1, 1)
