"""One device run that measures every kernel and model, then prints the table last.

Sections (each case is timed after warm-up, CUDA-synchronised; memory from the CUDA allocator):

1. **MSDA** — the Triton kernels against the ``grid_sample`` reference
   (:mod:`evalkit.zoo.ops.msda`), forward and forward+backward, float32 and bfloat16, at the
   UNINEXT shapes (800×1333: levels 100×167 … 13×21, encoder Lq = all 22,223 tokens, decoder
   Lq = 900) and the GLEE-Lite shapes (1024²: levels 128² … 16², encoder Lq = 21,760, decoder
   Lq = 300); 8 heads × 32 channels, 4 points. Correctness is checked in the same run
   (``bench/msda.py: parity``, relative to an fp32 reference): output and value / weight
   gradients within 1e-5 (fp32) / 5e-2 (bf16). The location gradient is reported, not judged:
   it jumps where a point crosses an integer pixel, and the two implementations round
   coordinates differently.
2. **Throughput** — images/s of each R50 model with random weights at its paper's test size,
   batch 1 and the best of batches 1, 2, 4, 8 (largest images/s; stops at out-of-memory), in
   float32 and bfloat16 (``evalkit.precision.mixed_precision``: what ``evalkit run --dtype``
   does, float32 islands included), with peak GPU memory:
   ``uninext-r50`` 800×1333 detection pass (256-token prompt, masks of the 100 best queries);
   ``uniref-pp-r50`` 480×854 VOS pass (frame features, a mask reference, fusion, transformer,
   the best query's mask); ``glee-lite`` 1024² (paper Table 3), 80 category names;
   ``univs-r50`` 640×1137 (short side 640), the batch being the clip length.
3. **VOS memory** — the UNINEXT and UniRef++ VOS adapters (R50, random weights, float32) on a
   600-frame 854×480 video read lazily, outputs kept as the prediction store keeps them: GPU
   memory allocated (and the peak so far) after frames 100 and 600. Flat = nothing kept per
   frame on the device.

A time budget (``--budget-s``, default 400 s) skips the cases that would not fit in it (the
whole run's wall time on a GPU has not been measured yet); skipped cases are listed. The JSON (``--out``) holds
every row, the targets of the GPU-throughput issue and whether each is met.

    python bench/gpu_suite.py --out gpu_suite.json    # one CUDA GPU
    python bench/gpu_suite.py --dry-run               # CPU, tiny sizes: checks the script (CI)

``--dry-run`` runs everything with tiny models and shapes on the CPU (the Triton kernels too
when ``TRITON_INTERPRET=1``); its numbers mean nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling bench scripts

import msda as msda_bench  # noqa: E402
import uninext as uninext_bench  # noqa: E402
import uniref as uniref_bench  # noqa: E402
import univs as univs_bench  # noqa: E402
from bench_utils import rss_mib  # noqa: E402

from evalkit.precision import mixed_precision  # noqa: E402

GLEE_LEVELS = [(128, 128), (64, 64), (32, 32), (16, 16)]
#: relative-to-max error bounds of the Triton kernels (tests/zoo_ops/test_ops_msda.py ladder)
MSDA_TOL = {"float32": 1e-5, "bfloat16": 5e-2}
#: the GPU-throughput issue's targets (H100)
TARGETS = {"msda_fwd_speedup_bf16": 3.0, "msda_fwd_speedup_fp32": 2.0, "msda_bwd_faster": 1.0,
           "uninext_r50_det_images_per_s": 20.0, "vos_600_growth_mib": 64.0}
#: a reduced GLEE-Lite for the dry run (bench/glee.py --smoke)
GLEE_TINY = dict(hidden_dim=64, dim_feedforward=128, enc_layers=2, dec_layers=3, num_queries=50, vl_embed_dim=128,
                 text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2),
                 backbone_overrides=dict(width_per_group=16, stem_out_channels=32))


class Budget:
    """Wall-clock budget of the whole run; a case runs only if its estimate fits."""

    def __init__(self, seconds: float):
        self.t0, self.seconds = time.perf_counter(), seconds
        self.skipped: list[str] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def allows(self, need_s: float, what: str) -> bool:
        if self.seconds - self.elapsed() >= need_s:
            return True
        self.skipped.append(f"{what} (needs ~{need_s:.0f} s, {max(self.seconds - self.elapsed(), 0):.0f} s left)")
        return False


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_mib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None


# ------------------------------------------------------------------------------------------
# 1. MSDA
# ------------------------------------------------------------------------------------------
def msda_section(device, dry: bool, budget: Budget, warmup: int, iters: int) -> list[dict]:
    if dry:
        s = sum(h * w for h, w in msda_bench.SMOKE_LEVELS)
        shapes = {"uninext-encoder": (msda_bench.SMOKE_LEVELS, 2, 8, 2, s),
                  "glee-decoder": (msda_bench.SMOKE_LEVELS, 2, 8, 2, 16)}
    else:
        s_u = sum(h * w for h, w in msda_bench.UNINEXT_LEVELS)
        s_g = sum(h * w for h, w in GLEE_LEVELS)
        shapes = {"uninext-encoder": (msda_bench.UNINEXT_LEVELS, 8, 32, 4, s_u),
                  "uninext-decoder": (msda_bench.UNINEXT_LEVELS, 8, 32, 4, 900),
                  "glee-encoder": (GLEE_LEVELS, 8, 32, 4, s_g),
                  "glee-decoder": (GLEE_LEVELS, 8, 32, 4, 300)}
    backends = ["reference"]
    if device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1":
        backends.append("triton")
    rows = []
    for dtype_name in ("float32", "bfloat16"):
        for name, (levels, heads, channels, points, lq) in shapes.items():
            if not budget.allows(5 if not dry else 1, f"msda {name} {dtype_name}"):
                continue
            inputs = msda_bench.make_inputs(1, lq, levels, heads, channels, points, getattr(torch, dtype_name),
                                            device)
            row = {"shape": name, "dtype": dtype_name, "lq": lq, "tokens": sum(h * w for h, w in levels)}
            for backend in backends:
                (f_ms, f_mem), (fb_ms, fb_mem) = msda_bench.bench_case(backend, inputs, device, warmup, iters)
                row[backend] = {"fwd_ms": f_ms, "fwd_bwd_ms": fb_ms, "bwd_ms": fb_ms - f_ms,
                                "fwd_mib": None if f_mem != f_mem else f_mem / 2**20,
                                "fwd_bwd_mib": None if fb_mem != fb_mem else fb_mem / 2**20}
            if "triton" in row:
                out, d_value, d_loc, d_weight = msda_bench.parity(inputs)
                tol = MSDA_TOL[dtype_name]
                row["errors"] = {"output": out, "d_value": d_value, "d_loc": d_loc, "d_weight": d_weight}
                row["correct"] = bool(max(out, d_value, d_weight) <= tol)
                r, t = row["reference"], row["triton"]
                row["speedup_fwd"] = r["fwd_ms"] / t["fwd_ms"]
                row["speedup_bwd"] = r["bwd_ms"] / t["bwd_ms"] if t["bwd_ms"] > 0 else None
            rows.append(row)
            del inputs
            _reset_peak(device)
    return rows


# ------------------------------------------------------------------------------------------
# 2. Throughput
# ------------------------------------------------------------------------------------------
def _uninext_pass(device, dry: bool):
    from evalkit.zoo.uninext import build_uninext

    model = (build_uninext("r50", True, **uninext_bench.TINY) if dry else build_uninext("r50", True))
    return model.eval().to(device), lambda batch: _uninext_inputs(model, device, dry, batch)


def _uninext_inputs(model, device, dry: bool, batch: int):
    h, w = (64, 96) if dry else (800, 1333)  # R50: no padding (detectron2 ResNet size_divisibility 0)
    g = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, h, w, generator=g).to(device)
    pad = torch.zeros(batch, h, w, dtype=torch.bool, device=device)
    n = model.cfg.max_query_len
    ids = torch.randint(5, model.text_encoder.model.config.vocab_size, (batch, n), generator=g).to(device)
    am = torch.ones_like(ids)
    sizes = torch.tensor([[h, w]] * batch, device=device)
    keep = 10 if dry else 100

    def run():
        prompt, mask = model.encode_text(ids, am)
        out = model(images, pad, prompt, mask, sizes, pooled=False, compute_masks=False)
        for b in range(batch):
            q = torch.topk(out["logits"][b].max(-1).values, keep).indices
            model.decode_masks(out, b, q)

    return run, (h, w)


def _uniref_pass(device, dry: bool):
    from evalkit.zoo.uniref import build_uniref

    model = build_uniref("r50", **uniref_bench.TINY) if dry else build_uniref("r50")
    return model.eval().to(device), lambda batch: _uniref_inputs(model, device, dry, batch)


def _uniref_inputs(model, device, dry: bool, batch: int):
    h, w = (48, 64) if dry else (480, 864)  # 854 padded to a multiple of 32
    g = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, h, w, generator=g).to(device)
    pad = torch.zeros(batch, h, w, dtype=torch.bool, device=device)
    masks = torch.zeros(batch, h, w, device=device)
    masks[:, h // 4:h // 2, w // 4:w // 2] = 1.0
    sizes = torch.tensor([[h, w]] * batch, device=device)

    def run():
        vis = model.features(images, pad)
        ref = model.encode_mask_reference(vis, masks)  # the previous frame's mask as reference
        out = model(vis, sizes, mask=ref)
        for b in range(batch):
            model.decode_masks(out, b, out["logits"][b].argmax()[None])

    return run, (h, w)


def _glee_pass(device, dry: bool):
    from evalkit.zoo.glee.model import build_glee

    model = build_glee("lite", "r50", **GLEE_TINY) if dry else build_glee("lite", "r50")
    return model.eval().to(device), lambda batch: _glee_inputs(model, device, dry, batch)


def _glee_inputs(model, device, dry: bool, batch: int):
    size = 128 if dry else 1024
    g = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=g).to(device)
    vocab = model.text_encoder.text_model.config.vocab_size
    names = 8 if dry else 80
    ids = torch.randint(0, vocab - 2, (names, 4), generator=g).to(device)

    def run():
        text = model.category_prompt(ids, torch.ones_like(ids), batch)
        model(images, text)

    return run, (size, size)


def _univs_pass(device, dry: bool):
    from evalkit.zoo.univs.model import build_univs

    model = build_univs("r50", **univs_bench.TINY, text_dim=640) if dry else build_univs("r50")
    return model.eval().to(device), lambda batch: _univs_inputs(model, device, dry, batch)


def _univs_inputs(model, device, dry: bool, batch: int):
    h, w = (64, 128) if dry else (640, 1152)  # 640×1137 padded to a multiple of 32
    g = torch.Generator().manual_seed(0)
    clip = torch.randn(batch, 3, h, w, generator=g).to(device)  # the batch is the clip length
    classes = torch.randn(40, 640, generator=g).to(device)

    def run():
        model(clip, classes)

    return run, (h, w)


#: model id → ``(device, dry) -> (network, batch -> (one pass, input size))``
MODELS = {"uninext-r50": _uninext_pass, "uniref-pp-r50": _uniref_pass, "glee-lite": _glee_pass,
          "univs-r50": _univs_pass}


def _time_pass(run, device, dtype: str, warmup: int, iters: int) -> tuple[float, float | None]:
    """``(seconds per pass, peak MiB)``; the pass runs as ``evalkit run --dtype`` runs it."""
    with torch.inference_mode(), mixed_precision(dtype, device.type):
        for _ in range(warmup):
            run()
        _sync(device)
        _reset_peak(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            run()
        _sync(device)
    return (time.perf_counter() - t0) / iters, _peak_mib(device)


def throughput_section(device, dry: bool, budget: Budget, warmup: int, iters: int) -> list[dict]:
    batches = (1, 2) if dry else (1, 2, 4, 8)
    rows = []
    for name, make in MODELS.items():
        if not budget.allows(3 if dry else 30, f"throughput {name}"):
            continue
        torch.manual_seed(0)
        model, inputs = make(device, dry)
        for dtype in ("float32", "bfloat16"):
            cases = []
            for batch in batches:
                if not budget.allows(2 if dry else 5 + 2 * batch, f"throughput {name} {dtype} batch {batch}"):
                    break
                run = None
                try:
                    run, size = inputs(batch)
                    sec, peak = _time_pass(run, device, dtype, warmup, iters)
                except torch.cuda.OutOfMemoryError:
                    cases.append({"batch": batch, "oom": True})
                    break
                finally:
                    run = None  # free the inputs before the next batch
                    _reset_peak(device)
                cases.append({"batch": batch, "images_per_s": batch / sec, "ms_per_pass": sec * 1e3,
                              "peak_mib": peak, "size": list(size)})
            done = [c for c in cases if "images_per_s" in c]
            if done:
                best = max(done, key=lambda c: c["images_per_s"])
                rows.append({"model": name, "dtype": dtype, "size": done[0]["size"], "batch1": done[0],
                             "best": best, "cases": cases})
        del model, inputs
        _reset_peak(device)
    return rows


# ------------------------------------------------------------------------------------------
# 3. VOS memory
# ------------------------------------------------------------------------------------------
def _vos_adapter(name: str, device: str, dry: bool, tmp: Path):
    vocab = tmp / "vocab.txt"
    if name == "uninext-r50":
        from evalkit.adapters.uninext import build_adapter

        vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                                   + [f"w{i}" for i in range(59)]) + "\n")
        opts = dict(random_weights=True, tokenizer=str(vocab))
        if dry:
            opts.update(overrides=uninext_bench.TINY, input_size=(64, 128))
        return build_adapter(model_id="uninext-r50", device=device, **opts)
    from evalkit.adapters.uniref import build_adapter

    vocab.write_text("\n".join(uniref_bench.VOCAB) + "\n")
    opts = dict(random_weights=True, tokenizer=str(vocab), dataset="davis17", score_thres=0.0)
    if dry:
        opts.update(overrides=uniref_bench.TINY, input_size=(32, 48))
    return build_adapter(model_id="uniref-pp-r50", device=device, **opts)


def vos_section(device, dry: bool, budget: Budget) -> list[dict]:
    from evalkit.types import Frames, Reference

    n, marks = (12, (4, 12)) if dry else (600, (100, 600))
    h, w = (48, 64) if dry else (480, 854)
    rows = []
    for name in ("uninext-r50", "uniref-pp-r50"):
        if not budget.allows(5 if dry else 90, f"vos memory {name}"):
            continue
        torch.manual_seed(0)
        with tempfile.TemporaryDirectory() as tmp:
            adapter = _vos_adapter(name, str(device), dry, Path(tmp))
        masks = np.zeros((2, h, w), bool)
        masks[0, h // 5:h // 2, w // 10:w // 3] = True
        masks[1, h // 3:2 * h // 3, w // 2:9 * w // 10] = True
        prompt = Reference(object_ids=(1, 2), masks=masks)
        adapter.prepare("vos")

        def frame(i):
            return lambda: np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)

        frames = Frames([frame(i) for i in range(n)], sizes=[(h, w)] * n)
        _reset_peak(device)
        kept, at = [], {}
        t0 = time.perf_counter()
        for i, inst in enumerate(adapter.predict(frames, prompt), 1):
            kept.append(inst.to_json())  # what the prediction store keeps (RLE on the host)
            if i in marks:
                _sync(device)
                at[i] = {"gpu_mib": torch.cuda.memory_allocated() / 2**20 if device.type == "cuda" else None,
                         "gpu_peak_mib": _peak_mib(device), "rss_mib": rss_mib(), "s": time.perf_counter() - t0}
        first, last = at[marks[0]], at[marks[1]]
        key = "gpu_mib" if device.type == "cuda" else "rss_mib"
        rows.append({"model": name, "frames": n, "size": [h, w], "objects": 2, "dtype": "float32",
                     "at": {str(k): v for k, v in at.items()}, "marks": list(marks),
                     "growth_mib": last[key] - first[key], "measure": key,
                     "frames_per_s": n / (time.perf_counter() - t0)})
        del adapter
        _reset_peak(device)
    return rows


# ------------------------------------------------------------------------------------------
# table and JSON
# ------------------------------------------------------------------------------------------
def _f(x, fmt="8.2f", none="     n/a"):
    return none if x is None else format(x, fmt)


def targets(report: dict) -> list[dict]:
    """The issue's targets, each with the measured value and met / missed (None: not measured)."""
    out = []
    enc = {r["dtype"]: r for r in report["msda"] if r["shape"] == "uninext-encoder" and "speedup_fwd" in r}
    for dtype, key in (("bfloat16", "msda_fwd_speedup_bf16"), ("float32", "msda_fwd_speedup_fp32")):
        v = enc[dtype]["speedup_fwd"] if dtype in enc else None
        out.append({"target": f"MSDA fwd Triton/reference at the UNINEXT encoder shape, {dtype}",
                    "want": f">= {TARGETS[key]}x", "got": v, "met": None if v is None else v >= TARGETS[key]})
    bwd = [r["speedup_bwd"] for r in report["msda"] if r.get("speedup_bwd") is not None]
    out.append({"target": "MSDA backward faster than the reference (every case)", "want": "> 1x",
                "got": min(bwd) if bwd else None, "met": (min(bwd) > 1.0) if bwd else None})
    det = [r for r in report["throughput"] if r["model"] == "uninext-r50"]
    v = max((r["batch1"]["images_per_s"] for r in det), default=None)  # the faster precision
    want = TARGETS["uninext_r50_det_images_per_s"]
    out.append({"target": "UNINEXT-R50 detection at 800x1333, batch 1", "want": f">= {want} images/s",
                "got": v, "met": None if v is None else v >= want})
    limit = TARGETS["vos_600_growth_mib"]
    for r in report["vos"]:
        out.append({"target": f"{r['model']} 600-frame VOS, flat GPU memory", "want": f"growth < {limit} MiB",
                    "got": r["growth_mib"], "met": r["growth_mib"] < limit})
    if report["dry_run"]:
        for t in out:
            t["met"] = None  # tiny shapes on the CPU: nothing to judge
    return out


