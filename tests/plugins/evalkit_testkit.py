"""Test-only plugin: a tiny COCO-layout benchmark of coloured rectangles and an adapter that
finds them by colour. Registered hidden (never listed to users); subprocess tests load it with
``EVALKIT_PLUGINS=evalkit_testkit`` and this folder on ``PYTHONPATH``.

Dataset layout (COCO's): ``<root>/annotations/instances_val.json`` + ``<root>/val/*.png``.
Categories: 1 red, 2 green, 3 blue. The adapter is a real (if simple) detector: connected
components per colour channel, score from the component's fill ratio.

Environment knobs for crash tests:
    EVALKIT_TESTKIT_LOG=path      append each *completed* prediction's sample id to this file
    EVALKIT_TESTKIT_KILL_AT=k     SIGKILL the process when asked for the k-th sample (0-based,
                                  counted over this process's predictions)
    EVALKIT_TESTKIT_FAIL=id,id    raise on these sample ids
    EVALKIT_TESTKIT_HANG_RANK=r   the process of torchrun rank r sleeps 120 s on its first sample
"""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np

from evalkit.adapters.base import Adapter
from evalkit.benchmarks.base import Benchmark, file_fingerprint
from evalkit.errors import DatasetError
from evalkit.fileio import atomic_write_json
from evalkit.registry import BENCHMARKS, MODELS
from evalkit.types import Categories, Frames, Instances, Sample

COLORS = {1: ("red", (220, 30, 30)), 2: ("green", (30, 200, 30)), 3: ("blue", (30, 30, 220))}


