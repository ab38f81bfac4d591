"""The one deformable encoder layer (``evalkit.zoo.layers.deformable_encoder``) shared by UNINEXT,
UniRef++, GLEE and UniVS: official key names, the post-norm formula, the padding mask, the
reference points (values derived by hand) and its float32 island."""
import pytest
import torch
import torch.nn.functional as F
from zoo_nets_helpers import manifest

from evalkit.zoo.glee.pixel_decoder import DeformableEncoder as GLEEEncoder
from evalkit.zoo.layers.deformable_encoder import (DeformableEncoderLayer, encoder_reference_points, flatten_levels,
                                                  split_levels)
from evalkit.zoo.uninext.transformer import DeformableEncoder as UNINEXTEncoder
from evalkit.zoo.uniref.transformer import PlainDeformableTransformer
from evalkit.zoo.univs.pixel_decoder import DeformableEncoder as UniVSEncoder


@pytest.mark.parametrize("tsv, prefix, d_ffn, n_levels", [
    ("uninext_r50_image_joint.tsv", "detr.detr.transformer.encoder.layers.0.", 2048, 4),
    ("uniref_pp_r50_video_joint.tsv", "detr.detr.transformer.encoder.layers.0.", 2048, 4),
    ("glee_lite_r50_joint.tsv", "glee.pixel_decoder.transformer.encoder.layers.0.", 2048, 4),
    ("univs_r50_stage3.tsv", "sem_seg_head.pixel_decoder.transformer.encoder.layers.0.", 1024, 3),
])
def test_layer_has_the_official_keys_and_shapes(tsv, prefix, d_ffn, n_levels):
    """The official layer 0 of every family, key for key and shape for shape: the four families
    differ only in ``d_ffn`` and ``n_levels``."""
    official = {k[len(prefix):]: shape for k, (shape, _) in manifest(tsv).items() if k.startswith(prefix)}
    ours = {k: tuple(v.shape) for k, v in DeformableEncoderLayer(256, d_ffn, n_levels).state_dict().items()}
    assert ours == official


def test_every_family_builds_the_shared_layer():
    encoders = [UNINEXTEncoder(2, 32, 48, 2, 4, 2, 1, 24, 32).layers,
                PlainDeformableTransformer(32, 4, 2, 1, 48, 2, num_queries=5).encoder.layers,
                GLEEEncoder(2, 32, 48, 2, 4, 2, vl_embed_dim=32, vl_heads=4).layers,
                UniVSEncoder(32, 48, 2, 4, 2, 2).encoder.layers]
    for layers in encoders:
        assert len(layers) == 2 and all(type(layer) is DeformableEncoderLayer for layer in layers)


def _tokens(seed=0, b=2, levels=((4, 6), (2, 3)), c=32):
    g = torch.Generator().manual_seed(seed)
    shapes = torch.tensor(levels, dtype=torch.long)
    start = torch.cat([shapes.new_zeros(1), shapes.prod(1).cumsum(0)[:-1]])
    s = int(shapes.prod(1).sum())
    src, pos = torch.randn(b, s, c, generator=g), torch.randn(b, s, c, generator=g)
    return src, pos, shapes, start


def test_layer_is_post_norm_with_relu_ffn():
    """With the attention's output projection zeroed, the layer is
    ``LN2(x1 + W2·relu(W1·x1 + b1) + b2)`` with ``x1 = LN1(src)`` (official ``forward`` then
    ``forward_ffn``): norm after each residual, ReLU, no pre-norm."""
    torch.manual_seed(0)
    layer = DeformableEncoderLayer(32, 48, 2, 4, 2).eval()
    torch.nn.init.zeros_(layer.self_attn.output_proj.weight)
    torch.nn.init.zeros_(layer.self_attn.output_proj.bias)
    src, pos, shapes, start = _tokens()
    ref = torch.rand(2, src.shape[1], 2, 2)
    x1 = F.layer_norm(src, (32,), layer.norm1.weight, layer.norm1.bias)
    ffn = F.relu(x1 @ layer.linear1.weight.T + layer.linear1.bias) @ layer.linear2.weight.T + layer.linear2.bias
    want = F.layer_norm(x1 + ffn, (32,), layer.norm2.weight, layer.norm2.bias)
    with torch.no_grad():
        assert torch.allclose(layer(src, pos, ref, shapes, start), want, atol=1e-6)


