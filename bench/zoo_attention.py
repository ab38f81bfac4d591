"""Speed of evalkit.zoo.layers.MultiheadAttention (SDPA) relative to torch.nn.MultiheadAttention
on the same weights, at the decoder self-attention size of the DETR-style models (900 queries,
256 channels, 8 heads). Prints one ratio per setting measured in this run.

    python bench/zoo_attention.py [--repeats 20]
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from evalkit.zoo.layers import MultiheadAttention


def best_time(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    torch.manual_seed(0)
    for L, B, with_mask in [(900, 1, False), (900, 2, True), (77, 16, True)]:
        ref = nn.MultiheadAttention(256, 8).eval()
        ours = MultiheadAttention(256, 8).eval()
        ours.load_state_dict(ref.state_dict())
        x = torch.randn(L, B, 256)
        mask = torch.full((L, L), float("-inf")).triu_(1) if with_mask else None
        with torch.inference_mode():
            diff = (ours(x, x, x, attn_mask=mask)[0] - ref(x, x, x, attn_mask=mask, need_weights=False)[0]).abs().max()
            t_ref = best_time(lambda: ref(x, x, x, attn_mask=mask, need_weights=True), args.repeats)
            t_ours = best_time(lambda: ours(x, x, x, attn_mask=mask), args.repeats)
        print(f"L={L} B={B} mask={with_mask}: nn.MultiheadAttention(need_weights=True) {t_ref * 1e3:.2f} ms, "
              f"ours {t_ours * 1e3:.2f} ms, speed-up {t_ref / t_ours:.2f}x, max |diff| {diff:.1e}")


if __name__ == "__main__":
    main()
