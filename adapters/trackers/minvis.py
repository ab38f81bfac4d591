"""MinVIS-style frame-to-frame query matching (GLEE video inference, UniVS's ``minvis`` tracker).

Huang et al., "MinVIS: A Minimal Video Instance Segmentation Framework without Video-based
Training", NeurIPS 2022, section 3.2: the queries of an image model are tracked by bipartite
matching of their embeddings between consecutive frames. As in GLEE's ``MinVIS_inference``
(``projects/GLEE/glee/GLEE.py``):

* the video is run through the model in windows of ``VIDEO_WINDOW_SIZE`` (10) frames
  (:func:`clip_windows`); matching then runs over all frames;
* frame ``t``'s queries are matched to the mean of the last 3 **aligned** query embeddings
  (a moving average) with cost ``1 - cosine`` (Hungarian, scipy ``linear_sum_assignment``),
  and the frame's outputs are permuted so query ``q`` is the same object in every frame
  (UniVS's ``inference_video_vis_minvis`` does the same over clip-mean embeddings with the last
  2: ``MinVISMatcher(history=2)``);
* the video class logits are the mean of the aligned per-frame logits;
  :func:`video_topk` keeps the top-k (query, class) pairs (30 for YouTube-VIS/OVIS), and
  :func:`tao_video_topk` / :func:`tao_frame_filter` implement the TAO/BURST variant.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from evalkit.zoo.ops.nms import nms

from .common import TrackerInputError, as_tensor


def clip_windows(num_frames: int, window: int = 10) -> list[tuple[int, int]]:
    """``[start, end)`` frame ranges of the model's forward windows (last one may be shorter)."""
    if window < 1:
        raise TrackerInputError(f"clip_windows: window must be >= 1, got {window}")
    return [(s, min(s + window, num_frames)) for s in range(0, num_frames, window)]


def match_from_embeds(tgt_embeds, cur_embeds) -> np.ndarray:
    """Hungarian matching of current queries to target embeddings on ``1 - cosine``.

    Args:
        tgt_embeds: ``N x D`` reference embeddings (e.g. the moving average of aligned queries).
        cur_embeds: ``M x D`` current-frame query embeddings, ``M >= N``.

    Returns:
        ``N`` int64 array ``perm``: ``cur[perm[i]]`` is matched to ``tgt[i]`` (a permutation
        when ``M == N``).
    """
    tgt = as_tensor(tgt_embeds, "match_from_embeds: tgt_embeds", torch.float32)
    cur = as_tensor(cur_embeds, "match_from_embeds: cur_embeds", torch.float32)
    if tgt.dim() != 2 or cur.dim() != 2 or tgt.shape[1] != cur.shape[1]:
        raise TrackerInputError(
            f"match_from_embeds: expected N x D and M x D embeddings, got {tuple(tgt.shape)} "
            f"and {tuple(cur.shape)}")
    if cur.shape[0] < tgt.shape[0]:
        raise TrackerInputError(
            f"match_from_embeds: {cur.shape[0]} current queries cannot cover {tgt.shape[0]} "
            "targets")
    cur = cur / cur.norm(dim=1)[:, None]
    tgt = tgt / tgt.norm(dim=1)[:, None]
    # GLEE computes current x target cosines in float32 and hands the transpose to scipy
    cost = (1 - cur @ tgt.T).T  # N x M: target x current
    _, cols = linear_sum_assignment(cost.double().cpu().numpy())
    return cols.astype(np.int64)


class MinVISMatcher:
    """Streaming MinVIS alignment of per-frame query sets; one instance per video.

    Call :meth:`step` with each frame's ``Q x D`` query embeddings in order; it returns the
    permutation to apply to that frame's outputs (identity for the first frame).
    """

    def __init__(self, history: int = 3):
        if history < 1:
            raise TrackerInputError(f"MinVISMatcher: history must be >= 1, got {history}")
        self.history = history
        self.aligned: list[torch.Tensor] = []

    def step(self, embeds) -> np.ndarray:
        e = as_tensor(embeds, "MinVISMatcher.step: embeds", torch.float32)
        if e.dim() != 2:
            raise TrackerInputError(
                f"MinVISMatcher.step: embeds must be Q x D, got {tuple(e.shape)}")
        if not self.aligned:
            perm = np.arange(e.shape[0], dtype=np.int64)
        else:
            if e.shape != self.aligned[-1].shape:
                raise TrackerInputError(
                    f"MinVISMatcher.step: every frame needs {tuple(self.aligned[-1].shape)} "
                    f"embeddings, got {tuple(e.shape)}")
            reference = torch.stack(self.aligned[-self.history:]).mean(0)
            perm = match_from_embeds(reference, e)
        self.aligned.append(e[torch.from_numpy(perm)])
        del self.aligned[:-self.history]
        return perm


