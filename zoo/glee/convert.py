"""Official GLEE checkpoints → our module tree.

The released ``.pth`` files are loaded either into the detectron2 meta-architecture (keys
``glee.*`` plus ``criterion.empty_weight``, possibly under a ``"model"`` wrapper) or directly
into ``GLEE_Model`` (no prefix), so both forms are accepted. Every official key is mapped or
dropped with a reason (see :func:`glee_key_map`); missing or unexpected keys are an error.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from ..backbones import backbone_key_map
from ..convert_utils import ConversionReport, KeyMap, unwrap_checkpoint
from ..text.clip_text import clip_text_key_map

__all__ = ["convert_glee", "glee_key_map", "strip_glee_prefix", "CONVERTER_VERSION"]

CONVERTER_VERSION = "1"

_DN_LABELS = (r"predictor\.(coco|obj365|vg|grounding|ytvis19|ytvis21|ovis|uvo)_label_enc\.weight"
              r"|predictor\.bdd_(det|inst)\.weight")


def glee_key_map(backbone: str = "resnet50") -> KeyMap:
    """Rules for official keys *without* the ``glee.`` prefix."""
    keep = (r"lang_projection|sot_fuser\.refine\.\d+\.(weight|bias)|mask_sptial_embed\.\d+|pn_indicator\.weight"
            r"|pixel_decoder\.(input_proj|transformer\.level_embed|transformer\.encoder\.(layers|vl_layers)"
            r"|mask_features|adapter_1|layer_1)(\..*)?"
            r"|predictor\.(enc_output|enc_output_norm|confidence_score|category_embed|mask_embed|decoder_norm)(\..*)?"
            r"|predictor\.decoder\.(layers|ref_point_head)\..*")
    return (KeyMap()
            .drop(r"criterion\..*", "training-only loss state")
            .drop(r"text_encoder_teacher\..*", "frozen CLIP teacher used only for the distillation loss")
            .drop(_DN_LABELS, "label embeddings of the denoising queries, which exist only in training")
            .nested("backbone.", "backbone.", backbone_key_map(backbone))
            .nested("text_encoder.", "text_encoder.", clip_text_key_map())
            .rename(r"predictor\.decoder\.norm\.(?P<k>weight|bias)", r"predictor.decoder_norm.\g<k>")
            .rename(r"predictor\.(_bbox_embed|bbox_embed\.\d+|decoder\.bbox_embed\.\d+)\.layers\.(?P<k>.*)",
                    r"predictor.bbox_embed.layers.\g<k>")
            .keep(keep))


def strip_glee_prefix(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Accept meta-architecture keys (``glee.*``) and bare ``GLEE_Model`` keys alike."""
    return {(k[len("glee."):] if k.startswith("glee.") else k): v for k, v in sd.items()}


def _backbone_name(expected: nn.Module | None) -> str:
    if expected is None:
        return "resnet50"
    name = type(expected.backbone).__name__.lower()
    return {"resnet": "resnet50", "swintransformer": "swin-large", "eva02pyramid": "eva02-large"}.get(name, name)


def convert_glee(official_sd: Mapping, expected: nn.Module | None = None
                 ) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Map an official GLEE state dict (any of the accepted forms) onto ours.

    Args:
        official_sd: the loaded checkpoint (bare or under ``"model"``; keys with or without
            ``glee.``).
        expected: our model (any device, ``meta`` included) for the key/shape checks; its
            backbone decides the backbone rules.
    """
    sd = strip_glee_prefix(unwrap_checkpoint(official_sd, what="GLEE checkpoint"))
    return glee_key_map(_backbone_name(expected)).convert(sd, expected, what="GLEE checkpoint")
