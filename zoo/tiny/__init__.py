"""The tiny variants trained on the shapes suite: architecture overrides, the generated
WordPiece vocabulary (:data:`VOCAB`) and the shipped weights (``<model id>.safetensors``, written
by ``python -m evalkit.train``).

* ``uninext-tiny``: the full UNINEXT (ResNet bottleneck backbone, BERT text encoder, early
  fusion, deformable encoder/decoder, retrieval / box / IoU / dynamic-mask / ReID heads, template
  encoder) at reduced width and depth; every override in :data:`TINY_OVERRIDES` is a field of
  :class:`evalkit.zoo.uninext.configs.UninextConfig`.
* ``uniref-pp-tiny``: the full UniRef++ (ResNet backbone, BERT, mask-reference encoder,
  UniFusion, two-stage deformable transformer, CondInst mask head) at reduced width and depth;
  :data:`UNIREF_TINY_OVERRIDES` are fields of :class:`evalkit.zoo.uniref.configs.UnirefConfig`.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["HERE", "VOCAB", "TINY_OVERRIDES", "UNIREF_TINY_OVERRIDES", "INPUT_SIZE", "TINY_MODELS",
           "weights_file", "tokenizer"]

HERE = Path(__file__).resolve().parent

#: every word the shapes suite's prompts use (category names, expressions), plus BERT specials
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "the", "red", "green", "blue", "circle",
         "square", "triangle", "left", "right", "of", "above", "below"]

#: (short edge, max size) of every task: the suite's frames are 128×128
INPUT_SIZE = (128, 128)

#: the text encoder both tiny models share (1 layer, width 64, the suite's vocabulary)
_TEXT = {"vocab_size": len(VOCAB), "hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
         "intermediate_size": 128, "max_position_embeddings": 48}

TINY_OVERRIDES = {
    "backbone_overrides": {"width_per_group": 8, "stem_out_channels": 16, "norm": "BN"},
    "d_model": 64, "nheads": 4, "dim_feedforward": 128, "enc_layers": 1, "dec_layers": 2,
    "num_queries": 50, "vl_hidden_dim": 128, "num_vl_layers": 1,
    "text_config": dict(_TEXT),
    "max_query_len": 48, "reid_layers": 1, "template_size": 64,
}


#: the backbone and text encoder are those of ``uninext-tiny`` (same shapes), so the UniRef++
#: training can start from them as the official one starts from pretrained components
UNIREF_TINY_OVERRIDES = {
    "backbone_overrides": {"width_per_group": 8, "stem_out_channels": 16, "norm": "BN"},
    "d_model": 64, "nheads": 4, "dim_feedforward": 128, "enc_layers": 1, "dec_layers": 2,
    "num_queries": 50, "fusion_heads": 2, "fusion_head_dim": 32, "mask_encoder_width": 16,
    "context_len": 16, "text_config": dict(_TEXT),
}

#: tiny model id → (family, builder overrides)
TINY_MODELS = {"uninext-tiny": ("uninext", TINY_OVERRIDES), "uniref-pp-tiny": ("uniref", UNIREF_TINY_OVERRIDES)}


def weights_file(model_id: str = "uninext-tiny") -> Path:
    """The shipped weights of a tiny model (``zoo/tiny/<model id>.safetensors``)."""
    if model_id not in TINY_MODELS:
        raise ValueError(f"unknown tiny model {model_id!r}; expected one of {sorted(TINY_MODELS)}")
    return HERE / f"{model_id}.safetensors"


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
