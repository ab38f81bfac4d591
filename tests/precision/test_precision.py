"""``--dtype``: the autocast scope, the float32 islands and their official semantics, errors.

The island rule encoded here is PyTorch's ``custom_fwd(cast_inputs=torch.float32)`` as the
official UNINEXT / UniRef++ deformable transformers use it
(``uninext/models/deformable_detr/deformable_transformer.py``, ``ops/modules/ms_deform_attn.py``):
under autocast, floating-point tensor inputs are cast to float32 (integer and bool tensors, and
float64, are left alone) and the body runs with autocast disabled; outside autocast it is a
plain call that casts nothing (``torch/amp/autocast_mode.py: custom_fwd``, "a no-op").
"""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.nn.modules import module as nn_module

from evalkit.errors import EvalkitError
from evalkit.precision import check_dtype, describe, islands, mixed_precision
from evalkit.zoo.layers.precision import autocast_device, fp32_island, to_float32


class _Island(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.seen = {}

    @fp32_island("test: custom_fwd(cast_inputs=float32)")
    def forward(self, x, idx, pad, extra=None):
        self.seen = {"x": x.dtype, "idx": idx.dtype, "pad": pad.dtype, "autocast": autocast_device(),
                     "extra": None if extra is None else extra["t"].dtype}
        return self.lin(x)


def _record(module: nn.Module) -> dict:
    """The dtype of an inner ``module``'s output (an outermost module's own hooks run after the
    global hook that casts to float32)."""
    seen: dict = {}

    def hook(m, args, out):
        seen["dtype"] = out.dtype

    module.register_forward_hook(hook)
    return seen


def _inputs(dtype):
    return (torch.randn(2, 4).to(dtype), torch.arange(3), torch.zeros(2, dtype=torch.bool))


def test_island_under_autocast_casts_floats_and_disables_autocast():
    m = _Island()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(*_inputs(torch.bfloat16), extra={"t": torch.ones(1, dtype=torch.bfloat16)})
        outside = nn.Linear(4, 4)(torch.randn(2, 4))
    assert m.seen == {"x": torch.float32, "idx": torch.int64, "pad": torch.bool, "autocast": None,
                      "extra": torch.float32}
    assert y.dtype == torch.float32  # computed in float32 inside the island
    assert outside.dtype == torch.bfloat16  # autocast is back on after the island


def test_island_outside_autocast_is_a_plain_call():
    m = _Island().to(torch.bfloat16)
    y = m(*_inputs(torch.bfloat16))
    assert m.seen["x"] == torch.bfloat16 and y.dtype == torch.bfloat16  # nothing cast (custom_fwd no-op)


def test_island_keeps_float64():
    m = _Island().double()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m(*_inputs(torch.float64))
    assert m.seen["x"] == torch.float64


def test_to_float32_rebuilds_containers_without_changing_them():
    @dataclasses.dataclass
    class D:
        a: torch.Tensor
        n: int = 3

    class Plain:
        def __init__(self, t):
            self.t, self.k = t, "x"

    bf = torch.ones(2, dtype=torch.bfloat16)
    src = {"d": D(bf), "p": Plain(bf), "l": [bf, torch.arange(2)], "t": (bf,), "m": nn.Linear(1, 1)}
    out = to_float32(src)
    assert out["d"].a.dtype == out["p"].t.dtype == out["l"][0].dtype == out["t"][0].dtype == torch.float32
    assert out["l"][1].dtype == torch.int64 and out["d"].n == 3 and out["p"].k == "x"
    assert out["m"] is src["m"]
    # the inputs are untouched (a module may keep what it returned)
    assert src["d"].a.dtype == src["p"].t.dtype == src["l"][0].dtype == torch.bfloat16


def test_mixed_precision_scopes_the_network_and_returns_float32():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    inner = _record(net[0])
    x = torch.randn(3, 4)
    with mixed_precision("bfloat16", "cpu"):
        y = net(x)
        after = x @ x.T  # outside any module: post-processing stays float32
        assert not torch.is_autocast_enabled("cpu")
    assert inner["dtype"] == torch.bfloat16  # the network ran under autocast
    assert y.dtype == torch.float32 and after.dtype == torch.float32
    assert (y - net(x)).abs().max() < 0.05  # bf16 keeps ~3 significant digits
    assert not nn_module._global_forward_hooks and not nn_module._global_forward_pre_hooks


def test_float32_installs_nothing_and_is_bit_identical():
    net = nn.Linear(4, 2)
    x = torch.randn(3, 4)
    with mixed_precision("float32", "cpu"):
        assert not nn_module._global_forward_pre_hooks
        y = net(x)
    assert torch.equal(y, net(x))


def test_a_failing_module_leaves_autocast():
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    with mixed_precision("bfloat16", "cpu"):
        with pytest.raises(RuntimeError, match="boom"):
            nn.Sequential(nn.Linear(2, 2), Boom())(torch.randn(1, 2))
        assert not torch.is_autocast_enabled("cpu")
        assert nn.Linear(2, 2)(torch.randn(1, 2)).dtype == torch.float32  # depth rebalanced


def test_float16_runs_on_cpu():
    net = nn.Sequential(nn.Linear(4, 2))
    seen = _record(net[0])
    with mixed_precision("float16", "cpu"):
        y = net(torch.randn(3, 4))
    assert seen["dtype"] == torch.float16 and y.dtype == torch.float32


@pytest.mark.parametrize("dtype,device,match", [
    ("fp8", "cpu", "--dtype must be one of float32, bfloat16, float16, got 'fp8'"),
    ("half", "cpu", "--dtype must be one of"),
    ("bfloat16", "mps", "autocast runs on cpu or cuda devices, got device 'mps'"),
])
def test_bad_dtype_is_a_clear_error(dtype, device, match):
    with pytest.raises(EvalkitError, match=match):
        check_dtype(dtype, device)


def test_runner_rejects_a_bad_dtype_before_loading_anything(tmp_path):
    from evalkit.runner import RunConfig, run_evaluation

    with pytest.raises(EvalkitError, match="--dtype must be one of"):
        run_evaluation(RunConfig(model="uninext-tiny", benchmark="shapes-coco-det", runs_root=str(tmp_path),
                                 dtype="bf16"))
    assert not any(tmp_path.iterdir())


def test_cli_offers_the_three_dtypes():
    from evalkit.cli import build_parser

    p = build_parser()
    assert p.parse_args(["run", "-m", "x", "-b", "y", "--dtype", "bfloat16"]).dtype == "bfloat16"
    assert p.parse_args(["run", "-m", "x", "-b", "y"]).dtype == "float32"
    with pytest.raises(SystemExit):
        p.parse_args(["run", "-m", "x", "-b", "y", "--dtype", "bf16"])


def test_islands_name_the_official_places():
    isl = islands()
    want = {
        "evalkit.zoo.ops.ms_deform_attn.MSDeformAttn.forward": "ms_deform_attn.py",
        "evalkit.zoo.layers.deformable_encoder.DeformableEncoderLayer.forward": "deformable_transformer_dino.py",
        "evalkit.zoo.uninext.transformer.DeformableTransformer.forward": "deformable_transformer.py",
        "evalkit.zoo.uniref.transformer.PlainDeformableTransformer.forward": "UniRef",
        "evalkit.zoo.glee.pixel_decoder.MaskDINOEncoder.forward": "maskdino_encoder.py",
        "evalkit.zoo.glee.decoder.DecoderLayer.forward": "dino_decoder.py",
        "evalkit.zoo.univs.pixel_decoder.MSDeformAttnPixelDecoder.forward": "msdeformattn_vl.py",
    }
    for name, where in want.items():
        assert where in isl[name], (name, isl.get(name))
    rec = describe("bfloat16", "cuda:0")
    assert rec["autocast"] == "cuda" and rec["fp32_islands"] == isl
    assert describe("float32", "cpu") == {"dtype": "float32", "autocast": None}


def test_univs_pixel_decoder_is_an_island():
    """UniVS ``msdeformattn_vl.py``: ``forward_features`` is ``@autocast(enabled=False)``, so its
    input projections (convolutions) run in float32 while the backbone runs in the autocast dtype.
    Before the island, only the features were cast (``.float()``) and autocast still ran the
    projections in bfloat16."""
    from evalkit.zoo.univs.model import build_univs

    tiny = dict(backbone_args={"width_per_group": 8, "stem_out_channels": 8}, conv_dim=32, mask_dim=32,
                hidden_dim=32, enc_layers=1, enc_ffn=64, dec_layers=1, dec_ffn=64, num_queries=4,
                num_dense_points=4, gn_groups=8, text_dim=640)
    torch.manual_seed(0)
    model = build_univs("r50", **tiny).eval()
    proj = _record(model.pixel_decoder.input_proj[0])
    stem = _record(next(m for m in model.backbone.modules() if isinstance(m, nn.Conv2d)))
    with torch.no_grad(), mixed_precision("bfloat16", "cpu"):
        model.encode(torch.randn(1, 3, 64, 64))
    assert stem["dtype"] == torch.bfloat16
    assert proj["dtype"] == torch.float32
