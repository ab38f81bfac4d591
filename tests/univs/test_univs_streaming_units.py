"""Units of the streaming inference: memory pool, accumulator, bi-softmax, stability, NMS."""
import torch

from evalkit.adapters.univs_entity import clip_box_nms, stability_scores
from evalkit.adapters.univs_memory import EmbeddingMemory, MaskAccumulator


def test_mask_accumulator_sums_and_late_targets():
    acc = MaskAccumulator()
    acc.add(0, torch.tensor([[[1.0]], [[float("nan")]]]))
    acc.add(0, torch.tensor([[[3.0]], [[4.0]], [[5.0]]]))
    out = acc.pop(0, 4)
    assert out[:, 0, 0].tolist() == [4.0, 4.0, 5.0, -float("inf")] and len(acc) == 0


def test_stability_scores_and_clip_nms():
    m = torch.full((3, 2, 10, 10), -5.0)
    m[0, :, :5, :5] = 5.0  # crisp
    m[1, :, 6:, 6:] = 0.5  # fuzzy: above -1, below +1
    m[2, :, :5, :6] = 5.0  # duplicate of 0
    q = stability_scores(m)
    assert q[0] == 1.0 and q[1] == 0.0
    keep = clip_box_nms(m, torch.tensor([0.9, 0.1, 0.8]), 0.75)
    assert keep.tolist() == [0, 1]


def test_embedding_memory_consistency_weights_recent_slots():
    mem = EmbeddingMemory(slots=3, first=torch.tensor([1.0, 0.0]))
    mem.open_slot()
    assert mem.consistency(torch.tensor([[1.0, 0.0]])) > 0.99  # the blank slot has no weight
    mem.write(torch.tensor([0.0, 2.0]))
    sim = mem.consistency(torch.tensor([[0.0, 1.0]]))
    assert 0.99 < sim < 1.0  # the recent slot dominates: exp(10) vs exp(5)
    assert mem.history(3).shape == (3, 2) and mem.history(3)[0].abs().sum() == 0
