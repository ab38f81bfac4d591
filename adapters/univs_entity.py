"""Category-specified video segmentation with UniVS (VIS, VPS, VSS), paper §4.2.

**VIS / VPS** — the video is streamed in clips as for prompt-specified tasks, but the targets
(*entities*) are discovered by the model itself:

1. every ``detect_interval`` frames the learnable queries detect: class scores (CLIP cosine
   similarity, sigmoid) are weighted by a mask stability score, low-stability masks and all but
   the ``topk`` best are dropped, and a box NMS over the clip (max IoU over frames) removes
   duplicates; stuff categories (VPS) keep their best detection per category;
2. detections are told apart from the known entities by bi-softmax similarity of their
   embeddings (:func:`evalkit.adapters.trackers.match_entities`: softmax over entities and over
   detections, averaged over memory slots × frames; Hungarian matching; ``newly_threshold``).
   Matched detections refresh the entity's class scores and embedding;
   unmatched ones scoring above ``cls_threshold`` whose masks overlap no entity (IoU < 0.5)
   become new entities, prompted by tokens sampled inside their mask;
3. every clip, each entity is re-segmented by its prompt query when its prediction is consistent
   with its memory embedding (``temporal_consistency``). Its prompt pool has one slot per frame
   (:class:`~.univs_memory.PromptPool`): blank when the entity is created, then fed by the masks
   accumulated on the frames each clip shares with the previous one
   (:func:`.univs_pools.refresh_pools`, the official memory rule); when the pools are first
   used (and on every clip when the clip length is 1), the frames the window just left are
   sampled too, on the features of the clip's first frames
   (:func:`.univs_pools.sample_left_frames`, official ``process_per_video_inference_prev_frame``).

The window advances by ``min(clip_stride, clip_len)`` frames; the new-entity rules of step 2
apply only from the video's second detection on: the first detection keeps every confident
detection, later ones need no overlap with the entities' accumulated masks (so a video whose
first detection finds nothing stays empty, as officially).

Memory (official ``write_prompt_predictions_into_annotations_per_clip`` and
``pad_zero_annotations_for_next_clip``): after every clip each entity opens an embedding slot as
the mean of its last 3 and a class-score slot as a copy of its last; a VIS prompt prediction
enters the memory when it is consistent and keeps enough of its mask after the score-weighted
arg-max of :func:`~.univs_vis.memory_update_mask` (class score × similarity × canvas mask
quality); its quality adds to the entity's summed quality.

Outputs per frame: VIS — each entity's own mask (track id = entity id; masks may overlap as in
the official results), once per category kept by the official video-level results
(:func:`~.univs_vis.video_results`: window-mean class score × summed quality / (int(max) + 1),
categories ≥ 0.005, top-k ``max(1.5·#(> 0.05), DETECTIONS_PER_IMAGE)``; an entity never visible
is an all-blank result). VPS — written one output window at a time (:mod:`.univs_vps`): every
pixel goes to the entity of largest ``score · logit``; thing entities give one segment each
(track id = entity id) when they keep enough of their mask over the window; stuff entities of
one category are merged into one segment whose track id is the category id;
``extra["is_thing"]`` flags the two; things take their final category.

Masks accumulate as officially: the logits of every overlapping clip (and of a matching
detection) are summed per frame (:class:`~.univs_memory.MaskAccumulator`), at stride 4 (the
official memory holds them at canvas size; the new-entity overlap test resizes them back to
stride 4, the outputs to the frame: the sum commutes with the bilinear resize, the round trip
canvas → stride 4 of that test does not, a deviation of the boundary pixels of that one test).

**VSS** — non-overlapping clips, learnable queries only, Mask2Former semantic inference
(official ``save_results_vss``): ``P(k | pixel) = Σ_q score(q, k) · quality(q) ·
sigmoid(mask_q(pixel))`` with the mask logits resized bilinearly to the canvas, cropped, then
nearest to the original size, and the quality computed on those resized masks over the clip's
frames; arg-max per pixel; one segment per present category, scored by its best query.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.zoo.ops import box_iou, mask_iou
from evalkit.zoo.ops.boxes import masks_to_boxes

from ..types import Categories, Frames, Instances
from .trackers import match_entities, newly_detected, update_entity_memory
from .base import ProcedureResult
from .univs_context import StreamStats, UniVSContext
from .univs_memory import EmbeddingMemory, MaskAccumulator, PromptPool, stability_scores
from .univs_pools import blank_token, pool_prompts, refresh_pools, sample_left_frames, temporally_consistent
from .univs_settings import UniVSSettings
from .univs_video import VideoStream
from .univs_vis import is_output_clip, memory_update_mask, output_window, video_results
from .univs_vps import relabel_things, vps_window

__all__ = ["predict_categories", "stability_scores", "clip_box_nms"]


def clip_box_nms(masks: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Indices kept by greedy NMS on the boxes of ``Q×T×h×w`` mask logits: two detections
    overlap by the maximum over frames of their box IoUs (official ``video_box_iou``)."""
    q, t = masks.shape[:2]
    if q == 0:
        return torch.zeros(0, dtype=torch.long, device=masks.device)
    boxes = masks_to_boxes((masks > 0).flatten(0, 1)).view(q, t, 4)
    iou = torch.stack([box_iou(boxes[:, i], boxes[:, i]) for i in range(t)], -1).amax(-1)
    order = scores.argsort(descending=True)
    iou = iou[order][:, order]
    max_prev = torch.triu(iou, diagonal=1).amax(0)  # best overlap with any higher-scored one
    return order[max_prev < threshold]


