"""Text encoders and the CLIP BPE tokenizer, offline: tiny configs and generated vocabularies;
full configurations only on the meta device against the official key manifests."""
import gzip
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # never reach the network from tests

import pytest
import torch
from torch import nn

from evalkit.errors import EvalkitError
from evalkit.zoo.convert_utils import KeyMap, load_strict
from evalkit.zoo.text import (BertTextEncoder, CLIPBPETokenizer, CLIPTextEncoder, RegionCLIPTextEncoder,
                              bert_key_map, clip_text_key_map)
from zoo_nets_helpers import manifest, synthetic_state_dict

MERGES = [("t", "h"), ("th", "e</w>"), ("c", "a"), ("ca", "t</w>"), ("o", "n</w>"), ("m", "a"), ("ma", "t</w>"),
          ("r", "e"), ("re", "d</w>"), ("d", "o"), ("do", "g</w>"), ("l", "e"), ("le", "f"), ("lef", "t</w>"),
          ("p", "e"), ("pe", "r"), ("per", "s"), ("pers", "on</w>")]
TEXTS = ["the cat on the mat", "A red dog,   left!", "person's  & 42 cats", "zebra", "café"]


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip_bpe")
    tok = CLIPBPETokenizer(MERGES)
    (d / "vocab.json").write_text(json.dumps(tok.encoder))
    (d / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in MERGES) + "\n")
    with gzip.open(d / "bpe_simple.txt.gz", "wt", encoding="utf-8") as f:
        f.write("bpe header line\n" + "\n".join(" ".join(m) for m in MERGES) + "\n")
    return d


def test_bpe_matches_transformers_clip_tokenizer(clip_files):
    from transformers import CLIPTokenizerFast

    ours = CLIPBPETokenizer.from_file(clip_files / "merges.txt")
    hf = CLIPTokenizerFast.from_pretrained(str(clip_files))
    assert ours.vocab_size == 512 + len(MERGES) + 2
    for text in TEXTS:
        assert ours.encode(text) == hf(text, add_special_tokens=False)["input_ids"], text
    assert ours.encode("the cat") == [ours.encoder["the</w>"], ours.encoder["cat</w>"]]
    # the official cleaning unescapes HTML entities (twice); transformers' tokenizer does not
    assert ours.encode("cat &amp;amp; dog") == ours.encode("cat & dog")
    assert ours.decode(ours.encode("the red dog")).strip() == "the red dog"


def test_bpe_file_formats_and_packing(clip_files):
    a = CLIPBPETokenizer.from_file(clip_files / "merges.txt")
    b = CLIPBPETokenizer.from_file(clip_files / "bpe_simple.txt.gz")
    assert a.encoder == b.encoder
    ids = a(["the cat", "dog"], context_length=6)
    sot, eot = a.sot_token, a.eot_token
    assert ids.dtype == torch.long
    assert ids.tolist() == [[sot, a.encoder["the</w>"], a.encoder["cat</w>"], eot, 0, 0],
                            [sot, a.encoder["dog</w>"], eot, 0, 0, 0]]
    # too long: cut at the context length, end-of-text lost (UniVS behaviour)
    long = a("the cat the cat the cat", context_length=4)[0]
    assert long.tolist()[0] == sot and eot not in long.tolist() and len(long) == 4
    with pytest.raises(EvalkitError, match="not found"):
        CLIPBPETokenizer.from_file(clip_files / "missing.txt")
    bad = clip_files / "bad.txt"
    bad.write_text("#version\na b c\n")
    with pytest.raises(EvalkitError, match="line 2"):
        CLIPBPETokenizer.from_file(bad)


class _OfficialBlock(nn.Module):
    """The official ResidualAttentionBlock (nn.MultiheadAttention, sequence-first)."""

    def __init__(self, ours):
        super().__init__()
        w = ours.attn.in_proj_weight.shape[1]
        self.attn = nn.MultiheadAttention(w, ours.attn.num_heads)
        self.attn.load_state_dict(ours.attn.state_dict())
        self.ours = ours

    def forward(self, x, mask):  # x: L×B×W
        o = self.ours
        x = x + self.attn(o.ln_1(x), o.ln_1(x), o.ln_1(x), need_weights=False, attn_mask=mask)[0]
        return x + o.mlp(o.ln_2(x))


