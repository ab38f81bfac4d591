"""UniRef++ speed and memory.

1. **VOS throughput** — the adapter's VOS procedure (first + previous-frame mask references,
   per-object fusion + transformer, soft aggregation, RLE outputs) with the full R50 network
   (random weights) on a synthetic 854×480 video at the official 480 short side: frames/s
   (after warm-up, CUDA synchronised) and peak allocated memory, for 1 and 3 objects, with the
   grid_sample reference MSDA in fp32 vs the Triton MSDA kernels (``auto``), UniFusion's SDPA in
   bf16 on CUDA in both. Needs a CUDA GPU (``--smoke``: tiny model, small frames, CPU).
2. **Streaming memory** — the same procedure with a tiny model on the CPU over a lazily read
   600-frame video: the process RSS after 100, 200, ..., 600 frames (flat = constant memory).

    python bench/uniref.py              # 1 (GPU) and 2
    python bench/uniref.py --smoke      # tiny sizes on the CPU (checks the script)
    python bench/uniref.py --memory-only

Numbers are reported as measured in one run; compare ratios, not absolute times.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench_utils import rss_mib

#: a ~2 M-parameter configuration for CPU runs (same layout as the R50 model)
TINY = dict(
    backbone_overrides=dict(width_per_group=8, stem_out_channels=8),
    d_model=64, nheads=8, dim_feedforward=64, enc_layers=2, dec_layers=2, num_queries=20,
    fusion_heads=2, fusion_head_dim=16, mask_encoder_width=8, context_len=16,
    text_config=dict(vocab_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32),
)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e", "f", "g", "h",
         "i", "j", "k"]


def _adapter(device: str, tiny: bool, **options):
    from evalkit.adapters.uniref import build_adapter

    folder = Path(tempfile.mkdtemp(prefix="uniref-bench-"))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    torch.manual_seed(0)
    opts = dict(random_weights=True, tokenizer=str(folder / "vocab.txt"), dataset="davis17",
                score_thres=0.0)
    if tiny:
        opts["overrides"] = TINY
    opts.update(options)
    adapter = build_adapter(model_id="uniref-pp-r50", device=device, **opts)
    adapter.prepare("vos")
    return adapter


def _video(n: int, h: int, w: int):
    from evalkit.types import Frames

    def make(i):
        rng = np.random.default_rng(i)
        im = rng.integers(0, 90, (h, w, 3), dtype=np.uint8)
        y, x = (h // 4 + i) % (h // 2), (w // 4 + 2 * i) % (w // 2)
        im[y:y + h // 4, x:x + w // 4] = 230
        return im

    return Frames([lambda i=i: make(i) for i in range(n)], sizes=[(h, w)] * n)


def _objects(k: int, h: int, w: int):
    from evalkit.types import Reference

    masks = np.zeros((k, h, w), bool)
    for j in range(k):
        y, x = (h * j) // (2 * k), (w * j) // (2 * k)
        masks[j, y:y + h // 4, x:x + w // 5] = True
    return Reference(object_ids=tuple(range(1, k + 1)), masks=masks)


def vos_throughput(adapter, h: int, w: int, objects: int, frames: int, warmup: int):
    """``(frames/s, peak MiB or None)`` of the VOS procedure."""
    dev = torch.device(adapter.device)
    video = _video(warmup + frames, h, w)
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    stream = iter(adapter.predict(video, _objects(objects, h, w)))
    for _ in range(warmup):
        next(stream)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in stream:
        pass
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None
    return frames / dt, peak


def streaming_rss(n: int = 600, every: int = 100) -> list[tuple[int, float]]:
    """RSS (MiB) after every ``every`` frames of a lazily read ``n``-frame video (tiny model, CPU)."""
    adapter = _adapter("cpu", True, input_size=(32, 48))
    out = []
    for i, _inst in enumerate(adapter.predict(_video(n, 48, 64), _objects(2, 48, 64)), 1):
        if i % every == 0:
            out.append((i, rss_mib()))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny model, small frames, CPU")
    ap.add_argument("--memory-only", action="store_true")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args(argv)
    # the CPU runs use tiny models: one intra-op thread avoids oversubscribing shared machines
    if args.smoke or args.memory_only or not torch.cuda.is_available():
        torch.set_num_threads(1)
    if not args.memory_only:
        if args.smoke:
            device, h, w, tiny, frames, warmup = "cpu", 48, 64, True, 6, 2
            extra = dict(input_size=(32, 48))
            backends = ["reference"]
        else:
            if not torch.cuda.is_available():
                print("VOS throughput needs a CUDA GPU (use --smoke on the CPU)", file=sys.stderr)
                return 2
            device, h, w, tiny, frames, warmup = "cuda", 480, 854, False, args.frames, args.warmup
            extra = {}
            backends = ["reference", "auto"]
        print(f"VOS throughput, {'tiny' if tiny else 'R50'} UniRef++, {w}x{h} frames, device {device}")
        print(f"{'objects':>7} {'MSDA':>9} {'frames/s':>9} {'peak MiB':>9} {'ratio':>6}")
        for k in (1, 3):
            base = None
            for backend in backends:
                adapter = _adapter(device, tiny, **extra)
                adapter.model.set_attention_backend(backend)
                fps, peak = vos_throughput(adapter, h, w, k, frames, warmup)
                base = base or fps
                print(f"{k:>7} {backend:>9} {fps:>9.2f} {'-' if peak is None else f'{peak:9.0f}':>9} "
                      f"{fps / base:>6.2f}")
                del adapter
                if device == "cuda":
                    torch.cuda.empty_cache()
    n = 60 if args.smoke else 600
    rss = streaming_rss(n, n // 6)
    print(f"streaming VOS memory (tiny model, CPU, 2 objects): RSS MiB after frames " +
          ", ".join(f"{i}: {m:.1f}" for i, m in rss) +
          f"; growth {rss[-1][1] - rss[0][1]:+.1f} MiB from frame {rss[0][0]} to {rss[-1][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
