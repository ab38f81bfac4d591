"""Official UniRef++ checkpoint (detectron2 ``{"model": state_dict}``) → our module tree.

Every official key is mapped or dropped with a reason (see :func:`uniref_key_map`); the result
is checked against the model (missing / unexpected keys, shapes) and loads strictly.

| official | ours |
|---|---|
| ``detr.detr.backbone.0.backbone.*`` | ``backbone.*`` (backbone rules) |
| ``detr.detr.input_proj.*``, ``detr.detr.query_embed.*`` | ``input_proj.*``, ``query_embed.*`` |
| ``detr.detr.transformer.*`` | ``transformer.*`` |
| ``detr.detr.[transformer.decoder.]{class,bbox}_embed.{0..5}`` | ``{class,bbox}_embed.{0..5}`` |
| ``detr.detr.[transformer.decoder.]{class,bbox}_embed.6`` | ``enc_{class,bbox}_embed`` |
| ``detr.mask_head.*``, ``detr.controller.*`` | ``mask_branch.*``, ``dynamic_mask_head.controller.*`` |
| ``detr.{lateral,output,mask}_conv.*`` | ``mask_fpn.*`` |
| ``detr.fusion_module.*`` | ``fusion.*`` |
| ``text_encoder.*`` (BertModel), ``resizer.*`` | ``text_encoder.model.*``, ``text_projection.*`` |
| ``value_encoder.*`` | ``mask_encoder.*`` |

* ``detr.detr.transformer.decoder.{bbox_embed,class_embed}.*`` are the same tensors as
  ``detr.detr.{bbox_embed,class_embed}.*`` (Deformable DETR attaches the heads to the decoder);
  they map onto the same keys and the conversion fails if their values ever differ.
* Dropped: ``criterion.*`` (training-only loss state), BERT's ``embeddings.position_ids`` /
  ``token_type_ids`` (constant buffers, persistent only in transformers ≤ 4.30).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from ..backbones import backbone_key_map
from ..convert_utils import ConversionReport, KeyMap, convert_checkpoint_with
from ..text.bert import bert_key_map
from .configs import UNIREF_VARIANTS

__all__ = ["uniref_key_map", "convert_uniref", "CONVERTER_VERSION"]

CONVERTER_VERSION = "1"


def uniref_key_map(variant: str = "r50", dec_layers: int = 6) -> KeyMap:
    """The official→ours rules of a UniRef++ checkpoint of ``variant``."""
    enc = str(dec_layers)
    heads = r"detr\.detr\.(?:transformer\.decoder\.)?"
    return (KeyMap()
            .drop(r"criterion\..*", "training-only loss state (BoxInst iteration counter)")
            .nested("text_encoder.", "text_encoder.", bert_key_map())
            .prefix("resizer.", "text_projection.")
            .prefix("value_encoder.", "mask_encoder.")
            .nested("detr.detr.backbone.0.backbone.", "backbone.",
                    backbone_key_map(UNIREF_VARIANTS[variant][0]))
            .prefix("detr.detr.input_proj.", "input_proj.")
            .prefix("detr.detr.query_embed.", "query_embed.")
            # the two-stage proposal heads, then the per-layer heads (aliases checked equal)
            .rename(heads + rf"class_embed\.{enc}\.(?P<r>.*)", r"enc_class_embed.\g<r>")
            .rename(heads + rf"bbox_embed\.{enc}\.(?P<r>.*)", r"enc_bbox_embed.\g<r>")
            .rename(heads + r"(?P<h>class_embed|bbox_embed)\.(?P<r>.*)", r"\g<h>.\g<r>")
            .prefix("detr.detr.transformer.", "transformer.")
            .prefix("detr.controller.", "dynamic_mask_head.controller.")
            .prefix("detr.mask_head.", "mask_branch.")
            .rename(r"detr\.(?P<c>lateral_conv|output_conv|mask_conv)\.(?P<r>.*)", r"mask_fpn.\g<c>.\g<r>")
            .prefix("detr.fusion_module.", "fusion."))


def convert_uniref(official: Mapping[str, Any], expected: nn.Module | None = None, *,
                   strict: bool = True) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Convert an official UniRef++ checkpoint.

    Args:
        official: the loaded checkpoint (detectron2 dict with ``"model"``, or the bare state dict).
        expected: our model (any device, ``meta`` included) — its variant and decoder depth
            select the rules, its keys and shapes are checked. ``None``: R50, 6 layers, no check.
        strict: raise :class:`~evalkit.errors.WeightsError` on any problem.

    Returns:
        ``(our state dict, report)``.
    """
    cfg = getattr(expected, "cfg", None)  # the rules follow the variant and the decoder depth
    rules = uniref_key_map(cfg.variant, cfg.dec_layers) if cfg is not None else uniref_key_map("r50", 6)
    return convert_checkpoint_with(official, expected, rules, what="UniRef++ checkpoint", strict=strict)