def align_video(embeds, history: int = 3) -> np.ndarray:
    """Permutations ``T x Q`` aligning a whole video's ``T x Q x D`` query embeddings."""
    e = as_tensor(embeds, "align_video: embeds", torch.float32)
    if e.dim() != 3:
        raise TrackerInputError(f"align_video: embeds must be T x Q x D, got {tuple(e.shape)}")
    m = MinVISMatcher(history)
    return np.stack([m.step(f) for f in e]) if len(e) else np.zeros((0, e.shape[1]), np.int64)


def video_topk(video_logits, k: int = 30) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-k ``(query, class)`` pairs of video logits (GLEE ``minvis_inference_video``).

    Args:
        video_logits: ``Q x C`` class logits averaged over the aligned frames.
        k: pairs kept (GLEE: 30; capped at ``Q * C``).

    Returns:
        ``(scores K, labels K, queries K)``: sigmoid scores by decreasing value, class indices
        and query indices. (GLEE's ``topk(sorted=False)`` leaves the order unspecified; the set is
        the same.)
    """
    x = as_tensor(video_logits, "video_topk: video_logits", torch.float32)
    if x.dim() != 2:
        raise TrackerInputError(f"video_topk: video_logits must be Q x C, got {tuple(x.shape)}")
    num_classes = x.shape[1]
    scores, flat = x.sigmoid().flatten().topk(min(k, x.numel()))
    return scores, flat % num_classes, torch.div(flat, num_classes, rounding_mode="floor")


def tao_video_topk(video_logits, k: int = 50) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TAO/BURST: the top-k *queries* by best-class sigmoid score, one class each.

    Returns ``(scores K, labels K, queries K)``; GLEE gives query ``j`` of video ``v`` the track id
    ``k * v + j`` (position ``j`` in this ranking).
    """
    x = as_tensor(video_logits, "tao_video_topk: video_logits", torch.float32)
    if x.dim() != 2:
        raise TrackerInputError(f"tao_video_topk: video_logits must be Q x C, got {tuple(x.shape)}")
    best, labels = x.sigmoid().max(-1)
    scores, queries = best.topk(min(k, len(best)))
    return scores, labels[queries], queries


def tao_frame_filter(boxes_xyxy, masks, scores, min_area: int = 5,
                     nms_thr: float = 0.5) -> torch.Tensor:
    """Per-frame selection of GLEE's TAO output: mask area ``> min_area`` then box NMS.

    GLEE converts its xyxy boxes to xywh and then hands them to ``box_cxcywh_to_xyxy`` before
    ``torchvision.ops.nms``, i.e. NMS runs on ``(x0 - w/2, y0 - h/2, x0 + w/2, y0 + h/2)``
    boxes. That quirk changes which boxes suppress each other and is reproduced here.

    Args:
        boxes_xyxy: ``K x 4`` xyxy boxes of the frame. masks: ``K x H x W`` bool.
        scores: ``K`` video scores.

    Returns:
        int64 indices of the kept instances (NMS order: decreasing score).
    """
    b = as_tensor(boxes_xyxy, "tao_frame_filter: boxes", torch.float32)
    m = as_tensor(masks, "tao_frame_filter: masks")
    s = as_tensor(scores, "tao_frame_filter: scores", torch.float32)
    if b.dim() != 2 or b.shape[1] != 4 or m.dim() != 3 or not (len(b) == len(m) == len(s)):
        raise TrackerInputError(
            f"tao_frame_filter: expected K x 4 boxes, K x H x W masks, K scores; got "
            f"{tuple(b.shape)}, {tuple(m.shape)}, {tuple(s.shape)}")
    valid = torch.nonzero(m.flatten(1).sum(-1) > min_area).flatten()
    x0y0, wh = b[valid, :2], b[valid, 2:] - b[valid, :2]
    quirk = torch.cat([x0y0 - 0.5 * wh, x0y0 + 0.5 * wh], 1)
    return valid[nms(quirk, s[valid], nms_thr)]
