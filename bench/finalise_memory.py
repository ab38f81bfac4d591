"""Peak memory of a run's finalisation (reading the prediction store + writing the official
results), the path that held every prediction at once against the streaming one, in one run.

    python bench/finalise_memory.py [--images 5000] [--per-image 10] [--no-tracemalloc]

Two cases, each with a prediction store of synthetic predictions (boxes, RLE masks, scores,
labels, track ids) built first:

* (a) the shapes video split with the most frames (generated in a temporary cache), one
  prediction per frame of every video;
* (b) a generated COCO-layout split of ``--images`` images (``instances_val2017.json``: the
  writer and the store need no image files) scored as ``coco-val2017-seg`` (RLE masks in the
  results), ``--per-image`` instances per image.

Each path runs in a fresh process (so that one path's freed memory cannot hide the other's
peak) and reports the peak resident set size above the process's size just before the step
(``VmHWM`` after the step, reset to the current RSS just before it, minus that RSS) and, in a second process, the peak of the Python
allocations traced by ``tracemalloc`` during the step; then the ratio old / new. Scoring is not
part of the step measured (the metric reads the whole results file in both paths).

* old: every record read (``PredictionStore.read``), ``predictions`` / ``metas`` dicts of
  every sample (``Instances.from_json``) as the runner built them, then the writer; for JSON
  array formats the writer built the whole entry list and its encoded text (as the writers did:
  ``benchmarks/_io.atomic_write_json`` of the list), per-frame formats wrote from the dicts;
* new: ``evalkit.finalise.write_results``: ``PredictionStore.index`` then
  ``iter_predictions`` → ``Benchmark.write_stream``, one sample at a time.

Both paths must write identical files (checked; the script fails otherwise).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VIDEO_SPLITS = ("shapes-davis", "shapes-ytvis", "shapes-sot", "shapes-mot")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"/proc/self/status has no {field} (this script measures memory on Linux)")


def _reset_peak_rss() -> None:
    """Set the peak RSS (VmHWM) back to the current RSS, so that the peak read after the step is
    the step's, not the one of the imports before it (Linux: ``clear_refs`` value 5)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# -- the two paths ---------------------------------------------------------------------------
def old_path(bench, store, ids, results_dir: Path) -> None:
    """The finalisation as it was: every record and every sample's Instances in memory."""
    from evalkit.benchmarks._io import atomic_write_json
    from evalkit.benchmarks.coco import CocoStyleImages
    from evalkit.benchmarks.ytvis import YouTubeVIS, tracks_to_ytvis
    from evalkit.benchmarks._common import coco_records
    from evalkit.types import Instances

    done, _ = store.read()
    predictions = {i: [Instances.from_json(d) for d in done[i]["instances"]] for i in ids if i in done}
    metas = {i: {**done[i].get("meta", {}), "time_s": done[i].get("time_s")} for i in ids if i in done}
    results_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(bench, CocoStyleImages) and not bench.server and bench.derived_gt is None:
        out: list[dict] = []  # the COCO writer: the whole records list, then its JSON text
        for sid in sorted(predictions, key=bench.result_key):
            image_id = metas.get(sid, {}).get("image_id", int(sid))
            out += coco_records(predictions[sid][0], image_id, boxes=not bench.masks, masks=bench.masks, sample=sid)
        atomic_write_json(bench.results_path(results_dir), out)
    elif isinstance(bench, YouTubeVIS) and not bench.server:
        entries: list[dict] = []
        for sid in sorted(predictions, key=bench.result_key):
            entries += tracks_to_ytvis(predictions[sid], int(sid), sid)
        atomic_write_json(bench.results_path(results_dir), entries)
    else:  # per-frame files: the writer wrote from the dicts, one file at a time
        bench.write_results(predictions, metas, results_dir)


def new_path(bench, store, ids, results_dir: Path) -> None:
    from evalkit.finalise import write_results

    write_results(bench, store, ids, results_dir)


# -- one measurement in a fresh process --------------------------------------------------------
def child(case: dict, path: str, trace: bool) -> dict:
    os.environ["EVALKIT_CACHE"] = case["cache"]
    from evalkit.benchmarks.base import build_benchmark
    from evalkit.store import PredictionStore

    bench = build_benchmark(case["bench"], case.get("data_root"))
    store = PredictionStore(Path(case["store"]))
    ids = bench.sample_ids()
    _warm_up(bench, store, ids, Path(case["out"]) / f"warm-{path}")
    out = Path(case["out"]) / f"{path}{'-traced' if trace else ''}"
    fn = old_path if path == "old" else new_path
    if trace:
        import tracemalloc

        tracemalloc.start()
        t0 = time.perf_counter()
        fn(bench, store, ids, out)
        wall = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        return {"tracemalloc_peak_mib": peak / 2**20, "traced_wall_s": wall}
    _reset_peak_rss()
    base = _status_kib("VmRSS")
    t0 = time.perf_counter()
    fn(bench, store, ids, out)
    wall = time.perf_counter() - t0
    peak = _status_kib("VmHWM")
    return {"rss_peak_above_start_mib": max(peak - base, 0) / 1024, "wall_s": wall, "digest": _digest(out)}


