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
    """``texts`` → ``(input_ids B×L int64, attention_mask B×L int64)``.

    ``[SOT] + tokens[:L-2] + [EOT]``, padded with the end-of-text id (the pad token of the
    released CLIP tokenizer) to ``max_length``.
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
        n = self.max_length
        ids = torch.full((len(texts), n), self.bpe.eot_token, dtype=torch.long)
        mask = torch.zeros((len(texts), n), dtype=torch.long)
        for i, t in enumerate(texts):
            tok = [self.bpe.sot_token] + self.bpe.encode(t)[: n - 2] + [self.bpe.eot_token]
            ids[i, : len(tok)] = torch.tensor(tok)
            mask[i, : len(tok)] = 1
        return ids, mask
