"""Tiny random configurations of the ``transformers`` models (option ``tiny=true``): the real
architectures and the real processor classes at a few thousand parameters, built without any
download, so that the whole path (processor pre-processing, network, processor post-processing,
results writer, metric) runs in CI in seconds. Their outputs mean nothing.

The tokenizers are built in memory: a WordPiece vocabulary of the BERT special tokens and
single characters (every lower-case word tokenizes, character by character) for Grounding DINO,
and the 256 byte symbols of CLIP's byte-level BPE without merges for OWLv2. The closed-vocabulary
Mask2Former is given the shapes suite's nine categories and COCO's 80 as its classes.
"""
from __future__ import annotations

import string

__all__ = ["SHAPES_CLASSES", "COCO_CLASSES", "grounding_dino", "owlv2", "mask2former", "sam2_video", "sam2_video_config"]

#: the categories of the shapes suite (``evalkit.benchmarks.shapes``), the tiny Mask2Former's classes
SHAPES_CLASSES = tuple(f"{c} {s}" for c in ("red", "green", "blue")
                       for s in ("circle", "square", "triangle"))
#: COCO's 80 thing classes (the vocabulary of the Mask2Former COCO-instance checkpoint the tiny
#: configuration stands in for, so that COCO-layout benchmarks have classes to match)
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush")
_SIDE = 64  # input side of the tiny processors


def _swin(out_features):
    from transformers import SwinConfig

    return SwinConfig(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4,
                      image_size=_SIDE, out_features=list(out_features))


def _wordpiece():
    from transformers import BertTokenizerFast

    chars = list(string.ascii_lowercase + string.digits)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "'", "-"] + chars + \
        [f"##{c}" for c in chars]
    return BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)


def grounding_dino():
    """``(GroundingDinoForObjectDetection, GroundingDinoProcessor)``: Swin at width 8, BERT at
    width 16, d_model 32 (GroupNorm needs 32 channels), 2 decoder layers (the box heads of the
    decoder layers are tied, which needs more than one), 30 queries, 64-pixel short side."""
    from transformers import (BertConfig, GroundingDinoConfig, GroundingDinoForObjectDetection,
                              GroundingDinoImageProcessorPil, GroundingDinoProcessor)

    tok = _wordpiece()
    text = BertConfig(vocab_size=len(tok.get_vocab()), hidden_size=16, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=32, max_position_embeddings=128)
    cfg = GroundingDinoConfig(backbone_config=_swin(["stage2", "stage3", "stage4"]), text_config=text,
                              d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=32,
                              decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2,
                              num_queries=30, max_text_len=128, encoder_n_points=2, decoder_n_points=2)
    # 128: the extra 4th level (stride 64) must keep more than one pixel for its GroupNorm
    ip = GroundingDinoImageProcessorPil(size={"shortest_edge": 2 * _SIDE, "longest_edge": 4 * _SIDE})
    return GroundingDinoForObjectDetection(cfg).eval(), GroundingDinoProcessor(image_processor=ip, tokenizer=tok)


def owlv2():
    """``(Owlv2ForObjectDetection, Owlv2Processor)``: ViT at width 16 on 64-pixel squares
    (patch 16: 16 boxes per image), text tower at width 16 with 16 positions."""
    from transformers import CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessorPil, Owlv2Processor

    from evalkit.zoo.text.clip_bpe import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    # OWLv2's tokenizer pads with "!" (id 0) to 16 tokens
    tok = CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=[], model_max_length=16,
                        pad_token="!")
    bos, eos = len(vocab) - 2, len(vocab) - 1
    cfg = Owlv2Config(
        text_config=dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, bos_token_id=bos,
                         eos_token_id=eos, pad_token_id=0),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=_SIDE, patch_size=16),
        projection_dim=16)
    ip = Owlv2ImageProcessorPil(size={"height": _SIDE, "width": _SIDE})
    return Owlv2ForObjectDetection(cfg).eval(), Owlv2Processor(image_processor=ip, tokenizer=tok)


