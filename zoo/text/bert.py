"""BERT text encoder (``bert-base-uncased``), as UNINEXT and UniRef++ use it.

Hugging Face ``BertModel`` under the attribute ``model`` plus a fast WordPiece tokenizer.
Building needs no download (the bert-base-uncased configuration is below); the tokenizer
(``vocab.txt``) is fetched from the hub on first use unless a local folder is given.

Official layouts: UNINEXT stores the model at ``text_encoder.body.model.*`` without pooler;
UniRef++ at ``text_encoder.*`` with ``pooler.dense``. :func:`bert_key_map` maps either onto
``model.*`` and drops ``embeddings.position_ids`` (persistent only in transformers ≤ 4.30).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..convert_utils import KeyMap

__all__ = ["BertTextEncoder", "BERT_BASE_UNCASED", "bert_key_map"]

#: configuration of ``bert-base-uncased`` (its config.json on the hub)
BERT_BASE_UNCASED = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072, hidden_act="gelu", max_position_embeddings=512,
                         type_vocab_size=2, layer_norm_eps=1e-12, hidden_dropout_prob=0.1,
                         attention_probs_dropout_prob=0.1, pad_token_id=0)


class BertTextEncoder(nn.Module):
    """BERT returning per-token features of the last layer.

    Args:
        config: ``BertConfig`` fields (default bert-base-uncased).
        add_pooling_layer: UniRef++ keeps the pooler (``pooler.dense``), UNINEXT does not.
        tokenizer: hub id or local folder of the WordPiece vocabulary.
        max_length: tokens per text (UNINEXT 256, UniRef++ 77).
        pad_to_max_length: pad every text to ``max_length`` (both official models do).
    """

    def __init__(self, config: dict | None = None, add_pooling_layer: bool = False,
                 tokenizer: str = "bert-base-uncased", max_length: int = 256, pad_to_max_length: bool = True):
        super().__init__()
        from transformers import BertConfig, BertModel

        cfg = BertConfig(**{**BERT_BASE_UNCASED, **(config or {})})
        self.model = BertModel(cfg, add_pooling_layer=add_pooling_layer)
        self.tokenizer_name = tokenizer
        self.max_length = max_length
        self.pad_to_max_length = pad_to_max_length
        self._tokenizer = None

    def init_non_persistent_buffers(self) -> None:
        """Recreate the embeddings' ``position_ids`` / ``token_type_ids`` (non-persistent in
        recent transformers, so not in state dicts) on the weights' device: a model built on
        ``meta`` and loaded in place has none (:func:`evalkit.zoo.convert_utils.load_into_meta`)."""
        emb = self.model.embeddings
        n, device = emb.position_embeddings.num_embeddings, emb.position_embeddings.weight.device
        for name, value in (("position_ids", torch.arange(n, device=device)[None]),
                            ("token_type_ids", torch.zeros((1, n), dtype=torch.long, device=device))):
            if name in emb._buffers:
                emb.register_buffer(name, value, persistent=False)

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @property
    def tokenizer(self):
        """The fast WordPiece tokenizer (loaded on first use; honours ``HF_HUB_OFFLINE``)."""
        if self._tokenizer is None:
            from transformers import BertTokenizerFast

            self._tokenizer = BertTokenizerFast.from_pretrained(self.tokenizer_name)
        return self._tokenizer

    def tokenize(self, texts: Sequence[str], device: torch.device | str | None = None,
                 tokenizer=None) -> dict[str, torch.Tensor]:
        """``[CLS] … [SEP]`` ids, truncated to ``max_length``: ``input_ids``/``attention_mask``
        ``B×L`` int64 (L = max_length when padding to max, else the longest text).

        ``tokenizer``: the WordPiece tokenizer to use (an adapter's, resolved from its card or
        option), else this encoder's own (:attr:`tokenizer`, loaded by name on first use)."""
        tokenizer = tokenizer if tokenizer is not None else self.tokenizer
        enc = tokenizer(list(texts), padding="max_length" if self.pad_to_max_length else "longest",
                        truncation=True, max_length=self.max_length, return_tensors="pt")
        dev = device if device is not None else self.model.embeddings.word_embeddings.weight.device
        return {"input_ids": enc["input_ids"].to(dev), "attention_mask": enc["attention_mask"].to(dev)}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Returns ``hidden`` ``B×L×768`` (last layer), ``mask`` ``B×L`` (1 = token) and, with
        the pooler, ``pooled`` ``B×768``."""
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        res = {"hidden": out.last_hidden_state, "mask": attention_mask}
        if self.model.pooler is not None:
            res["pooled"] = out.pooler_output
        return res

    def encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenize and run: ``texts`` (B strings) → :meth:`forward`'s dict."""
        return self(**self.tokenize(texts))


def bert_key_map() -> KeyMap:
    """Rules for a Hugging Face ``BertModel`` state dict (keys relative to it) → ``model.*``."""
    return (KeyMap()
            .drop(r"embeddings\.position_ids", "non-persistent buffer in transformers >= 4.31")
            .drop(r"embeddings\.token_type_ids", "non-persistent buffer in transformers >= 4.31")
            .rename(r"(?P<k>(embeddings|encoder|pooler)\..*)", r"model.\g<k>"))
