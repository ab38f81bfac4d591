"""Helpers for the UniRef++ tests: a tiny configuration, an offline WordPiece vocabulary, the
official key manifest read in place from ``../shared`` and synthetic checkpoints."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

MANIFESTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "official_keys"
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


def manifest(name: str = MANIFEST_R50) -> list[tuple[str, tuple[int, ...], str]]:
    """``(key, shape, dtype)`` rows of an official manifest (an empty shape field = 0-dim);
    skip when ``../shared`` is absent."""
    path = MANIFESTS / name
    if not path.is_file():
        pytest.skip(f"official key manifest {name} not available")
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            key, shape, dtype = line.split("\t")
            rows.append((key, tuple(int(s) for s in shape.split(",")) if shape else (), dtype))
    return rows


def synthetic_checkpoint(rows, seed: int = 0) -> dict:
    """A detectron2-style checkpoint with tensors of exactly the manifest's names, shapes and
    dtypes: views into one tiled random buffer (values in [-0.02, 0.02]) at a per-key offset, so
    same-shaped tensors differ; BatchNorm variances positive; the decoder's aliased head keys
    hold the same tensors as the heads, as in a real checkpoint."""
    g = torch.Generator().manual_seed(seed)
    pool = (torch.rand(1 << 16, generator=g) * 2 - 1) * 0.02
    largest = max(int(np.prod(shape)) if shape else 1 for _, shape, _ in rows)
    big = pool.repeat(-(-(largest + len(pool)) // len(pool)))
    sd = {}
    for i, (key, shape, dtype) in enumerate(rows):
        dt = getattr(torch, dtype)
        n = int(np.prod(shape)) if shape else 1
        if dt.is_floating_point:
            start = (i * 7919) % len(pool)
            t = big[start:start + n].view(shape).to(dt)
            sd[key] = t.abs() + 1.0 if key.endswith("running_var") else t
        else:
            sd[key] = torch.arange(n, dtype=dt).reshape(shape)
    alias = "detr.detr.transformer.decoder."
    for key in sd:
        if key.startswith(alias + "bbox_embed.") or key.startswith(alias + "class_embed."):
            sd[key] = sd["detr.detr." + key[len(alias):]]
    return {"model": sd, "iteration": 0}
