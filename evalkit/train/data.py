"""Training batches from the shapes train splits (the scenes of
:mod:`evalkit.benchmarks.shapes.layouts`, read in memory).

Targets are in the network's frames: boxes normalised ``cxcywh`` of the 128×128 image, masks
``G×32×32`` float at stride 4 (the mask head's resolution), object ids for association.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.benchmarks.shapes.layouts import coco_scenes, refcoco_scenes, video_scenes
from evalkit.benchmarks.shapes.scenes import CATEGORIES
from evalkit.zoo.ops import preprocess

__all__ = ["Targets", "TrainData", "targets_from_masks"]


@dataclass
class Targets:
    """Ground truth of one image: ``boxes`` ``G×4`` normalised cxcywh, ``masks`` ``G×32×32``,
    ``labels`` ``G`` (category index 0–8, or 0 for pooled prompts), ``ids`` ``G`` object ids."""

    boxes: torch.Tensor
    masks: torch.Tensor
    labels: torch.Tensor
    ids: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))


def targets_from_masks(masks: list[np.ndarray], labels: list[int], ids: list[int] | None = None) -> Targets:
    """Targets of the visible ``H×W`` bool masks (empty ones dropped)."""
    keep = [i for i, m in enumerate(masks) if m.any()]
    boxes, ms = [], []
    for i in keep:
        m = masks[i]
        h, w = m.shape
        ys, xs = np.nonzero(m)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        boxes.append([(x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h])
        ms.append(torch.from_numpy(m.astype(np.float32)))
    if not keep:
        return Targets(torch.zeros(0, 4), torch.zeros(0, 32, 32), torch.zeros(0, dtype=torch.long),
                       torch.zeros(0, dtype=torch.long))
    small = F.avg_pool2d(torch.stack(ms)[:, None], 4)[:, 0]
    ids = ids if ids is not None else list(range(len(masks)))
    return Targets(torch.tensor(boxes, dtype=torch.float32), small,
                   torch.tensor([labels[i] for i in keep]), torch.tensor([ids[i] for i in keep]))


def images_tensor(images: list[np.ndarray]):
    """``B×3×128×128`` normalised images, padding masks (all False), sizes ``B×2``."""
    batch = preprocess(images, short_edge=128, max_size=128, size_divisibility=32)
    sizes = torch.tensor([t.resized_size for t in batch.transforms])
    return batch.images, batch.padding_mask, sizes


class TrainData:
    """Seeded sampler of the four kinds of training batches."""

    def __init__(self, seed: int = 0, hard_negatives: float = 0.0, fresh_expressions: bool = False):
        """``hard_negatives``: the fraction of annotation-prompt samples whose target has an
        object of the same colour (another shape) in its video — the distractor a template
        must tell apart by shape alone (the first mistakes a tracker makes).
        ``fresh_expressions``: expression batches draw a new target and a new expression (the
        generator of the suite) on a scene of the shapes-refcoco or shapes-coco train split each
        time, instead of the 600 fixed train expressions."""
        self.rng = np.random.default_rng(seed)
        self.category_names = tuple(c["name"] for c in CATEGORIES)
        self.hard_negatives = float(hard_negatives)
        self.fresh_expressions = bool(fresh_expressions)

    # the splits are rendered on first use (a run that trains one kind renders one split)
    @functools.cached_property
    def coco(self):
        return coco_scenes("train")

    @functools.cached_property
    def ref(self):
        return refcoco_scenes("train")

    @functools.cached_property
    def videos(self):
        return video_scenes("shapes-davis", "train") + video_scenes("shapes-ytvis", "train") \
            + video_scenes("shapes-sot", "train")

    def detection(self, n: int):
        """Category-prompted images: ``(images list, [Targets])``."""
        picks = self.rng.integers(len(self.coco), size=n)
        imgs = [self.coco[i][0] for i in picks]
        tg = [targets_from_masks(self.coco[i][2], [s.category_id - 1 for s in self.coco[i][1]]) for i in picks]
        return imgs, tg

    def expressions(self, n: int):
        """Expression-prompted images: ``(images, texts, [Targets with one object])``."""
        if self.fresh_expressions:
            return self._fresh_expressions(n)
        picks = self.rng.integers(len(self.ref), size=n)
        imgs, texts, tg = [], [], []
        for i in picks:
            img, _, vis, target, text = self.ref[i]
            imgs.append(img)
            texts.append(text)
            tg.append(targets_from_masks([vis[target]], [0]))
        return imgs, texts, tg

    @functools.cached_property
    def expression_scenes(self) -> list:
        """``(image, shapes, visible masks)`` of the shapes-refcoco and shapes-coco train scenes."""
        return [(img, shapes, vis) for img, shapes, vis, _, _ in self.ref] + self.coco

    def _fresh_expressions(self, n: int):
        from evalkit.benchmarks.shapes.scenes import expression

        scenes = self.expression_scenes
        imgs, texts, tg = [], [], []
        while len(imgs) < n:
            img, shapes, vis = scenes[int(self.rng.integers(len(scenes)))]
            target = int(self.rng.integers(len(shapes)))
            text = expression(shapes, target, self.rng) if vis[target].any() else ""
            if not text:
                continue
            imgs.append(img)
            texts.append(text)
            tg.append(targets_from_masks([vis[target]], [0]))
        return imgs, texts, tg

    @functools.cached_property
    def same_colour_targets(self) -> list[tuple[int, int]]:
        """``(video, object)`` pairs whose video has another object of the object's colour."""
        out = []
        for v, (_, seq, _) in enumerate(self.videos):
            colours = [s.colour for s in seq[0]]
            out += [(v, o) for o, c in enumerate(colours) if colours.count(c) > 1]
        return out

    def references(self, n: int):
        """Annotation-prompted triplets (VOS/SOT), as the tracker sees them: ``(first-frame
        templates, previous-frame templates, search frames, [Targets with one object])``; each
        template is ``(frame, mask)``. The search frame ``t`` is a random later frame; the
        previous template is the object on frame ``t − 1`` (the tracker's refreshed template),
        or the first one when it is hidden there."""
        first, prev, search, tg = [], [], [], []
        while len(first) < n:
            if self.hard_negatives > 0 and self.rng.random() < self.hard_negatives:
                v, o = self.same_colour_targets[int(self.rng.integers(len(self.same_colour_targets)))]
                frames, _, masks = self.videos[v]
            else:
                frames, _, masks = self.videos[int(self.rng.integers(len(self.videos)))]
                o = int(self.rng.integers(len(masks[0])))
            t = int(self.rng.integers(1, len(frames)))
            if not masks[0][o].any() or not masks[t][o].any():
                continue
            p = t - 1 if masks[t - 1][o].any() else 0
            first.append((frames[0], masks[0][o]))
            prev.append((frames[p], masks[p][o]))
            search.append(frames[t])
            tg.append(targets_from_masks([masks[t][o]], [0]))
        return first, prev, search, tg

    def video_pairs(self, n: int):
        """Two frames of a video each (VIS/MOT association): ``(frames 2n, [Targets] 2n)``
        ordered ``key_0, ref_0, key_1, ref_1 …`` with object ids shared across the pair."""
        imgs, tg = [], []
        for _ in range(n):
            frames, seq, masks = self.videos[int(self.rng.integers(len(self.videos)))]
            a, b = sorted(self.rng.choice(len(frames), size=2, replace=False).tolist())
            for t in (a, b):
                imgs.append(frames[t])
                tg.append(targets_from_masks(masks[t], [s.category_id - 1 for s in seq[t]]))
        return imgs, tg
