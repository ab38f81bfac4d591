"""Triton kernels for multi-scale deformable attention (forward and backward).

Same semantics as :func:`evalkit.zoo.ops.msda_reference.ms_deform_attn_reference` (bilinear,
zero padding, ``align_corners=False``): a normalised location ``(x, y)`` maps to the continuous
pixel coordinate ``(x * W - 0.5, y * H - 0.5)`` of its level, whose four neighbouring pixel
centres are blended; corners outside the map contribute zero.

Work split: one program per (block of ``BLOCK_Q`` queries, batch element ``n``, head ``m``).
It loops over levels and points; per sample it gathers four ``BLOCK_Q x BLOCK_D`` corner tiles
(the ``D`` channels of one head are contiguous in ``value``, so each row is one coalesced read)
and accumulates in ``ACC`` (fp32 for fp16/bf16/fp32 inputs, fp64 for fp64). Channels beyond
``BLOCK_D`` are handled by an inner loop, so any head dimension works.

Backward: each program owns its (query, head, level, point) entries, so the gradients of the
locations and the weights are plain stores (reductions over channels happen in registers); the
value gradient is scattered with atomic adds into an ``ACC``-typed buffer, cast afterwards.

Inputs must be contiguous; :mod:`evalkit.zoo.ops.msda` prepares them. Under
``TRITON_INTERPRET=1`` (read by Triton when this module is imported) the kernels run on CPU
tensors through Triton's interpreter, which is how the tests exercise them without a GPU.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton import knobs

#: True when the kernels were built for Triton's CPU interpreter (``TRITON_INTERPRET=1``).
INTERPRETED = bool(knobs.runtime.interpret)


@triton.jit
def _corner(v_base, start, xx, yy, H, W, row_ok, d, d_ok, MD):
    """Gather one bilinear corner: ``BLOCK_Q x BLOCK_D`` values, zero outside the map."""
    ok = row_ok & (xx >= 0) & (xx < W) & (yy >= 0) & (yy < H)
    # int32 offsets inside one batch element (S * M * D < 2**31) keep register use low; the
    # batch offset is already in the 64-bit base pointer.
    s = start + yy * W + xx
    ptr = v_base + (s * MD)[:, None] + d[None, :]
    return tl.load(ptr, mask=ok[:, None] & d_ok[None, :], other=0.0), ok, s


@triton.jit
def _sample_coords(loc_ptr, attn_ptr, lp, q_ok, H, W, ACC: tl.constexpr):
    """Load one (level, point) location + weight per query; return the bilinear stencil."""
    lx = tl.load(loc_ptr + 2 * lp, mask=q_ok, other=0.0).to(ACC)
    ly = tl.load(loc_ptr + 2 * lp + 1, mask=q_ok, other=0.0).to(ACC)
    a = tl.load(attn_ptr + lp, mask=q_ok, other=0.0).to(ACC)
    Wf = W.to(ACC)
    Hf = H.to(ACC)
    # Clamping far-away points keeps the int conversion in range; beyond one pixel outside
    # the map every corner is already padding, so the sample (and its gradient) is unchanged.
    x = tl.minimum(tl.maximum(lx * Wf - 0.5, -2.0), Wf + 1.0)
    y = tl.minimum(tl.maximum(ly * Hf - 0.5, -2.0), Hf + 1.0)
    x0f = tl.floor(x)
    y0f = tl.floor(y)
    fx = x - x0f
    fy = y - y0f
    return a, x0f.to(tl.int32), y0f.to(tl.int32), fx, fy, Wf, Hf


@triton.jit
def _msda_fwd_kernel(
    value_ptr, shapes_ptr, starts_ptr, loc_ptr, attn_ptr, out_ptr,
    S, Lq, M, D, L, P,
    BLOCK_Q: tl.constexpr, BLOCK_D: tl.constexpr, ACC: tl.constexpr,
):
    pid_q = tl.program_id(0)
    pid_nm = tl.program_id(1)
    n = pid_nm // M
    m = pid_nm % M
    q = pid_q * BLOCK_Q + tl.arange(0, BLOCK_Q)
    q_ok = q < Lq
    row = ((n * Lq + q) * M + m).to(tl.int64)  # index of (n, q, m) in loc/attn/out
    MD = M * D
    for d0 in range(0, D, BLOCK_D):
        d = d0 + tl.arange(0, BLOCK_D)
        d_ok = d < D
        v_base = value_ptr + (n.to(tl.int64) * S * M + m) * D
        acc = tl.zeros((BLOCK_Q, BLOCK_D), dtype=ACC)
        for lvl in range(L):
            H = tl.load(shapes_ptr + 2 * lvl).to(tl.int32)
            W = tl.load(shapes_ptr + 2 * lvl + 1).to(tl.int32)
            start = tl.load(starts_ptr + lvl).to(tl.int32)
            for p in range(P):
                lp = (row * L + lvl) * P + p
                a, x0, y0, fx, fy, Wf, Hf = _sample_coords(loc_ptr, attn_ptr, lp, q_ok, H, W, ACC)
                v00, _, _ = _corner(v_base, start, x0, y0, H, W, q_ok, d, d_ok, MD)
                v01, _, _ = _corner(v_base, start, x0 + 1, y0, H, W, q_ok, d, d_ok, MD)
                v10, _, _ = _corner(v_base, start, x0, y0 + 1, H, W, q_ok, d, d_ok, MD)
                v11, _, _ = _corner(v_base, start, x0 + 1, y0 + 1, H, W, q_ok, d, d_ok, MD)
                gx = 1.0 - fx
                gy = 1.0 - fy
                acc += (a * gy * gx)[:, None] * v00.to(ACC)
                acc += (a * gy * fx)[:, None] * v01.to(ACC)
                acc += (a * fy * gx)[:, None] * v10.to(ACC)
                acc += (a * fy * fx)[:, None] * v11.to(ACC)
        out = out_ptr + row[:, None] * D + d[None, :]
        tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=q_ok[:, None] & d_ok[None, :])


@triton.jit
def _msda_bwd_kernel(
    value_ptr, shapes_ptr, starts_ptr, loc_ptr, attn_ptr, gout_ptr,
    gvalue_ptr, gloc_ptr, gattn_ptr,
    S, Lq, M, D, L, P,
    BLOCK_Q: tl.constexpr, BLOCK_D: tl.constexpr, ACC: tl.constexpr,
):
    pid_q = tl.program_id(0)
    pid_nm = tl.program_id(1)
    n = pid_nm // M
    m = pid_nm % M
    q = pid_q * BLOCK_Q + tl.arange(0, BLOCK_Q)
    q_ok = q < Lq
    row = ((n * Lq + q) * M + m).to(tl.int64)
    MD = M * D
    v_base = value_ptr + (n.to(tl.int64) * S * M + m) * D
    gv_base = gvalue_ptr + (n.to(tl.int64) * S * M + m) * D
    for lvl in range(L):
        H = tl.load(shapes_ptr + 2 * lvl).to(tl.int32)
        W = tl.load(shapes_ptr + 2 * lvl + 1).to(tl.int32)
        start = tl.load(starts_ptr + lvl).to(tl.int32)
        for p in range(P):
            lp = (row * L + lvl) * P + p
            a, x0, y0, fx, fy, Wf, Hf = _sample_coords(loc_ptr, attn_ptr, lp, q_ok, H, W, ACC)
            gx = 1.0 - fx
            gy = 1.0 - fy
            g_attn = tl.zeros((BLOCK_Q,), dtype=ACC)
            g_x = tl.zeros((BLOCK_Q,), dtype=ACC)
            g_y = tl.zeros((BLOCK_Q,), dtype=ACC)
            for d0 in range(0, D, BLOCK_D):
                d = d0 + tl.arange(0, BLOCK_D)
                d_ok = d < D
                go = tl.load(
                    gout_ptr + row[:, None] * D + d[None, :],
                    mask=q_ok[:, None] & d_ok[None, :], other=0.0,
                ).to(ACC)
                v00, ok00, s00 = _corner(v_base, start, x0, y0, H, W, q_ok, d, d_ok, MD)
                v01, ok01, s01 = _corner(v_base, start, x0 + 1, y0, H, W, q_ok, d, d_ok, MD)
                v10, ok10, s10 = _corner(v_base, start, x0, y0 + 1, H, W, q_ok, d, d_ok, MD)
                v11, ok11, s11 = _corner(v_base, start, x0 + 1, y0 + 1, H, W, q_ok, d, d_ok, MD)
                v00 = v00.to(ACC)
                v01 = v01.to(ACC)
                v10 = v10.to(ACC)
                v11 = v11.to(ACC)
                sampled = gy[:, None] * (gx[:, None] * v00 + fx[:, None] * v01) + fy[:, None] * (
                    gx[:, None] * v10 + fx[:, None] * v11
                )
                g_attn += tl.sum(go * sampled, axis=1)
                dvdx = gy[:, None] * (v01 - v00) + fy[:, None] * (v11 - v10)
                dvdy = gx[:, None] * (v10 - v00) + fx[:, None] * (v11 - v01)
                g_x += tl.sum(go * dvdx, axis=1)
                g_y += tl.sum(go * dvdy, axis=1)
                # d out / d value at each corner = attention weight x bilinear weight.
                dmask = d_ok[None, :]
                tl.atomic_add(gv_base + s00[:, None] * MD + d[None, :],
                              (a * gy * gx)[:, None] * go, mask=ok00[:, None] & dmask)
                tl.atomic_add(gv_base + s01[:, None] * MD + d[None, :],
                              (a * gy * fx)[:, None] * go, mask=ok01[:, None] & dmask)
                tl.atomic_add(gv_base + s10[:, None] * MD + d[None, :],
                              (a * fy * gx)[:, None] * go, mask=ok10[:, None] & dmask)
                tl.atomic_add(gv_base + s11[:, None] * MD + d[None, :],
                              (a * fy * fx)[:, None] * go, mask=ok11[:, None] & dmask)
            # x = loc_x * W - 0.5, so d/d loc_x = W * d/dx (same for y with H).
            tl.store(gattn_ptr + lp, g_attn.to(gattn_ptr.dtype.element_ty), mask=q_ok)
            tl.store(gloc_ptr + 2 * lp, (a * g_x * Wf).to(gloc_ptr.dtype.element_ty), mask=q_ok)
            tl.store(gloc_ptr + 2 * lp + 1, (a * g_y * Hf).to(gloc_ptr.dtype.element_ty),
                     mask=q_ok)


def _acc_dtype(value: torch.Tensor):
    return tl.float64 if value.dtype == torch.float64 else tl.float32


def _blocks(lq: int, d: int, programs_per_query_block: int, backward: bool):
    """``(BLOCK_Q, BLOCK_D, num_warps)`` for a launch.

    Tiles hold about four elements per thread: with the four corner tiles, their addresses and
    the accumulator that is what fits in registers without spilling (checked on sm_90 cubins:
    forward 32x32 tile / 8 warps ~100 registers, backward 16x32 / 4 warps ~170). The forward
    uses 16-query tiles when 32 would leave fewer than ~1024 programs (decoder-sized ``Lq``).
    """
    block_d = min(triton.next_power_of_2(max(d, 1)), 64)
    if INTERPRETED:  # few, small programs: the interpreter runs each one in NumPy
        return min(triton.next_power_of_2(max(lq, 1)), 16), block_d, 1
    block_q = 16 if backward or block_d > 32 else 32
    if block_q > 16 and triton.cdiv(lq, block_q) * programs_per_query_block < 1024:
        block_q = 16
    warps = max(1, min(8, block_q * block_d // 128))
    return block_q, block_d, warps


def msda_forward(value, spatial_shapes, level_start_index, sampling_locations, attention_weights):
    """Forward launch; tensors contiguous, ``spatial_shapes``/``level_start_index`` int64.

    Shapes as in :func:`ms_deform_attn_reference`; returns ``N x Lq x (M*D)`` in
    ``value.dtype``.
    """
    n, s, m, d = value.shape
    _, lq, _, n_levels, n_points, _ = sampling_locations.shape
    out = torch.empty((n, lq, m * d), dtype=value.dtype, device=value.device)
    if out.numel() == 0:
        return out.zero_()
    block_q, block_d, warps = _blocks(lq, d, n * m, backward=False)
    grid = (triton.cdiv(lq, block_q), n * m)
    _msda_fwd_kernel[grid](
        value, spatial_shapes, level_start_index, sampling_locations, attention_weights, out,
        s, lq, m, d, n_levels, n_points,
        BLOCK_Q=block_q, BLOCK_D=block_d, ACC=_acc_dtype(value), num_warps=warps,
    )
    return out


def msda_backward(value, spatial_shapes, level_start_index, sampling_locations,
                  attention_weights, grad_output):
    """Backward launch: ``(grad_value, grad_sampling_locations, grad_attention_weights)``.

    Each gradient has its input's shape and dtype; ``grad_output`` is ``N x Lq x (M*D)``.
    """
    n, s, m, d = value.shape
    _, lq, _, n_levels, n_points, _ = sampling_locations.shape
    acc_dtype = torch.float64 if value.dtype == torch.float64 else torch.float32
    grad_value = torch.zeros(value.shape, dtype=acc_dtype, device=value.device)
    grad_loc = torch.zeros_like(sampling_locations)
    grad_attn = torch.zeros_like(attention_weights)
    if grad_output.numel() and value.numel():
        block_q, block_d, warps = _blocks(lq, d, n * m, backward=True)
        grid = (triton.cdiv(lq, block_q), n * m)
        _msda_bwd_kernel[grid](
            value, spatial_shapes, level_start_index, sampling_locations, attention_weights,
            grad_output, grad_value, grad_loc, grad_attn,
            s, lq, m, d, n_levels, n_points,
            BLOCK_Q=block_q, BLOCK_D=block_d, ACC=_acc_dtype(value), num_warps=warps,
        )
    return grad_value.to(value.dtype), grad_loc, grad_attn
