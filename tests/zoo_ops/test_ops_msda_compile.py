"""The MSDA kernels must compile for a Hopper GPU (sm_90), not only run in the interpreter.

The interpreter accepts programs the compiler rejects (dtype mismatches in loops, scalar
broadcasting...). Triton can compile to a cubin without a GPU, so this runs the real compiler
on the launch configurations the launchers pick. It runs in a subprocess because the other
kernel tests put this process's Triton in interpreter mode.
"""
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from evalkit.zoo.ops import msda_triton as k

    assert not k.INTERPRETED
    ints = {n: "i32" for n in ("S", "Lq", "M", "D", "L", "P")}
    consts = {n: "constexpr" for n in ("BLOCK_Q", "BLOCK_D", "ACC")}
    for vt in ("fp32", "bf16"):
        for d in (32,):
            for backward in (False, True):
                bq, bd, warps = k._blocks(22223, d, 8, backward)
                names = ["value_ptr", "shapes_ptr", "starts_ptr", "loc_ptr", "attn_ptr"]
                types = ["*" + vt, "*i64", "*i64", "*fp32", "*fp32"]
                if backward:
                    names += ["gout_ptr", "gvalue_ptr", "gloc_ptr", "gattn_ptr"]
                    types += ["*" + vt, "*fp32", "*fp32", "*fp32"]
                    fn = k._msda_bwd_kernel
                else:
                    names += ["out_ptr"]
                    types += ["*" + vt]
                    fn = k._msda_fwd_kernel
                sig = {**dict(zip(names, types)), **ints, **consts}
                src = ASTSource(fn=fn, signature=sig,
                                constexprs={"BLOCK_Q": bq, "BLOCK_D": bd, "ACC": tl.float32})
                out = triton.compile(src, target=GPUTarget("cuda", 90, 32),
                                     options={"num_warps": warps})
                assert out.asm["cubin"], (vt, d, backward)
    print("compiled")
    """
)


def test_kernels_compile_for_sm90():
    pytest.importorskip("triton")
    from triton.backends import backends

    if "nvidia" not in backends:
        pytest.skip("Triton's NVIDIA backend (ptxas) is not installed")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0 and "compiled" in proc.stdout, proc.stderr[-3000:]
