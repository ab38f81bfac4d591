"""GLEE's object decoder (``predictor``): two-stage query selection, the DINO decoder and the
prediction heads.

* **Query selection.** Every encoder token becomes a proposal (a box around its pixel of side
  0.05·2^level); tokens are scored with the task's classifier and the top ``num_queries`` give
  the initial content queries and reference boxes.
* **Heads** (on the last decoder layer): class logits = (query · ``category_embed``) · text
  embedding (one per category name, or one for an expression); ``confidence_score`` (2-layer
  MLP, used to rank queries for visual prompts); masks = ``mask_embed``(query) · mask
  features; boxes = shared box MLP + reference; track embedding = the normalised last layer
  state (no extra head).

Official quirks kept: the decoder reads the encoder levels in reverse order (lowest resolution
first); the heads normalise the (already normalised) layer states a second time with the same
``decoder_norm``; the box head sees the once-normalised state.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..layers import MLP
from .decoder import PromptTokens, TransformerDecoder, inverse_sigmoid

__all__ = ["ObjectDecoder", "DecoderOutput", "encoder_proposals"]


@dataclass
class DecoderOutput:
    """Last-layer predictions of a batch of ``B`` images and ``Q`` queries.

    Attributes:
        logits: ``B×Q×N`` class logits (N categories, or 1 for an expression).
        scores: ``B×Q×1`` confidence logits (``confidence_score`` head).
        masks: ``B×Q×Hm×Wm`` mask logits on the mask-feature grid (covers the padded canvas).
        boxes: ``B×Q×4`` normalised cxcywh relative to the padded canvas.
        embeds: ``B×Q×C`` track embeddings.
    """

    logits: torch.Tensor
    scores: torch.Tensor
    masks: torch.Tensor
    boxes: torch.Tensor
    embeds: torch.Tensor


def encoder_proposals(memory: torch.Tensor, spatial_shapes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token proposals (no padding): ``(memory with invalid tokens zeroed B×S×C,
    proposal logits B×S×4)``; proposals too close to the border are invalid (``inf``)."""
    props = []
    for lvl, (h, w) in enumerate(spatial_shapes.tolist()):
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32, device=memory.device),
                                torch.arange(w, dtype=torch.float32, device=memory.device), indexing="ij")
        grid = torch.stack([(xs + 0.5) / w, (ys + 0.5) / h], -1).view(-1, 2)
        wh = torch.full_like(grid, 0.05 * 2.0 ** lvl)
        props.append(torch.cat([grid, wh], -1))
    p = torch.cat(props, 0)[None].expand(memory.shape[0], -1, -1)
    valid = ((p > 0.01) & (p < 0.99)).all(-1, keepdim=True)
    logits = torch.log(p / (1 - p)).masked_fill(~valid, float("inf"))
    return memory.masked_fill(~valid, 0.0), logits


class ObjectDecoder(nn.Module):
    """Query selection + DINO decoder + heads.

    Args:
        hidden_dim: 256; num_queries: 300; dec_layers: 9; num_heads: 8; dim_feedforward: 2048;
        num_levels: 4; n_points: 4; mask_dim: 256; dim_proj: width of the text embeddings (256).
    """

    def __init__(self, hidden_dim: int = 256, num_queries: int = 300, dec_layers: int = 9, num_heads: int = 8,
                 dim_feedforward: int = 2048, num_levels: int = 4, n_points: int = 4, mask_dim: int = 256,
                 dim_proj: int = 256):
        super().__init__()
        self.num_queries = num_queries
        self.hidden_dim = hidden_dim
        self.enc_output = nn.Linear(hidden_dim, hidden_dim)
        self.enc_output_norm = nn.LayerNorm(hidden_dim)
        self.confidence_score = MLP(hidden_dim, hidden_dim, 1, 2)
        self.category_embed = nn.Parameter(torch.rand(hidden_dim, dim_proj))
        self.mask_embed = MLP(hidden_dim, hidden_dim, mask_dim, 3)
        self.decoder_norm = nn.LayerNorm(hidden_dim)
        self.decoder = TransformerDecoder(dec_layers, hidden_dim, dim_feedforward, num_levels, num_heads, n_points)
        self.bbox_embed = MLP(hidden_dim, hidden_dim, 4, 3)  # shared by all layers
        nn.init.zeros_(self.bbox_embed.layers[-1].weight)
        nn.init.zeros_(self.bbox_embed.layers[-1].bias)

    def forward(self, levels: list[torch.Tensor], mask_features: torch.Tensor, *,
                class_embeddings: torch.Tensor | None = None, grounding_class: torch.Tensor | None = None,
                prompt: PromptTokens | None = None, select_by_confidence: bool = False) -> DecoderOutput:
        """Decode objects.

        Args:
            levels: 4 maps ``B×C×H_l×W_l`` from the pixel decoder (strides 8..64).
            mask_features: ``B×mask_dim×Hm×Wm``.
            class_embeddings: ``N×C`` category-name embeddings (detection, VIS), or
            grounding_class: ``B×C`` one expression embedding per image (REC/RES/R-VOS); with
                neither (visual prompts) queries are selected by ``confidence_score`` and
                ``logits`` holds that score.
            prompt: per-layer prompt tokens for the decoder self-attention.
            select_by_confidence: rank the encoder proposals with ``confidence_score`` (visual
                prompts) instead of the classifier.
        """
        if class_embeddings is not None and grounding_class is not None:
            raise ValueError("give class_embeddings or grounding_class, not both")
        srcs = levels[::-1]
        shapes = torch.as_tensor([s.shape[-2:] for s in srcs], dtype=torch.long, device=srcs[0].device)
        start = torch.cat([shapes.new_zeros(1), shapes.prod(1).cumsum(0)[:-1]])
        memory = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)

        out_memory, proposals = encoder_proposals(memory, shapes)
        out_memory = self.enc_output_norm(self.enc_output(out_memory))
        enc_logits = (self.confidence_score(out_memory) if select_by_confidence
                      else self._logits(out_memory, class_embeddings, grounding_class))
        enc_boxes = self.bbox_embed(out_memory) + proposals
        k = min(self.num_queries, out_memory.shape[1])
        top = torch.topk(enc_logits.max(-1)[0], k, dim=1)[1]
        refpoints = torch.gather(enc_boxes, 1, top[..., None].expand(-1, -1, 4))
        tgt = torch.gather(out_memory, 1, top[..., None].expand(-1, -1, self.hidden_dim))

        states, refs = self.decoder(tgt, memory, refpoints, shapes, start, bbox_embed=self.bbox_embed,
                                    norm=self.decoder_norm, prompt=prompt)
        last = states[-1]
        boxes = (self.bbox_embed(last) + inverse_sigmoid(refs[-2])).sigmoid()
        x = self.decoder_norm(last)
        masks = torch.einsum("bqc,bchw->bqhw", self.mask_embed(x), mask_features)
        return DecoderOutput(logits=self._logits(x, class_embeddings, grounding_class),
                             scores=self.confidence_score(x), masks=masks, boxes=boxes, embeds=last)

    def _logits(self, x, class_embeddings, grounding_class) -> torch.Tensor:
        if grounding_class is not None:
            return torch.einsum("bqc,bc->bq", x @ self.category_embed, grounding_class)[..., None]
        if class_embeddings is not None:
            return (x @ self.category_embed) @ class_embeddings.t()
        return self.confidence_score(x)
