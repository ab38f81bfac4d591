"""UniVS assembled: image encoder (backbone + pixel decoder), prompt encoder, unified video mask
decoder (paper Fig. 2). Build with :func:`build_univs`.

Weights outside this module tree (separate files of the official release, loaded by the
adapter): the CLIP RN50x4 text tower (:mod:`evalkit.zoo.text.regionclip`) and the precomputed
CLIP embeddings of the training categories.

Inference is clip by clip (``T`` frames of one video, batch size one, as officially):

    feats = model.encode(images, frame_indices)        # image encoder, once per clip
    prompts = model.prompt_encoder.categories(emb, feats.src)   # or .expressions / .visual
    out = model.decode(feats, prompts, class_embeddings=emb)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..backbones import build_backbone
from .configs import UniVSConfig, get_config
from .mask_decoder import PromptQueries, UnifiedVideoMaskDecoder
from .pixel_decoder import MSDeformAttnPixelDecoder
from .position_encoding import PositionEmbeddingSine3D
from .prompt_encoder import PromptEncoder, VisualPromptSampler, VisualPromptTokens

__all__ = ["UniVS", "ClipFeatures", "build_univs"]


@dataclass
class ClipFeatures:
    """Image-encoder output for a clip of ``T`` frames.

    Attributes:
        src / pos: per level (strides 32, 16, 8) tokens ``H_lW_l×T×C`` and position codes.
        sizes: ``(H_l, W_l)`` per level.
        mask_features: ``T×mask_dim×Hp/4×Wp/4`` (covering the padded canvas).
        frame_indices: ``T`` absolute frame indices (int64).
    """

    src: list[torch.Tensor]
    pos: list[torch.Tensor]
    sizes: list[tuple[int, int]]
    mask_features: torch.Tensor
    frame_indices: torch.Tensor

    @property
    def num_frames(self) -> int:
        return self.mask_features.shape[0]


class UniVS(nn.Module):
    """The UniVS network (see module docstring). ``cfg`` is a :class:`UniVSConfig`."""

    #: input normalisation (detectron2 PIXEL_MEAN / PIXEL_STD, RGB 0-255)
    pixel_mean = (123.675, 116.28, 103.53)
    pixel_std = (58.395, 57.12, 57.375)

    def __init__(self, cfg: UniVSConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = build_backbone(cfg.backbone, **cfg.backbone_args)
        self.pixel_decoder = MSDeformAttnPixelDecoder(
            self.backbone.output_shape(), cfg.conv_dim, cfg.mask_dim, cfg.enc_layers, cfg.enc_ffn,
            cfg.enc_heads, cfg.enc_points, cfg.gn_groups)
        self.prompt_encoder = PromptEncoder(cfg.hidden_dim, cfg.text_dim, cfg.dec_heads, cfg.lang2vision)
        self.mask_decoder = UnifiedVideoMaskDecoder(
            cfg.hidden_dim, cfg.dec_heads, cfg.dec_ffn, cfg.dec_layers, cfg.num_queries, cfg.mask_dim,
            cfg.text_dim, 3, cfg.self_attn_mask)
        self.pos_3d = PositionEmbeddingSine3D(cfg.hidden_dim // 2, num_max_frames=cfg.num_max_frames)
        self.visual_sampler = VisualPromptSampler(cfg.num_dense_points)

    @property
    def size_divisibility(self) -> int:
        return 32

    @property
    def num_queries(self) -> int:
        return self.cfg.num_queries

    def encode(self, images: torch.Tensor, frame_indices: torch.Tensor | None = None) -> ClipFeatures:
        """``images`` ``T×3×Hp×Wp`` normalised (padded to a multiple of 32); ``frame_indices``
        ``T`` absolute indices (default ``0..T-1``)."""
        t = images.shape[0]
        if frame_indices is None:
            frame_indices = torch.arange(t, device=images.device)
        out = self.pixel_decoder(self.backbone(images))
        pos = [self.pos_3d(tuple(x.shape[-2:]), frame_indices.to(images.device)) for x in out["multi_scale"]]
        src, pos, sizes = self.mask_decoder.image_tokens(out["multi_scale"], pos)
        return ClipFeatures(src, pos, sizes, out["mask_features"], frame_indices)

    def sample_visual_prompt(self, feats: ClipFeatures, frame: int, masks: torch.Tensor, *,
                             num_points: int | None = None, cell_sampling: str | None = None) -> VisualPromptTokens:
        """Prompt tokens of ``K`` targets whose masks ``K×H×W`` (float, padded canvas) are
        known on clip frame ``frame`` (read from the stride-8 level); ``num_points`` /
        ``cell_sampling`` override the sampler's for this call."""
        h, w = feats.sizes[-1]
        img = feats.src[-1][:, frame].t().reshape(-1, h, w)
        pos = feats.pos[-1][:, frame].t().reshape(-1, h, w)
        return self.visual_sampler(img, pos, masks, num_points=num_points, cell_sampling=cell_sampling)

    def decode(self, feats: ClipFeatures, prompts: PromptQueries | None = None, *,
               class_embeddings: torch.Tensor | None = None,
               sentence_embeddings: torch.Tensor | None = None,
               self_attn_mask: str | None = None) -> dict[str, torch.Tensor]:
        """Run the mask decoder (see :meth:`UnifiedVideoMaskDecoder.forward` for outputs;
        ``self_attn_mask`` overrides the decoder's for this call)."""
        return self.mask_decoder(feats.src, feats.pos, feats.sizes, feats.mask_features, prompts,
                                 class_embeddings, sentence_embeddings, self_attn_mask=self_attn_mask)

    def forward(self, images: torch.Tensor, class_embeddings: torch.Tensor | None = None,
                frame_indices: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Category-specified forward of one clip: learnable queries plus one prompt query per
        category when ``class_embeddings`` (``K×640``) are given.

        Returns ``pred_masks`` ``Q×T×Hp/4×Wp/4``, ``pred_embds`` ``Q×T×C`` and (with
        embeddings) ``pred_logits`` ``Q×K``.
        """
        feats = self.encode(images, frame_indices)
        prompts = None
        if class_embeddings is not None:
            prompts = self.prompt_encoder.categories(class_embeddings, feats.src)
        return self.decode(feats, prompts, class_embeddings=class_embeddings)


def build_univs(variant: str = "r50", long_video: bool = True, **overrides: Any) -> UniVS:
    """Build a UniVS variant (``r50``, ``swin-t``, ``swin-b``, ``swin-l``) with random weights;
    ``overrides`` replace :class:`UniVSConfig` fields (tiny test models)."""
    return UniVS(get_config(variant, long_video=long_video, **overrides))
