"""RegionCLIP's CLIP-RN50x4 text tower (``CLIPLangEncoder``), the frozen language encoder of
UniVS ("RegionCLIP", Zhong et al. 2022; weights
``regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth``).

Width 640, 12 pre-norm residual attention blocks with 10 heads, QuickGELU MLP (×4), a causal
mask over the 77-token context, final LayerNorm and a ``640×640`` text projection. Parameter
names equal the official file's (``positional_embedding``, ``text_projection``,
``transformer.resblocks.{i}.{attn.{in_proj_weight,in_proj_bias,out_proj},ln_1,mlp.{c_fc,c_proj},ln_2}``,
``token_embedding``, ``ln_final``) so that file loads without renaming.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from ..layers import MultiheadAttention
from .clip_bpe import CLIPBPETokenizer

__all__ = ["RegionCLIPTextEncoder", "build_regionclip_rn50x4_text"]


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))`` on ``B×L×W`` with a causal mask."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attn = MultiheadAttention(width, heads, batch_first=True)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.width = width
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for blk in self.resblocks:
            x = blk(x, mask)
        return x


class RegionCLIPTextEncoder(nn.Module):
    """CLIP text encoder with causal attention.

    Args:
        embed_dim: output width of ``text_projection`` (640).
        context_length: 77; vocab_size: 49408; width: 640; heads: 10; layers: 12.
        bpe: path or hub id for the BPE merges (see :class:`CLIPBPETokenizer`).
    """

    def __init__(self, embed_dim: int = 640, context_length: int = 77, vocab_size: int = 49408,
                 width: int = 640, heads: int = 10, layers: int = 12, bpe: str = "openai/clip-vit-base-patch32"):
        super().__init__()
        self.context_length = context_length
        self.transformer = Transformer(width, layers, heads)
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))
        self.register_buffer("attn_mask", torch.full((context_length, context_length), float("-inf")).triu_(1),
                             persistent=False)
        self.bpe = bpe
        self._tokenizer = None
        self._init(width, layers)

    def _init(self, width: int, layers: int) -> None:
        # CLIP's initialisation
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = width ** -0.5 * (2 * layers) ** -0.5
        for blk in self.transformer.resblocks:
            nn.init.normal_(blk.attn.in_proj_weight, std=width ** -0.5)
            nn.init.normal_(blk.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(blk.mlp.c_fc.weight, std=(2 * width) ** -0.5)
            nn.init.normal_(blk.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=width ** -0.5)

    @property
    def tokenizer(self) -> CLIPBPETokenizer:
        if self._tokenizer is None:
            self._tokenizer = (CLIPBPETokenizer.from_file(self.bpe) if str(self.bpe).endswith((".gz", ".txt"))
                               else CLIPBPETokenizer.from_pretrained(self.bpe))
        return self._tokenizer

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """``B×context_length`` int64 ids (zero-padded, see :class:`CLIPBPETokenizer`)."""
        return self.tokenizer(texts, self.context_length).to(self.token_embedding.weight.device)

    def encode_text(self, text: torch.Tensor, only_eot: bool = True):
        """Official ``encode_text``.

        Args:
            text: ``B×L`` token ids (L ≤ context_length).
        Returns:
            ``only_eot``: ``B×embed_dim`` features at the arg-max id (end of text);
            else ``(B×L×embed_dim per-token features, B×embed_dim end-of-text features)``.
        """
        n = text.shape[1]
        x = self.token_embedding(text) + self.positional_embedding[:n].to(self.token_embedding.weight.dtype)
        x = self.transformer(x, self.attn_mask[:n, :n].to(x.dtype))
        x = self.ln_final(x)
        x_eot = x[torch.arange(x.shape[0], device=x.device), text.argmax(dim=-1)] @ self.text_projection
        if only_eot:
            return x_eot
        return x @ self.text_projection, x_eot

    def forward(self, text: torch.Tensor) -> dict[str, torch.Tensor]:
        """``text`` ``B×L`` ids → ``tokens`` ``B×L×embed_dim`` and ``pooled`` ``B×embed_dim``."""
        tokens, pooled = self.encode_text(text, only_eot=False)
        return {"tokens": tokens, "pooled": pooled}


def build_regionclip_rn50x4_text(**overrides) -> RegionCLIPTextEncoder:
    """The RN50x4 text tower UniVS loads (640 wide, 12 layers, 10 heads, 77 tokens)."""
    return RegionCLIPTextEncoder(**overrides)
