"""Kernels and the ops the models need without torchvision.

* multi-scale deformable attention: :func:`ms_deform_attn` (Triton on CUDA, ``grid_sample``
  reference elsewhere) and the :class:`MSDeformAttn` module;
* boxes: format conversion, areas, pairwise IoU / GIoU, clipping, boxes of masks;
* NMS: :func:`nms`, class-aware :func:`batched_nms` (torchvision semantics), :func:`mask_nms`;
* preprocessing: detectron2-style shortest-edge resize, normalisation, padding/batching and
  :class:`ImageTransform` to map boxes and masks back to the original image;
* COCO RLE encoding of masks on any device, identical to pycocotools.
"""
from .boxes import box_area, box_convert, box_iou, generalized_box_iou, masks_to_boxes
from .errors import KernelUnavailableError, OpInputError
from .ms_deform_attn import MSDeformAttn
from .msda import MSDeformAttnFunction, ms_deform_attn
from .msda_reference import ms_deform_attn_reference
from .nms import batched_nms, mask_iou, mask_nms, nms
from .rle import mask_to_rle, masks_to_rles
from .transforms import (
    IMAGENET_MEAN, IMAGENET_STD, ImageBatch, ImageTransform, batch_images, normalize,
    padded_size, preprocess, resize_image, resize_shortest_edge_size, resize_tensor, to_tensor,
)

__all__ = [
    "KernelUnavailableError", "OpInputError",
    "MSDeformAttn", "MSDeformAttnFunction", "ms_deform_attn", "ms_deform_attn_reference",
    "box_area", "box_convert", "box_iou", "generalized_box_iou", "masks_to_boxes",
    "batched_nms", "mask_iou", "mask_nms", "nms",
    "mask_to_rle", "masks_to_rles",
    "IMAGENET_MEAN", "IMAGENET_STD", "ImageBatch", "ImageTransform", "batch_images", "normalize",
    "padded_size", "preprocess", "resize_image", "resize_shortest_edge_size", "resize_tensor",
    "to_tensor",
]