def render(report: dict) -> str:
    lines = [f"evalkit GPU suite — {report['device']}; torch {report['torch']}, triton {report['triton']}"
             f"{' — DRY RUN (tiny sizes on the CPU: numbers mean nothing)' if report['dry_run'] else ''}", ""]
    lines.append("MSDA (batch 1): ms per call; speed-up = reference / Triton; errors relative to an fp32 reference")
    lines.append(f"{'shape':16} {'dtype':8} {'Lq':>6} {'ref fwd':>8} {'tri fwd':>8} {'x fwd':>6} {'ref f+b':>8} "
                 f"{'tri f+b':>8} {'x bwd':>6} {'err out':>8} {'err dv':>8} {'err dloc':>8} {'ok':>4}")
    for r in report["msda"]:
        t, ref, e = r.get("triton", {}), r["reference"], r.get("errors", {})
        lines.append(f"{r['shape']:16} {r['dtype']:8} {r['lq']:>6} {_f(ref['fwd_ms'])} {_f(t.get('fwd_ms'))} "
                     f"{_f(r.get('speedup_fwd'), '6.2f', '   n/a')} {_f(ref['fwd_bwd_ms'])} {_f(t.get('fwd_bwd_ms'))} "
                     f"{_f(r.get('speedup_bwd'), '6.2f', '   n/a')} {_f(e.get('output'), '8.1e')} "
                     f"{_f(e.get('d_value'), '8.1e')} {_f(e.get('d_loc'), '8.1e')} "
                     f"{('yes' if r['correct'] else 'NO') if 'correct' in r else 'n/a':>4}")
    lines += ["", "Throughput (random weights; run --dtype semantics): images/s, peak GPU MiB"]
    lines.append(f"{'model':14} {'dtype':8} {'size':>10} {'b1 img/s':>9} {'b1 MiB':>8} {'best b':>6} "
                 f"{'img/s':>9} {'MiB':>8}")
    for r in report["throughput"]:
        b1, best = r["batch1"], r["best"]
        lines.append(f"{r['model']:14} {r['dtype']:8} {'x'.join(map(str, r['size'])):>10} "
                     f"{b1['images_per_s']:9.2f} {_f(b1['peak_mib'], '8.0f')} {best['batch']:>6} "
                     f"{best['images_per_s']:9.2f} {_f(best['peak_mib'], '8.0f')}")
    lines += ["", "VOS memory (float32, 2 objects): allocated GPU MiB (peak so far) after the frames "
              "(process RSS on the CPU)"]
    for r in report["vos"]:
        a, b = (r["at"][str(m)] for m in r["marks"])

        def mem(x):
            if x["gpu_mib"] is None:
                return f"RSS {x['rss_mib']:.0f}"
            return f"{x['gpu_mib']:.0f} ({x['gpu_peak_mib']:.0f})"

        lines.append(f"{r['model']:14} {'x'.join(map(str, r['size']))} frame {r['marks'][0]}: {mem(a)}; "
                     f"frame {r['marks'][1]}: {mem(b)}; growth {r['growth_mib']:+.1f} MiB; "
                     f"{r['frames_per_s']:.1f} frames/s")
    lines += ["", "Targets"]
    for t in report["targets"]:
        state = "n/a" if t["met"] is None else ("met" if t["met"] else "MISSED")
        lines.append(f"  {t['target']}: want {t['want']}, got {_f(t['got'], '.2f', 'n/a')} — {state}")
    if report["skipped"]:
        lines += ["", "Skipped (time budget): " + "; ".join(report["skipped"])]
    lines.append(f"\n{report['elapsed_s']:.0f} s in all; JSON: {report['json']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU (checks the script)")
    ap.add_argument("--out", type=Path, default=Path("gpu_suite.json"), help="JSON file (default gpu_suite.json)")
    ap.add_argument("--budget-s", type=float, default=400.0, help="wall-clock budget of the measurements (s)")
    ap.add_argument("--sections", default="msda,throughput,vos", help="comma-separated subset")
    args = ap.parse_args(argv)
    if args.dry_run:
        device, warmup, iters, msda_iters = torch.device("cpu"), 1, 1, 1
        torch.set_num_threads(1)
    else:
        if not torch.cuda.is_available():
            print("bench/gpu_suite.py needs a CUDA GPU (use --dry-run to check the script on the CPU)",
                  file=sys.stderr)
            return 2
        device, warmup, iters, msda_iters = torch.device("cuda"), 2, 5, 20
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    budget = Budget(args.budget_s)
    sections = set(args.sections.split(","))
    report = {"schema": 1, "dry_run": args.dry_run, "python": platform.python_version(), "torch": torch.__version__,
              "triton": triton_version, "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
              "json": str(args.out)}
    report["msda"] = msda_section(device, args.dry_run, budget, warmup, msda_iters) if "msda" in sections else []
    report["throughput"] = (throughput_section(device, args.dry_run, budget, warmup, iters)
                            if "throughput" in sections else [])
    report["vos"] = vos_section(device, args.dry_run, budget) if "vos" in sections else []
    report["targets"] = targets(report)
    report["skipped"] = budget.skipped
    report["elapsed_s"] = budget.elapsed()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
