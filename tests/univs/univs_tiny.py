"""A tiny random-weight UniVS adapter for tests (registered as a hidden model id)."""
from __future__ import annotations

import numpy as np
import torch

from evalkit.adapters.univs import UniVSAdapter
from evalkit.types import Frames
from evalkit.zoo.text.clip_bpe import CLIPBPETokenizer
from evalkit.zoo.text.regionclip import RegionCLIPTextEncoder
from evalkit.zoo.univs.model import build_univs

TINY = dict(backbone_args={"width_per_group": 8, "stem_out_channels": 8}, conv_dim=32, mask_dim=32,
            hidden_dim=32, enc_layers=1, enc_ffn=64, dec_layers=2, dec_ffn=64, num_queries=8,
            num_dense_points=4, gn_groups=8, text_dim=48)
MERGES = [("t", "h"), ("th", "e</w>"), ("c", "a"), ("ca", "t</w>"), ("d", "o"), ("do", "g</w>")]
SIZES = {"min_size": 64, "max_size": 128}


def tiny_text_encoder() -> RegionCLIPTextEncoder:
    tok = CLIPBPETokenizer(MERGES)
    enc = RegionCLIPTextEncoder(embed_dim=48, vocab_size=tok.vocab_size, width=32, heads=2, layers=1)
    enc._tokenizer = tok
    return enc


def build_tiny_adapter(*, model_id: str = "univs-tiny-test", device: str = "cpu", weights=None,
                       class_embeddings=None, **options):
    """Factory with the adapter contract (``fn(*, model_id, device, weights, **options)``);
    ``class_embeddings`` ``N×48`` stand in for the class-embedding file (none by default)."""
    torch.manual_seed(0)
    model = build_univs("r50", **TINY)
    options = {"clip_len": 3, "memory": 2, **options}
    return UniVSAdapter(model, model_id=model_id, device=device, weights=weights,
                        text_encoder=tiny_text_encoder(), class_embeddings=class_embeddings,
                        input_sizes={t: SIZES for t in ("vis", "vss", "vps", "vos", "rvos", "pvos")}, **options)


def random_video(n: int, h: int = 48, w: int = 64, seed: int = 0) -> Frames:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    frames = [np.roll(base, i, axis=1) for i in range(n)]
    return Frames(frames, ids=[f"{i:05d}" for i in range(n)])
