"""GLEE semi-supervised VOS and referring VOS, implemented from the paper's description.

The official repository calls ``inference_ytbvos`` / ``inference_rvos`` but never released them,
so these procedures follow the text of the GLEE supplementary material (§2, "VOS" and "RVOS")
and the released training code of the visual prompt (``GLEE_Model.video_visualP``,
``get_template``). What is implemented, precisely:

**VOS** (one forward pass per frame and object; objects of a frame share the backbone pass):

1. *Key frame* of an object (the frame its mask is given on, ``Reference.frames_of_objects`` or
   ``Reference.frame``): the mask is mapped to the padded input canvas; the template — the square
   of side ``⌈√(w·h)·2⌉`` around the mask's box cropped from the RGB key frame and resized to
   256² ("crop the prompt square area from RGB image") — goes through the image backbone and
   ``sot_fuser`` into early-fusion tokens; the key frame is encoded with them, and up to 512
   pixels inside the mask are sampled from each of the four encoder levels ("sample fine-grained
   visual embeddings ... inside the given mask area") into decoder prompt tokens. These two
   prompts are computed once and kept for the whole video (as ``video_visualP`` uses the first
   frame of a clip for every frame).
2. *Every later frame*: encoded with the object's template tokens in the early fusion, decoded
   with its prompt tokens in the self-attention of every decoder layer (layer ``i`` uses level
   ``i mod 3``); the query with the highest ``confidence_score`` is the object; its mask
   probability (sigmoid of the logits, brought to the original frame) is the object's map.
3. *Merging* the objects of a frame: background = ``Π(1 − p_k)``, then the arg-max label (the
   shared :func:`~evalkit.adapters.trackers.merge_probabilities`); a key frame keeps its given
   mask, painted over the predictions. Object ids must lie in 1..255 (palette PNG labels).

No score threshold and no memory of predicted masks are used (the text describes none; GLEE is
"non-memory-based"). Non-mask references (boxes, points, scribbles) are turned into prompt masks
as in interactive segmentation.

**R-VOS**: each frame is decoded with the expression (text tokens in early fusion and in the
decoder self-attention, the pooled expression as classifier). The frame's object is the query
maximising ``σ(logit_q) + cos(e_q, e_prev)`` where ``e`` are the track embeddings and ``e_prev``
the embedding of the query chosen on the previous frame (the "temporal consistency" term; on
the first frame the score alone); its mask is foreground where the logit is > 0.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..types import ContractError, Expression, Frames, Instances, Reference
from ..zoo.ops import masks_to_rles
from .base import InferenceContext, ProcedureResult
from .glee_image import OBJECT_CHUNK, boxes_to_original, canvas_masks, prompt_masks
from .trackers import merge_probabilities, split_label_map

__all__ = ["vos", "rvos", "select_referred"]


def _pad_tokens(parts: list[list[tuple[torch.Tensor, torch.Tensor]]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-object prompt tokens (each level ``1×P_k×C``) → per level ``K×P×C`` with padding."""
    out = []
    for level in zip(*parts):
        p = max(t.shape[1] for t, _ in level)
        tok = torch.cat([F.pad(t, (0, 0, 0, p - t.shape[1])) for t, _ in level])
        pad = torch.cat([F.pad(m, (0, p - m.shape[1]), value=True) for _, m in level])
        out.append((tok, pad))
    return out