def generate(root: Path, n_images: int = 12, seed: int = 0) -> Path:
    """Write the tiny dataset; returns ``root``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "val").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i in range(n_images):
        h, w = int(rng.integers(60, 90)), int(rng.integers(70, 110))
        img = np.zeros((h, w, 3), np.uint8)
        for cid in rng.permutation([1, 2, 3])[: int(rng.integers(1, 4))]:
            bw, bh = int(rng.integers(8, w // 2)), int(rng.integers(8, h // 2))
            x0, y0 = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            img[y0:y0 + bh, x0:x0 + bw] = COLORS[int(cid)][1]
        # boxes from the final image so overlaps are handled exactly
        for cid, (_, rgb) in COLORS.items():
            m = (img == np.array(rgb, np.uint8)).all(-1)
            if m.any():
                ys, xs = np.nonzero(m)
                box = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
                anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cid, "bbox": box,
                             "area": box[2] * box[3], "iscrowd": 0})
        name = f"{i:06d}.png"
        Image.fromarray(img).save(root / "val" / name)
        images.append({"id": i + 1, "file_name": name, "height": h, "width": w})
    cats = [{"id": c, "name": n} for c, (n, _) in COLORS.items()]
    atomic_write_json(root / "annotations" / "instances_val.json",
                      {"images": images, "annotations": anns, "categories": cats})
    return root


class BlobsBenchmark(Benchmark):
    task = "det"
    prompt = "categories"
    metric = None  # scored directly with pycocotools below
    server = False

    @property
    def ann_file(self) -> Path:
        return self.root / "annotations" / "instances_val.json"

    def _gt(self) -> dict:
        if not hasattr(self, "_gt_cache"):
            self._gt_cache = json.loads(self.ann_file.read_text())
        return self._gt_cache

    def validate(self) -> None:
        if not self.ann_file.exists():
            raise DatasetError(f"{self.id}: missing {self.ann_file} (expected COCO layout "
                               f"annotations/instances_val.json + val/)")
        for im in self._gt()["images"]:
            if not (self.root / "val" / im["file_name"]).exists():
                raise DatasetError(f"{self.id}: image {im['id']} points to missing file "
                                   f"{self.root / 'val' / im['file_name']}")

    def sample_ids(self) -> list[str]:
        return [str(im["id"]) for im in self._gt()["images"]]

    def load_sample(self, sample_id: str) -> Sample:
        im = next(i for i in self._gt()["images"] if str(i["id"]) == sample_id)
        cats = self._gt()["categories"]
        frames = Frames([self.root / "val" / im["file_name"]], [im["id"]], [(im["height"], im["width"])])
        return Sample(sample_id, frames, Categories([c["name"] for c in cats], [c["id"] for c in cats]),
                      {"image_id": im["id"]})

    def fingerprint(self) -> str:
        return file_fingerprint([self.ann_file], ",".join(self.sample_ids()))

    def write_results(self, predictions, samples_meta, results_dir: Path):
        out = []
        for sid, frames in predictions.items():
            inst = frames[0]
            for b, s, l in zip(inst.boxes, inst.scores, inst.labels):
                out.append({"image_id": samples_meta[sid]["image_id"], "category_id": int(l),
                            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                            "score": float(s)})
        path = results_dir / "bbox_results.json"
        atomic_write_json(path, out)
        return [path]

    def gt_path(self) -> Path:
        return self.ann_file

    def results_path(self, results_dir: Path) -> Path:
        return results_dir / "bbox_results.json"

    def score(self, results_dir: Path, samples=None) -> dict:
        """COCO box AP; ``samples``: over those images only (cocoapi's ``params.imgIds``)."""
        import contextlib
        import io

        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(str(self.ann_file))
            res = json.loads(self.results_path(results_dir).read_text())
            dt = gt.loadRes(res) if res else COCO()
            ev = COCOeval(gt, dt, "bbox")
            if samples is not None:
                ev.params.imgIds = sorted(int(s) for s in samples)
            ev.evaluate(); ev.accumulate(); ev.summarize()
        names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
        return {n: float(v) for n, v in zip(names, ev.stats)}


class BlobAdapter(Adapter):
    model_id = "test-blobs"
    tasks = frozenset({"det"})
    prompt_kinds = frozenset({"categories"})

    def __init__(self, **kw):
        super().__init__(**kw)
        self.weights_sha256 = "0" * 64
        self._count = 0

    def predict(self, frames, prompt):
        from scipy import ndimage

        kill_at = os.environ.get("EVALKIT_TESTKIT_KILL_AT")
        if kill_at is not None and self._count == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)
        self._count += 1
        hang = os.environ.get("EVALKIT_TESTKIT_HANG_RANK")
        if hang is not None and os.environ.get("RANK") == hang and self._count == 1:
            import time

            time.sleep(120)
        fail = set(filter(None, os.environ.get("EVALKIT_TESTKIT_FAIL", "").split(",")))
        if str(frames.ids[0]) in fail:
            raise RuntimeError(f"planned failure on image {frames.ids[0]}")
        out = []
        for img in frames:
            boxes, scores, labels = [], [], []
            for cid, (name, rgb) in COLORS.items():
                if name not in prompt.names:
                    continue
                lab, n = ndimage.label((img == np.array(rgb, np.uint8)).all(-1))
                for sl in ndimage.find_objects(lab):
                    ys, xs = sl
                    area = (ys.stop - ys.start) * (xs.stop - xs.start)
                    fill = float((lab[sl] > 0).sum()) / area
                    boxes.append([xs.start, ys.start, xs.stop, ys.stop])
                    # deterministic, varied scores so AP depends on the ranking
                    scores.append(0.5 + 0.4 * fill - 0.001 * len(boxes))
                    labels.append(cid)
                # a deterministic false positive per colour, to keep AP below 1
                boxes.append([0, 0, 5, 5]); scores.append(0.3); labels.append(cid)
            out.append(Instances(img.shape[:2], np.array(boxes, np.float32).reshape(-1, 4),
                                 scores=np.array(scores), labels=np.array(labels)))
        log = os.environ.get("EVALKIT_TESTKIT_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{frames.ids[0]}\n")
        return out


def make_adapter(*, model_id="test-blobs", device="cpu", weights=None, **options):
    return BlobAdapter(model_id=model_id, device=device, weights=weights, **options)


def register() -> None:
    MODELS.register("test-blobs", f"{__name__}:make_adapter", task="det", hidden=True, overwrite=True,
                    description="test-only colour-blob detector")
    BENCHMARKS.register("test-blobs-val", f"{__name__}:BlobsBenchmark", task="det", hidden=True,
                        overwrite=True, dataset="blobs", description="test-only blobs benchmark")


register()
