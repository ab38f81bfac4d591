"""Text prompts: CLIP tokenisation as GLEE does it, and the projected token features.

GLEE tokenises with Hugging Face's ``CLIPTokenizer`` (``padding="max_length"``, 77 tokens,
truncation keeping the end-of-text token) and projects the CLIP text tower's last hidden state
with ``lang_projection`` (512×256). From those token features:

* a **category** embedding is the mean over the name's valid tokens (start/end tokens included);
  the early-fusion prompt is the concatenation of every name's valid tokens;
* an **expression** keeps all 77 token features (the decoder self-attention and the early
  fusion mask the padded ones) and its mean over valid tokens is the grounding classifier.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..text.clip_bpe import CLIPBPETokenizer

__all__ = ["GLEETokenizer"]


class GLEETokenizer:
    """``texts`` → ``(input_ids B×L int64, attention_mask B×L int64)``, ``L = max_length``.

    :meth:`CLIPBPETokenizer.batch` with GLEE's length: ``[SOT] + tokens[:L-2] + [EOT]``, padded
    with the end-of-text id (the pad token of the released CLIP tokenizer), as transformers'
    ``CLIPTokenizer(padding="max_length", truncation=True)`` in GLEE's
    ``projects/GLEE/glee/models/glee_model.py: GLEE_Model.forward``.
    """

    def __init__(self, bpe: CLIPBPETokenizer, max_length: int = 77):
        if max_length < 2:
            raise ValueError("max_length must leave room for the start and end tokens")
        self.bpe = bpe
        self.max_length = max_length

    @classmethod
    def from_merges(cls, path: str, max_length: int = 77) -> "GLEETokenizer":
        return cls(CLIPBPETokenizer.from_file(path), max_length)

    def __call__(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.bpe.batch(texts, self.max_length)
