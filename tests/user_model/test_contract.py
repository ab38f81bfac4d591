"""The contract check of ``predict(frames, prompt)`` (evalkit/contract.py, evalkit/types.py
``Instances``): one violation per test, each with the one-line message a user sees — sample id,
frame, field, expected vs got. The edges (the 10 % frame margin, the [0, 1] box rule, SOT boxes
leaving the frame, the lenient check of evalkit's own adapters) are derived by hand below."""
from __future__ import annotations

import numpy as np
import pytest

import evalkit
from evalkit.contract import predict_checked
from evalkit.types import Categories, ContractError, Frames, Instances, Reference, Sample

H, W = 40, 60  # the frames of these samples: 40 rows, 60 columns
CATS = Categories(("red circle", "red square", "blue circle"), (3, 7, 11))


def _sample(n_frames=1, prompt=CATS, sid="img-7"):
    frames = Frames([np.zeros((H, W, 3), np.uint8)] * n_frames, ids=list(range(n_frames)))
    return Sample(sid, frames, prompt)


class Returns:
    """A user adapter (not an evalkit module: the full check) returning what it is given."""

    tasks = frozenset({"det", "inst-seg", "vis", "vos", "sot"})

    def __init__(self, make):
        self.make = make

    def predict(self, frames, prompt):
        return self.make(frames, prompt)


def _check(make, task="det", **sample):
    return predict_checked(Returns(make), _sample(**sample), task)


def _det(boxes, scores=None, labels=None, **kw):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    return Instances((H, W), boxes=boxes, scores=np.full(n, 0.9) if scores is None else scores,
                     labels=np.full(n, 7) if labels is None else labels, **kw)


def test_a_valid_detection_passes():
    preds = _check(lambda f, p: [_det([[1, 2, 30, 20], [0, 0, 60, 40]])])
    assert len(preds) == 1 and len(preds[0]) == 2


def test_normalised_boxes():
    with pytest.raises(ContractError) as e:
        _check(lambda f, p: [_det([[0.1, 0.2, 0.5, 0.6]])])
    assert str(e.value) == ("sample img-7: frame 0: boxes: expected xyxy pixels of the 40x60 (HxW) frame, got "
                            "every coordinate in [0, 1] (normalised? multiply x by 60 and y by 40)")


def test_xywh_boxes_have_x2_below_x1():
    # COCO xywh [30, 10, 12, 8] read as xyxy: x2 = 12 < x1 = 30
    with pytest.raises(ContractError, match=r"^sample img-7: frame 0: boxes: box 1 \[30, 10, 12, 8\] has x2 < x1 "
                                            r"or y2 < y1; expected xyxy \(x1, y1, x2, y2\) pixels \(xywh\?"):
        _check(lambda f, p: [_det([[1, 1, 5, 5], [30, 10, 12, 8]])])


def test_boxes_outside_the_frame_margin_edge():
    # margin: 10 % of the side, 6 px on x (W = 60) and 4 px on y (H = 40)
    _check(lambda f, p: [_det([[-6, -4, 66, 44]])])  # exactly on the margin: accepted
    with pytest.raises(ContractError, match=r"^sample img-7: frame 0: boxes: box 0 \[10, 5, 66.5, 20\] lies outside "
                                            r"the 40x60 \(HxW\) frame; expected xyxy in original-image pixels"):
        _check(lambda f, p: [_det([[10, 5, 66.5, 20]])])  # the box of a 1.1x resized input
    with pytest.raises(ContractError, match=r"box 0 \[10, -4.5, 20, 20\] lies outside"):
        _check(lambda f, p: [_det([[10, -4.5, 20, 20]])])


def test_sot_boxes_may_leave_the_frame_but_not_be_normalised():
    _check(lambda f, p: [_det([[50, 30, 90, 70]], labels=None)], task="sot")  # the target leaving the frame
    with pytest.raises(ContractError, match="every coordinate in"):
        _check(lambda f, p: [_det([[0.5, 0.5, 0.9, 0.9]])], task="sot")


def test_a_box_of_one_pixel_at_the_origin_is_not_taken_for_normalised():
    # [0, 0, 1, 1] is in [0, 1] too, but has an area: the rule needs x2 > x1 somewhere and all
    # coordinates <= 1; a one-pixel box at the corner is flagged, any larger box is not
    _check(lambda f, p: [_det([[0, 0, 1, 1], [0, 0, 2, 1]])])
    with pytest.raises(ContractError, match="normalised"):
        _check(lambda f, p: [_det([[0, 0, 1, 1]])])


