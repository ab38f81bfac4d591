"""MSDA: Triton kernels (CPU interpreter) against the grid_sample reference, module, dispatch."""
import importlib
import os

# The Triton interpreter is chosen when the kernels are decorated, i.e. at import time, and
# consulted again when they run: it is set for the imports below and for this module's tests
# (fixture), and restored in between so it does not leak into other test modules.
_SAVED_INTERPRET = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("triton")
from evalkit.zoo.ops import msda_triton  # noqa: E402
from evalkit.zoo.ops import MSDeformAttn, ms_deform_attn  # noqa: E402
from evalkit.zoo.ops.errors import KernelUnavailableError, OpInputError  # noqa: E402
from evalkit.zoo.ops.msda import resolve_backend  # noqa: E402
from evalkit.zoo.ops.msda_reference import ms_deform_attn_reference  # noqa: E402

if not msda_triton.INTERPRETED:  # imported earlier in this process without the interpreter
    importlib.reload(msda_triton)


def _restore_env():
    if _SAVED_INTERPRET is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = _SAVED_INTERPRET


_restore_env()


@pytest.fixture(scope="module", autouse=True)
def _interpreter_env():
    os.environ["TRITON_INTERPRET"] = "1"
    yield
    _restore_env()


# Relative-to-max tolerances against a float64 reference (kernels-community ladder).
TOL = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 5e-2}


def _levels(shapes):
    spatial = torch.tensor(shapes, dtype=torch.int64)
    areas = spatial[:, 0] * spatial[:, 1]
    starts = torch.cat([areas.new_zeros(1), areas.cumsum(0)[:-1]])
    return spatial, starts, int(areas.sum())


def _inputs(gen, n, lq, m, d, shapes, p, margin=0.1, spread=1.0):
    """Random inputs; locations kept ``margin`` px away from integer pixel coordinates (where
    the location gradient jumps) and spread up to ``spread`` px beyond every border."""
    spatial, starts, s = _levels(shapes)
    n_levels = len(shapes)
    value = torch.randn(n, s, m, d, generator=gen, dtype=torch.float64)
    wh = spatial.flip(-1).to(torch.float64)[:, None, :]  # (W, H) per level, L x 1 x 2
    lo, hi = -spread - 0.5, wh + spread - 0.5  # pixel coordinates x = loc * W - 0.5
    u = torch.rand(n, lq, m, n_levels, p, 2, generator=gen, dtype=torch.float64)
    pix = lo + u * (hi - lo)
    frac = margin + torch.rand(pix.shape, generator=gen, dtype=torch.float64) * (1 - 2 * margin)
    pix = pix.floor() + frac
    loc = (pix + 0.5) / wh
    attn = torch.rand(n, lq, m, n_levels, p, generator=gen, dtype=torch.float64)
    attn = attn / attn.sum((-1, -2), keepdim=True)
    return value, spatial, starts, loc, attn


def _rel_err(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12)).item()


CASES = [  # (n, lq, m, d, level shapes, points)
    (1, 7, 2, 4, [(6, 4), (3, 5)], 2),
    (2, 5, 2, 3, [(5, 7), (2, 3), (1, 1)], 2),
    (1, 9, 1, 70, [(4, 9)], 1),  # head dim above the channel block: inner channel loop
    (2, 4, 2, 1, [(3, 2), (7, 3)], 4),
]


# Every shape in float32; bf16 on the two multi-level shapes, fp16 and fp64 on one each.
PARAMS = [(c, torch.float32) for c in CASES] + [
    (CASES[0], torch.bfloat16), (CASES[1], torch.bfloat16),
    (CASES[0], torch.float16), (CASES[1], torch.float64),
]


@pytest.mark.parametrize("case,dtype", PARAMS)
def test_triton_matches_reference_forward_and_gradients(case, dtype):
    n, lq, m, d, shapes, p = case
    gen = torch.Generator().manual_seed(10 * CASES.index(case) + list(TOL).index(dtype))
    value, spatial, starts, loc, attn = _inputs(gen, n, lq, m, d, shapes, p)
    # Inputs in the tested dtype; the float64 reference sees exactly the same (rounded) values.
    value, loc, attn = (t.to(dtype) for t in (value, loc, attn))
    ins = [t.detach().clone().requires_grad_() for t in (value, loc, attn)]
    ref_ins = [t.detach().double().requires_grad_() for t in (value, loc, attn)]
    out = ms_deform_attn(ins[0], spatial, starts, ins[1], ins[2], backend="triton")
    ref = ms_deform_attn_reference(ref_ins[0], spatial, starts, ref_ins[1], ref_ins[2])
    assert out.dtype == dtype and out.shape == (n, lq, m * d)
    assert _rel_err(out, ref) <= TOL[dtype]
    grad_out = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    grads = torch.autograd.grad(out, ins, grad_out.to(dtype))
    ref_grads = torch.autograd.grad(ref, ref_ins, grad_out)
    for name, g, rg, x in zip(("value", "locations", "weights"), grads, ref_grads, ins):
        assert g.dtype == x.dtype and g.shape == x.shape, name
        assert _rel_err(g, rg) <= TOL[dtype], name


