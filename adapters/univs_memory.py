"""Streaming state of UniVS inference (paper §4.2), bounded in the video length.

* :class:`FrameCache` keeps the image-encoder output of the last ``T`` frames (every frame is
  encoded once even though clips overlap).
* :class:`PromptPool` is one target's memory pool of visual prompt tokens: one slot per frame,
  of which the slot of the target's first appearance and the last ``M`` are kept.
* :class:`MaskAccumulator` sums the mask logits every overlapping clip predicts for a frame;
  a frame is final once the window has passed it.
"""
from __future__ import annotations

from collections import OrderedDict, deque

import torch

from evalkit.zoo.univs.model import ClipFeatures

__all__ = ["FrameCache", "PromptPool", "MaskAccumulator", "EmbeddingMemory", "FrameEmbeddingMemory",
           "consistency_with_prev_frames", "stability_scores"]


def stability_scores(masks: torch.Tensor, offset: float = 1.0) -> torch.Tensor:
    """Mask quality of ``Q×...`` logits: ``|m > offset| / |m > -offset|`` over all frames and
    pixels (SAM's stability score; official ``calculate_mask_quality_scores``); ``Q`` values."""
    hi = (masks > offset).flatten(1).sum(-1).float()
    lo = (masks > -offset).flatten(1).sum(-1).float()
    return hi / lo.clamp(min=1)