@dataclass
class _Entity:
    eid: int
    pool: PromptPool
    scores: torch.Tensor  # K running class scores in [0, 1]
    memory: EmbeddingMemory
    thing: bool
    quality_sum: float = 0.0  # summed mask quality of its accepted predictions (mask_quality_scores)
    closed_scores: torch.Tensor | None = None  # sum of its closed class-score slots
    closed_n: int = 0

    def pad_scores(self) -> None:
        """Open a class-score slot, a copy of the last (``scores``), as the official
        ``pad_zero_annotations_for_next_clip`` (``gt_logits[:, -1:].clone()``)."""
        self.closed_scores = self.scores.clone() if self.closed_scores is None else self.closed_scores + self.scores
        self.closed_n += 1

    def class_mean(self) -> torch.Tensor:
        """Mean over the class-score slots (official ``logits.mean(1)``), ``K``."""
        if self.closed_scores is None:
            return self.scores
        return (self.closed_scores + self.scores) / (self.closed_n + 1)


def _vss(model, s: UniVSSettings, stream, cats: Categories, emb: torch.Tensor) -> ProcedureResult:
    t = s.sampling_frame_num
    ql = model.num_queries
    ids = np.asarray(cats.ids)
    out: list[Instances] = []
    for s0 in range(0, len(stream), t):
        idx = list(range(s0, min(s0 + t, len(stream))))
        res = model.decode(stream.clip(idx), None, class_embeddings=emb, self_attn_mask=s.maskdec_self_attn_mask_type)
        masks = res["pred_masks"][:ql]  # Q×T×h×w logits on the canvas

        def output_logits(ti, f):
            """``Q×H×W`` logits of clip frame ``ti`` at the output size (official
            ``save_results_vss``: bilinear to the canvas, cropped, nearest to the output size)."""
            tr = stream.transform(f)
            m = F.interpolate(masks[:, ti][None], size=tr.padded_size, mode="bilinear", align_corners=False)
            m = m[..., :tr.resized_size[0], :tr.resized_size[1]]
            return F.interpolate(m, size=tr.original_size, mode="nearest")[0]

        # mask quality over the clip's frames at the output size (calculate_mask_quality_scores
        # on the resized masks), counted frame by frame so no T×H×W stack is held
        hi = torch.zeros(len(masks), device=masks.device)
        lo = torch.zeros_like(hi)
        for ti, f in enumerate(idx):
            m = output_logits(ti, f).flatten(1)
            hi += (m > 1).sum(1)
            lo += (m > -1).sum(1)
        scores = res["pred_logits"][:ql].sigmoid() * (hi / lo.clamp(min=1))[:, None]
        for ti, f in enumerate(idx):
            m = output_logits(ti, f).sigmoid()
            label = torch.einsum("qk,qhw->khw", scores, m).argmax(0)
            present = torch.unique(label)
            segs = label[None] == present[:, None, None]
            sc = torch.stack([scores[:, k].max() for k in present])
            out.append(Instances(tuple(stream.frames.sizes[f]), boxes=stream.boxes(segs), masks=segs.cpu().numpy(),
                                 scores=sc.cpu().numpy(), labels=ids[present.cpu().numpy()]))
    return ProcedureResult(out, StreamStats(cached_frames=len(stream.cache)).as_dict())


