"""Multi-scale deformable attention: input checks, autograd Function and backend dispatch.

``ms_deform_attn(value, spatial_shapes, level_start_index, sampling_locations,
attention_weights, backend="auto")`` is the functional entry point used by the models.

Backends:

* ``"triton"`` - the kernels of :mod:`evalkit.zoo.ops.msda_triton` (forward and backward) on
  CUDA tensors, or on CPU tensors when Triton runs its interpreter (``TRITON_INTERPRET=1``).
* ``"reference"`` - :func:`~evalkit.zoo.ops.msda_reference.ms_deform_attn_reference`
  (``grid_sample``; autograd through PyTorch).
* ``"auto"`` - Triton for CUDA tensors when Triton imports, the reference otherwise. The
  environment variable ``EVALKIT_MSDA_BACKEND`` (``auto|triton|reference``) replaces
  ``"auto"``; an explicit ``backend=`` argument always wins over it.

Precision: fp16/bf16 inputs are read as they are and accumulated in fp32 by the kernels; the
output has ``value``'s dtype, every gradient its input's dtype. fp64 runs in fp64.
"""
from __future__ import annotations

import os

import torch

from .errors import KernelUnavailableError, OpInputError
from .msda_reference import ms_deform_attn_reference

BACKENDS = ("auto", "triton", "reference")
ENV_VAR = "EVALKIT_MSDA_BACKEND"
_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _triton_module():
    """Import the kernels lazily: Triton is optional on platforms without it."""
    try:
        from . import msda_triton
    except ImportError as exc:  # pragma: no cover - depends on the platform
        raise KernelUnavailableError(
            f"MSDA backend 'triton' needs the triton package ({exc}); use backend='reference'"
        ) from exc
    return msda_triton


def _triton_importable() -> bool:
    try:
        _triton_module()
    except KernelUnavailableError:
        return False
    return True


