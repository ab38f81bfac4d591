"""Official UniVS checkpoints → our module tree.

Official layout (``UniVS_Prompt`` ``state_dict()``, manifest ``univs_r50_stage3.tsv``):
``backbone.*`` (detectron2 ResNet / D2 Swin), ``sem_seg_head.pixel_decoder.*`` (same names as
ours under ``pixel_decoder.``) and ``sem_seg_head.predictor.*`` (the decoder, whose per-layer
modules live in four parallel ``ModuleList``s; ours groups them per layer). The RegionCLIP text
tower is a separate file (:func:`convert_text_encoder`); the class-embedding file is a plain
tensor (:func:`load_class_embeddings`).
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from evalkit.errors import WeightsError

from ..backbones import backbone_key_map
from ..convert_utils import ConversionReport, KeyMap, squeeze_leading, unwrap_checkpoint

__all__ = ["univs_key_map", "convert_univs", "convert_text_encoder", "text_encoder_key_map",
           "load_class_embeddings", "read_class_embeddings"]

_P = r"sem_seg_head\.predictor\."
_ATTN = r"(?P<p>in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)"


def _scalar(t: torch.Tensor) -> torch.Tensor:
    """``nn.Embedding(1, 1)`` weight ``1×1`` → a 0-d log-temperature."""
    return t.reshape(())


def univs_key_map(backbone: str = "resnet50") -> KeyMap:
    """Rules for every key of an official UniVS state dict."""
    layer = r"\.(?P<i>\d+)\."
    return (KeyMap()
            .drop(r"(backbone_t|sem_seg_head_t)\..*",
                  "EMA teacher copy (MODEL.BoxVIS.EMA_ENABLED); inference uses the student weights")
            .nested("backbone.", "backbone.", backbone_key_map(backbone))
            .prefix("sem_seg_head.pixel_decoder.", "pixel_decoder.")
            # the four per-layer ModuleLists → one DecoderLayer per index
            .rename(_P + r"transformer_self_attention_layers" + layer + r"self_attn\." + _ATTN,
                    r"mask_decoder.layers.\g<i>.self_attn.attn.\g<p>")
            .rename(_P + r"transformer_cross_attention_layers" + layer + r"multihead_attn\." + _ATTN,
                    r"mask_decoder.layers.\g<i>.cross_attn.attn.\g<p>")
            .rename(_P + r"transformer_prompt_self_attention_layers" + layer + r"multihead_attn\." + _ATTN,
                    r"mask_decoder.layers.\g<i>.prompt_cross_attn.attn.\g<p>")
            .rename(_P + r"transformer_self_attention_layers" + layer + r"norm\.(?P<p>weight|bias)",
                    r"mask_decoder.layers.\g<i>.self_attn.norm.\g<p>")
            .rename(_P + r"transformer_cross_attention_layers" + layer + r"norm\.(?P<p>weight|bias)",
                    r"mask_decoder.layers.\g<i>.cross_attn.norm.\g<p>")
            .rename(_P + r"transformer_prompt_self_attention_layers" + layer + r"norm\.(?P<p>weight|bias)",
                    r"mask_decoder.layers.\g<i>.prompt_cross_attn.norm.\g<p>")
            .rename(_P + r"transformer_ffn_layers" + layer + r"(?P<p>(linear1|linear2|norm)\.(weight|bias))",
                    r"mask_decoder.layers.\g<i>.ffn.\g<p>")
            .rename(_P + r"(?P<k>(decoder_norm|query_feat|query_embed|level_embed|mask_embed)\..*)",
                    r"mask_decoder.\g<k>")
            .rename(_P + r"(?P<k>vis2text_projection\..*)", r"mask_decoder.classifier.\g<k>")
            .rename(_P + r"(?P<k>cls_temp|reid_temp)\.weight", r"mask_decoder.classifier.\g<k>", _scalar)
            .rename(_P + r"(?P<k>(text_norm|text2vis_projection)\..*)", r"prompt_encoder.\g<k>")
            .rename(_P + r"prompt_(?P<k>detection|sot|grounding)\.weight", r"prompt_encoder.task_\g<k>",
                    squeeze_leading)
            .rename(_P + r"lang2vision_cross_attention_layer\.multihead_attn\." + _ATTN,
                    r"prompt_encoder.lang2vision.attn.\g<p>")
            .rename(_P + r"lang2vision_cross_attention_layer\.norm\.(?P<p>weight|bias)",
                    r"prompt_encoder.lang2vision.norm.\g<p>"))


def convert_univs(official_sd: Mapping[str, torch.Tensor],
                  expected: nn.Module) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Card converter: ``(our_sd, report)``; raises :class:`WeightsError` on any unmapped,
    missing or unexpected key or shape mismatch.

    A checkpoint of an ``_entity`` VIS config lacks the language-to-image attention
    (``TEXT_PROMPT_TO_IMAGE_ENABLE False``); build the model with ``lang2vision=False`` for it.
    """
    backbone = getattr(getattr(expected, "cfg", None), "backbone", "resnet50")
    return univs_key_map(backbone).convert(official_sd, expected, what="UniVS checkpoint")


def text_encoder_key_map() -> KeyMap:
    """RegionCLIP ``CLIPLangEncoder`` file: names equal ours (optionally under
    ``lang_encoder.``)."""
    return (KeyMap()
            .prefix("lang_encoder.", "")
            .keep(r"(positional_embedding|text_projection|token_embedding\..*|ln_final\..*|transformer\..*)"))


def convert_text_encoder(official_sd: Mapping[str, torch.Tensor], expected: nn.Module):
    """The RegionCLIP RN50x4 text-tower file (``{"model": sd}``) → our
    :class:`~evalkit.zoo.text.regionclip.RegionCLIPTextEncoder` state dict."""
    sd = unwrap_checkpoint(dict(official_sd), what="RegionCLIP text encoder")
    return text_encoder_key_map().convert(sd, expected, what="RegionCLIP text encoder")


def load_class_embeddings(obj) -> torch.Tensor:
    """The class-embedding file (``combined_datasets_cls_emb_rn50x4.pth``): a ``N×640`` float
    tensor (possibly wrapped in a one-entry dict)."""
    if isinstance(obj, Mapping):
        tensors = [v for v in obj.values() if isinstance(v, torch.Tensor)]
        if len(tensors) != 1:
            raise WeightsError(f"class-embedding file: expected one N×640 tensor, got keys {list(obj)[:10]}")
        obj = tensors[0]
    if not isinstance(obj, torch.Tensor) or obj.dim() != 2:
        raise WeightsError(f"class-embedding file: expected an N×D tensor, got "
                           f"{getattr(obj, 'shape', type(obj).__name__)}")
    return obj.float()


def read_class_embeddings(path) -> torch.Tensor:
    """Read the class-embedding file: the official one is a bare tensor saved with
    ``torch.save`` (read with ``weights_only=True``: no code runs); safetensors files with one
    tensor are accepted too."""
    import pickle
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"class-embedding file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        raise WeightsError(f"{path}: not a readable class-embedding file ({exc})") from None
    return load_class_embeddings(obj)
