"""Helpers for the GLEE tests: a tiny GLEE-Lite, an offline tokenizer and small frames."""
from __future__ import annotations

import numpy as np
import torch

from evalkit.adapters.glee import GLEEAdapter
from evalkit.zoo.glee.model import build_glee
from evalkit.zoo.glee.text import GLEETokenizer
from evalkit.zoo.text.clip_bpe import CLIPBPETokenizer

#: a few BPE merges so that words become several tokens
MERGES = [("c", "a"), ("ca", "t</w>"), ("d", "o"), ("do", "g</w>"), ("o", "b"), ("ob", "j")]
VOCAB = 512 + len(MERGES) + 2

TINY = dict(hidden_dim=64, num_heads=8, dim_feedforward=64, enc_layers=1, dec_layers=2, num_queries=16,
            vl_embed_dim=64, template_size=64, max_prompt_points=24,
            text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                             vocab_size=VOCAB, max_position_embeddings=16))
TINY_BACKBONE = dict(width_per_group=8, stem_out_channels=16)
SIZES = {t: {"min_size": 64, "max_size": 96} for t in
         ("det", "inst-seg", "rec", "res", "interactive", "vis", "ow-track", "vos", "rvos")}


def tiny_glee(seed: int = 0, **over) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_glee("lite", "r50", backbone_overrides=TINY_BACKBONE, **{**TINY, **over}).eval()


def tiny_tokenizer() -> GLEETokenizer:
    return GLEETokenizer(CLIPBPETokenizer(MERGES), max_length=16)


def tiny_adapter(seed: int = 0, **options) -> GLEEAdapter:
    return GLEEAdapter(tiny_glee(seed), tiny_tokenizer(), input_sizes=SIZES, model_id="glee-tiny-test", **options)


def frames_array(n: int, h: int = 50, w: int = 70, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        img[10:30, 15:45] = (200, 40, 40)
        out.append(img)
    return out
