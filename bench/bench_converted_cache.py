"""Converted-weights cache: first run (read official checkpoint + convert + write safetensors)
versus later runs (read the cached safetensors), on a synthetic detectron2-style checkpoint.

    python bench/bench_converted_cache.py [--mb 200] [--repeats 3]

Prints both times and their ratio, measured in one run. The checkpoint is random tensors in the
layout of an official one ({"model": {name: tensor}}, with DETR-style aliased heads); the
converter renames every key, as the family converters do.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200, help="checkpoint size in MiB (float32)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVALKIT_CACHE"] = str(Path(tmp) / "cache")
        import torch

        from evalkit.hub import cache_root, load_converted
        from evalkit.zoo.cards import _card_from_json
        from evalkit.download import sha256_file

        g = torch.Generator().manual_seed(0)
        n_keys, total = 400, args.mb * (1 << 20) // 4
        state = {f"detr.detr.layer{i}.weight": torch.randn(total // n_keys, generator=g)
                 for i in range(n_keys)}
        state["detr.detr.transformer.decoder.class_embed.0.weight"] = state["detr.detr.layer0.weight"]
        official = Path(tmp) / "model_final.pth"
        torch.save({"model": state, "iteration": 1}, official)
        card = _card_from_json({
            "id": "uninext-bench", "family": "uninext", "variant": "bench", "stage": "bench",
            "description": "", "builder": "a:b", "builder_args": {}, "converter": "a:b",
            "adapter": "a:b", "license": "", "paper": {}, "tasks": ["det"], "input_sizes": {},
            "weights": [{"name": "model_final.pth", "role": "model", "sources": [str(official)],
                         "sha256": sha256_file(official)}],
            "paper_results": []}, official)

        def convert(sd):
            return {k.replace("detr.detr.", ""): v for k, v in sd.items()}

        convert.version = "1"
        first, hits = [], []
        for _ in range(args.repeats):
            for f in (cache_root() / "converted").rglob("*.safetensors"):
                f.unlink()
            t0 = time.perf_counter()
            load_converted(card, convert_fn=convert)
            first.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            load_converted(card, convert_fn=convert)
            hits.append(time.perf_counter() - t0)
        a, b = statistics.median(first), statistics.median(hits)
        print(f"checkpoint {args.mb} MiB, {n_keys + 1} keys, median of {args.repeats}")
        print(f"first run (load + convert + cache): {a:.3f} s")
        print(f"cached run (safetensors load):      {b:.3f} s")
        print(f"ratio first/cached: {a / b:.1f}x")


if __name__ == "__main__":
    main()
