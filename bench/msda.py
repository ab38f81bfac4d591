"""Multi-scale deformable attention: Triton kernels vs the grid_sample reference.

Workload: the UNINEXT deformable encoder on an 800x1333 input (levels 100x167, 50x84, 25x42,
13x21 = 22,223 tokens; 8 heads x 32 channels; 4 points), with Lq = all tokens (encoder
self-attention) and Lq = 900 (decoder queries), batch 1 and 2, fp32 and bf16. For each case it
reports forward and forward+backward time (median of CUDA-event timings) and the peak memory
allocated by the op above its inputs, then the reference/Triton ratios and the Triton errors
against an fp32 reference at these shapes.

    python bench/msda.py                 # needs a CUDA GPU
    python bench/msda.py --smoke         # tiny shapes, runs anywhere (checks the script)

``--smoke`` runs the reference on CPU (and the Triton kernels too when ``TRITON_INTERPRET=1``
is set), so it only checks that the script works; its timings mean nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

from evalkit.zoo.ops import ms_deform_attn

UNINEXT_LEVELS = [(100, 167), (50, 84), (25, 42), (13, 21)]
SMOKE_LEVELS = [(6, 10), (3, 5)]


def make_inputs(batch, lq, levels, heads, channels, points, dtype, device, seed=0):
    gen = torch.Generator(device="cpu").manual_seed(seed)
    spatial = torch.tensor(levels, dtype=torch.int64)
    areas = spatial[:, 0] * spatial[:, 1]
    starts = torch.cat([areas.new_zeros(1), areas.cumsum(0)[:-1]])
    s = int(areas.sum())
    n_levels = len(levels)
    value = torch.randn(batch, s, heads, channels, generator=gen)
    # Locations around a per-query reference point, a few pixels of spread, some outside.
    ref = torch.rand(batch, lq, 1, 1, 1, 2, generator=gen)
    loc = ref + 0.05 * torch.randn(batch, lq, heads, n_levels, points, 2, generator=gen)
    attn = torch.rand(batch, lq, heads, n_levels, points, generator=gen).flatten(-2)
    attn = attn.softmax(-1).view(batch, lq, heads, n_levels, points)
    tensors = [t.to(device=device, dtype=dtype) for t in (value, loc, attn)]
    return tensors[0], spatial.to(device), starts.to(device), tensors[1], tensors[2]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(fn, device, warmup, iters):
    """Median milliseconds of ``fn()`` and the peak bytes it allocates above the baseline."""
    for _ in range(warmup):
        fn()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    times = []
    for _ in range(iters):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    peak = torch.cuda.max_memory_allocated() - base if device.type == "cuda" else float("nan")
    return statistics.median(times), peak


def bench_case(backend, inputs, device, warmup, iters):
    value, spatial, starts, loc, attn = inputs

    def forward():
        with torch.no_grad():
            ms_deform_attn(value, spatial, starts, loc, attn, backend=backend)

    leaves = [t.detach().requires_grad_() for t in (value, loc, attn)]

    def forward_backward():
        out = ms_deform_attn(leaves[0], spatial, starts, leaves[1], leaves[2], backend=backend)
        out.backward(torch.ones_like(out))
        for t in leaves:
            t.grad = None

    fwd = measure(forward, device, warmup, iters)
    fwd_bwd = measure(forward_backward, device, warmup, iters)
    return fwd, fwd_bwd


def parity(inputs):
    """Largest error of the Triton output and gradients relative to the largest magnitude of an
    fp32 reference on the same (rounded) inputs: ``(forward, value, locations, weights)``.

    The location gradient jumps where a point crosses an integer pixel coordinate; the two
    implementations compute coordinates with different fp32 roundings, so a point within an
    ulp of such a crossing can show as an isolated outlier in that column."""
    value, spatial, starts, loc, attn = inputs
    leaves = [t.detach().requires_grad_() for t in (value, loc, attn)]
    ref_leaves = [t.detach().float().requires_grad_() for t in (value, loc, attn)]
    out = ms_deform_attn(leaves[0], spatial, starts, leaves[1], leaves[2], backend="triton")
    ref = ms_deform_attn(ref_leaves[0], spatial, starts, ref_leaves[1], ref_leaves[2],
                         backend="reference")
    grad = torch.randn(ref.shape, device=ref.device)
    grads = torch.autograd.grad(out, leaves, grad.to(out.dtype))
    ref_grads = torch.autograd.grad(ref, ref_leaves, grad)
    errs = [out.float() - ref] + [g.float() - r for g, r in zip(grads, ref_grads)]
    refs = [ref, *ref_grads]
    return [(e.abs().max() / r.abs().max().clamp_min(1e-12)).item() for e, r in zip(errs, refs)]


def _mb(x):
    return f"{'n/a':>8}" if x != x else f"{x / 2**20:8.1f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes; runs without a GPU")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--dtypes", default="float32,bfloat16")
    args = parser.parse_args(argv)

    if args.smoke:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        levels, batches, heads, channels, points = SMOKE_LEVELS, (1, 2), 2, 8, 2
        s = sum(h * w for h, w in levels)
        lqs = (("all", s), ("16", 16))
        args.iters, args.warmup = 2, 1
    else:
        if not torch.cuda.is_available():
            print("bench/msda.py needs a CUDA GPU: the Triton kernels run on CUDA only "
                  "(run with --smoke to check the script on CPU).", file=sys.stderr)
            return 2
        device = torch.device("cuda")
        levels, batches, heads, channels, points = UNINEXT_LEVELS, (1, 2), 8, 32, 4
        s = sum(h * w for h, w in levels)
        lqs = (("all", s), ("900", 900))
    backends = ["reference"]
    if device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1":
        backends.append("triton")

    print(f"device: {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}; "
          f"torch {torch.__version__}; levels {levels} (S={s}), {heads} heads x {channels} ch, "
          f"{points} points; median of {args.iters} runs")
    header = (f"{'dtype':9} {'B':>2} {'Lq':>6} {'backend':9} {'fwd ms':>9} {'fwd MB':>8} "
              f"{'fwd+bwd ms':>11} {'f+b MB':>8}")
    print(header)
    ratios, errors = [], []
    for dtype_name in args.dtypes.split(","):
        dtype = getattr(torch, dtype_name)
        for batch in batches:
            for lq_name, lq in lqs:
                inputs = make_inputs(batch, lq, levels, heads, channels, points, dtype, device)
                res = {}
                for backend in backends:
                    (f_ms, f_mem), (fb_ms, fb_mem) = bench_case(
                        backend, inputs, device, args.warmup, args.iters
                    )
                    res[backend] = (f_ms, f_mem, fb_ms, fb_mem)
                    print(f"{dtype_name:9} {batch:>2} {lq_name:>6} {backend:9} {f_ms:9.3f} "
                          f"{_mb(f_mem)} {fb_ms:11.3f} {_mb(fb_mem)}")
                if "triton" in res:
                    errors.append((dtype_name, batch, lq_name, *parity(inputs)))
                    r, t = res["reference"], res["triton"]
                    ratios.append((dtype_name, batch, lq_name, r[0] / t[0], r[2] / t[2],
                                   r[1] / t[1] if t[1] else float("nan"),
                                   r[3] / t[3] if t[3] else float("nan")))
                del inputs
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    if ratios:
        print("\nreference / triton (higher = Triton better)")
        print(f"{'dtype':9} {'B':>2} {'Lq':>6} {'fwd time':>9} {'f+b time':>9} "
              f"{'fwd mem':>8} {'f+b mem':>8}")
        for dt, b, lq_name, ft, fbt, fm, fbm in ratios:
            print(f"{dt:9} {b:>2} {lq_name:>6} {ft:8.2f}x {fbt:8.2f}x {fm:7.2f}x {fbm:7.2f}x")
    if errors:
        print("\nTriton vs fp32 reference, max |error| / max |reference| "
              "(bounds: fp32 1e-5, bf16 5e-2)")
        print(f"{'dtype':9} {'B':>2} {'Lq':>6} {'output':>9} {'d value':>9} {'d loc':>9} "
              f"{'d weight':>9}")
        for dt, b, lq_name, *e in errors:
            print(f"{dt:9} {b:>2} {lq_name:>6} " + " ".join(f"{x:9.2e}" for x in e))
    if args.smoke:
        print("\nsmoke run: shapes are tiny and timings are not meaningful")
    return 0


if __name__ == "__main__":
    sys.exit(main())
