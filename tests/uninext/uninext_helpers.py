"""Helpers for the UNINEXT tests: a tiny configuration, an offline WordPiece vocabulary and the
inverse of the converter's key rules (manifests: ``tests/plugins/manifest_helpers.py``)."""
from __future__ import annotations

import re
from pathlib import Path

import torch

WORDS = ["person", "car", "dog", "cat", "bus", "traffic", "light", "the", "left", "right", "man",
         "woman", "red", "blue", "on", "a", "in", "white", "shirt", "bicycle", "##s", "##ing"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "-"] + WORDS

#: builder overrides giving a ~1.6 M-parameter R50-layout model (runs in milliseconds at 64 px)
TINY = dict(
    backbone_overrides=dict(width_per_group=8, stem_out_channels=8),
    d_model=64, nheads=8, dim_feedforward=64, enc_layers=2, dec_layers=2, num_queries=30,
    vl_hidden_dim=64, max_query_len=16, reid_layers=1,
    text_config=dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=32),
)


def write_vocab(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return path


# ours → official (the inverse of the converter's rules, for writing a checkpoint)
_TO_OFFICIAL = [
    (r"text_encoder\.model\.(.*)", r"text_encoder.body.model.\1"),
    (r"template_backbone\.(.*)", r"detr.detr.ref_backbone.0.backbone.\1"),
    (r"backbone\.(.*)", r"detr.detr.backbone.0.backbone.\1"),
    (r"input_proj\.(.*)", r"detr.detr.input_proj.\1"),
    (r"enc_class_embed\.(.*)", r"detr.detr.class_embed.{n}.\1"),
    (r"enc_bbox_embed\.(.*)", r"detr.detr.bbox_embed.{n}.\1"),
    (r"(class_embed|bbox_embed|iou_head)\.(.*)", r"detr.detr.\1.\2"),
    (r"transformer\.encoder\.vl_fusion\.(\d+)\.(.*)", r"detr.detr.transformer.encoder.vl_layers.\1.b_attn.\2"),
    (r"transformer\.(.*)", r"detr.detr.transformer.\1"),
    (r"dynamic_mask_head\.controller\.(.*)", r"detr.controller.\1"),
    (r"mask_branch\.(.*)", r"detr.mask_head.\1"),
    (r"dn_label_encoder\.(.*)", r"detr.resizer.\1"),
    (r"reid_head\.embed\.(.*)", r"detr.reid_embed_head.1.\1"),
    (r"reid_head\.(.*)", r"detr.reid_embed_head.0.\1"),
    (r"prompt_adjust\.(.*)", r"detr.adjust_layer.\1"),
    (r"template_fuser\.(.*)", r"detr.sot_fuser.\1"),
]


def official_names(sd, dec_layers: int = 6):
    """Our state dict under the official names (the converter's rules inverted), with the
    decoder head aliases and the keys the converter drops: a checkpoint as the official code
    would save it."""
    out = {}
    for k, v in sd.items():
        for pat, rep in _TO_OFFICIAL:
            if re.fullmatch(pat, k):
                out[re.sub(pat, rep.replace("{n}", str(dec_layers)), k)] = v if v.is_meta else v.clone()
                break
        else:
            raise AssertionError(f"no official name for {k}")
    for k in [k for k in out if re.match(r"detr\.detr\.(class|bbox)_embed\.", k)]:
        out[k.replace("detr.detr.", "detr.detr.transformer.decoder.")] = out[k]  # aliases
    dev = next(iter(sd.values())).device
    out["criterion._iter"] = torch.zeros(1, device=dev)
    out["text_encoder.body.model.embeddings.position_ids"] = torch.arange(512, device=dev)[None]
    return out
