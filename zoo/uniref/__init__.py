"""UniRef++ ("UniRef++: Segment Every Reference Object in Spatial and Temporal Spaces", Wu et
al. 2023): one model for referring image segmentation, few-shot segmentation, referring VOS and
semi-supervised VOS, all posed as segmenting the object a *reference* designates.

Components (one file each):

* :mod:`.reference` — the mask-reference encoder (ResNet-18 on RGB + mask, fused with the
  reference frame's features through ResBlocks + CBAM); language references are BERT words.
* :mod:`.fusion` — UniFusion: multi-scale cross-attention from the current frame to the
  reference, adaLN-style modulation from the pooled reference, zero-initialised.
* :mod:`.transformer` — plain two-stage Deformable DETR (300 queries, mixed selection,
  look-forward-twice), built on UNINEXT's deformable layers.
* :mod:`.heads` — the stride-4 mask FPN; class-agnostic scores, boxes and CondInst masks reuse
  UNINEXT's heads.
* :mod:`.model` — the network and :func:`build_uniref`; :mod:`.configs` the variants;
  :mod:`.convert` the official-checkpoint converter.
"""
from .configs import UNIREF_VARIANTS, UnirefConfig
from .model import UniRef, build_uniref

__all__ = ["UniRef", "UnirefConfig", "UNIREF_VARIANTS", "build_uniref"]
