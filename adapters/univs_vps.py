"""VPS output of UniVS's entity inference, one output window at a time (official
``univs/inference/inference_video_entity.py``: ``save_results_vps`` at every output clip, then
``vps_output_results``).

The official code writes panoptic maps only at output clips (:func:`~.univs_vis.is_output_clip`):
each writes the oldest ``num_frames_window_output`` frames not yet written (10 with the released
settings), the last clip everything left. Every rule is computed once per window, over all its
frames:

* an entity's score is the best of its mean class-score slots at that clip times the mask quality
  ``|x > 1| / |x > -1|`` of its summed logits ``x`` over the window's frames at the output size
  (bilinear to the canvas, cropped, bilinear to the frame); × 0.75 when that class is stuff and
  the entity was not written as a thing in an earlier window;
* each pixel goes to the entity of largest ``score · x``, to none where every ``x < 0``; an
  entity's pixels are those it wins where its own ``x >= 0``;
* a thing entity is kept for the whole window when the pixels it wins are at least
  ``OVERLAP_THRESHOLD`` of its own ``x >= 0`` area, both counted over the window (half the
  threshold when written as a thing in an earlier window); stuff entities are always kept and
  one category's stuff is one segment.

Summed logits where an entity got no prediction are 0 officially (``pad_zero_annotations_for_next_clip``
and the padding of new entities), not "certainly not": ``sigmoid(0) = 0.5`` counts as its own
area and ``score · 0`` beats every negative ``score · x``, so an entity without a prediction on a
frame (e.g. created later in the window) takes the pixels no predicted entity covers.

The category of a thing entity is the one of its class-score slots at the end of the video
(``vps_output_results``: ``gt_logits.mean(1)`` after the last clip), on every frame; a stuff
segment keeps the category it was written with. :func:`relabel_things` applies that at the end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..types import Categories, Instances

__all__ = ["vps_window", "relabel_things"]


@dataclass
class _Segment:
    """One VPS output segment of a frame: a thing entity's, or the merged stuff of a category."""

    mask: torch.Tensor  # H×W bool, original frame
    label: int  # dataset category id
    track_id: int  # entity id (thing) or category id (stuff)
    score: float
    thing: bool


def vps_window(stream, frames: list[int], logits: dict[int, torch.Tensor], class_means: torch.Tensor,
               entity_ids: list[int], cats: Categories, overlap: float, output_things: set[int]) -> list[Instances]:
    """Panoptic outputs of the window ``frames`` (see module docstring).

    Args:
        stream: the :class:`~.univs_video.VideoStream` (frame sizes and transforms).
        frames: the window's absolute frame indices, increasing.
        logits: frame → ``E'×h×w`` summed canvas logits (any stride; ``-inf`` or missing rows:
            no prediction, read as 0); ``E' <= E``.
        class_means: ``E×K`` mean class-score slots of the entities at the output clip.
        entity_ids: the ``E`` entity ids (thing track ids).
        cats: the prompt's categories (``thing`` flags; all things when absent).
        overlap: ``OVERLAP_THRESHOLD``.
        output_things: ids of the entities written as things in earlier windows; updated.

    Returns:
        one :class:`Instances` per frame of ``frames``: masks, labels (dataset ids), scores
        (the window score), track ids (entity id for things, category id for stuff) and
        ``extra["is_thing"]``.
    """
    e = len(entity_ids)
    if e == 0:
        return [Instances.empty(tuple(stream.frames.sizes[f])) for f in frames]

    def output_logits(f: int) -> torch.Tensor:
        x = logits[f]
        if len(x) < e:
            x = torch.cat([x, x.new_zeros(e - len(x), *x.shape[1:])])
        return stream.transform(f).masks_to_original(torch.nan_to_num(x, nan=0.0, neginf=0.0))

    hi = torch.zeros(e)
    lo = torch.zeros(e)
    for f in frames:  # calculate_mask_quality_scores over the window, one frame at a time
        x = output_logits(f).flatten(1).cpu()
        hi += (x > 1).sum(1)
        lo += (x > -1).sum(1)
    quality = hi / lo.clamp(min=1)
    best, classes = class_means.cpu().max(-1)
    flags = cats.thing if cats.thing is not None else [True] * len(cats.ids)
    is_thing = [bool(flags[int(k)]) for k in classes]
    earlier = set(output_things)  # official thing_obj_ids, read at the start of save_results_vps
    score = best.float() * quality
    score = score * torch.tensor([1.0 if t or i in earlier else 0.75 for t, i in zip(is_thing, entity_ids)])

    def owners(x: torch.Tensor) -> torch.Tensor:
        ids = (score.to(x)[:, None, None] * x).argmax(0)
        ids[(x < 0).all(0)] = -1
        return ids

    won = torch.zeros(e)
    own = torch.zeros(e)
    inter = torch.zeros(e)
    ar = torch.arange(e)[:, None, None]
    for f in frames:
        x = output_logits(f).cpu()
        hit = owners(x)[None] == ar
        won += hit.flatten(1).sum(1)
        own += (x >= 0).flatten(1).sum(1)
        inter += (hit & (x >= 0)).flatten(1).sum(1)
    kept = []
    for j, eid in enumerate(entity_ids):
        ok = bool(won[j] > 0 and own[j] > 0 and inter[j] > 0)
        if ok and is_thing[j]:
            need = overlap * (0.5 if eid in earlier else 1.0)
            ok = float(won[j]) / float(own[j]) >= need
        kept.append(ok)
    for j, eid in enumerate(entity_ids):
        if kept[j] and is_thing[j]:
            output_things.add(eid)

    ids = np.asarray(cats.ids)
    out = []
    for f in frames:
        x = output_logits(f).cpu()
        mine = owners(x)
        segs: list[_Segment] = []
        stuff: dict[int, _Segment] = {}  # category index → its merged stuff segment
        for j, eid in enumerate(entity_ids):
            m = (mine == j) & (x[j] >= 0)
            if not kept[j] or not bool(m.any()):
                continue
            k = int(classes[j])
            if is_thing[j]:
                segs.append(_Segment(m, ids[k], eid, float(score[j]), True))
            elif k in stuff:
                stuff[k].mask = stuff[k].mask | m
            else:
                stuff[k] = _Segment(m, ids[k], int(ids[k]), float(score[j]), False)
                segs.append(stuff[k])
        size = tuple(stream.frames.sizes[f])
        if not segs:
            out.append(Instances.empty(size))
            continue
        m = torch.stack([g.mask for g in segs])
        out.append(Instances(size, boxes=stream.boxes(m), masks=m.numpy(),
                             scores=np.array([g.score for g in segs], np.float32),
                             labels=np.array([g.label for g in segs]),
                             track_ids=np.array([g.track_id for g in segs]),
                             extra={"is_thing": [g.thing for g in segs]}))
    return out


def relabel_things(out: list[Instances], final_classes: dict[int, int], cats: Categories) -> None:
    """Official ``vps_output_results``: a thing segment's category (and thing flag) is its
    entity's class at the end of the video, ``final_classes`` (entity id → category index)."""
    ids = np.asarray(cats.ids)
    flags = cats.thing if cats.thing is not None else [True] * len(cats.ids)
    for inst in out:
        if not len(inst):
            continue
        things = inst.extra["is_thing"]
        for r, tid in enumerate(inst.track_ids.tolist()):
            if things[r] and int(tid) in final_classes:
                k = final_classes[int(tid)]
                inst.labels[r] = ids[k]
                things[r] = bool(flags[k])
