"""Instance heads on the decoder's query features (paper §3.3, "object retrieval").

* :class:`RetrievalHead` (official ``VL_Align``) — instance–prompt matching: the dot product of
  each query with every L2-normalised, projected prompt token, plus a per-token bias. For a
  category prompt the per-token logits are averaged over each category's tokens; for an
  expression or annotation prompt the tokens are pooled first (one score per query).
* :class:`ObjectnessHead` (``Still_Classifier``) — the binary score of the two-stage encoder.
* :class:`MaskBranch` (``MaskHeadSmallConv``) + :class:`DynamicMaskHead` (CondInst) — a shared
  8-channel stride-8 mask feature map; each query's controller output parameterises three
  1×1 dynamic convolutions over [relative coordinates to its box centre, mask features].
* :class:`ReidHead` (``DeformableReidHead`` + MLP) — per-query embeddings for association.
* :func:`input_projection` / :func:`box_head` — the Deformable-DETR input projections and box
  regression MLPs (also used by UniRef++).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import MLP, sine_embed_for_boxes
from .transformer import DeformableDecoderLayer, MultiScaleMemory

__all__ = ["RetrievalHead", "ObjectnessHead", "MaskBranch", "DynamicMaskHead", "ReidHead",
           "aligned_bilinear", "box_head", "input_projection", "pool_prompt"]

_CLAMP = 50000.0


def input_projection(in_channels: int, d_model: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    """Conv (Xavier-uniform, zero bias) + GroupNorm(32): a backbone level ``B×C×H×W`` →
    ``B×d_model×H'×W'`` (a ``kernel`` 3, ``stride`` 2 conv makes the extra coarser level)."""
    conv = nn.Conv2d(in_channels, d_model, kernel_size=kernel, stride=stride, padding=kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain=1)
    nn.init.zeros_(conv.bias)
    return nn.Sequential(conv, nn.GroupNorm(32, d_model))


def box_head(d_model: int) -> MLP:
    """3-layer MLP ``…×d_model`` → ``…×4`` box refinement (cxcywh deltas in inverse-sigmoid
    space); the last layer starts at zero, so the initial boxes are the references."""
    mlp = MLP(d_model, d_model, 4, 3)
    nn.init.zeros_(mlp.layers[-1].weight)
    nn.init.zeros_(mlp.layers[-1].bias)
    return mlp


def pool_prompt(prompt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real tokens: ``B×L×D``, ``B×L`` (True = token) → ``B×D``."""
    m = mask.to(prompt.dtype)[..., None]
    return (prompt * m).sum(1) / m.sum(1)


