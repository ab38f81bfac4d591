"""UNINEXT speed and memory.

1. **Throughput** — the full R50 video-stage network (random weights) on one 800×1333 image
   with a 256-token category prompt (COCO-style detection pass, masks of the 100 kept queries
   decoded): images/s (median of CUDA-event timings) and peak allocated memory, with the
   grid_sample reference MSDA in fp32 vs the Triton MSDA kernels under bf16 autocast, and
   their ratios (the deformable transformer, MSDA included, is an official float32 island: it
   stays float32 under autocast; ``bench/gpu_suite.py`` times the kernels in bf16 on their own).
   Needs a CUDA GPU.
2. **Streaming VOS memory** — the VOS procedure of the adapter on a synthetic video read
   lazily, consumed as the runner does (each frame's predictions serialised, then kept): the
   process RSS after 100, 200, ..., 600 frames. Flat means the procedure keeps nothing per
   frame beyond its compact (RLE) outputs. Runs on the CPU with a tiny model.

    python bench/uninext.py                  # 1 (GPU) and 2
    python bench/uninext.py --smoke          # tiny sizes on the CPU (checks the script)
    python bench/uninext.py --vos-only       # 2 only

Numbers are reported as measured in one run; compare ratios, not absolute times.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from evalkit.zoo.uninext import build_uninext

from bench_utils import rss_mib

#: a ~1.6 M-parameter configuration for CPU runs (same layout as the R50 model)
TINY = dict(
    backbone_overrides=dict(width_per_group=8, stem_out_channels=8),
    d_model=64, nheads=8, dim_feedforward=64, enc_layers=2, dec_layers=2, num_queries=30,
    vl_hidden_dim=64, max_query_len=16, reid_layers=1, template_size=64,
    text_config=dict(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32),
)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _inputs(model, h, w, device):
    g = torch.Generator().manual_seed(0)
    images = torch.randn(1, 3, h, w, generator=g).to(device)
    pad = torch.zeros(1, h, w, dtype=torch.bool, device=device)
    n = model.cfg.max_query_len
    ids = torch.randint(5, model.text_encoder.model.config.vocab_size, (1, n), generator=g).to(device)
    return images, pad, ids, torch.ones_like(ids)


@torch.no_grad()
def _detect_once(model, images, pad, ids, am, keep: int):
    prompt, mask = model.encode_text(ids, am)
    sizes = torch.tensor([images.shape[-2:]], device=images.device)
    out = model(images, pad, prompt, mask, sizes, pooled=False, compute_masks=False)
    score = out["logits"][0].max(-1).values
    q = torch.topk(score, min(keep, score.numel())).indices
    return model.decode_masks(out, 0, q)


def throughput(model, device, h, w, backend, dtype, warmup, iters):
    """``(images/s, peak MiB)`` of one detection pass per image."""
    model.set_attention_backend(backend)
    images, pad, ids, am = _inputs(model, h, w, device)
    ctx = (torch.autocast(device.type, dtype=dtype) if dtype != torch.float32
           else torch.autocast(device.type, enabled=False))
    with ctx:
        for _ in range(warmup):
            _detect_once(model, images, pad, ids, am, 100)
        _sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            _detect_once(model, images, pad, ids, am, 100)
            _sync(device)
            times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else float("nan")
    return 1.0 / statistics.median(times), peak


def run_throughput(smoke: bool, warmup: int, iters: int) -> None:
    if smoke:
        device, h, w = torch.device("cpu"), 64, 96
        model = build_uninext("r50", True, **TINY).eval()
        cases = [("reference", torch.float32)]
        if os.environ.get("TRITON_INTERPRET") == "1":
            cases.append(("triton", torch.bfloat16))
    else:
        if not torch.cuda.is_available():
            print("throughput: skipped (needs a CUDA GPU; use --smoke to check the script)")
            return
        device, h, w = torch.device("cuda"), 800, 1344  # 1333 padded to a multiple of 32
        model = build_uninext("r50", True).eval().to(device)
        cases = [("reference", torch.float32), ("triton", torch.bfloat16)]
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"throughput on {name}, input {h}x{w}, {warmup} warm-up + {iters} timed passes")
    results = {}
    for backend, dtype in cases:
        ips, peak = throughput(model, device, h, w, backend, dtype, warmup, iters)
        results[(backend, dtype)] = (ips, peak)
        print(f"  MSDA {backend:9s} {str(dtype).replace('torch.', ''):8s}: {ips:8.3f} images/s, "
              f"peak {peak:9.1f} MiB")
    if len(results) == 2:
        (r_ips, r_mem), (t_ips, t_mem) = results.values()
        print(f"  triton+bf16 / reference fp32: speed x{t_ips / r_ips:.2f}, memory x{t_mem / r_mem:.2f}")


def run_vos_memory(n_frames: int, checkpoints: list[int]) -> None:
    from evalkit.adapters.uninext import build_adapter
    from evalkit.types import Frames, Reference

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        vocab = Path(tmp) / "vocab.txt"
        vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                                   + [f"w{i}" for i in range(59)]) + "\n")
        torch.manual_seed(0)
        adapter = build_adapter(model_id="uninext-r50", random_weights=True, tokenizer=str(vocab),
                                overrides=TINY, input_size=(64, 128))
    h, w = 96, 128

    def frame(i):
        return lambda: np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)

    frames = Frames([frame(i) for i in range(n_frames)], sizes=[(h, w)] * n_frames)
    masks = np.zeros((2, h, w), bool)
    masks[0, 20:60, 10:50] = True
    masks[1, 40:80, 70:120] = True
    prompt = Reference(object_ids=(1, 2), masks=masks)
    adapter.prepare("vos")
    kept, rows = [], []
    t0 = time.perf_counter()
    base = rss_mib()
    for i, inst in enumerate(adapter.predict(frames, prompt), 1):
        kept.append(inst.to_json())  # what the prediction store keeps
        if i in checkpoints:
            rows.append((i, rss_mib(), time.perf_counter() - t0))
    print(f"streaming VOS (tiny model, CPU, {h}x{w} frames, 2 objects): RSS before {base:.1f} MiB")
    for i, rss, t in rows:
        print(f"  after {i:4d} frames: RSS {rss:8.1f} MiB  ({t:6.1f} s)")
    if len(rows) >= 2:
        (i0, r0, _), (i1, r1, _) = rows[0], rows[-1]
        print(f"  growth {i0}->{i1} frames: {r1 - r0:+.1f} MiB ({(r1 - r0) * 1024 / (i1 - i0):+.2f} KiB/frame)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--vos-only", action="store_true")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.vos_only:
        run_throughput(args.smoke, 1 if args.smoke else args.warmup, 2 if args.smoke else args.iters)
    if args.smoke:
        run_vos_memory(12, [4, 8, 12])
    else:
        run_vos_memory(600, [100, 200, 300, 400, 500, 600])
    return 0


if __name__ == "__main__":
    sys.exit(main())
