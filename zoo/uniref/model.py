"""The UniRef++ network ("UniRef++: Segment Every Reference Object in Spatial and Temporal
Spaces", Wu et al. 2023, Fig. 2): visual encoder, reference encoders (language, mask),
multi-scale UniFusion, plain two-stage Deformable DETR (class-agnostic) and CondInst masks.

Inference is split in steps so that a video costs one backbone pass per frame whatever the
number of objects, and memory stays constant over its length:

1. :meth:`UniRef.features` — backbone + input projections of a frame (:class:`VisualFeatures`).
2. :meth:`UniRef.encode_text` / :meth:`UniRef.encode_mask_reference` — a reference
   (:class:`~evalkit.zoo.uniref.fusion.ReferenceFeatures`), the latter from a frame's features
   and a target mask on it.
3. :meth:`UniRef.forward` — fusion with the references, transformer and heads: per-query
   scores, boxes and mask parameters; :meth:`UniRef.decode_masks` for the queries kept.

Inference procedures (top-1 selection, thresholds, propagation over frames, soft aggregation)
live in :mod:`evalkit.adapters.uniref`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import build_backbone
from ..configs_common import variant_backbone
from ..layers import PositionEmbeddingSine
from ..text import BertTextEncoder
from ..uninext.heads import DynamicMaskHead, MaskBranch, aligned_bilinear, box_head, input_projection
from ..uninext.transformer import FeatureResizer
from .configs import UNIREF_VARIANTS, UnirefConfig, make_config
from .fusion import ReferenceFeatures, UniFusion
from .heads import MaskFPN
from .reference import MaskReferenceEncoder
from .transformer import PlainDeformableTransformer

__all__ = ["UniRef", "VisualFeatures", "build_uniref"]

_LEVELS = ("res3", "res4", "res5")


@dataclass
class VisualFeatures:
    """One batch of frames through the visual encoder.

    Attributes:
        images: ``B×3×Hp×Wp`` normalised, padded input; padding_mask ``B×Hp×Wp`` (True = pad).
        srcs / masks / poses: the 4 transformer levels (strides 8, 16, 32, 64) — ``B×d×H_l×W_l``
            features, ``B×H_l×W_l`` padding masks, ``B×d×H_l×W_l`` sine position codes.
        res2: ``B×C2×Hp/4×Wp/4`` backbone features for the mask FPN.
    """

    images: torch.Tensor
    padding_mask: torch.Tensor
    srcs: list[torch.Tensor]
    masks: list[torch.Tensor]
    poses: list[torch.Tensor]
    res2: torch.Tensor

    def expand(self, b: int) -> "VisualFeatures":
        """The same single frame repeated ``b`` times (one sample per object); no copy."""
        if self.images.shape[0] == b:
            return self

        def e(t):
            if t.shape[0] != 1:
                raise ValueError(f"can only expand a single frame, got a batch of {t.shape[0]}")
            return t.expand(b, *t.shape[1:])

        return VisualFeatures(e(self.images), e(self.padding_mask), [e(t) for t in self.srcs],
                              [e(t) for t in self.masks], [e(t) for t in self.poses], e(self.res2))


class UniRef(nn.Module):
    """UniRef++ (sub-modules; official names in parentheses).

    * ``backbone`` (``detr.detr.backbone.0.backbone``): res2–res5; ``input_proj``
      (``detr.detr.input_proj``): res3–res5 + a stride-2 conv on res5 → 4 levels of ``d``.
    * ``text_encoder`` (``text_encoder``, BERT with pooler), ``text_projection`` (``resizer``):
      language references.
    * ``mask_encoder`` (``value_encoder``): mask references.
    * ``fusion`` (``detr.fusion_module``): UniFusion, shared by the 4 levels.
    * ``query_embed`` (``detr.detr.query_embed``), ``transformer`` (``detr.detr.transformer``).
    * ``class_embed`` / ``bbox_embed`` (``detr.detr.*.{0..5}``): per decoder layer;
      ``enc_class_embed`` / ``enc_bbox_embed`` (``….6``): two-stage proposal heads.
    * ``mask_branch`` (``detr.mask_head``), ``mask_fpn`` (``detr.{lateral,output,mask}_conv``),
      ``dynamic_mask_head`` (``detr.controller``).
    """

    def __init__(self, cfg: UnirefConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        name, kw = variant_backbone(UNIREF_VARIANTS, cfg)
        self.backbone = build_backbone(name, **kw)
        shapes = self.backbone.output_shape()
        projs = [input_projection(shapes[n].channels, d) for n in _LEVELS]
        projs.append(input_projection(shapes["res5"].channels, d, kernel=3, stride=2))
        self.input_proj = nn.ModuleList(projs)
        self.position_embedding = PositionEmbeddingSine(d // 2, normalize=True, offset=0.5)
        self.text_encoder = BertTextEncoder(cfg.text_config, add_pooling_layer=True,
                                            max_length=cfg.context_len)
        self.text_projection = FeatureResizer(self.text_encoder.hidden_size, d)
        self.mask_encoder = MaskReferenceEncoder(d, cfg.mask_encoder_width)
        self.fusion = UniFusion(d, cfg.fusion_heads, cfg.fusion_head_dim)
        self.query_embed = nn.Embedding(cfg.num_queries, d)
        self.transformer = PlainDeformableTransformer(
            d, cfg.nheads, cfg.enc_layers, cfg.dec_layers, cfg.dim_feedforward,
            cfg.num_feature_levels, cfg.enc_n_points, cfg.dec_n_points, cfg.num_queries)
        self.class_embed = nn.ModuleList(self._class_head() for _ in range(cfg.dec_layers))
        self.bbox_embed = nn.ModuleList(box_head(self.cfg.d_model) for _ in range(cfg.dec_layers))
        self.enc_class_embed = self._class_head()
        self.enc_bbox_embed = box_head(self.cfg.d_model)
        self.mask_branch = MaskBranch(d)
        self.mask_fpn = MaskFPN(shapes["res2"].channels, d // 32)
        self.dynamic_mask_head = DynamicMaskHead(d, d // 32, 8, cfg.controller_layers,
                                                 feat_stride=4, out_stride=4)

    def _class_head(self) -> nn.Linear:
        head = nn.Linear(self.cfg.d_model, 1)
        nn.init.constant_(head.bias, -math.log((1 - self.cfg.prior_prob) / self.cfg.prior_prob))
        return head

    @property
    def size_divisibility(self) -> int:
        """32 whatever the backbone (R50 reports 0): every official inference path pads to 32
        itself — ``DDETRSegmUni.coco_inference`` (``uniref/models/ddetrs.py``, the backbone
        lookup commented out beside a literal 32), ``UniRef.forward_ref_backbone`` and the VOS /
        R-VOS loops of ``uniref/uniref.py`` (``nested_tensor_from_tensor_list(...,
        size_divisibility=32)``), after ``ImageList.from_tensors`` batched to the largest image."""
        return 32

    # -- 1. visual features ---------------------------------------------------------------
    def features(self, images: torch.Tensor, padding_mask: torch.Tensor) -> VisualFeatures:
        """``images`` ``B×3×Hp×Wp`` (ImageNet mean/std on 0–255 RGB, zero-padded right/bottom
        to a multiple of :attr:`size_divisibility`), ``padding_mask`` ``B×Hp×Wp`` bool."""
        feats = self.backbone(images)
        srcs, masks, poses = [], [], []

        def add(src, mask):
            srcs.append(src)
            masks.append(mask)
            poses.append(self.position_embedding(src, mask).to(src.dtype))

        for lvl, n in enumerate(_LEVELS):
            x = feats[n]
            add(self.input_proj[lvl](x),
                F.interpolate(padding_mask[None].float(), size=x.shape[-2:]).to(torch.bool)[0])
        src = self.input_proj[3](feats["res5"])
        add(src, F.interpolate(masks[0][None].float(), size=src.shape[-2:]).to(torch.bool)[0])
        return VisualFeatures(images, padding_mask, srcs, masks, poses, feats["res2"])

    # -- 2. references --------------------------------------------------------------------
    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> ReferenceFeatures:
        """Language reference from BERT tokens ``B×L`` (``attention_mask`` 1 = token): keys =
        values = projected words ``B×L×d``, condition = their mean over real tokens."""
        out = self.text_encoder(input_ids, attention_mask)
        words = self.text_projection(out["hidden"])
        valid = attention_mask.to(words.dtype)[..., None]
        embed = (words * valid).sum(1) / valid.sum(1)
        return ReferenceFeatures([words], [words], [~attention_mask.bool()], [embed])

    def encode_mask_reference(self, vis: VisualFeatures, masks: torch.Tensor) -> ReferenceFeatures:
        """Mask reference(s) on a frame.

        Args:
            vis: the reference frame's features (batch 1, or one frame per mask).
            masks: ``K×Hp×Wp`` float target masks on the padded canvas of ``vis.images``.

        Returns:
            ``K`` references: per level keys = the frame's features ``K×N_l×d``, values = the
            mask encoder's output, padding = the frame's padding, condition = mean of the keys
            over the valid area.
        """
        vis = vis.expand(masks.shape[0])
        values = self.mask_encoder(vis.images, masks[:, None].to(vis.images.dtype), vis.srcs)
        keys, vals, pads, embeds = [], [], [], []
        for src, pad, val in zip(vis.srcs, vis.masks, values):
            k = src.flatten(2).transpose(1, 2)
            p = pad.flatten(1)
            valid = (~p).to(k.dtype)[..., None]
            keys.append(k)
            vals.append(val.flatten(2).transpose(1, 2))
            pads.append(p)
            embeds.append((k * valid).sum(1) / valid.sum(1))
        return ReferenceFeatures(keys, vals, pads, embeds)

    # -- 3. fusion, transformer, heads ----------------------------------------------------
    def forward(self, vis: VisualFeatures, image_sizes: torch.Tensor, *,
                language: ReferenceFeatures | None = None, mask: ReferenceFeatures | None = None,
                num_queries: int | None = None) -> dict[str, Any]:
        """One inference pass per reference sample.

        Args:
            vis: frame features (batch 1 is broadcast to the references' batch).
            image_sizes: ``B×2`` ``(h, w)`` of the resized, unpadded images.
            language / mask: references (batch ``B``); at least one is needed.
            num_queries: keep fewer than the configured proposals (tests, speed studies).

        Returns:
            dict of ``logits`` ``B×Q`` (class-agnostic), ``boxes`` ``B×Q×4`` ``cxcywh``
            normalised to the valid area, ``mask_features`` ``B×8×Hp/4×Wp/4``,
            ``mask_params`` ``B×Q×P``, ``mask_centers`` ``B×Q×2`` ``(x, y)`` resized-image pixels.
        """
        b = (language or mask).keys[0].shape[0]
        vis = vis.expand(b)
        srcs = self.fusion(vis.srcs, language, mask)
        out = self.transformer(srcs, vis.masks, vis.poses, self.query_embed.weight,
                               self.enc_class_embed, self.enc_bbox_embed, self.bbox_embed, num_queries)
        hs = out["hs"]
        # CondInst centres: the boxes entering the last decoder layer (official inter_references[-2])
        prev = out["boxes"][-2] if len(out["boxes"]) > 1 else out["init_boxes"]
        wh = image_sizes.to(prev.dtype).flip(-1).reshape(-1, 1, 2)
        return {
            "logits": self.class_embed[-1](hs)[..., 0],
            "boxes": out["boxes"][-1],
            "mask_features": self.mask_fpn(self.mask_branch(out["memory"].levels(3)), vis.res2),
            "mask_params": self.dynamic_mask_head.controller(hs),
            "mask_centers": prev[..., :2] * wh,
        }

    def decode_masks(self, result: dict[str, Any], b: int, queries: torch.Tensor,
                     out_stride: int | None = None) -> torch.Tensor:
        """Mask logits ``N×Hp/s×Wp/s`` of queries ``queries`` of sample ``b`` at stride ``s`` =
        ``out_stride`` (default :attr:`UnirefConfig.mask_out_stride`, 4; VOS uses
        ``mask_out_stride_vos``, 1: CondInst's aligned bilinear upsampling of the stride-4 logits)."""
        s = self.cfg.mask_out_stride if out_stride is None else out_stride
        logits = self.dynamic_mask_head(result["mask_features"][b], result["mask_params"][b, queries],
                                        result["mask_centers"][b, queries])
        return aligned_bilinear(logits[:, None], 4 // s)[:, 0]

    def set_attention_backend(self, backend: str) -> None:
        """Use ``backend`` (``auto``/``triton``/``reference``) in every deformable attention."""
        from ..ops import MSDeformAttn

        for m in self.modules():
            if isinstance(m, MSDeformAttn):
                m.backend = backend


def build_uniref(variant: str = "r50", **overrides: Any) -> UniRef:
    """Build UniRef++ (random weights). ``variant``: ``r50`` | ``swin-l``; ``overrides``:
    :class:`UnirefConfig` fields (tests shrink layers, widths and queries)."""
    return UniRef(make_config(variant, **overrides))
