"""Text encoders: BERT (UNINEXT, UniRef++), CLIP ViT-B/32 text (GLEE), RegionCLIP RN50x4 text
(UniVS), and CLIP's BPE tokenizer. Importing this package does not import transformers."""
from __future__ import annotations

from typing import Any

_EXPORTS = {
    "BertTextEncoder": "bert", "bert_key_map": "bert", "BERT_BASE_UNCASED": "bert",
    "CLIPTextEncoder": "clip_text", "clip_text_key_map": "clip_text", "CLIP_VIT_B32_TEXT": "clip_text",
    "RegionCLIPTextEncoder": "regionclip", "build_regionclip_rn50x4_text": "regionclip",
    "CLIPBPETokenizer": "clip_bpe",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