def resolve_backend(backend: str, device: torch.device) -> str:
    """The concrete backend (``"triton"`` or ``"reference"``) for tensors on ``device``."""
    if backend not in BACKENDS:
        raise OpInputError(f"ms_deform_attn: backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        env = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
        if env not in BACKENDS:
            raise OpInputError(f"{ENV_VAR} must be one of {BACKENDS}, got {env!r}")
        backend = env
    if backend == "auto":
        return "triton" if device.type == "cuda" and _triton_importable() else "reference"
    if backend == "triton":
        kernels = _triton_module()
        if device.type != "cuda" and not (device.type == "cpu" and kernels.INTERPRETED):
            raise KernelUnavailableError(
                f"MSDA backend 'triton' runs on CUDA tensors (or on CPU with TRITON_INTERPRET=1 "
                f"set before triton is imported); got tensors on {device}"
            )
    return backend


def check_inputs(value, spatial_shapes, level_start_index, sampling_locations, attention_weights):
    """Validate shapes/dtypes/devices without synchronising with the device.

    Raises:
        OpInputError: naming the offending argument and the expected shape.
    """
    if value.dim() != 4:
        raise OpInputError(f"ms_deform_attn: value must be N x S x M x D, got {tuple(value.shape)}")
    n, _, m, _ = value.shape
    if spatial_shapes.dim() != 2 or spatial_shapes.shape[1] != 2:
        raise OpInputError(
            "ms_deform_attn: spatial_shapes must be L x 2 (H, W), got "
            f"{tuple(spatial_shapes.shape)}"
        )
    n_levels = spatial_shapes.shape[0]
    if level_start_index.shape != (n_levels,):
        raise OpInputError(
            f"ms_deform_attn: level_start_index must have shape ({n_levels},), got "
            f"{tuple(level_start_index.shape)}"
        )
    for name, t in (("spatial_shapes", spatial_shapes), ("level_start_index", level_start_index)):
        if t.dtype.is_floating_point or t.dtype == torch.bool:
            raise OpInputError(f"ms_deform_attn: {name} must be an integer tensor, got {t.dtype}")
    loc = sampling_locations
    if loc.dim() != 6 or loc.shape[0] != n or loc.shape[2] != m or loc.shape[3] != n_levels \
            or loc.shape[5] != 2:
        raise OpInputError(
            f"ms_deform_attn: sampling_locations must be N x Lq x M x L x P x 2 = "
            f"{n} x Lq x {m} x {n_levels} x P x 2, got {tuple(loc.shape)}"
        )
    if tuple(attention_weights.shape) != tuple(loc.shape[:5]):
        raise OpInputError(
            "ms_deform_attn: attention_weights must be N x Lq x M x L x P = "
            f"{tuple(loc.shape[:5])}, "
            f"got {tuple(attention_weights.shape)}"
        )
    for name, t in (("value", value), ("sampling_locations", loc),
                    ("attention_weights", attention_weights)):
        if t.dtype not in _FLOATS:
            raise OpInputError(f"ms_deform_attn: {name} must be floating point, got {t.dtype}")
    devices = {t.device for t in (value, spatial_shapes, level_start_index, loc, attention_weights)}
    if len(devices) != 1:
        raise OpInputError(f"ms_deform_attn: all inputs must be on one device, got {devices}")


# The kernel launches are registered as PyTorch custom ops so that torch.compile and CUDA-graph
# capture treat them as opaque calls with known output shapes (fake implementations below)
# instead of tracing into Triton launch code. They look the kernels up at call time, so the
# Triton module is only imported when they run.
@torch.library.custom_op("evalkit::msda_forward", mutates_args=())
def _forward_op(value: torch.Tensor, spatial_shapes: torch.Tensor,
                level_start_index: torch.Tensor, sampling_locations: torch.Tensor,
                attention_weights: torch.Tensor) -> torch.Tensor:
    return _triton_module().msda_forward(
        value, spatial_shapes, level_start_index, sampling_locations, attention_weights
    )


@_forward_op.register_fake
def _(value, spatial_shapes, level_start_index, sampling_locations, attention_weights):
    n, _, m, d = value.shape
    return value.new_empty((n, sampling_locations.shape[1], m * d))


@torch.library.custom_op("evalkit::msda_backward", mutates_args=())
def _backward_op(value: torch.Tensor, spatial_shapes: torch.Tensor,
                 level_start_index: torch.Tensor, sampling_locations: torch.Tensor,
                 attention_weights: torch.Tensor, grad_output: torch.Tensor,
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _triton_module().msda_backward(
        value, spatial_shapes, level_start_index, sampling_locations, attention_weights,
        grad_output,
    )


@_backward_op.register_fake
def _(value, spatial_shapes, level_start_index, sampling_locations, attention_weights,
      grad_output):
    return (torch.empty_like(value), torch.empty_like(sampling_locations),
            torch.empty_like(attention_weights))


class MSDeformAttnFunction(torch.autograd.Function):
    """Autograd wrapper of the Triton forward/backward kernels.

    ``apply(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)``
    with the shapes of :func:`ms_deform_attn`; gradients flow to ``value``,
    ``sampling_locations`` and ``attention_weights``.
    """

    @staticmethod
    def forward(ctx, value, spatial_shapes, level_start_index, sampling_locations,
                attention_weights):
        args = (
            value.contiguous(),
            spatial_shapes.to(torch.int64).contiguous(),
            level_start_index.to(torch.int64).contiguous(),
            sampling_locations.contiguous(),
            attention_weights.contiguous(),
        )
        ctx.save_for_backward(*args)
        return _forward_op(*args)

    @staticmethod
    def backward(ctx, grad_output):
        grad_value, grad_loc, grad_attn = _backward_op(*ctx.saved_tensors,
                                                       grad_output.contiguous())
        needs = ctx.needs_input_grad
        return (
            grad_value if needs[0] else None,
            None,
            None,
            grad_loc if needs[3] else None,
            grad_attn if needs[4] else None,
        )


def ms_deform_attn(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    level_start_index: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
    backend: str = "auto",
) -> torch.Tensor:
    """Multi-scale deformable attention (Deformable DETR, Zhu et al. 2021, eq. 3).

    Args:
        value: ``N x S x M x D`` per-head values of all levels, levels concatenated along
            ``S = sum_l H_l W_l``, each level flattened row-major (y then x).
        spatial_shapes: ``L x 2`` integer ``(H_l, W_l)``.
        level_start_index: ``L`` integer start of each level in ``S``
            (``[0, H_0 W_0, H_0 W_0 + H_1 W_1, ...]``).
        sampling_locations: ``N x Lq x M x L x P x 2`` normalised ``(x, y)``: ``(0, 0)`` is the
            top-left corner of the map and ``(1, 1)`` the bottom-right corner
            (``align_corners=False``); points outside ``[0, 1]`` read zeros.
        attention_weights: ``N x Lq x M x L x P``.
        backend: ``"auto"``, ``"triton"`` or ``"reference"`` (see the module docstring).

    Returns:
        ``N x Lq x (M*D)`` in ``value``'s dtype.
    """
    check_inputs(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
    chosen = resolve_backend(backend, value.device)
    if chosen == "reference":
        return ms_deform_attn_reference(
            value, spatial_shapes, level_start_index, sampling_locations, attention_weights
        )
    return MSDeformAttnFunction.apply(
        value, spatial_shapes, level_start_index, sampling_locations, attention_weights
    )