def test_regionclip_tiny_matches_official_formulation(clip_files):
    torch.manual_seed(0)
    enc = RegionCLIPTextEncoder(embed_dim=12, context_length=10, vocab_size=532, width=16, heads=2, layers=2,
                                bpe=str(clip_files / "merges.txt")).eval()
    ids = enc.tokenize(["the cat on the mat", "red dog"])
    assert ids.shape == (2, 10)
    tokens, pooled = enc.encode_text(ids, only_eot=False)
    # reference: the official encode_text with torch's MultiheadAttention
    mask = torch.full((10, 10), float("-inf")).triu_(1)
    x = (enc.token_embedding(ids) + enc.positional_embedding).permute(1, 0, 2)
    for blk in enc.transformer.resblocks:
        x = _OfficialBlock(blk)(x, mask)
    x = enc.ln_final(x.permute(1, 0, 2))
    want_pooled = x[torch.arange(2), ids.argmax(-1)] @ enc.text_projection
    torch.testing.assert_close(tokens, x @ enc.text_projection, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooled, want_pooled, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(enc.encode_text(ids), pooled)
    assert set(enc(ids)) == {"tokens", "pooled"}


def test_regionclip_rn50x4_matches_manifest_and_loads():
    entries = manifest("univs_regionclip_rn50x4_lang_encoder.tsv")
    with torch.device("meta"):
        enc = RegionCLIPTextEncoder()
    sd = enc.state_dict()
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == [(k, s) for k, (s, _) in entries.items()]
    assert sum(p.numel() for p in enc.parameters()) == 91_163_520
    # the released file wraps the keys in {"model": ...}; identity names load strictly
    official = synthetic_state_dict(entries, device="meta")
    out, rep = KeyMap().keep(r".*").convert(official, expected=enc)
    assert rep.ok and len(out) == 149


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bert_vocab")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "on", "mat", "red", "dog", "left", "##s", ",", "!"]
    (d / "vocab.txt").write_text("\n".join(words) + "\n")
    return d


def test_bert_encoder_tiny_offline(bert_dir):
    torch.manual_seed(0)
    cfg = dict(vocab_size=15, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
               max_position_embeddings=32)
    enc = BertTextEncoder(cfg, tokenizer=str(bert_dir), max_length=8).eval()
    toks = enc.tokenize(["the cat on the mat", "red dogs, left!"])
    assert toks["input_ids"].shape == (2, 8)
    assert toks["input_ids"][0, :7].tolist() == [2, 5, 6, 7, 5, 8, 3]  # [CLS] the cat on the mat [SEP]
    assert toks["attention_mask"][0].tolist() == [1] * 7 + [0]
    out = enc.encode(["the cat on the mat", "red dogs, left!"])
    assert out["hidden"].shape == (2, 8, 16) and "pooled" not in out
    enc_longest = BertTextEncoder(cfg, add_pooling_layer=True, tokenizer=str(bert_dir), max_length=8,
                                  pad_to_max_length=False)
    out = enc_longest.encode(["the cat", "dog"])
    assert out["hidden"].shape == (2, 4, 16) and out["pooled"].shape == (2, 16)


@pytest.mark.parametrize("tsv,prefix,pooler", [
    ("uninext_r50_image_joint.tsv", "text_encoder.body.model.", False),
    ("uniref_pp_r50_video_joint.tsv", "text_encoder.", True),
])
def test_bert_base_official_keys_convert(tsv, prefix, pooler):
    entries = {k: v for k, v in manifest(tsv).items() if k.startswith(prefix)}
    with torch.device("meta"):
        enc = BertTextEncoder(add_pooling_layer=pooler)
    sd = synthetic_state_dict(entries, device="meta")
    out, rep = KeyMap().nested(prefix, "", bert_key_map()).convert(sd, expected=enc, what=tsv)
    assert rep.ok
    assert set(rep.dropped) == ({prefix + "embeddings.position_ids"} if prefix + "embeddings.position_ids" in sd else set())


def test_clip_text_tiny_offline_and_glee_keys(clip_files):
    torch.manual_seed(0)
    cfg = dict(vocab_size=532, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2)
    enc = CLIPTextEncoder(cfg, tokenizer=str(clip_files)).eval()
    toks = enc.tokenize(["the cat on the mat", "red dog"])
    assert toks["input_ids"].shape == (2, 77)
    out = enc(**toks)
    assert out["hidden"].shape == (2, 77, 16)
    # pooled = the feature at the end-of-text token (arg-max id)
    eot_pos = toks["input_ids"].argmax(-1)
    torch.testing.assert_close(out["pooled"], out["hidden"][torch.arange(2), eot_pos])
    # full ViT-B/32 text tower: exactly GLEE's glee.text_encoder.text_model.* keys and shapes
    entries = manifest("glee_lite_r50_joint.tsv")
    official = {k: v for k, v in entries.items() if k.startswith("glee.text_encoder.")}
    with torch.device("meta"):
        full = CLIPTextEncoder()
    ours = {k: tuple(v.shape) for k, v in full.state_dict().items()}
    assert ours == {k[len("glee.text_encoder."):]: s for k, (s, _) in official.items()}
    sd = synthetic_state_dict(official, device="meta")
    sd["glee.text_encoder.text_model.embeddings.position_ids"] = torch.empty(1, 77, dtype=torch.long, device="meta")
    out, rep = KeyMap().nested("glee.text_encoder.", "", clip_text_key_map()).convert(sd, expected=full)
    assert list(rep.dropped) == ["glee.text_encoder.text_model.embeddings.position_ids"]


def test_clip_text_loads_converted_weights(clip_files):
    cfg = dict(vocab_size=532, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    src = CLIPTextEncoder(cfg, tokenizer=str(clip_files)).eval()
    dst = CLIPTextEncoder(cfg, tokenizer=str(clip_files)).eval()
    out, _ = clip_text_key_map().convert(src.state_dict(), expected=dst)
    load_strict(dst, out)
    ids = src.tokenize(["the cat"])
    torch.testing.assert_close(dst(**ids)["hidden"], src(**ids)["hidden"])


def test_regionclip_tower_equals_transformers_clip_text_model():
    """Independent check: the same CLIP text architecture in transformers, weights mapped."""
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    W, layers, heads, ctx, vocab = 16, 2, 2, 12, 40
    ours = RegionCLIPTextEncoder(embed_dim=8, context_length=ctx, vocab_size=vocab, width=W, heads=heads,
                                 layers=layers).eval()
    cfg = CLIPTextConfig(vocab_size=vocab, hidden_size=W, intermediate_size=4 * W, num_hidden_layers=layers,
                         num_attention_heads=heads, max_position_embeddings=ctx, hidden_act="quick_gelu",
                         bos_token_id=0, eos_token_id=2, pad_token_id=1)
    hf = CLIPTextModel(cfg).eval()
    sd = ours.state_dict()
    mapped = {"embeddings.token_embedding.weight": sd["token_embedding.weight"],
              "embeddings.position_embedding.weight": sd["positional_embedding"],
              "final_layer_norm.weight": sd["ln_final.weight"], "final_layer_norm.bias": sd["ln_final.bias"]}
    for i in range(layers):
        p, q = f"transformer.resblocks.{i}.", f"encoder.layers.{i}."
        for name, w, b in zip(("q_proj", "k_proj", "v_proj"), sd[p + "attn.in_proj_weight"].chunk(3),
                              sd[p + "attn.in_proj_bias"].chunk(3)):
            mapped[q + f"self_attn.{name}.weight"], mapped[q + f"self_attn.{name}.bias"] = w, b
        for a, b in (("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
                     ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
            mapped[q + b + ".weight"], mapped[q + b + ".bias"] = sd[p + a + ".weight"], sd[p + a + ".bias"]
    trunk = getattr(hf, "text_model", hf)
    missing, unexpected = trunk.load_state_dict(mapped, strict=False)
    assert not [k for k in missing if "position_ids" not in k] and not unexpected
    ids = torch.randint(3, vocab - 1, (3, ctx))
    ids[:, 5] = vocab - 1  # the end-of-text token has the highest id
    ids[:, 6:] = 0
    with torch.no_grad():
        want = trunk(input_ids=ids).last_hidden_state
        tokens, pooled = ours.encode_text(ids, only_eot=False)
    torch.testing.assert_close(tokens, want @ ours.text_projection, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooled, want[:, 5] @ ours.text_projection, atol=1e-5, rtol=1e-5)


def test_clip_batches_match_transformers_clip_tokenizer(clip_files):
    # transformers' CLIPTokenizerFast on the same vocabulary is the reference (GLEE tokenises
    # with transformers' CLIPTokenizer): truncation keeps the end-of-text token, padding uses
    # the pad token <|endoftext|>, the mask marks the tokens.
    from transformers import CLIPTokenizerFast

    hf = CLIPTokenizerFast.from_pretrained(str(clip_files))
    ours = CLIPBPETokenizer.from_file(clip_files / "merges.txt")
    texts = TEXTS + ["the cat " * 20]
    for pad, longest in (("max_length", False), ("longest", True)):
        want = hf(texts, padding=pad, truncation=True, max_length=12, return_tensors="pt")
        ids, mask = ours.batch(texts, 12, pad_to_max_length=not longest)
        assert ids.tolist() == want["input_ids"].tolist(), pad
        assert mask.tolist() == want["attention_mask"].tolist(), pad
    # by hand: "the cat" -> [SOT, the</w>, cat</w>, EOT] then EOT padding, mask 1 1 1 1 0 0
    ids, mask = ours.batch(["the cat"], 6)
    e = ours.encoder
    assert ids.tolist() == [[ours.sot_token, e["the</w>"], e["cat</w>"], ours.eot_token, ours.eot_token, ours.eot_token]]
    assert mask.tolist() == [[1, 1, 1, 1, 0, 0]]
    enc = CLIPTextEncoder(dict(vocab_size=532, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                               num_attention_heads=2), tokenizer=str(clip_files), max_length=12)
    toks = enc.tokenize(texts)
    want = hf(texts, padding="max_length", truncation=True, max_length=12, return_tensors="pt")
    assert toks["input_ids"].tolist() == want["input_ids"].tolist()


def test_glee_tokenizer_matches_transformers_clip_tokenizer(clip_files):
    # GLEE projects/GLEE/glee/models/glee_model.py GLEE_Model.forward: transformers' CLIPTokenizer
    # with padding="max_length", truncation=True; GLEETokenizer is CLIPBPETokenizer.batch at its length
    from transformers import CLIPTokenizerFast

    from evalkit.zoo.glee.text import GLEETokenizer

    hf = CLIPTokenizerFast.from_pretrained(str(clip_files))
    glee = GLEETokenizer.from_merges(str(clip_files / "merges.txt"), max_length=12)
    texts = TEXTS + ["the cat " * 20]
    ids, mask = glee(texts)
    want = hf(texts, padding="max_length", truncation=True, max_length=12, return_tensors="pt")
    assert ids.dtype == mask.dtype == torch.long
    assert ids.tolist() == want["input_ids"].tolist() and mask.tolist() == want["attention_mask"].tolist()
    # by hand, cut at 4: [SOT, the</w>, cat</w>, EOT] (the end token survives truncation)
    e = glee.bpe.encoder
    ids, mask = GLEETokenizer(glee.bpe, max_length=4)(["the cat on the mat"])
    assert ids.tolist() == [[glee.bpe.sot_token, e["the</w>"], e["cat</w>"], glee.bpe.eot_token]]
    assert mask.tolist() == [[1, 1, 1, 1]]
    with pytest.raises(ValueError, match="max_length"):
        GLEETokenizer(glee.bpe, max_length=1)