class FrameCache:
    """Per-frame encoder outputs keyed by absolute frame index (at most ``capacity``)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._frames: OrderedDict[int, ClipFeatures] = OrderedDict()

    def __contains__(self, index: int) -> bool:
        return index in self._frames

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, index: int, feats: ClipFeatures) -> None:
        self._frames[index] = feats
        while len(self._frames) > self.capacity:
            self._frames.popitem(last=False)

    def clip(self, indices: list[int]) -> ClipFeatures:
        """Concatenate single-frame features along time into one ``T``-frame clip."""
        parts = [self._frames[i] for i in indices]
        return ClipFeatures(
            src=[torch.cat([p.src[lvl] for p in parts], 1) for lvl in range(len(parts[0].src))],
            pos=[torch.cat([p.pos[lvl] for p in parts], 1) for lvl in range(len(parts[0].pos))],
            sizes=parts[0].sizes,
            mask_features=torch.cat([p.mask_features for p in parts]),
            frame_indices=torch.cat([p.frame_indices for p in parts]),
        )


class PromptPool:
    """Memory pool of visual prompt tokens of one target, as the official prompt memory
    (``prompt_encoder.py``: ``VisualPromptSampler.process_per_video_inference`` and
    ``zero_pad_prompt``; decoder ``extract_prompt_features_from_memoey_pool``).

    Every absolute frame up to the current clip's last frame has a slot of ``R`` tokens
    (features ``R×C`` and position codes ``R×C``); an all-zero slot is blank (a frame where the
    target was not sampled yet). Per clip:

    * :meth:`open` appends blank slots for the clip's new frames (``zero_pad_prompt``);
    * :meth:`write` puts the tokens sampled on frame ``f`` into slots ``f`` .. last, so a new
      frame's slot starts as a copy of the last sampled frame (``prompt_feats[valid, :,
      s_idx:] = ...``);
    * :meth:`tokens` gives the decoder's ProCA the slot of the target's first appearance plus
      the last ``memory`` slots, blanks included (``extract_prompt_features_from_memoey_pool``);
    * :meth:`queries` gives, per frame of the clip, the mean of that frame's slot over its
      non-blank tokens (``forward_prompt_encoder``: ``prompt_feats_dense.sum(1) /
      isnot_blank_feats``).

    Only the first-appearance slot and the last ``memory`` slots are kept, so the pool never
    exceeds ``(1 + memory)·R`` tokens however long the video.

    Args:
        memory: slots read by the decoder, ``max(NUM_PREV_FRAMES_MEMORY, SAMPLING_FRAME_NUM)``.
    """

    def __init__(self, memory: int):
        self.memory = memory
        self.first_frame: int | None = None
        self.last = -1
        self.slots: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._blank: tuple[torch.Tensor, torch.Tensor] | None = None

    def __len__(self) -> int:
        """Slots held (bounded by ``memory + 1``)."""
        return len(self.slots)

    def open(self, last: int) -> None:
        """Blank slots for the frames after the current last one, up to ``last``."""
        if self._blank is not None:
            for f in range(self.last + 1, last + 1):
                self.slots[f] = self._blank
        self.last = max(self.last, last)
        for f in [f for f in self.slots if f <= self.last - self.memory and f != self.first_frame]:
            del self.slots[f]

    def write(self, frame: int, feats: torch.Tensor, pos: torch.Tensor) -> None:
        """Tokens ``R×C`` sampled on ``frame`` into the slots ``frame`` .. last."""
        if self._blank is None:
            self._blank = (torch.zeros_like(feats), torch.zeros_like(pos))
        for f in range(frame, self.last + 1):
            self.slots[f] = (feats, pos)

    def put(self, frame: int, feats: torch.Tensor, pos: torch.Tensor) -> None:
        """Tokens ``R×C`` into the slot of ``frame`` only."""
        if self._blank is None:
            self._blank = (torch.zeros_like(feats), torch.zeros_like(pos))
        self.slots[frame] = (feats, pos)

    def _slot(self, frame: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.slots.get(frame, self._blank)

    def first_slot(self) -> int:
        """The slot read as the first appearance: the appearance frame, or the last slot when
        the target appeared on the last frame or not at all (official: ``first_appear_frame_idxs
        >= e_idx - 1`` → ``-1``)."""
        f = self.first_frame
        return f if f is not None and 0 <= f < self.last else self.last

    def tokens(self, like: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(feats, pos)`` ``(1 + m)·R × C`` with ``m = min(memory, last + 1)``: the
        first-appearance slot, then the last ``m`` slots in frame order (blanks are zeros).
        ``like`` (an ``R×C`` tensor) shapes a pool that was never written."""
        if self._blank is None:
            self._blank = (torch.zeros_like(like), torch.zeros_like(like))
        frames = [self.first_slot()] + list(range(max(0, self.last - self.memory + 1), self.last + 1))
        parts = [self._slot(f) for f in frames]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def frame_positions(self, frames: list[int], like: torch.Tensor | None = None) -> torch.Tensor:
        """Position codes of each frame's slot, ``R×T×C`` (zeros where blank)."""
        if self._blank is None:
            self._blank = (torch.zeros_like(like), torch.zeros_like(like))
        return torch.stack([self._slot(f)[1] for f in frames], 1)

    def queries(self, frames: list[int], like: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(content, pos)`` ``T×C``: per frame, the mean of its slot's non-blank tokens
        (a blank slot gives zeros)."""
        if self._blank is None:
            self._blank = (torch.zeros_like(like), torch.zeros_like(like))
        out = []
        for x in (0, 1):
            rows = []
            for f in frames:
                tok = self._slot(f)[x]
                n = (tok != 0).any(-1).sum().clamp(min=1)
                rows.append(tok.sum(0) / n)
            out.append(torch.stack(rows))
        return out[0], out[1]


class MaskAccumulator:
    """Sum and count of the mask logits each target receives on each pending frame.

    ``add(frame, logits)`` with ``logits`` ``K×h×w`` (``K`` targets, a row of ``NaN`` meaning
    "no prediction from this clip"); ``pop(frame)`` returns the summed ``K'×h×w`` logits, as the
    official inference accumulates them, and forgets the frame. Targets without any prediction
    on the frame (including those registered later) get ``-inf``: the official sum is 0 there,
    which its ``> 0`` threshold also reads as background. The official VIS output divides the
    sum by the number of predictions first; the mean has the sign of the sum, so every ``> 0``
    decision is the same, and the sum is used throughout. Magnitudes matter only where they are
    compared across targets (the VPS pixel assignment, which officially uses the sum).
    """

    def __init__(self):
        self._sum: dict[int, torch.Tensor] = {}
        self._count: dict[int, torch.Tensor] = {}

    def add(self, frame: int, logits: torch.Tensor) -> None:
        ok = ~torch.isnan(logits.flatten(1)).any(1)
        x = torch.nan_to_num(logits, nan=0.0)
        if frame in self._sum:
            s, c = self._sum[frame], self._count[frame]
            if len(s) < len(x):
                pad = len(x) - len(s)
                s = torch.cat([s, s.new_zeros(pad, *s.shape[1:])])
                c = torch.cat([c, c.new_zeros(pad)])
            s[:len(x)] += x
            c[:len(x)] += ok.to(c.dtype)
            self._sum[frame], self._count[frame] = s, c
        else:
            self._sum[frame], self._count[frame] = x.clone(), ok.to(x.dtype)

    def assign(self, frame: int, k: int, logits: torch.Tensor) -> None:
        """Replace target ``k``'s sum on ``frame`` by ``logits`` (``h×w``) as its only
        prediction (the official assignments ``gt_mask_logits[obj, f] = ...``)."""
        if frame not in self._sum:
            self._sum[frame] = logits.new_zeros(k + 1, *logits.shape)
            self._count[frame] = logits.new_zeros(k + 1)
        s, c = self._sum[frame], self._count[frame]
        if len(s) <= k:
            pad = k + 1 - len(s)
            s = torch.cat([s, s.new_zeros(pad, *s.shape[1:])])
            c = torch.cat([c, c.new_zeros(pad)])
        s[k], c[k] = logits, 1
        self._sum[frame], self._count[frame] = s, c

    def pending(self) -> list[int]:
        return sorted(self._sum)

    def __len__(self) -> int:
        return len(self._sum)

    def peek(self, frame: int, num_targets: int) -> torch.Tensor:
        """Current summed logits ``num_targets×h×w`` (``-inf`` where nothing was predicted)."""
        s, c = self._sum[frame], self._count[frame]
        out = torch.where(c[:, None, None] > 0, s, torch.full_like(s, -float("inf")))
        if len(out) < num_targets:
            out = torch.cat([out, out.new_full((num_targets - len(out), *out.shape[1:]), -float("inf"))])
        return out

    def pop(self, frame: int, num_targets: int) -> torch.Tensor:
        out = self.peek(frame, num_targets)
        del self._sum[frame], self._count[frame]
        return out


class EmbeddingMemory:
    """A target's query embeddings, one slot per clip step (the official ``embds`` memory).

    Each clip opens a slot (blank, or the mean of the last 3 for the entity inference); a
    consistent prompt prediction is averaged into it (a blank slot takes it as is) and so is a
    matching detection. At most ``slots``
    slots are kept (``max(memory / stride, 3)`` officially).
    """

    def __init__(self, slots: int, first: torch.Tensor, open_with: str = "blank"):
        if open_with not in ("blank", "mean3"):
            raise ValueError(f"open_with must be 'blank' or 'mean3', got {open_with!r}")
        self.slots: deque[torch.Tensor] = deque([first], maxlen=max(slots, 3))
        self.open_with = open_with

    def open_slot(self) -> None:
        """A new slot: blank, or (``open_with='mean3'``, the official entity inference's
        ``pad_zero_annotations_for_next_clip``) the plain mean of the last 3 slots, blanks
        included."""
        if self.open_with == "mean3":
            self.slots.append(torch.stack(list(self.slots)[-3:]).mean(0))
        else:
            self.slots.append(torch.zeros_like(self.slots[-1]))

    def write(self, embed: torch.Tensor) -> None:
        """Average ``embed`` (``C``) into the newest slot (a blank slot takes it as is)."""
        last = self.slots[-1]
        nonblank = bool((last != 0).any())
        self.slots[-1] = (last + embed) / (2.0 if nonblank else 1.0)

    def history(self, n: int = 3) -> torch.Tensor:
        """The last ``n`` slots, ``n×C`` (zeros where blank or missing)."""
        h = list(self.slots)[-n:]
        return torch.stack([torch.zeros_like(h[0])] * (n - len(h)) + h)

    def consistency(self, embeds: torch.Tensor) -> float:
        """Similarity of a new prediction (``T×C`` per-frame embeddings) with the memory: cosine
        similarity with each slot averaged over the frames, then over the non-blank slots with
        weights ``exp(10·i/n)`` favouring recent ones (official
        ``check_consistency_with_prev_frames``)."""
        return consistency_with_prev_frames(torch.stack(list(self.slots)), embeds)


def consistency_with_prev_frames(prev: torch.Tensor, cur: torch.Tensor) -> float:
    """Official ``comm.py:check_consistency_with_prev_frames`` (``use_norm``) for one target:
    ``prev`` ``V×C`` memory slots, ``cur`` ``T×C`` new per-frame embeddings. Cosine similarity
    of each slot with the new frames, averaged over the frames, then over the non-blank slots
    with weights ``exp(10·v/V)`` (``generate_temporal_weights``; normaliser clamped at 1e-3)."""
    nonblank = (prev != 0).any(-1).float()
    p = prev / prev.norm(dim=-1, keepdim=True).clamp(min=1e-3)
    c = cur / cur.norm(dim=-1, keepdim=True).clamp(min=1e-3)
    cos = (p @ c.t()).mean(-1)
    v = len(prev)
    w = (torch.arange(1, v + 1, dtype=cos.dtype, device=cos.device) / v * 10.0).exp() * nonblank
    w = w / w.sum().clamp(min=1e-3)
    return float((cos * w).sum())


class FrameEmbeddingMemory:
    """A VOS target's query embeddings, one slot per frame (official ``inference_video_vos.py``,
    ``targets['embds']``).

    * :meth:`open` (``write_targets_into_annotations_per_clip``): the clip's new frames start as
      the mean of the last ``stride`` slots;
    * :meth:`assign` (first appearance): the clip's slots take the prediction's embeddings;
    * :meth:`update` (a target seen before): ``(slot + prediction) / (1 + [slot non-blank])`` on
      the clip's frames, the prediction zeroed when inconsistent (so an inconsistent target's
      slots are halved, as officially);
    * :meth:`similarity`: :func:`consistency_with_prev_frames` against the last ``memory`` slots.

    Frames without a slot read as blank; at most ``memory + stride`` slots are kept.
    """

    def __init__(self, memory: int, stride: int):
        self.memory, self.stride = memory, stride
        self.frames: dict[int, torch.Tensor] = {}
        self.last = -1

    def _get(self, f: int, like: torch.Tensor) -> torch.Tensor:
        return self.frames.get(f, torch.zeros_like(like))

    def open(self, idx: list[int], like: torch.Tensor) -> None:
        new = [f for f in idx if f > self.last]
        if new and self.last >= 0:
            prev = torch.stack([self._get(f, like) for f in range(self.last - self.stride + 1, self.last + 1)]).mean(0)
            for f in new:
                self.frames[f] = prev
        self.last = max(self.last, idx[-1])
        for f in [f for f in self.frames if f <= self.last - self.memory - self.stride]:
            del self.frames[f]

    def assign(self, idx: list[int], embds: torch.Tensor) -> None:
        for t, f in enumerate(idx):
            self.frames[f] = embds[t]
        self.last = max(self.last, idx[-1])

    def update(self, idx: list[int], embds: torch.Tensor, consistent: bool) -> None:
        for t, f in enumerate(idx):
            old = self._get(f, embds[t])
            new = embds[t] if consistent else torch.zeros_like(embds[t])
            self.frames[f] = (old + new) / (1.0 + float((old != 0).any()))

    def similarity(self, embds: torch.Tensor) -> float:
        frames = range(max(0, self.last - self.memory + 1), self.last + 1)
        prev = torch.stack([self._get(f, embds[0]) for f in frames])
        return consistency_with_prev_frames(prev, embds)
