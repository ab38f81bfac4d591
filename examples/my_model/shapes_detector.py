"""A user's own model for evalkit: a colour-and-shape detector for the synthetic shapes suite.

The example of ``docs/your-model.md``; CI runs it in every way that page describes
(``tests/user_model/test_examples.py``):

    evalkit run -m examples/my_model/shapes_detector.py:make_adapter -b shapes-coco-det
    evalkit run -m shapes_detector:ShapesDetector -b shapes-ytvis         # on PYTHONPATH / installed
    evalkit.evaluate(ShapesDetector(min_area=30), "shapes-coco-seg")       # an object, from Python
    pip install examples/my_model && evalkit run -m shapes-detector -b shapes   # the entry point

The model is a classical pipeline, not a network (it needs no weights):

1. colour segmentation: each pixel goes to the nearest of the colour prototypes when it is
   within ``tolerance`` (L2 distance in RGB) of it, else to the background;
2. instances: 8-connected components of each colour (``scipy.ndimage.label``), at least
   ``min_area`` pixels;
3. shape: the fill ratio of a component in its box is ~1 for a square, pi/4 for a circle and
   1/2 for a triangle; a Gaussian likelihood of the ratio around each prototype, normalised
   over the three shapes, gives a score per category; hypotheses above ``min_score`` are kept;
4. video (VIS): components are linked frame to frame by mask IoU (greedy, same colour, at
   least ``iou_threshold``); a track's shape scores are the running mean of its frames'
   likelihoods, so its label does not flicker.

It speaks evalkit's contract: boxes ``xyxy`` float32 in the frame's pixels, boolean masks at
the frame's size, scores in [0, 1], labels taken from the prompt's category ids (never its own
indices), track ids for videos.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from evalkit.adapters.base import Adapter
from evalkit.types import Categories, Frames, Instances

#: the model's colour prototypes (RGB) and the fill ratio of each shape in its bounding box
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220)}
FILL = {"square": 1.0, "circle": np.pi / 4, "triangle": 0.5}
#: width of the fill-ratio likelihood (occlusions and pixelisation spread the ratios)
FILL_SIGMA = 0.08


class ShapesDetector(Adapter):
    """Detection, instance segmentation and video instance segmentation of coloured shapes.

    Options (``-a key=value``): ``min_area`` (pixels, default 20), ``tolerance`` (RGB distance,
    default 60), ``min_score`` (default 0.05), ``iou_threshold`` (track linking, default 0.3).
    """

    tasks = frozenset({"det", "inst-seg", "vis"})
    prompt_kinds = frozenset({"categories"})
    option_keys = frozenset({"min_area", "tolerance", "min_score", "iou_threshold"})

    def __init__(self, *, model_id: str = "shapes-detector", device: str = "cpu", weights=None,
                 min_area: int = 20, tolerance: float = 60.0, min_score: float = 0.05,
                 iou_threshold: float = 0.3, **options):
        super().__init__(model_id=model_id, device=device, weights=weights, min_area=min_area,
                         tolerance=tolerance, min_score=min_score, iou_threshold=iou_threshold, **options)
        self.min_area, self.tolerance = int(min_area), float(tolerance)
        self.min_score, self.iou_threshold = float(min_score), float(iou_threshold)

    # -- one frame ------------------------------------------------------------------------------
    def components(self, image: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(colour, H x W bool mask, 3 shape likelihoods)`` of every component of ``image``
        (``H x W x 3`` uint8 RGB), likelihoods in :data:`FILL` order."""
        protos = np.array(list(COLOURS.values()), np.float32)  # C x 3
        dist = np.linalg.norm(image[:, :, None, :].astype(np.float32) - protos, axis=-1)  # H x W x C
        nearest = dist.argmin(-1)
        near_enough = dist.min(-1) <= self.tolerance
        out = []
        for c, colour in enumerate(COLOURS):
            labels, n = ndimage.label(near_enough & (nearest == c), structure=np.ones((3, 3)))
            for k, sl in enumerate(ndimage.find_objects(labels), start=1):
                mask = labels == k
                area = int(mask.sum())
                if area < self.min_area:
                    continue
                box_area = (sl[0].stop - sl[0].start) * (sl[1].stop - sl[1].start)
                fill = area / box_area
                lik = np.array([np.exp(-0.5 * ((fill - f) / FILL_SIGMA) ** 2) for f in FILL.values()])
                out.append((colour, mask, lik + 1e-12))
        return out

    def _instances(self, size, parts, category_of: dict[str, int], track_ids=None) -> Instances:
        """Instances of ``parts`` (``(colour, mask, likelihoods)``): one hypothesis per shape
        whose normalised likelihood is at least ``min_score`` and whose category is prompted."""
        boxes, masks, scores, labels, tids = [], [], [], [], []
        for j, (colour, mask, lik) in enumerate(parts):
            ys, xs = np.nonzero(mask)
            box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]  # pixel (i, j) covers [j, j+1)
            for shape, p in zip(FILL, lik / lik.sum()):
                cid = category_of.get(f"{colour} {shape}")
                if cid is None or p < self.min_score:
                    continue
                boxes.append(box)
                masks.append(mask)
                scores.append(p)
                labels.append(cid)
                tids.append(0 if track_ids is None else track_ids[j])
        h, w = size
        return Instances(
            (h, w),
            boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
            masks=np.asarray(masks, bool).reshape(-1, h, w),
            scores=np.asarray(scores, np.float32),
            labels=np.asarray(labels, np.int64),
            track_ids=None if track_ids is None else np.asarray(tids, np.int64),
        )

    # -- the contract -----------------------------------------------------------------------------
    def predict(self, frames: Frames, prompt: Categories) -> list[Instances]:
        """One :class:`Instances` per frame of ``frames`` (original size); for a video
        (``len(frames) > 1`` or the ``vis`` task) with ``track_ids``."""
        category_of = dict(zip(prompt.names, prompt.ids))
        if self.task != "vis":
            return [self._instances(frames.sizes[i], self.components(img), category_of)
                    for i, img in enumerate(frames)]
        tracks: dict[int, tuple[str, np.ndarray, np.ndarray, int]] = {}  # id → colour, mask, lik sum, n
        out = []
        for i, img in enumerate(frames):
            parts, ids = [], []
            free = set(tracks)
            for colour, mask, lik in self.components(img):
                best, best_iou = None, self.iou_threshold
                for t in free:
                    t_colour, t_mask, _, _ = tracks[t]
                    if t_colour != colour:
                        continue
                    iou = (mask & t_mask).sum() / max((mask | t_mask).sum(), 1)
                    if iou >= best_iou:
                        best, best_iou = t, iou
                if best is None:
                    best = max(tracks, default=0) + 1
                    tracks[best] = (colour, mask, np.zeros(3), 0)
                free.discard(best)
                _, _, total, n = tracks[best]
                tracks[best] = (colour, mask, total + lik / lik.sum(), n + 1)
                parts.append((colour, mask, (total + lik / lik.sum()) / (n + 1)))
                ids.append(best)
            out.append(self._instances(frames.sizes[i], parts, category_of, ids))
        return out


def make_adapter(*, device: str = "cpu", min_area: int = 20, tolerance: float = 60.0) -> ShapesDetector:
    """The factory of ``--model examples/my_model/shapes_detector.py:make_adapter``: its named
    arguments are the ``-a`` options it takes (``-a min_area=30``)."""
    return ShapesDetector(device=device, min_area=min_area, tolerance=tolerance)


def register() -> None:
    """The ``evalkit.models`` entry point (``pyproject.toml`` beside this file): registers
    ``shapes-detector``, whose factory is the class itself."""
    from evalkit.registry import MODELS

    MODELS.register("shapes-detector", "shapes_detector:ShapesDetector", tags=("third-party",),
                    description="colour-and-shape detector for the shapes suite (examples/my_model)",
                    tasks=sorted(ShapesDetector.tasks))
