"""UniVS inference speed: frames per second of the streaming adapters (random weights; speed does
not depend on them) at the R50 test size (short side 640, ``--size``), clip length 5, stride 1.

Measures, on one synthetic video of ``--frames`` frames (landscape 16:9):
* ``encode``: image encoder (backbone + pixel decoder) per frame;
* ``vos``: semi-supervised VOS with ``--objects`` first-frame masks (prompt-specified streaming);
* ``vis``: VIS entity streaming (periodic detection + prompt-guided re-segmentation).

    python bench/univs.py                       # GPU, R50 at 640
    python bench/univs.py --variant swin-l      # another backbone
    python bench/univs.py --smoke               # CPU, tiny model and tiny frames (runs anywhere)
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from evalkit.adapters.univs import UniVSAdapter
from evalkit.types import Categories, Frames, Reference
from evalkit.zoo.univs.model import build_univs

TINY = dict(backbone_args={"width_per_group": 8, "stem_out_channels": 8}, conv_dim=32, mask_dim=32, hidden_dim=32,
            enc_layers=1, enc_ffn=64, dec_layers=2, dec_ffn=64, num_queries=8, num_dense_points=4, gn_groups=8)


def video(n: int, h: int, w: int) -> Frames:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return Frames([np.roll(base, 4 * i, axis=1) for i in range(n)])


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str) -> float:
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", default="r50", choices=["r50", "swin-t", "swin-b", "swin-l"])
    ap.add_argument("--size", type=int, default=640, help="short side of the input frames")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--objects", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--smoke", action="store_true", help="tiny model, 64-pixel frames, CPU")
    ap.add_argument("--threads", type=int, default=None, help="CPU intra-op threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.smoke:
        args.device, args.size, args.frames = "cpu", 64, 6
        model = build_univs(args.variant, **TINY, text_dim=640)
    else:
        model = build_univs(args.variant)
    h, w = args.size, args.size * 16 // 9
    sizes = {"min_size": args.size, "max_size": 1333}
    adapter = UniVSAdapter(model, model_id=f"univs-{args.variant}-random", device=args.device,
                           class_embeddings=torch.randn(3938, 640),
                           input_sizes={t: sizes for t in ("vis", "vos")}, vocabulary="ytvis21")
    frames = video(args.frames, h, w)
    masks = np.zeros((args.objects, h, w), bool)
    for k in range(args.objects):
        masks[k, h // 4:h // 2, k * w // (args.objects + 1):(k + 1) * w // (args.objects + 1)] = True
    ref = Reference(object_ids=tuple(range(1, args.objects + 1)), masks=masks)
    cats = Categories([f"c{i}" for i in range(40)], list(range(1, 41)))
    batch = torch.randn(1, 3, h // 32 * 32 + 32, w // 32 * 32 + 32, device=args.device)
    print(f"UniVS-{args.variant} {'(smoke) ' if args.smoke else ''}on {args.device}, frames {h}x{w}, "
          f"{args.frames} frames, clip 5 / stride 1")
    with torch.inference_mode():
        model.encode(batch)  # warm-up (kernels, allocator)
        t = timed(lambda: [model.encode(batch) for _ in range(args.frames)], args.device)
        print(f"  encode: {args.frames / t:8.2f} frames/s")
        adapter.prepare("vos")
        adapter.predict(Frames([frames[0], frames[1]]), ref)  # warm-up (lazy imports, allocator)
        t = timed(lambda: adapter.predict(frames, ref), args.device)
        print(f"  vos ({args.objects} objects): {args.frames / t:8.2f} frames/s  peak {dict(adapter.last_stats)}")
        adapter.prepare("vis")
        adapter.predict(Frames([frames[0], frames[1]]), cats)
        t = timed(lambda: adapter.predict(frames, cats), args.device)
        print(f"  vis: {args.frames / t:8.2f} frames/s  peak {dict(adapter.last_stats)}")
    if args.device.startswith("cuda"):
        print(f"  max GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
