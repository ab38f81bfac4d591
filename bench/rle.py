"""COCO RLE encoding: evalkit's torch encoder vs pycocotools.

Workload: 900 instance-like masks of 800x1333 (blobs: low-resolution noise upsampled and
thresholded, 2-40 % foreground), the output size of a 900-query model on a COCO image.
pycocotools is timed on a ready Fortran-ordered ``uint8`` ``H x W x N`` array (its best case) and
including the transposing copy from the ``N x H x W`` ``bool`` masks a model produces;
the torch encoder (``backend='torch'``, what ``backend='auto'`` picks for such masks) starts from
the ``bool`` tensor on the chosen device and ends with Python strings on the host (so
device->host copies are included). Outputs are checked equal.

    python bench/rle.py [--device cpu|cuda] [--masks 900] [--size 800 1333] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils

from evalkit.zoo.ops.rle import masks_to_rles


def make_masks(n, h, w, seed=0):
    gen = torch.Generator().manual_seed(seed)
    out = torch.empty((n, h, w), dtype=torch.bool)
    for c0 in range(0, n, 50):  # chunked to bound memory
        k = min(50, n - c0)
        low = torch.randn(k, 1, 12, 20, generator=gen)
        thr = torch.rand(k, 1, 1, 1, generator=gen) * 1.2 + 0.3
        up = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
        out[c0:c0 + k] = (up > thr)[:, 0]
    return out


def _time(fn, repeats, sync=lambda: None):
    times = []
    result = None
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        result = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--masks", type=int, default=900)
    parser.add_argument("--size", type=int, nargs=2, default=(800, 1333))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (pycocotools is single-threaded)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    h, w = args.size
    masks = make_masks(args.masks, h, w)
    fg = masks.float().mean().item()
    fortran = np.asfortranarray(masks.permute(1, 2, 0).numpy().astype(np.uint8))  # H x W x N
    device = torch.device(args.device)
    dev_masks = masks.to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    t_ref, ref = _time(lambda: mask_utils.encode(fortran), args.repeats)
    c_order = masks.numpy()  # N x H x W bool, what a model hands over
    t_conv, _ = _time(
        lambda: mask_utils.encode(np.asfortranarray(c_order.view(np.uint8).transpose(1, 2, 0))),
        args.repeats,
    )
    masks_to_rles(dev_masks[:2], backend="torch")  # warm-up (CUDA context, kernels)
    t_ours, ours = _time(lambda: masks_to_rles(dev_masks, backend="torch"), args.repeats, sync)
    same = all(r["counts"].decode() == o["counts"] and list(r["size"]) == o["size"]
               for r, o in zip(ref, ours))
    print(f"{args.masks} masks of {h}x{w}, {fg:.1%} foreground; torch {torch.__version__}; "
          f"device {device}, {torch.get_num_threads()} CPU thread(s); median of {args.repeats}")
    print(f"pycocotools.mask.encode, Fortran input  : {t_ref * 1e3:9.1f} ms")
    print(f"pycocotools incl. N x H x W -> Fortran  : {t_conv * 1e3:9.1f} ms")
    print(f"evalkit masks_to_rles, torch encoder    : {t_ours * 1e3:9.1f} ms "
          f"(pycocotools / torch = {t_ref / t_ours:.2f}x, "
          f"incl. conversion {t_conv / t_ours:.2f}x)")
    print(f"outputs identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