def test_points_on_borders_and_pixel_centres():
    """Locations exactly on the map borders (0 and 1), on pixel centres and edges, and one pixel
    beyond; power-of-two sizes keep every coordinate exact in both implementations, so even
    the one-sided location gradients (both take the corner at ``floor``) must agree."""
    shapes = [(4, 8), (2, 4)]
    spatial, starts, s = _levels(shapes)
    gen = torch.Generator().manual_seed(1)
    value = torch.randn(1, s, 2, 3, generator=gen, dtype=torch.float64)
    grid = torch.tensor([0.0, 1.0, 0.5, 0.0625, 0.125, 0.875, 1.125, -0.125], dtype=torch.float64)
    xs, ys = torch.meshgrid(grid, grid, indexing="xy")
    pts = torch.stack([xs.flatten(), ys.flatten()], -1)  # 64 (x, y) combinations
    loc = pts.view(1, 64, 1, 1, 1, 2).expand(1, 64, 2, 2, 1, 2).contiguous()
    attn = torch.rand(1, 64, 2, 2, 1, generator=gen, dtype=torch.float64)
    ins = [t.clone().requires_grad_() for t in (value, loc, attn)]
    ref_ins = [t.clone().requires_grad_() for t in (value, loc, attn)]
    out = ms_deform_attn(ins[0], spatial, starts, ins[1], ins[2], backend="triton")
    ref = ms_deform_attn_reference(ref_ins[0], spatial, starts, ref_ins[1], ref_ins[2])
    assert _rel_err(out, ref) <= 1e-10
    grad_out = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    for g, rg in zip(torch.autograd.grad(out, ins, grad_out),
                     torch.autograd.grad(ref, ref_ins, grad_out)):
        assert _rel_err(g, rg) <= 1e-10


def test_reference_gradcheck_float64():
    gen = torch.Generator().manual_seed(0)
    value, spatial, starts, loc, attn = _inputs(gen, 1, 2, 2, 2, [(6, 4), (3, 2)], 2)
    value = (value * 0.01).requires_grad_()
    loc.requires_grad_()
    attn.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda v, sl, aw: ms_deform_attn_reference(v, spatial, starts, sl, aw),
        (value, loc, attn), eps=1e-6, atol=1e-4,
    )


def test_points_outside_read_zero_and_get_zero_gradient():
    spatial, starts, s = _levels([(4, 5), (2, 3)])
    value = torch.randn(1, s, 2, 4, requires_grad=True)
    loc = torch.tensor([-0.3, 1.3, 5.0, -1e6], dtype=torch.float32)
    loc = loc.view(1, 4, 1, 1, 1, 1).expand(1, 4, 2, 2, 3, 2).contiguous().requires_grad_()
    attn = torch.rand(1, 4, 2, 2, 3, requires_grad=True)
    out = ms_deform_attn(value, spatial, starts, loc, attn, backend="triton")
    assert torch.equal(out, torch.zeros_like(out))
    g = torch.autograd.grad(out.sum(), (value, loc, attn))
    assert all(torch.equal(x, torch.zeros_like(x)) for x in g)


def test_module_triton_equals_reference_with_padding_mask_and_box_references():
    torch.manual_seed(0)
    shapes = [(5, 6), (3, 3)]
    spatial, starts, s = _levels(shapes)
    attn = MSDeformAttn(d_model=16, n_levels=2, n_heads=2, n_points=2, backend="triton")
    with torch.no_grad():  # non-trivial offsets and weights (the official init zeroes weights)
        attn.sampling_offsets.weight.normal_(0, 0.5)
        attn.attention_weights.weight.normal_(0, 0.5)
    query = torch.randn(2, 6, 16)
    feats = torch.randn(2, s, 16)
    mask = torch.zeros(2, s, dtype=torch.bool)
    mask[1, 4:6] = True  # right columns of level 0, row 0 of image 1
    mask[1, 30 + 6:] = True  # last row of level 1
    for ref_pts in (torch.rand(2, 6, 2, 2), torch.rand(2, 6, 2, 4) * 0.5 + 0.25):
        out = attn(query, ref_pts, feats, spatial, starts, mask)
        attn.backend = "reference"
        ref = attn(query, ref_pts, feats, spatial, starts, mask)
        attn.backend = "triton"
        assert out.shape == (2, 6, 16)
        assert _rel_err(out, ref) <= 1e-5
        # Masked positions do not influence the output.
        feats2 = feats.clone()
        feats2[mask] = 100.0
        out2 = attn(query, ref_pts, feats2, spatial, starts, mask)
        assert _rel_err(out2, out) <= 1e-5