class RetrievalHead(nn.Module):
    """Instance–prompt matching scores (logits).

    Args:
        d_model: query width (256); lang_dim: prompt width (768).
        log_scale: initial log temperature (0); prior_prob: initial score of ``bias0`` (0.01).

    ``forward(hs, prompt)``: ``hs`` ``B×Q×d_model``, ``prompt`` ``B×L×lang_dim`` → ``B×Q×L``.
    """

    def __init__(self, d_model: int = 256, lang_dim: int = 768, log_scale: float = 0.0,
                 prior_prob: float = 0.01):
        super().__init__()
        self.dot_product_projection_text = nn.Linear(lang_dim, d_model)
        self.log_scale = nn.Parameter(torch.tensor([float(log_scale)]))
        self.bias_lang = nn.Parameter(torch.zeros(lang_dim))
        self.bias0 = nn.Parameter(torch.tensor([-math.log((1 - prior_prob) / prior_prob)]))

    def forward(self, hs: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        emb = F.normalize(prompt, p=2, dim=-1)
        tokens = self.dot_product_projection_text(emb / 2.0)  # B×L×d
        bias = emb @ self.bias_lang + self.bias0  # B×L
        logits = hs @ tokens.transpose(-1, -2) / self.log_scale.exp() + bias[:, None, :]
        return logits.clamp(-_CLAMP, _CLAMP)


class ObjectnessHead(nn.Module):
    """Binary objectness of encoder proposals: ``B×S×d`` → ``B×S×1`` logits."""

    def __init__(self, d_model: int = 256, prior_prob: float = 0.01):
        super().__init__()
        self.body = nn.Linear(d_model, 1)
        nn.init.constant_(self.body.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def aligned_bilinear(x: torch.Tensor, factor: int) -> torch.Tensor:
    """CondInst's corner-aligned ×``factor`` bilinear upsampling of ``N×C×H×W`` (pixel
    centres stay aligned with the stride-``s`` grid whose centres sit at ``s·i + s/2``)."""
    if factor == 1:
        return x
    h, w = x.shape[-2:]
    x = F.pad(x, pad=(0, 1, 0, 1), mode="replicate")
    oh, ow = factor * h + 1, factor * w + 1
    x = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=True)
    x = F.pad(x, pad=(factor // 2, 0, factor // 2, 0), mode="replicate")
    return x[:, :, :oh - 1, :ow - 1]


class MaskBranch(nn.Module):
    """Top-down fusion of encoder levels P5 → P4 → P3 into the shared mask features.

    Official names: ``lay3`` (P5), ``lay4`` (+P4), ``jia_dcn`` (+P3; a plain 3×3 conv standing
    where a deformable conv once was), then ``lay1`` (d→d/4) and ``lay2`` (d/4→d/32), ReLU after
    each.

    ``forward([P3, P4, P5])`` (each ``B×d×H_l×W_l``) → ``B×(d/32)×H_3×W_3`` (stride 8).
    """

    def __init__(self, dim: int = 256):
        super().__init__()
        self.lay1 = nn.Conv2d(dim, dim // 4, 3, padding=1)
        self.lay2 = nn.Conv2d(dim // 4, dim // 32, 3, padding=1)
        self.lay3 = nn.Conv2d(dim, dim, 3, padding=1)
        self.lay4 = nn.Conv2d(dim, dim, 3, padding=1)
        self.jia_dcn = nn.Conv2d(dim, dim, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=1)
                nn.init.zeros_(m.bias)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        p3, p4, p5 = feats
        x = F.relu(self.lay3(p5))
        x = F.relu(self.lay4(p4 + F.interpolate(x, size=p4.shape[-2:], mode="nearest")))
        x = F.relu(self.jia_dcn(p3 + F.interpolate(x, size=p3.shape[-2:], mode="nearest")))
        return F.relu(self.lay2(F.relu(self.lay1(x))))


class DynamicMaskHead(nn.Module):
    """CondInst dynamic mask head: ``controller`` (MLP d→d→P, 3 layers) generates, per query, the
    weights of ``num_layers`` 1×1 convolutions ``(c+2)→8→8→1`` applied to the mask features
    concatenated with the offsets (in resized-image pixels) of every feature pixel centre from
    the query's box centre.

    Args:
        d_model: query width; in_channels: mask feature channels (``d_model/32`` = 8);
        channels: hidden channels of the dynamic convs (8); num_layers: 3;
        feat_stride: mask feature stride (8); out_stride: output stride (4).
    """

    def __init__(self, d_model: int = 256, in_channels: int = 8, channels: int = 8,
                 num_layers: int = 3, feat_stride: int = 8, out_stride: int = 4):
        super().__init__()
        if feat_stride % out_stride:
            raise ValueError(f"feat_stride {feat_stride} must be a multiple of out_stride {out_stride}")
        self.channels = channels
        self.feat_stride = feat_stride
        self.out_stride = out_stride
        dims_in = [in_channels + 2] + [channels] * (num_layers - 1)
        dims_out = [channels] * (num_layers - 1) + [1]
        self.weight_shapes = list(zip(dims_out, dims_in))
        n_params = sum(o * i for o, i in self.weight_shapes) + sum(dims_out)
        self.controller = MLP(d_model, d_model, n_params, 3)
        for lin in self.controller.layers:
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def _locations(self, h: int, w: int, device) -> torch.Tensor:
        """``2×(h·w)`` pixel centres ``(x, y)`` of the stride-``feat_stride`` grid."""
        s = self.feat_stride
        ys = torch.arange(0, h * s, s, dtype=torch.float32, device=device)
        xs = torch.arange(0, w * s, s, dtype=torch.float32, device=device)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        return torch.stack((gx.reshape(-1), gy.reshape(-1)), 0) + s // 2

    def forward(self, mask_feats: torch.Tensor, params: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        """Mask logits of N queries of one image.

        Args:
            mask_feats: ``c×H×W`` stride-8 features of the image.
            params: ``N×P`` controller outputs; centers: ``N×2`` box centres ``(x, y)`` in
                resized-image pixels.

        Returns:
            ``N×(H·8/out_stride)×(W·8/out_stride)`` logits covering the padded canvas.
        """
        # float32 whatever the network precision: coordinates reach hundreds of pixels
        mask_feats, params, centers = mask_feats.float(), params.float(), centers.float()
        c, h, w = mask_feats.shape
        n = params.shape[0]
        rel = centers[:, :, None] - self._locations(h, w, mask_feats.device)[None]  # N×2×HW
        x = torch.cat([rel, mask_feats.reshape(1, c, h * w).expand(n, -1, -1)], 1)
        sizes = [o * i for o, i in self.weight_shapes] + [o for o, _ in self.weight_shapes]
        chunks = torch.split(params, sizes, dim=1)
        k = len(self.weight_shapes)
        for i, (o, ci) in enumerate(self.weight_shapes):
            weight = chunks[i].reshape(n, o, ci)
            x = torch.bmm(weight, x) + chunks[k + i][:, :, None]
            if i < k - 1:
                x = F.relu(x)
        logits = x.reshape(n, 1, h, w)
        return aligned_bilinear(logits, self.feat_stride // self.out_stride)[:, 0]


class ReidHead(nn.Module):
    """Association embeddings (video stage): deformable decoder ``layers`` attending from the
    last decoder queries, at their final boxes, to the encoder memory, then ``embed`` (MLP
    d→d→d, 3 layers).

    The official call passes the padding mask in the position of the (recomputed) query
    position, so its deformable attention sees no padding mask; so does this one.

    ``forward(hs B×Q×d, boxes B×Q×4 normalised cxcywh, memory)`` → ``B×Q×d``.
    """

    def __init__(self, d_model=256, d_ffn=2048, n_levels=4, n_heads=8, n_points=4, num_layers=2):
        super().__init__()
        self.layers = nn.ModuleList(DeformableDecoderLayer(d_model, d_ffn, n_levels, n_heads, n_points)
                                    for _ in range(num_layers))
        self.ref_point_head = MLP(2 * d_model, d_model, d_model, 2)
        self.embed = MLP(d_model, d_model, d_model, 3)

    def forward(self, hs: torch.Tensor, boxes: torch.Tensor, mem: MultiScaleMemory) -> torch.Tensor:
        ref_in = boxes[:, :, None] * torch.cat([mem.valid_ratios, mem.valid_ratios], -1)[:, None]
        pos = sine_embed_for_boxes(ref_in[:, :, 0, :], num_pos_feats=self.ref_point_head.layers[0].in_features // 4)
        query_pos = self.ref_point_head(pos)
        mem = MultiScaleMemory(mem.src, None, mem.spatial_shapes, mem.level_start_index, mem.valid_ratios)
        out = hs
        for layer in self.layers:
            out = layer(out, query_pos, ref_in, mem)
        return self.embed(out)
