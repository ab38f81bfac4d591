"""Kernels and the ops the models need without torchvision.

* multi-scale deformable attention: :func:`ms_deform_attn` (Triton on CUDA, ``grid_sample``
  reference elsewhere) and the :class:`MSDeformAttn` module;
"""
from .errors import KernelUnavailableError, OpInputError
from .ms_deform_attn import MSDeformAttn
from .msda import MSDeformAttnFunction, ms_deform_attn
from .msda_reference import ms_deform_attn_reference

__all__ = [
    "KernelUnavailableError",
    "OpInputError",
    "MSDeformAttn",
    "MSDeformAttnFunction",
    "ms_deform_attn",
    "ms_deform_attn_reference",
]
