"""Helpers for the UniRef++ tests: a tiny configuration, an offline WordPiece vocabulary, the name of
the official key manifest (read with ``tests/plugins/manifest_helpers.py``) and tiny adapters."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

MANIFEST_R50 = "uniref_pp_r50_video_joint.tsv"

WORDS = ["person", "car", "dog", "cat", "bus", "the", "left", "right", "man", "woman", "red",
         "blue", "on", "a", "in", "white", "shirt", "bicycle", "running", "##s", "##ing"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "-"] + WORDS

#: builder overrides giving a ~2 M-parameter R50-layout model (milliseconds per 64-px frame)
TINY = dict(
    backbone_overrides=dict(width_per_group=8, stem_out_channels=8),
    d_model=64, nheads=8, dim_feedforward=64, enc_layers=2, dec_layers=2, num_queries=20,
    fusion_heads=2, fusion_head_dim=16, mask_encoder_width=8, context_len=16,
    text_config=dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=32),
)


def write_vocab(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return path


def tiny_adapter(tmp_path: Path, **options):
    """A random-weight tiny UniRef++ adapter (R50 layout) with 64-px inputs."""
    from evalkit.adapters.uniref import build_adapter

    torch.manual_seed(0)
    opts = dict(random_weights=True, overrides=TINY, tokenizer=str(write_vocab(tmp_path / "vocab")),
                input_size=(64, 96))
    opts.update(options)
    return build_adapter(model_id="uniref-pp-r50", **opts)


def frame(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A deterministic RGB uint8 frame with a bright square (something to segment)."""
    rng = np.random.default_rng(seed)
    im = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
    y, x = 8 + seed % 7, 10 + seed % 11
    im[y:y + 16, x:x + 20] = 220
    return im


def box_mask(h: int, w: int, y0: int, x0: int, y1: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m
