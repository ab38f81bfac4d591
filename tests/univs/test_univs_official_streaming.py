"""UniVS streaming rules checked on minimal cases whose expected values are derived by hand from
the official code (``MinghanLi/UniVS``); each test names the official function it encodes."""
from __future__ import annotations

import torch

from evalkit.zoo.univs.mask_decoder import PromptQueries, UnifiedVideoMaskDecoder


def _tiny_decoder(num_queries: int = 2) -> UnifiedVideoMaskDecoder:
    torch.manual_seed(0)
    return UnifiedVideoMaskDecoder(hidden_dim=8, nheads=1, dim_feedforward=8, dec_layers=1,
                                   num_queries=num_queries, mask_dim=8, text_dim=8).eval()


def test_rvos_averaged_prompt_mask_drives_the_next_layers_attention():
    """Official ``video_mask2former_transformer_decoder_univs.py:forward_prediction_heads``
    (task 'grounding', eval): ``outputs_mask[:, Ql:] = (outputs_mask[:, Ql:] +
    outputs_mask[:, l4p_indices]) / 2`` happens before ``attn_mask`` is computed from
    ``outputs_mask``, at every head call including the one before layer 0.

    Hand case (T=1, 1×2 pixels, no resizing since the mask size equals the level size):
    learnable query 0 mask [10, -10], query 1 [-10, -10], the prompt [-10, 1]; the prompt's
    embedding is closest to query 0, so its averaged mask is [0, -4.5]; sigmoid(0) = 0.5 is not
    < 0.5 (attend), sigmoid(-4.5) < 0.5 (blocked): layer 0's mask row is [False, True]. The raw
    prompt mask would give [True, False]. Query 1 is blocked everywhere, which the official loop
    turns into "attend everywhere" (``attn_mask[all blocked] = False``)."""
    dec = _tiny_decoder()
    masks = torch.tensor([[10.0, -10.0], [-10.0, -10.0], [-10.0, 1.0]]).view(3, 1, 1, 2)
    emb = torch.zeros(1, 3, 8)
    emb[0, 0, 0], emb[0, 1, 1], emb[0, 2, 0], emb[0, 2, 1] = 1.0, 1.0, 1.0, 0.2
    dec._heads = lambda output, mask_features: (masks.clone(), emb)
    seen = []
    cross = dec.layers[0].cross_attn
    orig = cross.forward

    def spy(tgt, memory=None, *, attn_mask=None, pos=None, query_pos=None):
        seen.append(attn_mask.clone())
        return orig(tgt, memory, attn_mask=attn_mask, pos=pos, query_pos=query_pos)

    cross.forward = spy
    src = [torch.randn(2, 1, 8) for _ in range(3)]
    pos = [torch.zeros(2, 1, 8) for _ in range(3)]
    x = torch.randn(1, 1, 8)
    prompts = PromptQueries(content=x, pos=x, tokens=torch.randn(1, 3, 1, 8), tokens_pos=None, kind="expression")
    with torch.no_grad():
        out = dec(src, pos, [(1, 2)] * 3, torch.randn(1, 8, 1, 2), prompts, sentence_embeddings=torch.randn(1, 8))
    assert seen[0].shape == (1, 3, 2)
    assert seen[0][0].tolist() == [[False, True], [False, False], [False, True]]
    assert out["pred_masks"][2].flatten().tolist() == [0.0, -4.5]