@torch.no_grad()
def predict_categories(model, ctx: UniVSContext, frames: Frames, cats: Categories) -> ProcedureResult:
    """VIS / VPS / VSS on one video (see module docstring).

    Stats: the peak sizes of the streaming state (:meth:`~.univs_context.StreamStats.as_dict`),
    VIS / VPS with the number of ``entities`` discovered."""
    s, task = ctx.settings, ctx.task
    emb = ctx.text.class_embeddings_for(cats, ctx.vocabulary)
    stream = VideoStream.of(model, ctx, frames)
    if task == "vss":
        return _vss(model, s, stream, cats, emb)
    thing = torch.tensor(cats.thing if cats.thing is not None else [True] * len(cats.ids))
    if task == "vis":
        thing[:] = True
    ql = model.num_queries
    n = len(stream)
    entities: list[_Entity] = []
    acc = MaskAccumulator()
    out: list[Instances | None] = [None] * n
    peak = StreamStats()
    window_scores: dict[int, list[torch.Tensor]] = {}  # VIS: entity id → class scores per output window
    window = output_window(s.num_frames_window, s.sampling_frame_num)
    output_things: set[int] = set()  # VPS: entities written as things so far (thing_memory_list)
    unwritten: dict[int, torch.Tensor] = {}  # VPS: final frames' summed logits awaiting their window
    s0 = 0
    prompted = False  # whether the entities' pools were built (official "prompt_feats" in targets)
    detected = False  # whether a detection ran (official "masks" in targets)
    left: dict[int, torch.Tensor] = {}  # summed logits of the frames the last clip emitted
    while s0 < n:
        idx = list(range(s0, min(s0 + s.sampling_frame_num, n)))
        feats = stream.clip(idx)
        pools = [e.pool for e in entities]
        if s0 > 0 and entities:
            if not prompted or s.sampling_frame_num == 1:
                # official process_per_video_inference_prev_frame, run when the pools are first
                # built (and every clip when T = 1)
                sample_left_frames(model, s, feats, idx, left, pools, [True] * len(pools))
            refresh_pools(model, s, feats, idx, acc, pools, s.clip_stride)
            prompted = True
        prompts = pool_prompts(model, pools, idx, blank_token(s, feats)) if entities else None
        res = model.decode(feats, prompts, class_embeddings=emb, self_attn_mask=s.maskdec_self_attn_mask_type)
        masks, embds = res["pred_masks"], res["pred_embds"]
        scores = res["pred_logits"].sigmoid()
        h4, w4 = masks.shape[-2:]
        clip_logits = torch.full((len(idx), len(entities), h4, w4), float("nan"), device=masks.device)
        thr = s.temporal_consistency_threshold * (0.5 if s0 < s.sampling_frame_num else 1.0)
        slots = s.num_prev_frames_memory // s.stride
        if task == "vis" and entities:
            # official write_prompt_predictions_into_annotations_per_clip: every entity is checked
            # against its memory (a slot opened for each), then the overlap rule at canvas size
            sims = []
            for j, ent in enumerate(entities):
                ent.memory.open_slot()
                sims.append(ent.memory.consistency(embds[ql + j]))
            sims = torch.tensor(sims)
            keep, quality = memory_update_mask(masks[ql:], torch.stack([e.class_mean().max() for e in entities]),
                                               sims, sims > thr, stream.canvas, stream.resized,
                                               s.overlap_threshold_entity)
            for j, ent in enumerate(entities):
                if keep[j]:
                    ent.memory.write(embds[ql + j].mean(0))
                    clip_logits[:, j] = masks[ql + j]
                    ent.quality_sum += float(quality[j])
        else:
            for j, ent in enumerate(entities):
                if temporally_consistent(ent, embds[ql + j], thr, slots):
                    clip_logits[:, j] = masks[ql + j]
                    ent.quality_sum += float(stability_scores(masks[ql + j][None])[0])
        if s0 % s.detect_newly_interval_frames == 0 or not entities:
            # the entities' logits accumulated so far on the clip's frames (earlier clips); the
            # official new-entity overlap test reads the accumulated ``gt_mask_logits``
            prior = torch.stack([acc.peek(f, len(entities)) if f in acc.pending()
                                 else masks.new_full((len(entities), h4, w4), -float("inf")) for f in idx])
            # (official detect_newly_entities_per_clip_instance / _pixel: both read gt_mask_logits)
            clip_logits = _detect(s, entities, scores[:ql], masks[:ql], embds[:ql], clip_logits, thing, model,
                                  feats, pixel=task == "vps", first=not detected, prior=prior)
            detected = True
        for ti, f in enumerate(idx):
            acc.add(f, clip_logits[ti])
        last = idx[-1] == n - 1
        is_out = last or is_output_clip(s0, s.num_prev_frames_memory, window)
        if task == "vis" and is_out:
            # official save_results_vis at an output window: each entity's class scores then
            for e in entities:
                window_scores.setdefault(e.eid, []).append(e.class_mean().clone())
        if task == "vps" and is_out and not last:
            # official save_results_vps: the oldest `window` frames not written yet, with the
            # class slots of this clip (before they are padded for the next)
            frames_out = sorted(unwritten)[:window]
            _write_vps(out, stream, frames_out, unwritten, entities, cats, s.overlap_threshold, output_things)
        if not last:  # official pad_zero_annotations_for_next_clip
            for e in entities:
                e.pad_scores()
        left = {}
        for f in (idx if last else idx[:s.stride]):
            logits = acc.pop(f, len(entities))
            left[f] = logits
            if task == "vps":
                unwritten[f] = logits
            else:
                out[f] = _emit_vis(stream, f, logits, entities)
        if task == "vps" and last:
            _write_vps(out, stream, sorted(unwritten), unwritten, entities, cats, s.overlap_threshold, output_things)
        peak = peak.widen(len(stream.cache), len(acc) + len(unwritten),
                          max((len(e.pool) for e in entities), default=0))
        if last:
            break
        s0 += s.stride
    stats = replace(peak, entities=len(entities))
    if task != "vis":
        relabel_things(out, {e.eid: int(e.class_mean().argmax()) for e in entities}, cats)
        return ProcedureResult(out, stats.as_dict())
    return ProcedureResult(video_results(out, window_scores, {e.eid: e.quality_sum for e in entities}, cats.ids,
                                     s.detections_per_image), stats.as_dict())