def test_module_parameters_follow_official_layout_and_init():
    attn = MSDeformAttn(d_model=256, n_levels=4, n_heads=8, n_points=4)
    shapes = {k: tuple(v.shape) for k, v in attn.state_dict().items()}
    assert shapes == {
        "sampling_offsets.weight": (256, 256), "sampling_offsets.bias": (256,),
        "attention_weights.weight": (128, 256), "attention_weights.bias": (128,),
        "value_proj.weight": (256, 256), "value_proj.bias": (256,),
        "output_proj.weight": (256, 256), "output_proj.bias": (256,),
    }
    bias = attn.sampling_offsets.bias.view(8, 4, 4, 2)
    # Head 0 looks right (+x), head 2 down (+y); point k sits at distance k + 1 on every level.
    assert torch.allclose(bias[0, :, :, 0], torch.arange(1.0, 5.0).expand(4, 4))
    assert torch.allclose(bias[0, :, :, 1], torch.zeros(4, 4), atol=1e-6)
    assert torch.allclose(bias[2, 0, :, 1], torch.arange(1.0, 5.0))
    assert torch.allclose(bias[1, 2, 1], torch.tensor([2.0, 2.0]))  # 45 degrees, scaled to 1
    assert not attn.attention_weights.weight.any() and not attn.attention_weights.bias.any()


def test_backend_resolution_and_env_override(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv("EVALKIT_MSDA_BACKEND", raising=False)
    assert resolve_backend("auto", cpu) == "reference"
    assert resolve_backend("triton", cpu) == "triton"  # interpreter active in this process
    monkeypatch.setenv("EVALKIT_MSDA_BACKEND", "triton")
    assert resolve_backend("auto", cpu) == "triton"
    assert resolve_backend("reference", cpu) == "reference"  # explicit argument wins
    monkeypatch.setenv("EVALKIT_MSDA_BACKEND", "fast")
    with pytest.raises(OpInputError, match="EVALKIT_MSDA_BACKEND"):
        resolve_backend("auto", cpu)
    with pytest.raises(OpInputError, match="backend must be one of"):
        resolve_backend("cuda", cpu)
    monkeypatch.setattr(msda_triton, "INTERPRETED", False)
    with pytest.raises(KernelUnavailableError, match="CUDA"):
        resolve_backend("triton", cpu)


def test_bad_shapes_are_named():
    spatial, starts, s = _levels([(2, 2)])
    value = torch.randn(1, s, 2, 4)
    loc = torch.rand(1, 3, 2, 1, 2, 2)
    with pytest.raises(OpInputError, match="attention_weights must be"):
        ms_deform_attn(value, spatial, starts, loc, torch.rand(1, 3, 2, 1, 3))
    with pytest.raises(OpInputError, match="sampling_locations must be"):
        ms_deform_attn(value, spatial, starts, loc[:, :, :1], torch.rand(1, 3, 1, 1, 2))
    with pytest.raises(OpInputError, match="spatial_shapes must be an integer"):
        ms_deform_attn(value, spatial.float(), starts, loc, torch.rand(1, 3, 2, 1, 2))


def test_custom_ops_pass_opcheck():
    """Schema, fake (meta) implementations and dispatch of the registered kernel ops."""
    gen = torch.Generator().manual_seed(4)
    value, spatial, starts, loc, attn = _inputs(gen, 1, 3, 2, 2, [(3, 2), (2, 2)], 1)
    args = (value.float(), spatial, starts, loc.float(), attn.float())
    torch.library.opcheck(torch.ops.evalkit.msda_forward.default, args,
                          test_utils=("test_schema", "test_faketensor"))
    grad = torch.randn(1, 3, 4, generator=gen)
    torch.library.opcheck(torch.ops.evalkit.msda_backward.default, (*args, grad),
                          test_utils=("test_schema", "test_faketensor"))