def test_padding_mask_reaches_the_attention():
    """UNINEXT/UniRef++ pad their batches: with the mask, the values of padded tokens are zeroed
    before sampling, so changing them leaves every other token's output unchanged; without the
    mask they leak into their neighbours."""
    torch.manual_seed(0)
    layer = DeformableEncoderLayer(32, 48, 2, 4, 2).eval()
    src, pos, shapes, start = _tokens()
    ref = torch.rand(2, src.shape[1], 2, 2) * 0.5 + 0.25
    mask = torch.zeros(2, src.shape[1], dtype=torch.bool)
    mask[1, 3:6] = True  # three tokens of level 0 in the second image
    other = src.clone()
    other[1, 3:6] += 10.0
    with torch.no_grad():
        a = layer(src, pos, ref, shapes, start, mask)
        b = layer(other, pos, ref, shapes, start, mask)
        assert torch.equal(a[~mask], b[~mask])
        assert not torch.allclose(layer(src, pos, ref, shapes, start)[1, :3],
                                  layer(other, pos, ref, shapes, start)[1, :3])


def test_reference_points_by_hand():
    """Official ``get_reference_points``: centre ``(i + 0.5) / (W_l · r_l)`` on its own level,
    then times every level's ratio ``r``. Level 0 is 2×4, level 1 is 1×2; the image's valid part
    is the left half (``r = (0.5, 1)`` on both levels). Token (row 0, col 1) of level 0: x =
    1.5 / (4·0.5) = 0.75, y = 0.5 / 2 = 0.25; on both levels ×(0.5, 1) → (0.375, 0.25)."""
    shapes = torch.tensor([[2, 4], [1, 2]])
    ratios = torch.tensor([[[0.5, 1.0], [0.5, 1.0]]])
    ref = encoder_reference_points(shapes, ratios)
    assert ref.shape == (1, 10, 2, 2) and ref.dtype == torch.float32
    assert ref[0, 1].tolist() == [[0.375, 0.25], [0.375, 0.25]]
    # level 1, token (0, 1): x = 1.5 / (2·0.5) = 1.5 → 0.75; y = 0.5 / 1 = 0.5
    assert ref[0, 9].tolist() == [[0.75, 0.5], [0.75, 0.5]]
    # all valid (GLEE, UniVS): the plain normalised centres, the same on every level
    flat = encoder_reference_points(shapes, torch.ones(1, 2, 2))
    assert flat[0, :4, 0].tolist() == [[0.125, 0.25], [0.375, 0.25], [0.625, 0.25], [0.875, 0.25]]
    assert flat[0, 8:, 1].tolist() == [[0.25, 0.5], [0.75, 0.5]]


def test_layer_is_a_float32_island():
    """UNINEXT ``DeformableTransformerEncoderLayer.forward`` is ``custom_fwd(cast_inputs=float32)``:
    under bfloat16 autocast the layer gets float32 inputs and returns what float32 gives."""
    torch.manual_seed(0)
    layer = DeformableEncoderLayer(32, 48, 2, 4, 2).eval()
    src, pos, shapes, start = _tokens()
    src, pos = src.bfloat16(), pos.bfloat16()
    ref = torch.rand(2, src.shape[1], 2, 2)
    with torch.no_grad():
        want = layer(src.float(), pos.float(), ref, shapes, start)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = layer(src, pos, ref, shapes, start)
    assert got.dtype == torch.float32 and torch.equal(got, want)


def test_flatten_and_split_levels():
    """Levels 3×4 and 1×2: 12 + 2 tokens, level 1 starting at token 12; token ``12 + j`` is
    pixel ``(0, j)`` of level 1 and its position code gets that level's embedding."""
    g = torch.Generator().manual_seed(0)
    srcs = [torch.randn(2, 5, 3, 4, generator=g), torch.randn(2, 5, 1, 2, generator=g)]
    pos = [torch.randn_like(s) for s in srcs]
    level_embed = torch.randn(2, 5, generator=g)
    src, pos_flat, shapes, start = flatten_levels(srcs, pos, level_embed)
    assert shapes.tolist() == [[3, 4], [1, 2]] and start.tolist() == [0, 12] and shapes.dtype == torch.long
    assert src.shape == (2, 14, 5)
    assert torch.equal(src[:, 12 + 1], srcs[1][:, :, 0, 1]) and torch.equal(src[:, 4 * 2 + 3], srcs[0][:, :, 2, 3])
    assert torch.equal(pos_flat[:, 13], pos[1][:, :, 0, 1] + level_embed[1])
    back = split_levels(src, shapes)
    assert [tuple(b.shape) for b in back] == [(2, 5, 3, 4), (2, 5, 1, 2)]
    assert all(torch.equal(a, b) for a, b in zip(back, srcs))
    assert len(split_levels(src, shapes[:1])) == 1  # the first levels only (UNINEXT's mask branch)
