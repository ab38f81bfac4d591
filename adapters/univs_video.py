"""Frame access for UniVS streaming: lazy preprocessing, per-frame encoding cached for the
frames of the current window, mapping of predictions back to the original frames."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.errors import EvalkitError
from evalkit.zoo.ops import ImageTransform, preprocess
from evalkit.zoo.ops.boxes import masks_to_boxes

from ..types import Frames
from .univs_memory import FrameCache

__all__ = ["VideoStream"]


class VideoStream:
    """One video seen through the model.

    Args:
        model: the UniVS network.
        frames: the video (decoded lazily, one frame at a time).
        size: ``{"min_size", "max_size"}`` (shortest-edge resize), optionally with ``"square": s``
            (stage-2 Swin models: the long side is capped at ``s`` and the canvas padded to
            ``s×s``, the official ``LSJ_AUG.SQUARE_ENABLED`` test path).
        device: where tensors live.
        window: frames whose encoder outputs are kept (the clip length).

    Every frame is resized like the first one so all frames share one padded canvas
    ``Hp×Wp`` (a multiple of 32); prompts and predictions live on that canvas.
    """

    def __init__(self, model, frames: Frames, size: dict[str, int], device, window: int):
        self.model = model
        self.frames = frames
        self.device = device
        self.cache = FrameCache(max(window, 1))
        first = frames[0]
        square = size.get("square")
        max_size = size.get("max_size", 1333)
        probe = preprocess([first], short_edge=size.get("min_size", 640),
                           max_size=min(max_size, square) if square else max_size,
                           mean=model.pixel_mean, std=model.pixel_std, size_divisibility=model.size_divisibility)
        self.resized = probe.transforms[0].resized_size
        self.canvas = (square, square) if square else probe.transforms[0].padded_size
        self._sizes = frames.sizes

    @classmethod
    def of(cls, model, ctx, frames: Frames) -> "VideoStream":
        """The stream of ``frames`` at the context's input size and device, caching a clip
        (``ctx`` a :class:`~.univs_context.UniVSContext`)."""
        return cls(model, frames, ctx.input_size, ctx.device, ctx.settings.sampling_frame_num)

    def __len__(self) -> int:
        return len(self.frames)

    def transform(self, i: int) -> ImageTransform:
        return ImageTransform(tuple(self._sizes[i]), self.resized, self.canvas)

    def _encode(self, i: int):
        img = self.frames[i]
        if img.ndim != 3 or img.shape[2] != 3:
            raise EvalkitError(f"frame {i} ({self.frames.ids[i]}): expected an H×W×3 RGB image, got {img.shape}")
        batch = preprocess([np.ascontiguousarray(img)], fixed_size=self.resized, mean=self.model.pixel_mean,
                           std=self.model.pixel_std, size_divisibility=self.model.size_divisibility,
                           device=self.device)
        images = batch.images
        if tuple(images.shape[-2:]) != self.canvas:  # square canvas: pad right / bottom
            images = F.pad(images, (0, self.canvas[1] - images.shape[-1], 0, self.canvas[0] - images.shape[-2]))
        return self.model.encode(images, torch.tensor([i], device=self.device))

    def clip(self, indices: list[int]):
        """:class:`~evalkit.zoo.univs.model.ClipFeatures` of absolute frames ``indices``."""
        for i in indices:
            if i not in self.cache:
                self.cache.put(i, self._encode(i))
        return self.cache.clip(indices)

    def canvas_masks(self, i: int, masks: np.ndarray) -> torch.Tensor:
        """``K×H×W`` bool masks of original frame ``i`` → ``K×Hp×Wp`` float on the canvas."""
        t = self.transform(i)
        m = torch.as_tensor(np.asarray(masks), device=self.device)
        out = torch.zeros(len(m), *self.canvas, device=self.device)
        if len(m):
            h, w = self.resized
            out[:, :h, :w] = t.masks_to_resized(m)
        return out

    def to_original(self, i: int, logits: torch.Tensor) -> torch.Tensor:
        """``K×h×w`` canvas logits (any stride) → ``K×H×W`` probabilities on frame ``i``."""
        if len(logits) == 0:
            return logits.new_zeros(0, *self._sizes[i])
        return self.transform(i).masks_to_original(logits).sigmoid()

    @staticmethod
    def boxes(masks: torch.Tensor) -> np.ndarray:
        return masks_to_boxes(masks).cpu().numpy() if len(masks) else np.zeros((0, 4), np.float32)
