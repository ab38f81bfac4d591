"""Preprocessing and the inverse mapping of predictions to the original frame."""
import numpy as np
import pytest
import torch
from PIL import Image

from evalkit.zoo.ops import (
    IMAGENET_MEAN, IMAGENET_STD, ImageTransform, OpInputError, batch_images, preprocess,
    resize_image, resize_shortest_edge_size, resize_tensor,
)


@pytest.mark.parametrize("size,expected", [
    ((480, 640), (800, 1067)),   # short edge 800
    ((640, 480), (1067, 800)),
    ((1000, 200), (1333, 267)),  # long edge capped: 4000 x 800 -> 1333 x 266.6
    ((800, 1333), (800, 1333)),  # already at the target
    ((427, 640), (800, 1199)),   # COCO's common size
    ((300, 300), (800, 800)),
])
def test_shortest_edge_sizes_follow_detectron2(size, expected):
    assert resize_shortest_edge_size(*size, 800, 1333) == expected


def test_resize_image_is_pil_bilinear_and_tensor_resize_is_close():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    image = np.array(Image.fromarray(small).resize((160, 120), Image.NEAREST))
    out = resize_image(image, (45, 61))
    assert out.shape == (45, 61, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.asarray(Image.fromarray(image).resize((61, 45),
                                                                              Image.BILINEAR)))
    approx = resize_tensor(torch.from_numpy(image).permute(2, 0, 1).float(), (45, 61))
    diff = (approx.permute(1, 2, 0) - torch.from_numpy(out).float()).abs()
    assert diff.mean() < 1.0 and diff.max() <= 3.0  # antialiased torch ~ PIL, not bit-exact
    with pytest.raises(OpInputError, match="uint8"):
        resize_image(image.astype(np.float32), (4, 4))


def test_batch_images_pads_right_bottom_to_divisibility():
    a = torch.ones(3, 5, 7)
    b = torch.full((3, 9, 4), 2.0)
    batch, sizes, mask = batch_images([a, b], size_divisibility=8)
    assert batch.shape == (2, 3, 16, 8) and sizes == [(5, 7), (9, 4)]
    assert torch.equal(batch[0, :, :5, :7], a) and batch[0, :, 5:].abs().sum() == 0
    assert torch.equal(batch[1, :, :9, :4], b) and batch[1, :, :, 4:].abs().sum() == 0
    assert mask.shape == (2, 16, 8)
    assert not mask[0, :5, :7].any() and mask[0, 5:].all() and mask[0, :, 7:].all()
    with pytest.raises(OpInputError, match="image 1"):
        batch_images([a, torch.ones(1, 5, 7)])


def test_preprocess_and_inverse_mapping_round_trip():
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (60, 90, 3), dtype=np.uint8),
              rng.integers(0, 256, (100, 40, 3), dtype=np.uint8)]
    batch = preprocess(images, short_edge=32, max_size=70, size_divisibility=16)
    t0, t1 = batch.transforms
    assert t0.resized_size == (32, 48) and t1.resized_size == (70, 28)
    assert batch.images.shape == (2, 3, 80, 48) and t0.padded_size == (80, 48)
    resized = resize_image(images[0], (32, 48)).astype(np.float32)
    expected = (resized - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(batch.images[0, :, :32, :48].permute(1, 2, 0).numpy(), expected,
                               rtol=1e-5, atol=1e-5)
    assert batch.padding_mask[1, :70, :28].logical_not().all() and batch.padding_mask[1, 70:].all()

    # Boxes: original -> resized -> original is the identity; clipping at the image border.
    boxes = torch.tensor([[10.0, 5.0, 80.0, 50.0], [-5.0, 0.0, 100.0, 60.0]])
    back = t0.boxes_to_original(t0.boxes_to_resized(boxes))
    torch.testing.assert_close(back, torch.tensor([[10.0, 5.0, 80.0, 50.0], [0, 0, 90, 60]]))
    # Normalised cxcywh of the resized image -> original pixels.
    norm = torch.tensor([[0.5, 0.5, 1.0, 1.0]])
    torch.testing.assert_close(t0.normalized_to_original(norm), torch.tensor([[0.0, 0, 90, 60]]))

    # Masks: a box-shaped mask on the padded canvas at stride 4 maps back onto the same box.
    canvas = torch.full((1, 20, 12), -10.0)  # 80 x 48 canvas at stride 4
    canvas[0, 2:6, 3:9] = 10.0  # resized-frame pixels 8..24 x 12..36
    m = t0.masks_to_original(canvas, threshold=0.0)
    assert m.shape == (1, 60, 90) and m.dtype == torch.bool
    ys, xs = torch.nonzero(m[0], as_tuple=True)
    # 8..24 in the resized frame (h 32 of 60) -> 15..45; x 12..36 (w 48 of 90) -> 22.5..67.5
    assert abs(ys.min().item() - 15) <= 2 and abs(ys.max().item() + 1 - 45) <= 2
    assert abs(xs.min().item() - 22.5) <= 2 and abs(xs.max().item() + 1 - 67.5) <= 2
    # The resized-frame prompt mask of an original mask.
    orig = torch.zeros(1, 60, 90)
    orig[0, 15:45, 30:60] = 1
    r = t0.masks_to_resized(orig) > 0.5
    ys, xs = torch.nonzero(r[0], as_tuple=True)
    assert (ys.min().item(), ys.max().item() + 1, xs.min().item(), xs.max().item() + 1) == (8, 24, 16, 32)


def test_fixed_size_and_scale():
    image = np.zeros((30, 50, 3), np.uint8)
    batch = preprocess([image], fixed_size=(64, 64), size_divisibility=32)
    (t,) = batch.transforms
    assert t == ImageTransform((30, 50), (64, 64), (64, 64))
    assert t.scale_xy == pytest.approx((64 / 50, 64 / 30))
    with pytest.raises(OpInputError, match="image 0"):
        preprocess([image.astype(np.float32)])
