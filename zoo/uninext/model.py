"""The UNINEXT network: backbone + prompt generation + early fusion + DINO-style deformable
transformer + instance heads (paper Fig. 2).

:meth:`UNINEXT.forward` is the whole inference pass for one prompt per image: normalised,
padded images and prompt tokens in; per-query matching logits, boxes, IoU scores, mask
parameters (and masks) and — in the video stage — ReID embeddings out. Inference procedures
(score fusion, NMS, top-k, trackers, mapping to the original frame) live in
:mod:`evalkit.adapters.uninext`.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import build_backbone
from ..configs_common import variant_backbone
from ..layers import PositionEmbeddingSine
from ..text import BertTextEncoder
from .configs import UNINEXT_VARIANTS, UninextConfig, make_config
from .heads import (DynamicMaskHead, MaskBranch, ObjectnessHead, ReidHead, RetrievalHead, box_head,
                    input_projection, pool_prompt)
from .prompt import TemplateFuser
from .transformer import DeformableTransformer, FeatureResizer

__all__ = ["UNINEXT", "build_uninext"]


class UNINEXT(nn.Module):
    """UNINEXT (image-joint stage when ``cfg.video`` is False, video-joint stage otherwise).

    Sub-modules (official name in parentheses):

    * ``backbone`` (``detr.detr.backbone.0.backbone``), ``input_proj`` (``detr.detr.input_proj``):
      res3–res5 plus a stride-2 conv on res5 → 4 levels of ``d_model`` channels, GroupNorm(32).
    * ``text_encoder`` (``text_encoder.body``): BERT, last hidden layer.
    * ``template_backbone`` (``detr.detr.ref_backbone.0.backbone``, video): 4-channel backbone;
      ``template_fuser`` (``detr.sot_fuser``); ``prompt_adjust`` (``detr.adjust_layer``).
    * ``transformer`` (``detr.detr.transformer``): encoder with early fusion, decoder.
    * ``class_embed`` / ``bbox_embed`` / ``iou_head`` (``detr.detr.*.{0..5}``): per decoder layer;
      ``enc_class_embed`` / ``enc_bbox_embed`` (``….6``): two-stage proposal heads.
    * ``mask_branch`` (``detr.mask_head``), ``dynamic_mask_head`` (``detr.controller``).
    * ``reid_head`` (``detr.reid_embed_head``, video).
    * ``dn_label_encoder`` (``detr.resizer``): encodes ground-truth labels for denoising
      queries — training only; kept so that checkpoints load strictly.
    """

    def __init__(self, cfg: UninextConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        backbone_name, kw = variant_backbone(UNINEXT_VARIANTS, cfg)
        self.backbone = build_backbone(backbone_name, **kw)
        shapes = list(self.backbone.output_shape().values())
        projs = [input_projection(s.channels, d) for s in shapes]
        projs += [input_projection(shapes[-1].channels, d, kernel=3, stride=2)]
        projs += [input_projection(d, d, kernel=3, stride=2)
                  for _ in range(cfg.num_feature_levels - len(projs))]
        self.input_proj = nn.ModuleList(projs)
        self.position_embedding = PositionEmbeddingSine(d // 2, normalize=True, offset=0.5)
        self.text_encoder = BertTextEncoder(cfg.text_config, add_pooling_layer=False,
                                            max_length=cfg.max_query_len)
        lang_dim = self.text_encoder.hidden_size
        self.transformer = DeformableTransformer(
            d, cfg.nheads, cfg.enc_layers, cfg.dec_layers, cfg.dim_feedforward,
            cfg.num_feature_levels, cfg.enc_n_points, cfg.dec_n_points, cfg.num_queries,
            lang_dim, cfg.vl_hidden_dim, cfg.num_vl_layers)
        n = cfg.dec_layers
        self.class_embed = nn.ModuleList(RetrievalHead(d, lang_dim, cfg.log_scale, cfg.prior_prob)
                                         for _ in range(n))
        self.bbox_embed = nn.ModuleList(box_head(self.cfg.d_model) for _ in range(n))
        self.iou_head = nn.ModuleList(nn.Linear(d, 1) for _ in range(n))
        for head in self.iou_head:
            nn.init.constant_(head.bias, -math.log((1 - cfg.prior_prob) / cfg.prior_prob))
        self.enc_class_embed = ObjectnessHead(d, cfg.prior_prob)
        self.enc_bbox_embed = box_head(self.cfg.d_model)
        self.mask_branch = MaskBranch(d)
        self.dynamic_mask_head = DynamicMaskHead(d, d // 32, 8, cfg.controller_layers, 8,
                                                 cfg.mask_out_stride)
        self.dn_label_encoder = FeatureResizer(lang_dim, d)
        self.video = cfg.video
        if cfg.video:
            # the template encoder reads RGB + the target mask
            self.template_backbone = build_backbone(backbone_name, **{**kw, "in_channels": 4})
            self.template_fuser = TemplateFuser(d, d)
            self.prompt_adjust = nn.Linear(d, lang_dim)
            self.reid_head = ReidHead(d, cfg.dim_feedforward, cfg.num_feature_levels, cfg.nheads,
                                      cfg.dec_n_points, cfg.reid_layers)

    @property
    def lang_dim(self) -> int:
        return self.text_encoder.hidden_size

    @property
    def size_divisibility(self) -> int:
        """The input canvas rule of every UNINEXT inference path: the backbone's own
        divisibility (R50 0 = the batch's largest image, ConvNeXt / ViT 32).

        Official: ``UNINEXT_IMG.preprocess_image`` / ``UNINEXT_VID.preprocess_video`` batch with
        ``ImageList.from_tensors(images)`` (divisibility 0), then ``coco_inference`` (image,
        video and VOS tracking passes), ``coco_inference_ref`` (SOT templates) and
        ``coco_inference_ref_vos`` (VOS templates) re-pad with
        ``nested_tensor_from_tensor_list(samples, getattr(backbone, "size_divisibility", 32))``
        (``models/ddetrs.py``, ``ddetrs_dn.py``, ``ddetrs_vid.py``, ``ddetrs_vid_dn.py``); only
        the training forwards hard-code 32.
        """
        return self.backbone.size_divisibility

    # -- features -------------------------------------------------------------------------
    def features(self, images: torch.Tensor, padding_mask: torch.Tensor, template: bool = False):
        """Backbone + input projections: per level ``(src B×d×H_l×W_l, mask B×H_l×W_l,
        pos B×d×H_l×W_l)`` for the 4 levels (strides 8, 16, 32, 64)."""
        backbone = self.template_backbone if template else self.backbone
        feats = list(backbone(images).values())
        srcs, masks, poses = [], [], []

        def add(src, mask):
            srcs.append(src)
            masks.append(mask)
            poses.append(self.position_embedding(src, mask).to(src.dtype))

        for lvl, x in enumerate(feats):
            add(self.input_proj[lvl](x), F.interpolate(padding_mask[None].float(), size=x.shape[-2:])
                .to(torch.bool)[0])
        for lvl in range(len(feats), len(self.input_proj)):
            src = self.input_proj[lvl](feats[-1] if lvl == len(feats) else srcs[-1])
            add(src, F.interpolate(masks[0][None].float(), size=src.shape[-2:]).to(torch.bool)[0])
        return srcs, masks, poses

    # -- prompts --------------------------------------------------------------------------
    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """BERT tokens ``B×L`` → ``(prompt B×L×768, mask B×L bool, True = token)``."""
        out = self.text_encoder(input_ids, attention_mask)
        return out["hidden"], attention_mask.bool()

    def encode_template(self, templates: torch.Tensor, template_masks: torch.Tensor):
        """Annotation prompts (video stage).

        Args:
            templates: ``B×4×T×T`` (normalised RGB + target mask; :func:`.prompt.crop_template`).
            template_masks: ``B×T×T`` bool, True outside the image.

        Returns:
            ``(prompt B×(T/8)²×768, mask B×(T/8)² bool, True = token)``.
        """
        if not self.video:
            raise ValueError("annotation prompts need the video-stage model (template encoder)")
        srcs, masks, _ = self.features(templates, template_masks, template=True)
        tokens = self.template_fuser(srcs).flatten(2).transpose(1, 2)
        return self.prompt_adjust(tokens), ~masks[0].flatten(1)

    # -- forward --------------------------------------------------------------------------
    def forward(self, images: torch.Tensor, padding_mask: torch.Tensor, prompt: torch.Tensor,
                prompt_mask: torch.Tensor, image_sizes: torch.Tensor, *, pooled: bool,
                compute_masks: bool = True, num_queries: int | None = None,
                mask_fusion: bool = True, with_masks: bool = True) -> dict[str, Any]:
        """One inference pass.

        Args:
            images: ``B×3×Hp×Wp`` normalised (ImageNet mean/std on 0–255 RGB), zero-padded at the
                right/bottom to the batch's largest image, rounded up to a multiple of
                :attr:`size_divisibility` when it is > 1.
            padding_mask: ``B×Hp×Wp`` bool, True on padding.
            prompt: ``B×L×768`` prompt tokens (:meth:`encode_text` / :meth:`encode_template`);
                prompt_mask: ``B×L`` bool, True = real token.
            image_sizes: ``B×2`` ``(h, w)`` of each resized image (the valid area).
            pooled: True for expression / annotation prompts (the tokens are averaged, one score
                per query); False for category prompts (one logit per token).
            compute_masks: also decode the masks of all queries (else call
                :meth:`decode_masks` for the queries kept).
            with_masks: run the mask branch at all (``False``: box-only tasks skip it; no
                ``mask_*`` entries are returned).
            num_queries: keep fewer than the configured queries (tests, speed studies).
            mask_fusion: hide padding tokens from the visual side of early fusion. The official
                code passes annotation-prompt masks as booleans, which its fusion turns into
                "no mask" (``masked_fill(mask == 0, -9e15)`` on a bool tensor fills ``True``):
                template padding is attended to. ``False`` reproduces that for annotation
                prompts; pooling always uses ``prompt_mask``.

        Returns:
            dict of
            ``logits`` ``B×Q×L`` (or ``B×Q×1`` pooled) matching logits;
            ``boxes`` ``B×Q×4`` ``cxcywh`` normalised to the valid area;
            ``iou`` ``B×Q×1`` IoU-branch logits;
            ``mask_features`` ``B×8×Hp/8×Wp/8``, ``mask_params`` ``B×Q×169``,
            ``mask_centers`` ``B×Q×2`` ``(x, y)`` resized-image pixels;
            ``masks`` ``B×Q×Hp/4×Wp/4`` logits (with ``compute_masks``);
            ``embeddings`` ``B×Q×d`` ReID embeddings (video stage).
        """
        srcs, masks, poses = self.features(images, padding_mask)
        prompt_mask = prompt_mask.bool()
        fusion_mask = prompt_mask if mask_fusion else torch.ones_like(prompt_mask)
        out = self.transformer(srcs, masks, poses, prompt, fusion_mask, self.enc_class_embed,
                               self.enc_bbox_embed, self.bbox_embed, num_queries)
        hs, last = out["hs"], len(self.class_embed) - 1
        fused = out["prompt"]
        tokens = pool_prompt(fused, prompt_mask)[:, None] if pooled else fused
        boxes = out["boxes"][-1]
        # CondInst centres: the boxes entering the last decoder layer (official inter_references[-2])
        prev = out["boxes"][-2] if len(out["boxes"]) > 1 else out["init_boxes"]
        wh = image_sizes.to(prev.dtype).flip(-1)[:, None, :]
        result = {
            "logits": self.class_embed[last](hs, tokens),
            "boxes": boxes,
            "iou": self.iou_head[last](hs),
        }
        if with_masks:
            result["mask_features"] = self.mask_branch(out["memory"].levels(3))
            result["mask_params"] = self.dynamic_mask_head.controller(hs)
            result["mask_centers"] = prev[..., :2] * wh
        if compute_masks and with_masks:
            result["masks"] = torch.stack([
                self.decode_masks(result, b, torch.arange(hs.shape[1], device=hs.device))
                for b in range(hs.shape[0])])
        if self.video:
            result["embeddings"] = self.reid_head(hs, boxes.detach(), out["memory"])
        return result

    def decode_masks(self, result: dict[str, Any], b: int, queries: torch.Tensor,
                     chunk: int = 100) -> torch.Tensor:
        """Mask logits ``N×Hp/4×Wp/4`` of queries ``queries`` (``N`` int64) of image ``b``,
        computed ``chunk`` queries at a time to bound memory."""
        if "mask_features" not in result:
            raise ValueError("no mask features: the forward pass ran with with_masks=False")
        feats = result["mask_features"][b]
        parts = [self.dynamic_mask_head(feats, result["mask_params"][b, q], result["mask_centers"][b, q])
                 for q in queries.split(chunk)]
        if not parts:
            s = self.dynamic_mask_head.feat_stride // self.dynamic_mask_head.out_stride
            return feats.new_zeros((0, feats.shape[-2] * s, feats.shape[-1] * s))
        return torch.cat(parts)

    def set_attention_backend(self, backend: str) -> None:
        """Use ``backend`` (``auto``/``triton``/``reference``) in every deformable attention."""
        from ..ops import MSDeformAttn

        for m in self.modules():
            if isinstance(m, MSDeformAttn):
                m.backend = backend


def build_uninext(variant: str = "r50", video: bool = True, **overrides: Any) -> UNINEXT:
    """Build UNINEXT (random weights). ``variant``: ``r50`` | ``convnext-l`` | ``vit-h``;
    ``video``: the stage-3 model with template encoder and ReID head (else stage 2);
    ``overrides``: :class:`UninextConfig` fields (tests shrink layers, widths and queries)."""
    return UNINEXT(make_config(variant, video, **overrides))
