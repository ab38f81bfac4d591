"""The tiny UNINEXT variant trained on the shapes suite: architecture overrides, the generated
WordPiece vocabulary (:data:`VOCAB`) and the shipped weights (``uninext-tiny.safetensors``, written by
``python -m evalkit.train``).

The network is the full UNINEXT (ResNet bottleneck backbone, BERT text encoder, early fusion,
deformable encoder/decoder, retrieval / box / IoU / dynamic-mask / ReID heads, template encoder)
at reduced width and depth; every override below is a field of
:class:`evalkit.zoo.uninext.configs.UninextConfig`.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["HERE", "VOCAB", "TINY_OVERRIDES", "INPUT_SIZE", "weights_file", "tokenizer"]

HERE = Path(__file__).resolve().parent

#: every word the shapes suite's prompts use (category names, expressions), plus BERT specials
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "the", "red", "green", "blue", "circle",
         "square", "triangle", "left", "right", "of", "above", "below"]

#: (short edge, max size) of every task: the suite's frames are 128×128
INPUT_SIZE = (128, 128)

TINY_OVERRIDES = {
    "backbone_overrides": {"width_per_group": 8, "stem_out_channels": 16, "norm": "BN"},
    "d_model": 64, "nheads": 4, "dim_feedforward": 128, "enc_layers": 1, "dec_layers": 2,
    "num_queries": 50, "vl_hidden_dim": 128, "num_vl_layers": 1,
    "text_config": {"vocab_size": len(VOCAB), "hidden_size": 64, "num_hidden_layers": 1,
                    "num_attention_heads": 2, "intermediate_size": 128, "max_position_embeddings": 48},
    "max_query_len": 48, "reid_layers": 1, "template_size": 64,
}


def weights_file() -> Path:
    return HERE / "uninext-tiny.safetensors"


def tokenizer():
    """BERT WordPiece tokenizer over :data:`VOCAB` (lower-case; offline)."""
    from transformers import BertTokenizerFast

    # a dict: transformers 5 ignores ``vocab_file=`` (an all-[UNK] tokenizer)
    return BertTokenizerFast(vocab={w: i for i, w in enumerate(VOCAB)}, do_lower_case=True)


def identity_converter(state_dict, expected_model=None):
    """The tiny model's weights are already in our names: checked strictly, returned as is."""
    if expected_model is not None:
        from ..convert_utils import check_state_dict

        check_state_dict(state_dict, expected_model, "uninext-tiny weights")
    return state_dict
