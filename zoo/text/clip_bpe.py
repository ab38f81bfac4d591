"""CLIP's byte-level BPE tokenizer (Radford et al. 2021), as RegionCLIP / UniVS use it.

Vocabulary: the 256 byte symbols, the same with the word-end marker ``</w>``, one entry per
merge, then ``<|startoftext|>`` and ``<|endoftext|>`` (49408 entries for the released 48894
merges). The merges come from either file format of the same data:

* OpenAI's ``bpe_simple_vocab_16e6.txt.gz`` (a header line, then merges; CLIP uses the first
  48894), or
* Hugging Face's ``merges.txt`` of ``openai/clip-vit-base-patch32`` (``#version`` line, then
  the same 48894 merges), which :meth:`CLIPBPETokenizer.from_pretrained` downloads.

Text cleaning follows the official ``basic_clean``/``whitespace_clean`` (HTML unescape twice,
collapse whitespace, lower-case) except ``ftfy.fix_text`` (mojibake repair), which is not a
dependency here: text with broken encodings may tokenize differently from the official code.
"""
from __future__ import annotations

import gzip
import html
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import regex
import torch

from evalkit.errors import EvalkitError

__all__ = ["CLIPBPETokenizer", "bytes_to_unicode"]

SOT, EOT = "<|startoftext|>", "<|endoftext|>"
N_MERGES = 49152 - 256 - 2
_PAT = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


@lru_cache()
def bytes_to_unicode() -> dict[int, str]:
    """Byte → printable unicode character (GPT-2's table: printable bytes map to themselves,
    the others to code points from 256 on)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _clean(text: str) -> str:
    text = html.unescape(html.unescape(text)).strip()
    return regex.sub(r"\s+", " ", text).strip().lower()


class CLIPBPETokenizer:
    """Encode text to CLIP token ids.

    Args:
        merges: the BPE merges, each a pair of symbols, in priority order.
    """

    def __init__(self, merges: Sequence[tuple[str, str]]):
        self.byte_encoder = bytes_to_unicode()
        vocab = list(self.byte_encoder.values())
        vocab += [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += [SOT, EOT]
        self.encoder = {v: i for i, v in enumerate(vocab)}
        self.decoder = {i: v for v, i in self.encoder.items()}
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.bpe_ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.sot_token = self.encoder[SOT]
        self.eot_token = self.encoder[EOT]
        self._cache = {SOT: SOT, EOT: EOT}

    @property
    def vocab_size(self) -> int:
        return len(self.encoder)

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path, num_merges: int = N_MERGES) -> "CLIPBPETokenizer":
        """Read merges from ``bpe_simple_vocab_16e6.txt.gz`` or a ``merges.txt`` (plain or gz);
        the first line (header) is skipped and at most ``num_merges`` merges are used."""
        path = Path(path)
        if not path.is_file():
            raise EvalkitError(f"CLIP BPE merges file not found: {path}")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = []
        for i, line in enumerate(lines[1:1 + num_merges], start=2):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                raise EvalkitError(f"{path}, line {i}: expected a merge 'a b', got {line!r}")
            merges.append((parts[0], parts[1]))
        return cls(merges)

    @classmethod
    def from_pretrained(cls, repo_id: str = "openai/clip-vit-base-patch32") -> "CLIPBPETokenizer":
        """Merges from a hub repo's ``merges.txt`` (``HF_HUB_OFFLINE`` honoured) or a local
        folder containing one."""
        local = Path(repo_id)
        if local.is_dir():
            return cls.from_file(local / "merges.txt")
        from huggingface_hub import hf_hub_download

        return cls.from_file(hf_hub_download(repo_id, "merges.txt"))

    # -- encoding ------------------------------------------------------------------------------
    def bpe(self, token: str) -> str:
        """Apply merges to one pre-token; returns space-separated symbols."""
        if token in self._cache:
            return self._cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if best not in self.bpe_ranks:
                break
            first, second = best
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        out = " ".join(word)
        self._cache[token] = out
        return out

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without start/end tokens."""
        ids = []
        for tok in regex.findall(_PAT, _clean(text)):
            tok = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self.bpe(tok).split(" "))
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        text = "".join(self.decoder[int(i)] for i in ids)
        return bytearray(self.byte_decoder[c] for c in text).decode("utf-8", errors="replace").replace("</w>", " ")

    def batch(self, texts: Sequence[str], max_length: int = 77,
              pad_to_max_length: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input_ids, attention_mask)``, both ``B×L`` int64, as transformers'
        ``CLIPTokenizer(texts, padding="max_length", truncation=True, max_length=L)`` gives
        them for the released vocabulary: ``[SOT] + ids[:L-2] + [EOT]`` (the end-of-text token
        is kept), padded with the end-of-text id (the released tokenizer's pad token) to
        ``L = max_length``, or to the longest text with ``pad_to_max_length=False``; the mask
        is 1 on the tokens, 0 on the padding."""
        if max_length < 2:
            raise ValueError("max_length must leave room for the start and end tokens")
        rows = [[self.sot_token] + self.encode(t)[: max_length - 2] + [self.eot_token] for t in texts]
        n = max_length if pad_to_max_length else max((len(r) for r in rows), default=2)
        ids = torch.full((len(rows), n), self.eot_token, dtype=torch.long)
        mask = torch.zeros((len(rows), n), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        return ids, mask

    def __call__(self, texts: str | Sequence[str], context_length: int = 77) -> torch.Tensor:
        """``B×context_length`` int64: ``[SOT] + ids + [EOT]``, zero-padded.

        Longer sequences are cut at ``context_length`` — the end-of-text token is then lost, as
        in UniVS's ``convert_example_to_features_bpe`` (the encoder pools at the arg-max id).
        """
        if isinstance(texts, str):
            texts = [texts]
        out = torch.zeros(len(texts), context_length, dtype=torch.long)
        for i, t in enumerate(texts):
            ids = ([self.sot_token] + self.encode(t) + [self.eot_token])[:context_length]
            out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out
