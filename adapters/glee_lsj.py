"""GLEE-Pro's test-time input: the large-scale-jitter (LSJ) square canvas.

Every GLEE-Pro config (``configs/images/Pro/*``, ``configs/videos/Pro/*``) sets
``INPUT.DATASET_MAPPER_NAME coco_instance_lsj`` and ``IMAGE_SIZE 1536``, so the test mappers
(``glee/data/joint_image_dataset_LSJ_mapper.py`` / ``joint_image_video_dataset_LSJ_mapper.py``,
``build_transform_gen(is_train=False)``) apply

* ``ResizeShortestEdge(short_edge_length=S, max_size=S)``: the longer side becomes ``S``;
* ``FixedSizeCrop(crop_size=(S, S))``: pads right/bottom to ``S × S`` with detectron2's default
  ``pad_value`` **128** on the 0–255 image, before normalisation — the padding is
  ``(128 - mean) / std``, not 0 (``ImageList.from_tensors`` then has nothing left to pad: ``S``
  is a multiple of 32).

The predictions are mapped back (``GLEE.forward`` with ``is_lsj``) through the *crop size*
``(int(H · r), int(W · r))`` with ``r = S / max(H, W)`` — truncated, where the resize rounded, so
it may be one pixel short of the resized image: masks are cropped to it and resized to
``H × W``; boxes (``LSJ_box_postprocess``) are scaled by ``S / crop``, clamped to ``[0, 1]`` and
scaled by ``(W, H)`` — i.e. clipped to the image.

The Lite and Plus configs use the detectron2 mapper instead (shorter side / max size, padding to
``MaskDINO.SIZE_DIVISIBILITY`` 32 with zeros): :func:`lsj_canvas` is not involved.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import EvalkitError
from ..zoo.ops import ImageBatch, ImageTransform
from ..zoo.ops.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["LSJ_PAD_VALUE", "LSJTransform", "lsj_crop_size", "lsj_canvas"]

#: detectron2 ``FixedSizeCrop(pad_value=128.0)`` on the 0-255 image
LSJ_PAD_VALUE = 128.0


@dataclass(frozen=True)
class LSJTransform(ImageTransform):
    """An :class:`ImageTransform` whose ``resized_size`` is the official LSJ crop size; boxes
    mapped back through it are clipped to the image (``LSJ_box_postprocess`` clamps)."""

    clip_boxes: bool = True


def lsj_crop_size(original_size: tuple[int, int], side: int) -> tuple[int, int]:
    """``(int(H · r), int(W · r))``, ``r = side / max(H, W)`` (official ``GLEE.forward``)."""
    h, w = original_size
    r = side / max(h, w)
    return int(h * r), int(w * r)


def lsj_canvas(batch: ImageBatch, side: int, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> ImageBatch:
    """The LSJ test input from a batch resized with shorter side = max size = ``side`` and padded
    to ``side`` (``preprocess(..., side, side, size_divisibility=side)``): padding set to the
    normalised 128, transforms replaced by :class:`LSJTransform` (crop size).

    Args:
        batch: ``N×3×side×side`` normalised images, ``N×side×side`` padding mask.
        side: the LSJ ``IMAGE_SIZE``; mean / std: the normalisation ``batch`` used (0-255 units).

    Raises:
        EvalkitError: the canvas is not ``side × side`` (a frame resized larger than ``side``).
    """
    if tuple(batch.images.shape[-2:]) != (side, side):
        raise EvalkitError(f"GLEE LSJ input: expected a {side}x{side} canvas (resize with shorter "
                           f"side = max size = {side}), got {tuple(batch.images.shape[-2:])}")
    images = batch.images.clone()
    fill = (torch.tensor([LSJ_PAD_VALUE] * 3) - torch.tensor(mean)) / torch.tensor(std)
    pad = batch.padding_mask[:, None].expand_as(images)
    images = torch.where(pad, fill.to(images)[None, :, None, None].expand_as(images), images)
    tfs = [LSJTransform(tf.original_size, lsj_crop_size(tf.original_size, side), (side, side))
           for tf in batch.transforms]
    return ImageBatch(images, batch.padding_mask, tfs)
