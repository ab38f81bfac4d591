"""Image preprocessing (resize, normalise, pad, batch) and the inverse mapping of predictions.

Coordinate frames (continuous pixel coordinates, x right, y down; pixel ``(i, j)`` covers
``[j, j+1) x [i, i+1)``, as in :mod:`evalkit.types`):

* **original** - the input image, ``H x W``. Predictions leave the model in this frame.
* **resized** - the image after resizing to ``h x w``. A point maps by scaling corners to
  corners: ``(x, y) -> (x * w / W, y * h / H)`` (detectron2's ``ResizeTransform``); the whole
  image ``[0, W] x [0, H]`` maps onto ``[0, w] x [0, h]``.
* **padded** - the batch canvas ``Hp x Wp`` (``Hp >= h``, ``Wp >= w``): the resized image sits
  at its top-left corner, padding is added at the right and bottom only, so the padded frame
  has the same coordinates as the resized frame. Model outputs at stride ``s`` (e.g. mask
  logits at ``Hp/s x Wp/s``) cover the padded canvas.
* **normalised** - DETR-style boxes in ``[0, 1]`` relative to the resized, unpadded size
  ``(h, w)``.

Resizing: :func:`resize_shortest_edge_size` reproduces detectron2's
``ResizeShortestEdge.get_output_shape`` (test-time: one short edge and a max size);
:func:`resize_image` resizes ``uint8`` images with PIL bilinear, byte-identical to detectron2's
``ResizeTransform`` on ``uint8`` input; :func:`resize_tensor` is the device-side alternative
(``F.interpolate`` bilinear with antialiasing, close to PIL but not bit-identical).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .errors import OpInputError

#: ImageNet mean / std in 0-255 RGB (detectron2 ``PIXEL_MEAN`` / ``PIXEL_STD`` for RGB input).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def resize_shortest_edge_size(
    height: int, width: int, short_edge: int, max_size: int | None
) -> tuple[int, int]:
    """Output ``(h, w)`` when resizing the short edge to ``short_edge`` and capping the long edge
    at ``max_size`` (detectron2 ``ResizeShortestEdge``, rounding ``int(x + 0.5)``)."""
    if height <= 0 or width <= 0 or short_edge <= 0:
        raise OpInputError(
            f"resize_shortest_edge_size: sizes must be positive, got {height}x{width} -> "
            f"{short_edge}"
        )
    size = float(short_edge)
    scale = size / min(height, width)
    if height < width:
        new_h, new_w = size, scale * width
    else:
        new_h, new_w = scale * height, size
    if max_size is not None and max(new_h, new_w) > max_size:
        scale = max_size * 1.0 / max(new_h, new_w)
        new_h = new_h * scale
        new_w = new_w * scale
    return int(new_h + 0.5), int(new_w + 0.5)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``H x W x C`` ``uint8`` image to ``size = (h, w)`` with PIL bilinear.

    This is the resampling detectron2 applies to ``uint8`` images (PIL ``BILINEAR``, which
    antialiases when downscaling), so results are byte-identical to the official pipelines.
    """
    from PIL import Image

    if image.dtype != np.uint8 or image.ndim != 3:
        raise OpInputError(
            f"resize_image: expected an H x W x C uint8 image, got {image.dtype} {image.shape}"
        )
    h, w = size
    if image.shape[:2] == (h, w):
        return image.copy()
    mode_img = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
    out = np.array(mode_img.resize((w, h), Image.BILINEAR))  # a writable copy
    return out[..., None] if out.ndim == 2 else out


def resize_tensor(
    images: torch.Tensor, size: tuple[int, int], antialias: bool = True
) -> torch.Tensor:
    """Resize ``... x C x H x W`` float images to ``size = (h, w)`` on their device.

    Bilinear, ``align_corners=False`` (pixel centres at half-integers, matching the frame
    convention above), antialiased when downscaling by default (PIL-like).
    """
    if images.dim() < 3:
        raise OpInputError(f"resize_tensor: expected ... x C x H x W, got {tuple(images.shape)}")
    lead = images.shape[:-3]
    x = images.reshape(-1, *images.shape[-3:])
    if not x.dtype.is_floating_point:
        x = x.float()
    out = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False,
                        antialias=antialias)
    return out.reshape(*lead, *out.shape[-3:])