def test_missing_scores():
    with pytest.raises(ContractError) as e:
        _check(lambda f, p: [Instances((H, W), boxes=[[1, 1, 9, 9]], labels=[7])])
    assert str(e.value) == ("sample img-7: frame 0: scores: expected 1 scores in [0, 1] (the metric ranks "
                            "predictions by score), got None")


def test_scores_outside_0_1():
    with pytest.raises(ContractError, match=r"^sample img-7: frame 0: scores: expected values in \[0, 1\], got "
                                            r"values in \[-2, 3.5\] \(logits\?"):
        _check(lambda f, p: [_det([[1, 1, 9, 9], [2, 2, 8, 8]], scores=np.array([-2.0, 3.5]))])


def test_category_ids_not_in_the_benchmark():
    # contiguous indices 0..2 instead of the prompt's ids 3, 7, 11
    with pytest.raises(ContractError) as e:
        _check(lambda f, p: [_det([[1, 1, 9, 9], [2, 2, 8, 8]], labels=np.array([0, 7]))])
    assert str(e.value) == ("sample img-7: frame 0: labels: expected category ids of the benchmark (3, 7, 11), "
                            "got 0 (contiguous model indices? map index k to prompt.ids[k])")


def test_missing_labels():
    with pytest.raises(ContractError, match="^sample img-7: frame 0: labels: expected 1 category ids for the det "
                                            "task, got None$"):
        _check(lambda f, p: [Instances((H, W), boxes=[[1, 1, 9, 9]], scores=[0.5])])


def test_mask_size_is_not_the_frame_size():
    # the adapter builds Instances for its 20x30 input: Instances refuses, the runner adds the sample
    with pytest.raises(ContractError, match=r"^sample img-7: Instances: masks must be N x 40 x 60 \(the original "
                                            r"frame\), got \(1, 20, 30\)$"):
        _check(lambda f, p: [Instances((H, W), masks=np.zeros((1, 20, 30), bool), scores=[1], labels=[3])],
               task="inst-seg")


def test_mask_probabilities_are_refused():
    probs = np.full((1, H, W), 0.2, np.float32)
    with pytest.raises(ContractError, match=r"^sample img-7: Instances: masks must be bool \(or 0/1\), got float32 "
                                            r"with values in \[0.2, 0.2\]: threshold them"):
        _check(lambda f, p: [Instances((H, W), masks=probs, scores=[1], labels=[3])], task="inst-seg")


def test_binary_masks_of_other_dtypes_are_accepted():
    m01 = np.zeros((1, H, W), np.float32)
    m01[0, :5, :5] = 1
    m255 = (m01 * 255).astype(np.uint8)
    for m in (m01, m255):
        [inst] = _check(lambda f, p, m=m: [Instances((H, W), masks=m, scores=[1], labels=[3])], task="inst-seg")
        assert inst.masks.dtype == bool and inst.masks.sum() == 25


def test_a_label_map_is_refused():
    labels = np.zeros((1, H, W), np.int64)
    labels[0, :5] = 1
    labels[0, 5:9] = 2
    with pytest.raises(ContractError, match=r"masks must be bool \(one binary mask per instance\), got int64 "
                                            r"with the values \[0, 1, 2\]: a label map\?"):
        _check(lambda f, p: [Instances((H, W), masks=labels, scores=[1], labels=[3])], task="inst-seg")


def test_boxes_with_a_score_column():
    # N x 5 would be re-cut into wrong N*5/4 boxes by a reshape
    with pytest.raises(ContractError, match=r"^sample img-7: Instances: boxes must be N x 4 \(xyxy\), got shape \(4, 5\)$"):
        _check(lambda f, p: [Instances((H, W), boxes=np.zeros((4, 5)))])


def test_wrong_number_of_frames_for_a_video():
    with pytest.raises(ContractError) as e:
        _check(lambda f, p: [_det([[1, 1, 9, 9]], track_ids=[1])] * 9, task="vis", n_frames=10)
    assert str(e.value) == ("sample img-7: the adapter returned 9 Instances for 10 frames (expected one per "
                            "frame, empty ones included)")