@torch.no_grad()
def vos(model, ctx: InferenceContext, frames: Frames, ref: Reference) -> ProcedureResult:
    """Semi-supervised VOS: one label map per frame, as :class:`Instances` whose ``track_ids``
    are the reference's object ids (objects not yet started are absent).

    Stats: ``frames`` run, ``objects`` started (a non-empty mask on the canvas), ``segmented``
    (object-frames segmented by the network, the given frames excluded)."""
    net = model.net
    sizes = frames.sizes
    key_frames = list(ref.frames_of_objects or (ref.frame,) * len(ref.object_ids))
    ids = np.asarray(ref.object_ids, np.int64)
    ref_masks, mode = prompt_masks(ref, sizes[ref.frame])  # each object's mask on its key frame
    results = []
    state: dict[int, tuple[torch.Tensor, list]] = {}  # object index → (template tokens, prompt tokens)
    segmented = 0
    for t in range(len(frames)):
        batch = model.preprocess(frames[t:t + 1], ctx)
        tf = batch.transforms[0]
        feats = net.backbone(batch.images)
        given = {k: ref_masks[k] for k in range(len(ids)) if key_frames[k] == t}
        for k, m in given.items():
            if m.shape != tuple(sizes[t]):
                raise ContractError(f"VOS reference mask of object {ids[k]} is {m.shape}, frame {t} is "
                                    f"{tuple(sizes[t])}")
            cm = canvas_masks(m[None], tf, model.device)
            if not cm.any():
                continue  # an empty reference mask: the object is never segmented
            tmpl = net.template_tokens(batch.images, cm, mode)
            _, levels = net.encode(feats, tmpl)
            state[k] = (tmpl, net.prompt_tokens(levels, cm))
        active = [k for k in state if key_frames[k] < t]
        segmented += len(active)
        probs, scores = {}, {}
        for c in range(0, len(active), OBJECT_CHUNK):
            chunk = active[c:c + OBJECT_CHUNK]
            tmpl = torch.cat([state[k][0] for k in chunk])
            fe = {name: f.expand(len(chunk), -1, -1, -1) for name, f in feats.items()}
            mask_features, levels = net.encode(fe, tmpl)
            out = net.decode(levels, mask_features, None, _pad_tokens([state[k][1] for k in chunk]))
            best, q = out.scores[..., 0].sigmoid().max(1)
            sel = out.masks[torch.arange(len(chunk), device=q.device), q]
            p = tf.masks_to_original(sel.float()).sigmoid()
            for i, k in enumerate(chunk):
                probs[k], scores[k] = p[i], float(best[i])
        results.append(_merge(sizes[t], probs, scores, given, ids))
    return ProcedureResult(results, {"frames": len(frames), "objects": len(state), "segmented": segmented})


def _merge(size, probs: dict[int, torch.Tensor], scores: dict[int, float], given: dict[int, np.ndarray],
           ids: np.ndarray) -> Instances:
    order = sorted(set(probs) | set(given))
    if not order:
        return Instances(tuple(size), masks=[], scores=np.zeros(0, np.float32), track_ids=np.zeros(0, np.int64))
    pk = sorted(probs)
    labels = (merge_probabilities(torch.stack([probs[k].cpu() for k in pk]), [int(ids[k]) for k in pk]) if pk
              else np.zeros(tuple(size), np.uint8))
    for k, m in given.items():
        labels[m] = ids[k]
    masks = split_label_map(labels, [int(ids[k]) for k in order])
    return Instances(tuple(size), masks=masks_to_rles(torch.from_numpy(masks)),
                     scores=np.asarray([scores.get(k, 1.0) for k in order], np.float32), track_ids=ids[order])


def select_referred(probs: torch.Tensor, embeds: torch.Tensor, prev: torch.Tensor | None) -> int:
    """The referred query of a frame: arg-max of ``probs`` (``Q``) plus, after the first frame,
    the cosine similarity of the (L2-normalised) ``embeds`` ``Q×C`` to ``prev`` (``C``)."""
    score = probs if prev is None else probs + embeds @ prev
    return int(score.argmax())


@torch.no_grad()
def rvos(model, ctx: InferenceContext, frames: Frames, expression: Expression) -> ProcedureResult:
    """Referring VOS: one instance per frame (``track_ids`` 1) with the chosen query's mask.

    Stats: ``frames`` run, ``windows`` (network calls, ``video_window_size`` frames each)."""
    window = ctx.settings.video_window_size
    prev = None
    results = []
    for c in range(0, len(frames), window):
        clip = frames[c:c + window]
        batch = model.preprocess(clip, ctx)
        out = model.net(batch.images, model.expression_prompt(expression.text, len(clip)))
        probs = out.logits[..., 0].sigmoid()  # B×Q
        emb = F.normalize(out.embeds, dim=-1)
        for b, tf in enumerate(batch.transforms):
            q = select_referred(probs[b], emb[b], prev)
            prev = emb[b, q]
            fg = tf.masks_to_original(out.masks[b, q:q + 1].float()) > 0
            results.append(Instances(tf.original_size, boxes=boxes_to_original(out.boxes[b, q:q + 1], tf).cpu().numpy(),
                                     masks=masks_to_rles(fg.cpu()), scores=probs[b, q:q + 1].cpu().numpy(),
                                     track_ids=np.ones(1, np.int64)))
    return ProcedureResult(results, {"frames": len(frames), "windows": len(range(0, len(frames), window))})
