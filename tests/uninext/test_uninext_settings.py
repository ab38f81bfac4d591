"""UNINEXT procedure settings as data: official evaluation defaults, ``-a`` options validated
against them, resolved settings recorded, and the BDD100K MOTS birth threshold of the released
evaluation (``TRACK.INIT_SCORE_THR 0.4``: ``tools_bin/grid_search_bdd.py`` ``init_thr in [0.4]``,
``assets/TEST.md`` MOTS ``instances_predictions_init_0.40_obj_0.30.pkl``)."""
from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pytest
import torch

from evalkit.adapters.trackers import QuasiDenseEmbedTracker
from evalkit.adapters.uninext import build_adapter
from evalkit.adapters.uninext_settings import (MOTSettings, TASK_SETTINGS, check_options, resolve,
                                               settings_record)
from evalkit.errors import EvalkitError
from evalkit.types import Categories, Frames, rle_to_mask

from uninext_helpers import TINY, write_vocab

H, W = 100, 150
PROMPT = Categories(("person", "car"), (7, 42))  # tokens: person = 1, car = 3


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    return str(write_vocab(tmp_path_factory.mktemp("uninext_vocab_settings")))


def _adapter(vocab, **options):
    torch.manual_seed(0)
    return build_adapter(model_id="uninext-r50", random_weights=True, tokenizer=vocab,
                         overrides={**TINY, "template_size": 64}, input_size=(64, 128), **options)


def test_defaults_are_the_official_evaluation_values():
    mot = TASK_SETTINGS["mots"]
    # tools_bin/grid_search_bdd.py: TRACK.INIT_SCORE_THR 0.4, TRACK.OBJ_SCORE_THR 0.3, no IoU branch
    assert (mot.tracker.init_score_thr, mot.tracker.obj_score_thr, mot.use_iou_branch) == (0.4, 0.3, False)
    # uninext_vid.py QuasiDenseEmbedTracker(...) literals; inference_mot NMS 0.7, select 0.1
    assert (mot.tracker.memo_momentum, mot.tracker.nms_backdrop_iou_thr, mot.nms_thresh,
            mot.inference_select_thres) == (1.0, 0.3, 0.7, 0.1)
    vis = TASK_SETTINGS["vis"]
    # IDOL_Tracker(...) call + MODEL.IDOL.* keys; post_process_vis APPLY_CLS_THRES 0.05
    assert (vis.tracker.init_score_thr, vis.tracker.addnew_score_thr, vis.tracker.nms_thr_pre,
            vis.tracker.memo_momentum, vis.tracker.memory_len, vis.nms_thresh,
            vis.apply_cls_thres) == (0.2, 0.2, 0.5, 0.8, 3, 0.9, 0.05)
    # assets/infer.sh: SOT.ONLINE_UPDATE True; config.py SOT.UPDATE_INTERVAL 200, UPDATE_THR 0.7
    sot, vos = TASK_SETTINGS["sot"], TASK_SETTINGS["vos"]
    assert (sot.online_update, sot.update_interval, sot.update_thr) == (True, 200, 0.7)
    assert (vos.update_thr, vos.inst_thr_vos, vos.use_iou_branch) == (0.7, 0.5, True)
    assert (TASK_SETTINGS["det"].nms_thresh, TASK_SETTINGS["det"].max_num_inst) == (0.7, 100)


def test_options_resolve_into_the_task_settings_only():
    s = resolve("mots", {"init_score_thr": 0.5, "update_thr": 0.1, "nms_thresh": 0.6})
    assert s.tracker.init_score_thr == 0.5 and s.nms_thresh == 0.6
    assert s.tracker.obj_score_thr == 0.3  # untouched fields keep their defaults
    v = resolve("vis", {"init_score_thr": 0.3})  # the same name sets the VIS tracker's field
    assert v.tracker.init_score_thr == 0.3 and v.tracker.addnew_score_thr == 0.2
    assert resolve("vos", {"update_thr": 0.1}).update_thr == 0.1
    assert isinstance(resolve("mot", {"init_score_thr": 1}).tracker.init_score_thr, float)
    with pytest.raises(EvalkitError, match="init_score_thr expects a float, got 'high'"):
        resolve("mot", {"init_score_thr": "high"})


def test_unknown_option_is_refused_listing_the_valid_ones(vocab):
    with pytest.raises(EvalkitError, match=r"unknown UNINEXT option\(s\) 'bogus'.*valid options:.*init_score_thr"):
        _adapter(vocab, bogus=1)
    with pytest.raises(EvalkitError, match="'mot_init_score_thr' is now 'init_score_thr'"):
        check_options({"mot_init_score_thr": 0.4})
    check_options({"init_score_thr": 0.4, "precision": "fp32", "dataset": "bdd"})  # accepted


