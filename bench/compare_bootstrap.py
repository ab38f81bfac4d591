"""Paired bootstrap of COCO box AP in ``evalkit compare``: images as the unit (re-accumulating AP
per replicate from the stored matching state) vs categories as the unit (a mean of per-category
APs), on the same two synthetic runs, in one process.

    python bench/compare_bootstrap.py                         # 1,000 images, 100 detections each
    python bench/compare_bootstrap.py --images 5000 --resamples 500

Data: ``bench/metrics_coco.py``'s COCO-val imitation (80 categories); run B is run A with the
scores of every third detection scaled by 0.3. Prints both intervals, the seconds of each
bootstrap and their ratio, and the scoring time (the evaluation that builds the state) for scale.
The per-detection cost it prints sets ``AUTO_IMAGE_BUDGET`` of ``evalkit/reports/compare.py``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--dets", type=int, default=100, help="detections per image")
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args()

    from bench.metrics_coco import make_data
    from evalkit.breakdown import write_breakdown
    from evalkit.metrics import compute
    from evalkit.metrics._breakdown import collecting
    from evalkit.reports.compare import compare_runs
    import evalkit.metrics.catalog  # noqa: F401

    gt, res = make_data(args.images, args.dets, masks=False)
    res = [{k: v for k, v in r.items() if k != "segmentation"} for r in res]
    runs = {"a": res, "b": [{**r, "score": r["score"] * (0.3 if i % 3 == 0 else 1.0)} for i, r in enumerate(res)]}
    with tempfile.TemporaryDirectory() as tmp:
        for name, dets in runs.items():
            t0 = time.perf_counter()
            with collecting() as found:
                m = compute("coco-bbox", gt, dets)
            t_score = time.perf_counter() - t0
            write_breakdown(Path(tmp) / name / "breakdown.json", found[0], benchmark="bench", model=name,
                            metric="coco-bbox", metrics=m)
            print(f"run {name}: AP {m['AP']:.4f}, scored in {t_score:.2f} s "
                  f"({len(dets)} detections, {args.images} images)")
        times = {}
        for unit in ("category", "image"):
            t0 = time.perf_counter()
            c = compare_runs(Path(tmp) / "a", Path(tmp) / "b", resamples=args.resamples, top=0, ap_unit=unit)
            times[unit] = time.perf_counter() - t0
            m = next(x for x in c["metrics"] if x["key"] == "AP")
            print(f"unit {unit:8s} ({m['n_units']:5d}): dAP {m['delta']:+.4f} "
                  f"[{m['low']:+.4f}, {m['high']:+.4f}] {m['verdict']:12s} {times[unit]:.2f} s")
    print(f"image / category time: {times['image'] / times['category']:.1f}x ({args.resamples} resamples)")
    per = times["image"] / (args.resamples * 2 * len(res))
    print(f"image unit: {per * 1e6:.2f} us per detection and replicate")


if __name__ == "__main__":
    main()