def _candidates(s, scores, masks, thing, first: bool, pixel: bool) -> torch.Tensor:
    """Step 1: indices of the learnable queries that may become entities.

    VIS (``pixel`` False): stability filter, ``topk`` best, box NMS — every clip. VPS: on the
    first clip the 70 best thing detections go through box NMS and the 30 best stuff ones
    through a mask-IoU NMS (0.6, first frame); later clips keep every query (official
    ``detect_newly_entities_per_clip_pixel``).
    """
    best, label = scores.max(-1)
    if pixel and not first:
        return torch.arange(len(scores), device=scores.device)
    order = best.argsort(descending=True)
    if not pixel:
        if s.stability_score_thresh > 0:
            order = order[stability_scores(masks[order]) > s.stability_score_thresh]
        order = order[:s.detections_per_image]
        return order[clip_box_nms(masks[order], best[order], s.box_nms_thresh)]
    order = order[:100]
    is_thing = thing.to(order.device)[label[order]]
    things, stuff = order[is_thing][:70], order[~is_thing][:30]
    things = things[clip_box_nms(masks[things], best[things], s.box_nms_thresh)]
    if len(stuff):
        first_frame = (masks[stuff, 0] > 0).flatten(1)[:, None]
        iou = mask_iou(first_frame.view(len(stuff), 1, -1), first_frame.view(len(stuff), 1, -1)).float()
        stuff = stuff[torch.triu(iou, diagonal=1).amax(0) < 0.6]
    return torch.cat([things, stuff])


