"""The GLEE converter on a synthetic checkpoint built from the official key manifest."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evalkit.errors import WeightsError
from evalkit.zoo.convert_utils import load_strict
from evalkit.zoo.glee.convert import convert_glee
from evalkit.zoo.glee.model import build_glee

MANIFEST = Path(__file__).resolve().parents[1] / "data" / "official_keys" / "glee_lite_r50_joint.tsv"


@pytest.fixture(scope="module")
def official() -> dict[str, torch.Tensor]:
    """``{"model": {glee.* keys + criterion}}`` with random values of the manifest's shapes."""
    g = torch.Generator().manual_seed(0)
    sd = {}
    for line in MANIFEST.read_text().splitlines():
        key, shape, dtype = line.split("\t")
        shape = tuple(int(s) for s in shape.split(","))
        if ".text_encoder_teacher." in key:  # dropped by the converter: values never read
            sd[key] = torch.zeros(1).expand(shape)
            continue
        t = torch.randn(shape, generator=g, dtype=getattr(torch, dtype)) * 0.02
        if key.endswith("running_var"):
            t = t.abs() + 1.0
        sd[key] = t
    # tied entries of the official model hold one tensor
    shared = {k: v for k, v in sd.items() if k.startswith("glee.predictor._bbox_embed.")}
    for k in list(sd):
        for prefix in ("glee.predictor.bbox_embed.", "glee.predictor.decoder.bbox_embed."):
            if k.startswith(prefix):
                sd[k] = shared["glee.predictor._bbox_embed." + k.split(".layers.", 1)[1].join(["layers.", ""])]
        if k.startswith("glee.predictor.decoder.norm."):
            sd[k] = sd["glee.predictor.decoder_norm." + k.rsplit(".", 1)[1]]
    return {"model": sd}


@pytest.fixture(scope="module")
def lite():
    """Full-size GLEE-Lite without random initialisation (every persistent entry is loaded from
    the checkpoint below; the one non-persistent buffer, CLIP's position ids, is restored)."""
    with torch.device("meta"):
        model = build_glee("lite", "r50")
    model = model.to_empty(device="cpu").eval()
    emb = model.text_encoder.text_model.embeddings
    emb.position_ids.copy_(torch.arange(emb.position_ids.shape[-1]).expand_as(emb.position_ids))
    return model


def test_both_prefix_forms_convert_load_strictly_and_run(official, lite):
    ours, report = convert_glee(official, lite)
    assert report.ok and len(report.dropped) == 207
    assert set(report.dropped.values()) == {
        "training-only loss state", "frozen CLIP teacher used only for the distillation loss",
        "label embeddings of the denoising queries, which exist only in training"}
    # the bbox MLP is listed under 19 names per tensor, decoder.norm aliases decoder_norm
    assert sum(len(v) for v in report.aliases.values()) == 110
    bare = {k[len("glee."):]: v for k, v in official["model"].items() if k.startswith("glee.")}
    bare["text_encoder.text_model.embeddings.position_ids"] = torch.arange(77)[None]  # old transformers
    ours_bare, report_bare = convert_glee(bare, lite)
    assert report_bare.ok and set(ours_bare) == set(ours)
    assert all(torch.equal(ours[k], ours_bare[k]) for k in ours)
    load_strict(lite, ours)
    assert torch.equal(lite.predictor.bbox_embed.layers[0].weight,
                       official["model"]["glee.predictor.decoder.bbox_embed.4.layers.0.weight"])
    ids = torch.tensor([[49406, 320, 49407], [49406, 321, 49407]])  # two names, unpadded
    with torch.no_grad():
        text = lite.category_prompt(ids, torch.ones_like(ids), 1)
        out = lite(torch.randn(1, 3, 128, 128), text)  # 340 encoder tokens >= 300 queries
    assert out.logits.shape == (1, 300, 2) and out.masks.shape == (1, 300, 32, 32)
    assert torch.isfinite(out.boxes).all() and torch.isfinite(out.masks).all()


def test_unknown_and_missing_keys_are_reported(official, lite):
    sd = dict(official["model"])
    sd["glee.predictor.new_head.weight"] = torch.zeros(1)
    del sd["glee.pn_indicator.weight"]
    with pytest.raises(WeightsError, match="new_head.*|pn_indicator"):
        convert_glee(sd, lite)
    sd = dict(official["model"])
    sd["glee.predictor.bbox_embed.3.layers.0.bias"] = sd["glee.predictor.bbox_embed.3.layers.0.bias"] + 1
    with pytest.raises(WeightsError, match="aliased"):
        convert_glee(sd, lite)