def test_resolved_settings_are_described(vocab):
    ad = _adapter(vocab, init_score_thr=0.45)
    ad.prepare("mots")
    rec = ad.describe()["settings"]
    assert rec["procedure"] == "MOTSettings" and rec["tracker"]["init_score_thr"] == 0.45
    assert rec["tracker"]["obj_score_thr"] == 0.3
    assert settings_record(None, {}) is None


def _one_car(adapter, monkeypatch, score: float):
    """Every frame: query 0 is a car (token 3) with ``sigmoid(logit) = score`` at the left, the
    other queries score ~0 (below INFERENCE_SELECT_THRES 0.1)."""
    logit = math.log(score / (1 - score))

    def run(batch, prompt, prompt_mask, *, pooled, task):
        logits = torch.full((1, 3, 16), -10.0)
        logits[0, 0, 3] = logit
        boxes = torch.tensor([[[0.25, 0.5, 0.3, 0.6], [0.7, 0.2, 0.1, 0.1], [0.7, 0.8, 0.1, 0.1]]])
        emb = torch.eye(3, 64)[None] * 5.0
        masks = torch.full((1, 3, 16, 24), -10.0)
        masks[0, 0, :, :12] = 10.0
        return {"logits": logits, "boxes": boxes, "iou": None, "masks": masks, "embeddings": emb}

    monkeypatch.setattr(adapter, "run", run)
    monkeypatch.setattr(adapter.model, "decode_masks", lambda out, b, q: out["masks"][b][q])


def test_mots_track_born_between_040_and_050(vocab, monkeypatch):
    """A car scoring 0.45 on every frame. Official QuasiDenseEmbedTracker.match: with an empty
    memory nothing is matched and a detection is born when ``score > init_score_thr``; the
    released BDD evaluation runs with 0.4, so the car is born on frame 0 (id 0) and then matched
    (``score > obj_score_thr`` 0.3, bi-softmax 1.0 > match_score_thr 0.5) on frames 1 and 2.
    With ``init_score_thr`` 0.5 (``config.py``'s default) it is never born: no output at all."""
    ad = _adapter(vocab)
    _one_car(ad, monkeypatch, 0.45)
    ad.prepare("mots")
    frames = Frames([np.zeros((H, W, 3), np.uint8)] * 3)
    out = list(ad.predict(frames, PROMPT))
    assert [o.track_ids.tolist() for o in out] == [[0], [0], [0]]
    assert all(o.labels.tolist() == [42] for o in out)
    np.testing.assert_allclose([o.scores[0] for o in out], 0.45, atol=1e-6)
    np.testing.assert_allclose(out[0].boxes[0], [15.0, 20.0, 60.0, 80.0], atol=1e-4)
    m = rle_to_mask(out[0].masks[0])
    assert m[:, :75].all() and not m[:, 75:].any()

    strict = _adapter(vocab, init_score_thr=0.5)
    _one_car(strict, monkeypatch, 0.45)
    strict.prepare("mots")
    assert [len(o) for o in strict.predict(frames, PROMPT)] == [0, 0, 0]


def test_birth_needs_a_score_strictly_above_the_threshold():
    """``ids[(ids == -1) & (scores > self.init_score_thr)]`` (qdtrack / UNINEXT tracker.py): a
    float32 score of exactly 0.4 is not born, the next float32 above it is."""
    tracker = QuasiDenseEmbedTracker(**asdict(MOTSettings().tracker))
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]])
    at = torch.tensor(0.4, dtype=torch.float32)
    above = torch.nextafter(at, torch.tensor(1.0))
    res = tracker.match(boxes, torch.stack([above, at]), torch.tensor([0, 0]), torch.eye(2, 8), 0)
    assert res.ids.tolist() == [0, -1]


def test_run_json_records_settings_and_an_unknown_option_is_refused(tmp_path, monkeypatch):
    """Through the runner (``-a`` options = ``RunConfig.model_options``) with the shipped
    ``uninext-tiny`` on one video of the shapes MOT split."""
    import json

    from evalkit.runner import RunConfig, run_evaluation
    from evalkit.zoo.tiny import weights_file

    if not weights_file("uninext-tiny").is_file():
        pytest.skip("uninext-tiny weights not trained yet")
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))

    def cfg(**opts):
        return RunConfig(model="uninext-tiny", benchmark="shapes-mot", runs_root=str(tmp_path / "runs"),
                         num_workers=0, quiet=True, limit=1, mode="infer", model_options=opts)

    with pytest.raises(EvalkitError, match=r"'init_score'; valid options:.*init_score_thr"):
        run_evaluation(cfg(init_score=0.45))
    res = run_evaluation(cfg(init_score_thr=0.45))
    settings = json.loads((res.run_dir / "run.json").read_text())["model"]["settings"]
    assert settings["procedure"] == "MOTSettings"
    assert settings["tracker"] == {**asdict(MOTSettings().tracker), "init_score_thr": 0.45}
