"""UNINEXT ("Universal Instance Perception as Object Discovery and Retrieval", Yan et al., CVPR 2023).

Components (one file each):

* :mod:`.prompt` — prompt generation: text prompts (expressions, concatenated category names)
  through BERT; annotation prompts (a box or mask on a reference frame) through the 4-channel
  template encoder, the P3–P6 fuser and the 256→768 adjust layer.
* :mod:`.fusion` — early fusion: bi-directional vision–language cross-attention (encoder layer 0).
* :mod:`.transformer` — DINO-style deformable encoder/decoder: two-stage proposals, 900 queries,
  mixed query selection, look-forward-twice iterative box refinement.
* :mod:`.heads` — instance heads: retrieval (instance–prompt matching), boxes, IoU branch,
  CondInst dynamic-conv masks, ReID embeddings.
* :mod:`.model` — the whole network and :func:`build_uninext`; :mod:`.configs` the variants;
  :mod:`.convert` the official-checkpoint converter.
"""
from .configs import UNINEXT_VARIANTS, UninextConfig
from .model import UNINEXT, build_uninext

__all__ = ["UNINEXT", "UninextConfig", "UNINEXT_VARIANTS", "build_uninext"]
