"""CLIP ViT-B/32 text tower (``openai/clip-vit-base-patch32``), as GLEE uses it.

The Hugging Face CLIP text transformer under the attribute ``text_model`` — so our keys are
``text_model.{embeddings,encoder,final_layer_norm}.*``, the layout of the official GLEE
checkpoints (``glee.text_encoder.text_model.*``) whatever the installed transformers version
(4.x nests the transformer inside ``CLIPTextModel.text_model``; 5.x merged them).
Building needs no download (configuration below, as GLEE's committed ``config.json``); the BPE
merges (:class:`~evalkit.zoo.text.clip_bpe.CLIPBPETokenizer`, the one CLIP tokenizer here) are
fetched from the hub on first use unless a local folder is given.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..convert_utils import KeyMap
from .clip_bpe import CLIPBPETokenizer

__all__ = ["CLIPTextEncoder", "CLIP_VIT_B32_TEXT", "clip_text_key_map"]

#: text_config of openai/clip-vit-base-patch32. eos_token_id 2 is the legacy value of that
#: config: with it, transformers pools at the arg-max token id (the end-of-text token), as CLIP.
CLIP_VIT_B32_TEXT = dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                         num_attention_heads=8, max_position_embeddings=77, hidden_act="quick_gelu",
                         layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2, pad_token_id=1,
                         projection_dim=512)


def _text_trunk(model: nn.Module) -> nn.Module:
    return getattr(model, "text_model", model)


class CLIPTextEncoder(nn.Module):
    """CLIP text transformer: ids ``B×L`` → token features ``B×L×512`` and the end-of-text
    feature ``B×512`` (after the final LayerNorm; no projection — GLEE projects itself).

    Args:
        config: ``CLIPTextConfig`` fields (default ViT-B/32's text tower).
        tokenizer: hub id or local folder with the BPE ``merges.txt``.
        max_length: 77 (the position table size); texts are padded to it.
    """

    def __init__(self, config: dict | None = None, tokenizer: str = "openai/clip-vit-base-patch32",
                 max_length: int = 77, pad_to_max_length: bool = True):
        super().__init__()
        from transformers import CLIPTextConfig, CLIPTextModel

        cfg = CLIPTextConfig(**{**CLIP_VIT_B32_TEXT, **(config or {})})
        self.text_model = _text_trunk(CLIPTextModel(cfg))
        self.tokenizer_name = tokenizer
        self.max_length = max_length
        self.pad_to_max_length = pad_to_max_length
        self._tokenizer = None

    @property
    def hidden_size(self) -> int:
        return self.text_model.config.hidden_size

    @property
    def tokenizer(self) -> CLIPBPETokenizer:
        if self._tokenizer is None:
            self._tokenizer = CLIPBPETokenizer.from_pretrained(self.tokenizer_name)
        return self._tokenizer

    def tokenize(self, texts: Sequence[str], device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        """``<|startoftext|> … <|endoftext|>`` ids truncated to ``max_length`` (the end-of-text
        token kept), padded with the end-of-text id; ``input_ids`` and ``attention_mask``
        ``B×L`` int64 (see :meth:`CLIPBPETokenizer.batch`)."""
        ids, mask = self.tokenizer.batch(list(texts), self.max_length, self.pad_to_max_length)
        dev = device if device is not None else self.text_model.embeddings.token_embedding.weight.device
        return {"input_ids": ids.to(dev), "attention_mask": mask.to(dev)}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Returns ``hidden`` ``B×L×D``, ``pooled`` ``B×D`` (end-of-text token) and ``mask``."""
        out = self.text_model(input_ids=input_ids, attention_mask=attention_mask)
        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        return {"hidden": out.last_hidden_state, "pooled": out.pooler_output, "mask": mask}

    def encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return self(**self.tokenize(texts))


def clip_text_key_map() -> KeyMap:
    """Rules for an official ``CLIPTextModel`` state dict (``text_model.*`` keys, relative to
    the text encoder) onto ours; ``position_ids`` (persistent before transformers 4.31) dropped."""
    return (KeyMap()
            .drop(r"text_model\.embeddings\.position_ids", "non-persistent buffer in transformers >= 4.31")
            .rename(r"(?P<k>text_model\.(embeddings|encoder|final_layer_norm)\..*)", r"\g<k>"))
