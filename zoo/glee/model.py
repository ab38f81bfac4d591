"""The GLEE network and its builder.

``GLEE`` = image backbone + CLIP text encoder (with ``lang_projection``) + visual prompter
(``sot_fuser``, ``mask_sptial_embed``, ``pn_indicator``) + pixel decoder (deformable encoder with
early fusion) + object decoder (``predictor``). The inference steps are separate methods so the
adapters can share work: a video frame's backbone features serve every object of a VOS video,
and the prompt tokens of a VOS object come from its key frame, not the current one.

Tensors: images ``B×3×Hp×Wp`` normalised (ImageNet mean/std, RGB) on a canvas padded to a
multiple of 32; prompt masks ``B×Hp×Wp`` bool on that canvas; text token features
``B×77×256``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from evalkit.errors import UnsupportedTaskError
from ..backbones import build_backbone
from ..text.clip_text import CLIPTextEncoder
from .configs import BACKBONE_ALIASES, DECODER_DEFAULTS, variant_config
from .object_decoder import DecoderOutput, ObjectDecoder
from .pixel_decoder import MaskDINOEncoder
from .visual_prompter import FeatureFuser, crop_template, sample_prompt_tokens

__all__ = ["GLEE", "TextPrompt", "build_glee"]


@dataclass
class TextPrompt:
    """Encoded text for one forward pass.

    Attributes:
        class_embeddings: ``N×C`` one per category (detection / VIS), or None.
        grounding: ``B×C`` one expression embedding per image (REC/RES/R-VOS), or None.
        fusion: ``B×L×C`` (or ``1×L×C``, shared) early-fusion tokens.
        tokens / token_padding: ``B×L×C`` expression tokens and ``B×L`` padding (True) for the
            decoder self-attention (grounding only).
    """

    class_embeddings: torch.Tensor | None = None
    grounding: torch.Tensor | None = None
    fusion: torch.Tensor | None = None
    tokens: torch.Tensor | None = None
    token_padding: torch.Tensor | None = None


class GLEE(nn.Module):
    """See the module docstring; build with :func:`build_glee`."""

    def __init__(self, backbone: nn.Module, variant: dict, *, hidden_dim: int, num_heads: int, dim_feedforward: int,
                 enc_layers: int, dec_layers: int, num_queries: int, num_levels: int, n_points: int, common_stride: int,
                 vl_embed_dim: int, vl_heads: int, template_size: int, search_area_factor: float,
                 max_prompt_points: int, text_config: dict | None = None,
                 tokenizer: str = "openai/clip-vit-base-patch32", visual_prompt: bool = True):
        super().__init__()
        self.backbone = backbone
        shapes = backbone.output_shape()
        in_features = variant["in_features"]
        channels = {k: v.channels for k, v in shapes.items()}
        self.text_encoder = CLIPTextEncoder(text_config, tokenizer=tokenizer)
        self.lang_projection = nn.Parameter(torch.rand(self.text_encoder.hidden_size, hidden_dim))
        # stage-1 (pre-training) models have no template fuser (official VISUAL_PROMPT False)
        self.sot_fuser = FeatureFuser([channels[f] for f in in_features[-3:]], hidden_dim) if visual_prompt else None
        self.pixel_decoder = MaskDINOEncoder(
            channels, in_features, variant["encoder_in_features"],
            project_inputs=not variant["backbone_has_pyramid"], conv_dim=hidden_dim, mask_dim=hidden_dim,
            num_levels=num_levels, enc_layers=enc_layers, d_ffn=dim_feedforward, n_heads=num_heads,
            n_points=n_points, vl_embed_dim=vl_embed_dim, vl_heads=vl_heads,
            strides={k: v.stride for k, v in shapes.items()}, common_stride=common_stride)
        self.predictor = ObjectDecoder(hidden_dim, num_queries, dec_layers, num_heads, dim_feedforward, num_levels,
                                       n_points, hidden_dim, hidden_dim)
        self.mask_sptial_embed = nn.ParameterList(nn.Parameter(torch.empty(hidden_dim, hidden_dim))
                                                  for _ in range(num_levels))
        for p in self.mask_sptial_embed:
            nn.init.trunc_normal_(p, std=0.02)
        self.pn_indicator = nn.Embedding(2, hidden_dim)
        self.in_features = tuple(in_features)
        self.template_size = template_size
        self.search_area_factor = search_area_factor
        self.max_prompt_points = max_prompt_points
        self.size_divisibility = max(32, getattr(backbone, "size_divisibility", 0) or 0)

    # -- text ------------------------------------------------------------------------------
    def encode_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``B×L`` ids and mask → projected token features ``B×L×C``."""
        hidden = self.text_encoder(input_ids, attention_mask)["hidden"]
        return hidden @ self.lang_projection

    def category_prompt(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        batch: int) -> TextPrompt:
        """Category names (``N×L`` ids) → per-name mean embeddings and, for early fusion, all
        valid tokens of all names repeated for the ``batch`` images."""
        tok = self.encode_tokens(input_ids, attention_mask)
        m = attention_mask.to(tok.dtype)
        emb = (tok * m[..., None]).sum(1) / m.sum(1, keepdim=True)
        fusion = tok[attention_mask.bool()][None].expand(batch, -1, -1)
        return TextPrompt(class_embeddings=emb, fusion=fusion)

    def expression_prompt(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> TextPrompt:
        """One expression per image (``B×L`` ids) → grounding prompt."""
        tok = self.encode_tokens(input_ids, attention_mask)
        valid = attention_mask.bool()
        m = valid.to(tok.dtype)
        pooled = (tok * m[..., None]).sum(1) / m.sum(1, keepdim=True)
        return TextPrompt(grounding=pooled, fusion=tok, tokens=tok, token_padding=~valid)

    # -- visual prompts --------------------------------------------------------------------------
    def template_tokens(self, images: torch.Tensor, masks: torch.Tensor, mode: str) -> torch.Tensor:
        """Early-fusion tokens of visual prompts: ``B×3×Hp×Wp`` images with ``B×Hp×Wp`` masks →
        ``B×T×C`` (``T = (template_size/8)²`` for R50/Swin)."""
        if self.sot_fuser is None:
            raise UnsupportedTaskError("this GLEE model (a stage-1 pre-training checkpoint) has no visual prompter")
        crops = torch.cat([crop_template(im, m, mode, self.template_size, self.search_area_factor)
                           for im, m in zip(images, masks)])
        feats = self.backbone(crops)
        fused = self.sot_fuser([feats[f] for f in self.in_features[-3:]])
        return fused.flatten(2).transpose(1, 2)

    def prompt_tokens(self, levels: list[torch.Tensor], masks: torch.Tensor):
        """Decoder prompt tokens sampled inside ``masks`` from the encoder ``levels``."""
        return sample_prompt_tokens(levels, masks, list(self.mask_sptial_embed), self.pn_indicator.weight[0],
                                    self.max_prompt_points)

    # -- steps ----------------------------------------------------------------------------------
    def encode(self, features: dict[str, torch.Tensor], fusion: torch.Tensor | None = None):
        """Pixel decoder: ``(mask_features, levels)`` (see :class:`MaskDINOEncoder`); ``fusion``
        ``B×L×C`` or ``1×L×C`` early-fusion tokens."""
        if fusion is not None and fusion.shape[0] == 1:
            fusion = fusion.expand(next(iter(features.values())).shape[0], -1, -1)
        return self.pixel_decoder(features, fusion)

    def decode(self, levels, mask_features, text: TextPrompt | None = None, visual_tokens=None) -> DecoderOutput:
        """Object decoder with category names, an expression, or visual prompt tokens
        (``visual_tokens``: per level ``(B×P×C, B×P)``; decoder layer ``i`` uses level ``i mod 3``)."""
        text = text or TextPrompt()
        prompt = None
        if visual_tokens is not None:
            prompt = lambda i: visual_tokens[i % 3]  # noqa: E731
        elif text.tokens is not None:
            prompt = lambda i: (text.tokens, text.token_padding)  # noqa: E731
        return self.predictor(levels, mask_features, class_embeddings=text.class_embeddings,
                              grounding_class=text.grounding, prompt=prompt,
                              select_by_confidence=visual_tokens is not None)

    def forward(self, images: torch.Tensor, text: TextPrompt | None = None, visual_masks: torch.Tensor | None = None,
                visual_mode: str = "mask") -> DecoderOutput:
        """Single-image inference: category names / expression / visual prompt on ``images``."""
        text = text or TextPrompt()
        feats = self.backbone(images)
        if visual_masks is None:
            mask_features, levels = self.encode(feats, text.fusion)
            return self.decode(levels, mask_features, text)
        fusion = _cat_prompt(text, self.template_tokens(images, visual_masks, visual_mode))
        mask_features, levels = self.encode(feats, fusion)
        return self.decode(levels, mask_features, text, self.prompt_tokens(levels, visual_masks))

    def forward_visual(self, image: torch.Tensor, masks: torch.Tensor, mode: str, text: TextPrompt | None = None,
                       features: dict[str, torch.Tensor] | None = None) -> DecoderOutput:
        """``K`` visual prompts (``K×Hp×Wp`` masks) on one image ``1×3×Hp×Wp``: the backbone runs
        once (or ``features`` of that image are reused), the rest once per prompt."""
        text = text or TextPrompt()
        feats = features if features is not None else self.backbone(image)
        k = masks.shape[0]
        fusion = _cat_prompt(text, self.template_tokens(image.expand(k, -1, -1, -1), masks, mode))
        mask_features, levels = self.encode({n: f.expand(k, -1, -1, -1) for n, f in feats.items()}, fusion)
        return self.decode(levels, mask_features, text, self.prompt_tokens(levels, masks))


def _cat_prompt(text: TextPrompt, tokens: torch.Tensor) -> torch.Tensor:
    """Early-fusion prompt: the text tokens (if any) followed by visual template ``tokens``."""
    if text.fusion is None:
        return tokens
    return torch.cat([text.fusion.expand(tokens.shape[0], -1, -1), tokens], 1)


def build_glee(variant: str = "lite", backbone: str | None = None, backbone_overrides: dict | None = None,
               **overrides) -> GLEE:
    """Build GLEE-Lite / Plus / Pro with random weights.

    Args:
        variant: ``lite`` (R50), ``plus`` (Swin-L), ``pro`` (EVA02-L).
        backbone: the card's backbone name (``r50``, ``swin-l``, ``eva02-l``); must agree with the
            variant.
        backbone_overrides: constructor arguments of the backbone (tests shrink it).
        overrides: any of :data:`DECODER_DEFAULTS`, ``text_config`` (CLIP text config fields) and
            ``visual_prompt`` (False for the stage-1 pre-training checkpoints: no ``sot_fuser``).
    """
    cfg = variant_config(variant)
    if backbone is not None and BACKBONE_ALIASES.get(backbone) != cfg["backbone"]:
        raise ValueError(f"GLEE-{variant} uses backbone {cfg['backbone']!r}, got {backbone!r}")
    unknown = set(overrides) - set(DECODER_DEFAULTS) - {"text_config", "tokenizer", "visual_prompt"}
    if unknown:
        raise ValueError(f"unknown GLEE options {sorted(unknown)}; expected {sorted(DECODER_DEFAULTS)}, "
                         "text_config, tokenizer, visual_prompt")
    args = {**DECODER_DEFAULTS, **overrides}
    bb_args = {"out_features": cfg["in_features"]}
    if cfg["backbone_has_pyramid"]:
        bb_args["out_channels"] = args["hidden_dim"]  # the pyramid feeds the encoder directly
    bb = build_backbone(cfg["backbone"], **{**bb_args, **(backbone_overrides or {})})
    return GLEE(bb, cfg, **args)