def mask2former():
    """``(Mask2FormerForUniversalSegmentation, Mask2FormerImageProcessorPil)``: Swin at width 8,
    pixel decoder and transformer decoder at width 32, 10 queries; classes: the nine shapes
    classes, then COCO's 80."""
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, Mask2FormerImageProcessorPil

    labels = dict(enumerate(SHAPES_CLASSES + COCO_CLASSES))
    cfg = Mask2FormerConfig(backbone_config=_swin(["stage1", "stage2", "stage3", "stage4"]),
                            feature_size=32, mask_feature_size=32, hidden_dim=32,
                            encoder_feedforward_dim=32, encoder_layers=1, decoder_layers=2,
                            num_attention_heads=2, dim_feedforward=32, num_queries=10,
                            id2label=labels, label2id={v: k for k, v in labels.items()})
    ip = Mask2FormerImageProcessorPil(size={"shortest_edge": _SIDE, "longest_edge": 2 * _SIDE},
                                      size_divisor=32)
    return Mask2FormerForUniversalSegmentation(cfg).eval(), ip


def sam2_video_config():
    """The tiny ``Sam2VideoConfig``: Hiera at widths 8-64 on 64-pixel frames, memory attention
    and encoder at width 128. The global-attention block is the second
    block of stage 3: on the first (query-pooling) block of a stage transformers divides by the
    window size, which a global block sets to 0. The memory channels stay 64 and the
    model width is twice that: transformers' memory cross-attention takes 64-channel keys
    whatever the configuration says, and the object pointers are split into memory-channel
    pieces only when the width is larger (an equal width leaves them a dimension short)."""
    from transformers import Sam2HieraDetConfig, Sam2VideoConfig, Sam2VisionConfig

    hiera = Sam2HieraDetConfig(hidden_size=8, num_attention_heads=1, image_size=[_SIDE, _SIDE],
                               blocks_per_stage=[1, 1, 2, 1], embed_dim_per_stage=[8, 16, 32, 64],
                               num_attention_heads_per_stage=[1, 1, 1, 1],
                               window_size_per_stage=[4, 4, 4, 2], global_attention_blocks=[3],
                               window_positional_embedding_background_size=[2, 2])
    vision = Sam2VisionConfig(backbone_config=hiera, backbone_channel_list=[64, 32, 16, 8],
                              backbone_feature_sizes=[[16, 16], [8, 8], [4, 4]], fpn_hidden_size=128)
    return Sam2VideoConfig(vision_config=vision, image_size=_SIDE,
                           prompt_encoder_config=dict(hidden_size=128, image_size=_SIDE, patch_size=16),
                           mask_decoder_config=dict(hidden_size=128, mlp_dim=64, num_attention_heads=2,
                                                    iou_head_hidden_dim=32),
                           memory_attention_hidden_size=128, memory_attention_num_layers=1,
                           memory_attention_rope_feat_sizes=[4, 4],
                           memory_attention_feed_forward_hidden_size=64, memory_encoder_hidden_size=128,
                           memory_encoder_output_channels=64, mask_downsampler_embed_dim=128,
                           memory_fuser_embed_dim=128, memory_fuser_intermediate_dim=64)


def sam2_video():
    """``(Sam2VideoModel, Sam2VideoProcessor)`` at a 64-pixel input. The processor needs
    torchvision (its image and video processors have no other backend in transformers 5)."""
    from transformers import Sam2ImageProcessor, Sam2VideoModel, Sam2VideoProcessor, Sam2VideoVideoProcessor

    size = {"height": _SIDE, "width": _SIDE}
    processor = Sam2VideoProcessor(image_processor=Sam2ImageProcessor(size=size),
                                   video_processor=Sam2VideoVideoProcessor(size=size))
    return Sam2VideoModel(sam2_video_config()).eval(), processor
