"""The real-weights path of the transformers adapters, offline: the card's files are fetched by
pinned revision through ``evalkit.hub`` from a Hugging Face cache the test writes (the snapshot
layout ``models--owner--repo/snapshots/<commit sha>/``, with a tiny random model saved in it),
``HF_HUB_OFFLINE=1``; then ``from_pretrained`` reads that snapshot. Also: every hub source of the
transformers cards names a 40-hex commit, or the card says the revision is unverified."""
from __future__ import annotations

import re

import pytest
import torch

from evalkit.zoo.cards import get_card, list_cards

HF_FAMILIES = {"grounding-dino", "owlv2", "mask2former", "sam2"}
CARD = "mask2former-swin-t-coco-instance"


def test_hub_sources_are_pinned_to_a_commit_or_marked_unverified():
    cards = [c for c in list_cards() if c.family in HF_FAMILIES]
    assert {c.family for c in cards} == HF_FAMILIES
    for card in cards:
        for wf in card.weights:
            for src in wf.sources:
                assert src.startswith("hf://"), (card.id, src)
                if not re.search(r"@[0-9a-f]{40}$", src):
                    assert wf.unpinned and "revision unverified" in wf.unpinned, (card.id, wf.name)
        revisions = {s.partition("@")[2] for w in card.weights for s in w.sources}
        assert len(revisions) == 1, (card.id, revisions)  # one snapshot: from_pretrained reads one folder


def _mirror(root, card):
    """The card's files in an HF cache snapshot folder: config.json, preprocessor_config.json
    and pytorch_model.bin (the repo's own file names at the pinned revision)."""
    from evalkit.adapters.hf import tiny
    from evalkit.hub import parse_hf_source

    hf = parse_hf_source(card.model_weights.sources[0])
    snap = root / hf.cache_folder / "snapshots" / hf.revision
    model, processor = tiny.mask2former()
    model.save_pretrained(str(snap))
    (snap / "model.safetensors").unlink()
    torch.save(model.state_dict(), snap / "pytorch_model.bin")
    processor.save_pretrained(str(snap))
    assert sorted(p.name for p in snap.iterdir()) == sorted(w.name for w in card.weights)
    return snap, model


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "evalkit"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "hub"


def test_pinned_revision_loads_offline_from_the_cache(hub, tmp_path):
    import evalkit
    from evalkit.adapters.hf.mask2former import build_adapter
    from evalkit.download import sha256_file

    card = get_card(CARD)
    snap, saved = _mirror(hub, card)
    adapter = build_adapter(model_id=CARD)
    assert adapter.weights_sha256 == sha256_file(snap / "pytorch_model.bin")
    ours = adapter.model.state_dict()
    for k, v in saved.state_dict().items():
        assert torch.equal(ours[k], v), k
    assert adapter.processor.size == {"shortest_edge": 64, "longest_edge": 128}  # the snapshot's config
    [res] = evalkit.evaluate(CARD, "shapes-coco-seg", limit=1, runs_root=str(tmp_path / "runs"), threads=1)
    assert res.samples["done"] == 1 and res.samples["failed"] == 0


def test_missing_file_offline_names_it_and_where_it_looked(hub):
    from evalkit.adapters.hf.mask2former import build_adapter
    from evalkit.errors import WeightsError

    card = get_card(CARD)
    snap, _ = _mirror(hub, card)
    (snap / "preprocessor_config.json").unlink()
    with pytest.raises(WeightsError, match=r"preprocessor_config\.json of model 'mask2former-swin-t-coco-instance' "
                                           r"are not available offline(.|\n)*models--facebook--mask2former"):
        build_adapter(model_id=CARD)


def test_weights_folder_is_a_save_pretrained_folder(hub, tmp_path):
    from evalkit.adapters.hf.mask2former import build_adapter
    from evalkit.download import sha256_file
    from evalkit.errors import WeightsError

    snap, saved = _mirror(tmp_path / "local", get_card(CARD))
    adapter = build_adapter(model_id=CARD, weights=str(snap), threshold=0.25)
    assert adapter.weights_sha256 == sha256_file(snap / "pytorch_model.bin")
    assert torch.equal(adapter.model.state_dict()["model.transformer_module.queries_features.weight"],
                       saved.state_dict()["model.transformer_module.queries_features.weight"])
    assert adapter.describe()["settings"] == {"procedure": "Mask2FormerSettings", "threshold": 0.25, "vis_topk": 10}
    with pytest.raises(WeightsError, match="expected a save_pretrained folder"):
        build_adapter(model_id=CARD, weights=str(tmp_path))


def test_sam2_card_lists_every_file_its_loaders_read():
    """``Sam2VideoModel.from_pretrained`` reads config.json and model.safetensors; the
    ``Sam2VideoProcessor`` reads processor_config.json for itself and preprocessor_config.json for
    its image processor (transformers ``image_processing_base.get_image_processor_dict``; its video
    processor falls back to the same file, ``video_processing_utils.get_video_processor_dict``).
    With ``local_files_only`` a file the card does not fetch is a load error, so every one must be
    listed, all at the one pinned revision (hub commit de431c4, 'Add Transformers weights')."""
    from transformers.utils import CONFIG_NAME, IMAGE_PROCESSOR_NAME, PROCESSOR_NAME, SAFE_WEIGHTS_NAME

    card = get_card("sam2-hiera-tiny")
    names = {w.name for w in card.weights}
    assert {CONFIG_NAME, SAFE_WEIGHTS_NAME, IMAGE_PROCESSOR_NAME, PROCESSOR_NAME} <= names, names
    assert {s.rpartition("@")[2] for w in card.weights for s in w.sources} == {
        "de431c4043854a71d8101e17995dfe596bf101a5"}
