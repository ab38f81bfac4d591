"""GLEE inference speed: images per second of the category-prompted forward pass.

    python bench/glee.py [--variant lite] [--size 1024] [--names 80] [--iters 20] [--dtypes fp32,fp16]
    python bench/glee.py --smoke          # CPU, a reduced GLEE-Lite at 128², a few iterations

The paper's Table 3 reports FPS at 1024² (Lite, Plus) and 1536² (Pro) on an A100; this script
times the same forward (backbone, early fusion with ``--names`` category names, 6-layer encoder,
9-layer decoder, heads; text embeddings computed once, as the adapter caches them) on random
weights and a random image, after warm-up, and prints images/s for each precision (fp32, then
autocast fp16/bf16) and their ratio to the first, measured in one run. Post-processing (top-k,
mask upsampling) is excluded, as in the paper's model FPS.
"""
from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="lite", choices=("lite", "plus", "pro"))
    ap.add_argument("--size", type=int, default=None, help="square input side (default 1024, Pro 1536)")
    ap.add_argument("--names", type=int, default=80, help="category names in the prompt (COCO: 80)")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--dtypes", default=None, help="comma-separated precisions (default fp32,fp16 on GPU, "
                    "fp32,bf16 on CPU)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--smoke", action="store_true", help="CPU, reduced model, 128² input")
    args = ap.parse_args()

    import torch

    from evalkit.zoo.glee.model import build_glee

    backbone = {"lite": "r50", "plus": "swin-l", "pro": "eva02-l"}[args.variant]
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() and not args.smoke else "cpu"))
    if args.smoke:
        size, iters, warmup = 128, 2, 1
        model = build_glee("lite", "r50", hidden_dim=64, dim_feedforward=128, enc_layers=2, dec_layers=3,
                           num_queries=50, vl_embed_dim=128,
                           text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                            num_attention_heads=2),
                           backbone_overrides=dict(width_per_group=16, stem_out_channels=32))
    else:
        size = args.size or (1536 if args.variant == "pro" else 1024)
        iters, warmup = args.iters, args.warmup
        model = build_glee(args.variant, backbone)
    model = model.to(device).eval()
    g = torch.Generator().manual_seed(0)
    image = torch.randn(1, 3, size, size, generator=g).to(device)
    vocab = model.text_encoder.text_model.config.vocab_size
    ids = torch.randint(0, vocab - 2, (args.names, 4), generator=g).to(device)
    names = (args.dtypes or ("fp32,fp16" if device.type == "cuda" else "fp32,bf16")).split(",")
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    rates = {}
    for name in names:
        dtype = dtypes[name]
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            text = model.category_prompt(ids, torch.ones_like(ids), 1)
            for i in range(warmup + iters):
                if i == warmup:
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                model(image, text)
            if device.type == "cuda":
                torch.cuda.synchronize()
            rates[name] = iters / (time.perf_counter() - t0)
    label = f"GLEE-{args.variant}{' (smoke, reduced)' if args.smoke else ''} {size}x{size} on {device}"
    for name, r in rates.items():
        print(f"{label} {name}: {r:.3f} images/s ({1000 / r:.1f} ms/image, {args.names} names, {iters} iterations), "
              f"x{r / rates[names[0]]:.2f} vs {names[0]}")


if __name__ == "__main__":
    main()