def _warm_up(bench, store, ids, out: Path) -> None:
    """Write the first sample's results once, so that the modules the writers import on first
    use (PIL's PNG plugin, pycocotools, the benchmark index) are loaded before the baseline RSS
    is taken and count for neither path."""
    from evalkit.benchmarks._common import coco_records  # noqa: F401
    from evalkit.finalise import write_results

    bench.index  # noqa: B018 - built once, outside the measured step
    write_results(bench, store, ids[:1], out)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def _run_child(case: dict, path: str, trace: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(case), path] + (["--trace"] if trace else [])
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if res.returncode:
        raise SystemExit(f"{path} path failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# -- synthetic stores ------------------------------------------------------------------------------
def _synthetic(size, n: int, rng, label: int):
    """``n`` instances on an ``H x W`` frame: rectangles (boxes + masks), scores, one label, track ids 1..n."""
    import numpy as np

    from evalkit.types import Instances

    h, w = size
    y0 = rng.integers(0, max(h - 8, 1), n)
    x0 = rng.integers(0, max(w - 8, 1), n)
    y1 = np.minimum(h, y0 + rng.integers(4, max(h // 3, 5), n))
    x1 = np.minimum(w, x0 + rng.integers(4, max(w // 3, 5), n))
    masks = np.zeros((n, h, w), bool)
    for k in range(n):
        masks[k, y0[k]:y1[k], x0[k]:x1[k]] = True
    boxes = np.stack([x0, y0, x1, y1], 1).astype(np.float32)
    return Instances((h, w), boxes, masks, np.round(rng.uniform(0.05, 1, n), 4), np.full(n, label),
                     np.arange(1, n + 1))


def build_store(bench, store_dir: Path, per_frame: int, seed: int = 0) -> tuple[int, int]:
    """A store with one record per sample of ``bench``; returns (samples, frames)."""
    import numpy as np

    from evalkit.store import PredictionStore, encode_record

    rng = np.random.default_rng(seed)
    store = PredictionStore(store_dir)
    store.init("bench", {"model": "synthetic"})
    shard = store.open_shard(0, 1)
    label = int(bench.categories().ids[0]) if hasattr(bench, "categories") else 1
    frames = 0
    for sid in bench.sample_ids():
        s = bench.load_sample(sid)
        preds = [_synthetic(hw, per_frame, rng, label) for hw in s.frames.sizes]
        frames += len(preds)
        shard.append_line(encode_record({"sample_id": sid, "instances": [p.to_json() for p in preds],
                                         "meta": s.meta, "time_s": 0.01}))
    shard.close()
    return len(bench.sample_ids()), frames


def write_coco_layout(root: Path, n_images: int) -> None:
    """``root/annotations/instances_val2017.json`` with ``n_images`` 480x640 images and 80
    categories (no annotations needed by the writer; the image files are not read)."""
    images = [{"id": i, "file_name": f"{i:012d}.jpg", "height": 480, "width": 640} for i in range(1, n_images + 1)]
    cats = [{"id": c, "name": f"class{c}"} for c in range(1, 81)]
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_val2017.json").write_text(
        json.dumps({"images": images, "annotations": [], "categories": cats}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--per-image", type=int, default=10)
    ap.add_argument("--per-frame", type=int, default=3, help="instances per video frame")
    ap.add_argument("--no-tracemalloc", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["EVALKIT_CACHE"] = str(tmp / "cache")
        from evalkit.benchmarks.base import build_benchmark

        def frames_of(bid: str) -> int:
            b = build_benchmark(bid)
            return sum(len(b.load_sample(s).frames) for s in b.sample_ids())

        video = max(VIDEO_SPLITS, key=frames_of)
        write_coco_layout(tmp / "data" / "coco", args.images)
        cases = []
        for name, bid, root, per in (("a", video, None, args.per_frame),
                                     ("b", "coco-val2017-seg", str(tmp / "data"), args.per_image)):
            bench = build_benchmark(bid, root)
            t0 = time.perf_counter()
            n, frames = build_store(bench, tmp / name / "predictions", per)
            store_mib = sum(p.stat().st_size for p in (tmp / name / "predictions").glob("shard-*")) / 2**20
            print(f"({name}) {bid}: {n} samples, {frames} frames, {per} instances each; store "
                  f"{store_mib:.1f} MiB (built in {time.perf_counter() - t0:.1f} s)", flush=True)
            cases.append((name, bid, {"bench": bid, "data_root": root, "cache": str(tmp / "cache"),
                                      "store": str(tmp / name / "predictions"), "out": str(tmp / name)}))
        for name, bid, case in cases:
            res = {p: _run_child(case, p, False) for p in ("old", "new")}
            if res["old"]["digest"] != res["new"]["digest"]:
                raise SystemExit(f"({name}) {bid}: the two paths wrote different files")
            if not args.no_tracemalloc:
                for p in ("old", "new"):
                    res[p].update(_run_child(case, p, True))
            for p in ("old", "new"):
                r = res[p]
                traced = f", tracemalloc peak {r['tracemalloc_peak_mib']:8.1f} MiB" if "tracemalloc_peak_mib" in r else ""
                print(f"({name}) {bid:18s} {p}: peak RSS above start {r['rss_peak_above_start_mib']:8.1f} MiB"
                      f"{traced}, {r['wall_s']:.2f} s")
            # RSS moves in pages and allocator arenas: below 0.1 MiB the ratio is a lower bound
            new_rss = res["new"]["rss_peak_above_start_mib"]
            ratio = res["old"]["rss_peak_above_start_mib"] / max(new_rss, 0.1)
            line = f"({name}) {bid}: old/new peak RSS {'>= ' if new_rss < 0.1 else ''}{ratio:.1f}x"
            if not args.no_tracemalloc:
                line += (f", tracemalloc {res['old']['tracemalloc_peak_mib'] / res['new']['tracemalloc_peak_mib']:.1f}x")
            print(line + " (identical files)", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(json.loads(sys.argv[2]), sys.argv[3], "--trace" in sys.argv[4:])))
    else:
        main()
