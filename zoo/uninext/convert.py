"""Official UNINEXT checkpoint (detectron2 ``{"model": state_dict}``) → our module tree.

Every official key is mapped or dropped with a reason (see :func:`uninext_key_map`); the
result is checked against the model (missing / unexpected keys, shapes) and loads strictly.

* ``detr.detr.transformer.decoder.{bbox_embed,class_embed}.*`` are the same tensors as
  ``detr.detr.{bbox_embed,class_embed}.*`` (Deformable DETR attaches the heads to the decoder
  for iterative refinement); they map onto the same keys, and the conversion fails if their
  values ever differ.
* The heads at index ``dec_layers`` (6) of ``class_embed`` / ``bbox_embed`` are the two-stage
  encoder heads (``enc_class_embed`` / ``enc_bbox_embed`` here).
* Dropped: ``criterion.*`` (training-only loss state) and BERT's ``embeddings.position_ids``
  (a constant buffer, persistent only in transformers ≤ 4.30).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from ..backbones import backbone_key_map
from ..convert_utils import ConversionReport, KeyMap, convert_checkpoint_with
from ..text.bert import bert_key_map
from .configs import UNINEXT_VARIANTS

__all__ = ["uninext_key_map", "convert_uninext", "CONVERTER_VERSION"]

CONVERTER_VERSION = "1"


def uninext_key_map(variant: str = "r50", dec_layers: int = 6) -> KeyMap:
    """The official→ours rules of a UNINEXT checkpoint (either stage) of ``variant``."""
    backbone = backbone_key_map(UNINEXT_VARIANTS[variant][0])
    enc = str(dec_layers)
    km = (KeyMap()
          .drop(r"criterion\..*", "training-only loss state (BoxInst iteration counter)")
          .nested("text_encoder.body.model.", "text_encoder.", bert_key_map())
          .nested("detr.detr.backbone.0.backbone.", "backbone.", backbone)
          .nested("detr.detr.ref_backbone.0.backbone.", "template_backbone.", backbone)
          .prefix("detr.detr.input_proj.", "input_proj.")
          # aliases of the top-level heads (same tensors; checked equal by KeyMap)
          .rename(rf"detr\.detr\.(?:transformer\.decoder\.)?class_embed\.{enc}\.(?P<r>.*)",
                  r"enc_class_embed.\g<r>")
          .rename(rf"detr\.detr\.(?:transformer\.decoder\.)?bbox_embed\.{enc}\.(?P<r>.*)",
                  r"enc_bbox_embed.\g<r>")
          .rename(r"detr\.detr\.(?:transformer\.decoder\.)?(?P<h>class_embed|bbox_embed)\.(?P<r>.*)",
                  r"\g<h>.\g<r>")
          .rename(r"detr\.detr\.transformer\.encoder\.vl_layers\.(?P<i>\d+)\.b_attn\.(?P<r>.*)",
                  r"transformer.encoder.vl_fusion.\g<i>.\g<r>")
          .prefix("detr.detr.transformer.", "transformer.")
          .prefix("detr.detr.iou_head.", "iou_head.")
          .prefix("detr.controller.", "dynamic_mask_head.controller.")
          .prefix("detr.mask_head.", "mask_branch.")
          .prefix("detr.resizer.", "dn_label_encoder.")
          .prefix("detr.reid_embed_head.0.", "reid_head.")
          .prefix("detr.reid_embed_head.1.", "reid_head.embed.")
          .prefix("detr.adjust_layer.", "prompt_adjust.")
          .prefix("detr.sot_fuser.", "template_fuser."))
    return km


def convert_uninext(official: Mapping[str, Any], expected: nn.Module | None = None, *,
                    strict: bool = True) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Convert an official UNINEXT checkpoint.

    Args:
        official: the loaded checkpoint (detectron2 dict with ``"model"``, or the bare state
            dict).
        expected: our model (any device, ``meta`` included) — its variant and decoder depth
            select the rules, its keys and shapes are checked. ``None``: R50, 6 layers, no check.
        strict: raise :class:`~evalkit.errors.WeightsError` on any problem.

    Returns:
        ``(our state dict, report)``.
    """
    cfg = getattr(expected, "cfg", None)  # the rules follow the variant and the decoder depth
    rules = uninext_key_map(cfg.variant, cfg.dec_layers) if cfg is not None else uninext_key_map("r50", 6)
    return convert_checkpoint_with(official, expected, rules, what="UNINEXT checkpoint", strict=strict)
