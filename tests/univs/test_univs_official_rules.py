"""UniVS inference rules that follow the official release where it differs from the paper's
summary: expression templates, prompt memory over clip overlaps, summed clip logits."""
from __future__ import annotations

import torch

from evalkit.adapters.univs_templates import EXPRESSION_TEMPLATES
from evalkit.types import Expression
from univs_tiny import build_tiny_adapter, random_video


def test_expression_templates_are_the_81_clip_templates_with_bare_first():
    assert len(EXPRESSION_TEMPLATES) == 81 and len(set(EXPRESSION_TEMPLATES)) == 81
    assert EXPRESSION_TEMPLATES[0] == "{}." and all(t.count("{}") == 1 for t in EXPRESSION_TEMPLATES)
    assert "a photo of a {}." in EXPRESSION_TEMPLATES and "itap of my {}." in EXPRESSION_TEMPLATES


def test_expression_sentence_feature_is_the_mean_over_templates():
    a = build_tiny_adapter()
    enc = a.text_encoder
    words, sentence = a.encode_expression("the cat")
    assert words.shape == (1, 77, 48) and sentence.shape == (1, 48)
    # reference: one template at a time
    per = [enc.encode_text(enc.tokenize([t.replace("{}", "the cat")]), only_eot=False) for t in EXPRESSION_TEMPLATES]
    torch.testing.assert_close(sentence[0], torch.stack([p[1][0] for p in per]).mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(words, per[0][0], rtol=1e-5, atol=1e-6)
    # the first template alone (the former encoding) is a different sentence feature
    assert not torch.allclose(sentence[0], per[0][1][0], atol=1e-3)


def test_expression_with_braces_is_inserted_literally():
    a = build_tiny_adapter()
    _, s1 = a.encode_expression("a {cat}")
    enc = a.text_encoder
    ref = enc.encode_text(enc.tokenize([t.replace("{}", "a {cat}") for t in EXPRESSION_TEMPLATES]))
    torch.testing.assert_close(s1[0], ref.mean(0), rtol=1e-5, atol=1e-6)
    out = a.predict(random_video(4), Expression("a {cat}"))
    assert len(out) == 4