def test_track_ids_missing_for_a_video_task():
    masks = np.zeros((1, H, W), bool)
    with pytest.raises(ContractError, match="^sample img-7: frame 0: track_ids: expected 1 track ids for the vis "
                                            r"task \(a video task\), got None$"):
        _check(lambda f, p: [Instances((H, W), masks=masks, scores=[1], labels=[3])] * 3, task="vis", n_frames=3)


def test_vos_track_ids_must_be_the_reference_object_ids():
    ref = Reference(object_ids=(1, 2), masks=np.zeros((2, H, W), bool))
    masks = np.zeros((1, H, W), bool)
    with pytest.raises(ContractError, match=r"^sample img-7: frame 0: track_ids: expected the reference's object "
                                            r"ids \(1, 2\), got 0$"):
        _check(lambda f, p: [Instances((H, W), masks=masks, track_ids=[0])], task="vos", prompt=ref)


@pytest.mark.parametrize("returned, got", [
    (lambda f, p: Instances.empty((H, W)), "predict() returned one Instances, not a list; expected a list with one "
                                           "Instances per frame (1 frame): return [instances]"),
    (lambda f, p: None, "predict() returned NoneType; expected a list with one Instances per frame (1 frame)"),
    (lambda f, p: {"boxes": []}, "predict() returned dict; expected a list with one Instances per frame (1 frame)"),
])
def test_wrong_return_type(returned, got):
    with pytest.raises(ContractError) as e:
        _check(returned)
    assert str(e.value) == f"sample img-7: {got}"


def test_a_generator_is_a_valid_return_and_items_must_be_instances():
    assert len(_check(lambda f, p: (Instances.empty((H, W)) for _ in f), n_frames=3)) == 3
    with pytest.raises(ContractError, match="^sample img-7: frame 0: expected Instances, got dict$"):
        _check(lambda f, p: [{"boxes": []}])


def test_evalkit_adapters_keep_the_lenient_check():
    """Built-in adapters reproduce official post-processing, which leaves boxes unclipped (GLEE
    ``box_postprocess``): only the structural checks apply to them."""
    Builtin = type("Builtin", (Returns,), {"__module__": "evalkit.adapters.fake"})
    unclipped = [Instances((H, W), boxes=[[-30, 5, 90, 20]], scores=[0.5], labels=[7])]
    predict_checked(Builtin(lambda f, p: unclipped), _sample(), "det")
    with pytest.raises(ContractError, match="lies outside"):
        predict_checked(Returns(lambda f, p: unclipped), _sample(), "det")
    with pytest.raises(ContractError, match="returned 1 Instances for 2 frames"):
        predict_checked(Builtin(lambda f, p: unclipped), _sample(n_frames=2), "det")


class LabelsFromZero:
    """A user model that forgot to map its class indices to the dataset's ids on image 2."""

    tasks = {"det"}

    def predict(self, frames, prompt):
        img = frames[0]
        k = 0 if frames.ids[0] == 2 else 1
        return [Instances(img.shape[:2], boxes=[[1, 1, 20, 20]], scores=[0.5], labels=[prompt.ids[k] if k else 0])]


def test_the_run_stops_at_the_first_offending_sample(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ContractError, match=r"^sample 2: frame 0: labels: expected category ids of the benchmark "
                                            r"\(1, 2, 3, \.\.\., 9\), got 0 "):
        evalkit.evaluate(LabelsFromZero(), "shapes-coco-det", runs_root=str(tmp_path / "runs"), limit=4)
    # --on-error skip: the sample is recorded as failed, the others are scored
    [res] = evalkit.evaluate(LabelsFromZero(), "shapes-coco-det", runs_root=str(tmp_path / "runs"), limit=4,
                             on_error="skip")
    assert res.status == "partial" and res.samples["failed"] == 1 and res.samples["done"] == 3


def test_fields_numpy_cannot_read_and_tensor_masks():
    with pytest.raises(ContractError, match=r"^sample img-7: Instances: boxes must be a numpy array \(or a CPU "
                                            r"tensor: call \.cpu\(\)\), got list"):
        _check(lambda f, p: [Instances((H, W), boxes=[[1, 2, 3, 4], [1, 2]])])
    import torch

    with pytest.raises(ContractError, match=r"masks must be an N x H x W bool numpy array or a list of RLE dicts, "
                                            r"got Tensor \(call \.cpu\(\)\.numpy\(\)\)$"):
        _check(lambda f, p: [Instances((H, W), masks=torch.zeros(1, H, W, dtype=torch.bool))], task="inst-seg")