def _detect(s, entities, scores, masks, embds, clip_logits, thing, model, feats, pixel: bool, first: bool,
            prior=None):
    """Steps 1–2 of the module docstring; returns ``clip_logits`` extended by new entities.

    ``scores`` ``Q×K`` (sigmoid) are first weighted by the mask stability score. ``first``: the
    video's first detection (official ``is_first_frame = "masks" not in targets``, true only until
    the first detection wrote its entities, none or some): only then are confident detections
    new entities without an overlap test; afterwards a new entity must overlap no entity by
    IoU >= 0.5, which nothing passes while there is no entity (``miou.nelement()`` is 0), so a
    video whose first detection finds nothing keeps no entity.
    ``prior``: the entities' logits accumulated on the clip's frames by earlier clips.
    """
    scores = scores * stability_scores(masks)[:, None]
    keep = _candidates(s, scores, masks, thing, first, pixel)
    if len(keep) == 0:
        return clip_logits
    matched: list[int] = []
    if entities:
        mem = torch.stack([e.memory.history(3) for e in entities])
        match = match_entities(mem, embds[keep], threshold=s.detect_newly_object_threshold, history=3)
        old_scores = torch.stack([e.scores for e in entities])
        last = torch.stack([e.memory.slots[-1] for e in entities])
        new_scores, new_last = update_entity_memory(match, old_scores, last, scores[keep], embds[keep])
        for r, c, sim in zip(match.old.tolist(), match.new.tolist(), match.similarity.tolist()):
            entities[r].scores = new_scores[r]
            entities[r].memory.slots[-1] = new_last[r]
            matched.append(c)
            # a confident match also votes for the entity's masks (VPS: every match)
            if pixel or sim > 2 * s.detect_newly_object_threshold:
                cur = clip_logits[:, r]
                q = keep[c]
                if not pixel:  # official: the matched detection's quality adds to the entity's
                    entities[r].quality_sum += float(stability_scores(masks[q][None])[0])
                # summed with the entity's own prediction, as the official accumulation
                clip_logits[:, r] = torch.where(torch.isnan(cur), masks[q], cur + masks[q])
    if first:
        min_score = s.apply_cls_thres if pixel else max(s.apply_cls_thres, 0.1)
        new = [c for c in range(len(keep)) if scores[keep[c]].max() > min_score]
    else:  # unmatched, confident, and overlapping no entity on any frame of the clip
        # official detect_newly_entities_per_clip_instance: the memory masks are the entities'
        # accumulated logits on the clip's frames (earlier clips + this clip's accepted
        # predictions and matched detections), > 0
        total = torch.nan_to_num(clip_logits, nan=0.0)
        if prior is not None:
            total = total + torch.nan_to_num(prior, nan=0.0, neginf=0.0)
        memory_masks = (total > 0).transpose(0, 1)  # E×T×h×w
        new = newly_detected(scores[keep], masks[keep] > 0, memory_masks, torch.tensor(matched, dtype=torch.long),
                             score_thr=(2 if pixel else 1) * s.apply_cls_thres)
    for c in new:
        q = keep[c]
        # officially an empty mask is an entity too (write_newly_entities_into_annotations_per_clip
        # writes every detection passing the tests above)
        # official write_newly_entities_into_annotations_per_clip: the new entity's prompt slots
        # are blank (zeros) until the next clip samples them; it first appeared at the clip start
        pool = PromptPool(s.memory_slots)
        pool.first_frame = int(feats.frame_indices[0])
        # official pad_zero_annotations_for_next_clip: a memory slot opens as the mean of the last 3
        memory = EmbeddingMemory(s.num_prev_frames_memory // s.stride, embds[q].mean(0), open_with="mean3")
        entities.append(_Entity(len(entities) + 1, pool, scores[q].clone(), memory,
                                bool(thing[int(scores[q].argmax())]),
                                quality_sum=float(stability_scores(masks[q][None])[0])))
        clip_logits = torch.cat([clip_logits, masks[q][:, None]], 1)
    return clip_logits


def _write_vps(out, stream, frames, unwritten, entities, cats, overlap, output_things) -> None:
    """Write the VPS window ``frames`` (popped from ``unwritten``) into ``out``
    (:func:`~.univs_vps.vps_window`)."""
    if not frames:
        return
    means = torch.stack([e.class_mean() for e in entities]) if entities else torch.zeros(0, len(cats.ids))
    window = vps_window(stream, frames, {f: unwritten.pop(f) for f in frames}, means, [e.eid for e in entities],
                        cats, overlap, output_things)
    for f, inst in zip(frames, window):
        out[f] = inst


def _emit_vis(stream, f, logits, entities):
    """VIS output of frame ``f``: one row per entity whose summed logits are positive somewhere
    (``> 0.5`` after resizing; masks may overlap, as the official results do), track id = entity
    id; labels and scores are set per category by :func:`~.univs_vis.video_results` once the
    video is done."""
    size = tuple(stream.frames.sizes[f])
    if not entities:
        return Instances.empty(size)
    probs = stream.to_original(f, logits)
    rows = [j for j in range(len(entities)) if bool((probs[j] > 0.5).any())]
    if not rows:
        return Instances.empty(size)
    m = probs[rows] > 0.5
    return Instances(size, boxes=stream.boxes(m), masks=m.cpu().numpy(), scores=np.zeros(len(rows), np.float32),
                     labels=np.full(len(rows), -1), track_ids=np.array([entities[j].eid for j in rows]))
