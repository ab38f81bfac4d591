"""The DINO deformable decoder of GLEE's object decoder (9 layers, box refinement).

Each layer: self-attention among the object queries — with the prompt tokens (expression tokens
for grounding, sampled visual-prompt tokens for interactive segmentation / VOS) appended as
extra keys and values — then deformable cross-attention into the encoder memory around the
query's reference box, then an FFN (all post-norm). Reference boxes are refined after every
layer with the shared box MLP applied to the *un-normalised* layer output; the returned
per-layer states are normalised with the shared ``decoder_norm``.

Prompt attention mask (official semantics): queries never attend to padded prompt tokens,
padded prompt tokens never attend to queries; everything else is allowed.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import MLP, MultiheadAttention, fp32_island, sine_embed_for_boxes
from ..ops import MSDeformAttn

__all__ = ["DecoderLayer", "TransformerDecoder", "inverse_sigmoid", "PromptTokens"]

#: per decoder layer: ``(tokens B×P×C, padding B×P bool True = padded)`` or None
PromptTokens = Callable[[int], "tuple[torch.Tensor, torch.Tensor] | None"]


def inverse_sigmoid(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    x = x.clamp(0, 1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def _prompt_attn_mask(q: int, pad: torch.Tensor, heads: int) -> torch.Tensor:
    """``(B·heads)×(Q+P)×(Q+P)`` bool, True = not allowed (see module docstring)."""
    b, p = pad.shape
    mask = torch.zeros(b, q + p, q + p, dtype=torch.bool, device=pad.device)
    mask[:, :q, q:] = pad[:, None, :]
    mask[:, q:, :q] = pad[:, :, None]
    return mask.repeat_interleave(heads, 0)


class DecoderLayer(nn.Module):
    """Self-attn → deformable cross-attn → FFN, each followed by residual + LayerNorm.

    Parameter names follow the official layer (``self_attn`` in the ``nn.MultiheadAttention``
    layout, ``cross_attn``, ``norm1..3``, ``linear1/2``).
    """

    def __init__(self, d_model: int, d_ffn: int, n_levels: int, n_heads: int, n_points: int):
        super().__init__()
        self.n_heads = n_heads
        self.cross_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = MultiheadAttention(d_model, n_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.norm3 = nn.LayerNorm(d_model)

    @fp32_island("GLEE projects/GLEE/glee/models/transformer_decoder/dino_decoder.py: "
                 "DeformableTransformerDecoderLayer.forward (autocast(enabled=False))")
    def forward(self, tgt, query_pos, reference_points, memory, spatial_shapes, level_start_index,
                prompt: tuple[torch.Tensor, torch.Tensor] | None = None):
        """``tgt``/``query_pos`` ``B×Q×C``; ``reference_points`` ``B×Q×L×4`` normalised cxcywh;
        ``memory`` ``B×S×C``; ``prompt`` optional ``(B×P×C tokens, B×P padding)``.

        Float32 even under autocast (the official layer is ``autocast(enabled=False)``)."""
        q_len = tgt.shape[1]
        if prompt is not None:
            tokens, pad = prompt
            x = torch.cat([tgt, tokens], 1)
            pos = torch.cat([query_pos, tokens], 1)  # prompt tokens are their own position
            mask = _prompt_attn_mask(q_len, pad, self.n_heads)
        else:
            x, pos, mask = tgt, query_pos, None
        qk = x + pos
        x = self.norm2(x + self.self_attn(qk, qk, x, attn_mask=mask)[0])
        tgt, query_pos = x[:, :q_len], pos[:, :q_len]
        tgt = self.norm1(tgt + self.cross_attn(tgt + query_pos, reference_points, memory, spatial_shapes,
                                               level_start_index))
        return self.norm3(tgt + self.linear2(F.relu(self.linear1(tgt))))


class TransformerDecoder(nn.Module):
    """``layers`` and ``ref_point_head`` (MLP over the 512-d sine code of the reference box).

    The shared box MLP and ``decoder_norm`` belong to the object decoder and are passed in, so
    each weight is registered once (the official model lists them under several names).
    """

    def __init__(self, num_layers: int, d_model: int, d_ffn: int, n_levels: int, n_heads: int, n_points: int):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(d_model, d_ffn, n_levels, n_heads, n_points)
                                    for _ in range(num_layers))
        self.ref_point_head = MLP(2 * d_model, d_model, d_model, 2)
        self.d_model = d_model
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, MSDeformAttn):
                m._reset_parameters()

    def forward(self, tgt, memory, refpoints_unsigmoid, spatial_shapes, level_start_index, *,
                bbox_embed: nn.Module, norm: nn.Module, prompt: PromptTokens | None = None):
        """Run all layers.

        Args:
            tgt: ``B×Q×C`` initial content queries; memory: ``B×S×C``;
            refpoints_unsigmoid: ``B×Q×4`` initial boxes (logits of normalised cxcywh).
            prompt: layer index → prompt tokens for that layer's self-attention, or None.

        Returns:
            ``(states, references)``: ``states[i]`` ``B×Q×C`` = ``norm(output of layer i)``;
            ``references`` has ``num_layers + 1`` entries ``B×Q×4`` (sigmoid boxes), the first
            the initial reference.
        """
        ref = refpoints_unsigmoid.sigmoid()
        refs, states = [ref], []
        n_levels = spatial_shapes.shape[0]
        out = tgt
        for i, layer in enumerate(self.layers):
            ref_in = ref[:, :, None].expand(-1, -1, n_levels, -1)  # valid ratios are all 1
            query_pos = self.ref_point_head(sine_embed_for_boxes(ref, self.d_model // 2))
            out = layer(out, query_pos, ref_in, memory, spatial_shapes, level_start_index,
                        None if prompt is None else prompt(i))
            new_ref = (bbox_embed(out) + inverse_sigmoid(ref)).sigmoid()
            refs.append(new_ref)
            ref = new_ref.detach()
            states.append(norm(out))
        return states, refs