def to_tensor(image: np.ndarray, device: torch.device | str | None = None) -> torch.Tensor:
    """``H x W x C`` ``uint8`` array -> ``C x H x W`` float32 tensor in 0-255."""
    if image.ndim != 3:
        raise OpInputError(f"to_tensor: expected an H x W x C image, got shape {image.shape}")
    return torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1).float()


def normalize(image: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN,
              std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """``(image - mean) / std`` per channel on ``... x C x H x W`` (mean/std in image units)."""
    c = image.shape[-3]
    if len(mean) != c or len(std) != c:
        raise OpInputError(f"normalize: {c} channels but {len(mean)} means / {len(std)} stds")
    m = torch.as_tensor(mean, dtype=image.dtype, device=image.device).view(c, 1, 1)
    s = torch.as_tensor(std, dtype=image.dtype, device=image.device).view(c, 1, 1)
    return (image - m) / s


def padded_size(sizes: Sequence[tuple[int, int]], size_divisibility: int = 1) -> tuple[int, int]:
    """Canvas ``(Hp, Wp)`` holding every ``(h, w)``, rounded up to ``size_divisibility``."""
    hp = max(h for h, _ in sizes)
    wp = max(w for _, w in sizes)
    if size_divisibility > 1:
        hp = -(-hp // size_divisibility) * size_divisibility
        wp = -(-wp // size_divisibility) * size_divisibility
    return hp, wp


def batch_images(
    images: Sequence[torch.Tensor], size_divisibility: int = 1, pad_value: float = 0.0
) -> tuple[torch.Tensor, list[tuple[int, int]], torch.Tensor]:
    """Pad ``C x h_i x w_i`` images at the right/bottom into one ``N x C x Hp x Wp`` batch.

    As detectron2's ``ImageList.from_tensors``: the canvas is the largest size rounded up to
    ``size_divisibility``; normalise before batching so padding is 0 in normalised units.

    Returns:
        ``(batch, image_sizes, padding_mask)``: ``image_sizes[i] = (h_i, w_i)``;
        ``padding_mask`` is ``N x Hp x Wp`` bool, True on padding (DETR's ``NestedTensor``).
    """
    if not images:
        raise OpInputError("batch_images: no images given")
    c = images[0].shape[0]
    for i, im in enumerate(images):
        if im.dim() != 3 or im.shape[0] != c:
            raise OpInputError(
                f"batch_images: image {i} must be {c} x H x W, got {tuple(im.shape)}"
            )
    sizes = [(int(im.shape[1]), int(im.shape[2])) for im in images]
    hp, wp = padded_size(sizes, size_divisibility)
    batch = images[0].new_full((len(images), c, hp, wp), pad_value)
    mask = torch.ones((len(images), hp, wp), dtype=torch.bool, device=images[0].device)
    for i, (im, (h, w)) in enumerate(zip(images, sizes)):
        batch[i, :, :h, :w] = im
        mask[i, :h, :w] = False
    return batch, sizes, mask


@dataclass(frozen=True)
class ImageTransform:
    """What preprocessing did to one image, to map predictions back.

    Attributes:
        original_size: ``(H, W)`` of the input image.
        resized_size: ``(h, w)`` after resizing (the valid area of the padded canvas).
        padded_size: ``(Hp, Wp)`` of the batch canvas.
    """

    original_size: tuple[int, int]
    resized_size: tuple[int, int]
    padded_size: tuple[int, int]

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Resized-frame units per original pixel, ``(w / W, h / H)``."""
        return (self.resized_size[1] / self.original_size[1],
                self.resized_size[0] / self.original_size[0])

    def boxes_to_original(self, boxes: torch.Tensor, clip: bool = True) -> torch.Tensor:
        """``N x 4`` xyxy boxes, resized (= padded) frame -> original frame.

        Scales x by ``W / w`` and y by ``H / h``; with ``clip`` coordinates are clamped to the
        image (as detectron2's ``detector_postprocess``).
        """
        (big_h, big_w), (h, w) = self.original_size, self.resized_size
        f = boxes.new_tensor([big_w / w, big_h / h, big_w / w, big_h / h])
        out = boxes * f
        if clip:
            x = out[..., 0::2].clamp(0, big_w)
            y = out[..., 1::2].clamp(0, big_h)
            out = torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], -1)
        return out

    def boxes_to_resized(self, boxes: torch.Tensor) -> torch.Tensor:
        """``N x 4`` xyxy boxes, original frame -> resized frame (for box prompts)."""
        sx, sy = self.scale_xy
        return boxes * boxes.new_tensor([sx, sy, sx, sy])

    def normalized_to_original(self, boxes_cxcywh: torch.Tensor, clip: bool = True) -> torch.Tensor:
        """DETR boxes ``N x 4`` ``cxcywh`` in ``[0, 1]`` of the resized image -> original xyxy."""
        from .boxes import box_convert

        h, w = self.resized_size
        xyxy = box_convert(boxes_cxcywh, "cxcywh", "xyxy") * boxes_cxcywh.new_tensor([w, h, w, h])
        return self.boxes_to_original(xyxy, clip)

    def masks_to_original(
        self, masks: torch.Tensor, threshold: float | None = None
    ) -> torch.Tensor:
        """Masks covering the padded canvas -> masks in the original frame.

        Args:
            masks: ``N x m_h x m_w`` float (logits or probabilities) covering the whole
                ``Hp x Wp`` canvas at any stride (``m_h = Hp / s``).
            threshold: when given, return ``masks > threshold`` (bool).

        Returns:
            ``N x H x W``: upsampled to the canvas, cropped to the valid ``h x w`` area, resized
            to ``H x W`` (bilinear, ``align_corners=False`` at each step, as detectron2 /
            UNINEXT post-processing).
        """
        if masks.dim() != 3:
            raise OpInputError(f"masks_to_original: expected N x h x w, got {tuple(masks.shape)}")
        x = masks[:, None].float()
        if tuple(x.shape[-2:]) != self.padded_size:
            x = F.interpolate(x, size=self.padded_size, mode="bilinear", align_corners=False)
        h, w = self.resized_size
        x = x[..., :h, :w]
        x = F.interpolate(x, size=self.original_size, mode="bilinear", align_corners=False)[:, 0]
        return x > threshold if threshold is not None else x

    def masks_to_resized(self, masks: torch.Tensor) -> torch.Tensor:
        """``N x H x W`` masks of the original frame -> ``N x h x w`` float in ``[0, 1]``
        (bilinear, for mask prompts); threshold at 0.5 for a binary mask."""
        x = masks[:, None].float()
        return F.interpolate(x, size=self.resized_size, mode="bilinear", align_corners=False)[:, 0]


@dataclass
class ImageBatch:
    """A preprocessed batch: ``images`` ``N x C x Hp x Wp`` float (normalised), ``padding_mask``
    ``N x Hp x Wp`` (True on padding) and one :class:`ImageTransform` per image."""

    images: torch.Tensor
    padding_mask: torch.Tensor
    transforms: list[ImageTransform]


def preprocess(
    images: Sequence[np.ndarray],
    short_edge: int | None = 800,
    max_size: int | None = 1333,
    fixed_size: tuple[int, int] | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    size_divisibility: int = 32,
    device: torch.device | str | None = None,
) -> ImageBatch:
    """Resize, normalise and batch ``H x W x 3`` ``uint8`` RGB images.

    Either ``short_edge``/``max_size`` (detectron2 ``ResizeShortestEdge`` at test time) or
    ``fixed_size = (h, w)`` (every image stretched to the same size, e.g. square inputs).
    Resizing runs on the CPU with PIL (exact detectron2 parity); the rest on ``device``.
    """
    transforms, tensors = [], []
    for i, im in enumerate(images):
        if im.ndim != 3 or im.dtype != np.uint8:
            raise OpInputError(
                f"preprocess: image {i} must be an H x W x C uint8 array, got {im.dtype} "
                f"{im.shape}"
            )
        big_h, big_w = im.shape[:2]
        if fixed_size is not None:
            size = (int(fixed_size[0]), int(fixed_size[1]))
        elif short_edge is not None:
            size = resize_shortest_edge_size(big_h, big_w, short_edge, max_size)
        else:
            size = (big_h, big_w)
        tensors.append(normalize(to_tensor(resize_image(im, size), device), mean, std))
        transforms.append(((big_h, big_w), size))
    batch, _, mask = batch_images(tensors, size_divisibility)
    canvas = tuple(batch.shape[-2:])
    return ImageBatch(
        batch, mask, [ImageTransform(o, r, canvas) for o, r in transforms]
    )
