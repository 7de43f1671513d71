"""srgan.core.tensors: uint8 arrays <-> float tensors, pinned against numpy's float64 arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srgan.core.tensors import round_u8, to_tensor, to_u8


def test_to_tensor_is_each_value_over_255_channels_first() -> None:
    img = np.arange(256 * 3, dtype=np.int64).reshape(16, 16, 3).astype(np.uint8)  # every value, RGB distinct
    out = to_tensor(img)
    assert out.dtype == torch.float32 and out.shape == (3, 16, 16)
    expected = (img.astype(np.float64) / 255.0).astype(np.float32).transpose(2, 0, 1)
    np.testing.assert_array_equal(out.numpy(), expected)
    assert out[:, 0, 0].tolist() == pytest.approx([0.0, 1 / 255, 2 / 255])


def _near_ties() -> np.ndarray:
    """float32 values next to (k + 0.5) / 255 for every k: where x * 255 + 0.5 rounded in float32 floors to
    another integer than in float64 (float32 lands some values just below a tie on it)."""
    values = []
    for k in range(255):
        tie = np.float32((k + 0.5) / 255)
        values += [np.nextafter(tie, np.float32(0)), tie, np.nextafter(tie, np.float32(1))]
    return np.array(values, dtype=np.float32)


def test_round_u8_is_floor_of_x_255_plus_half_in_float64_clamped() -> None:
    x = np.concatenate([_near_ties(), np.array([-0.5, -1e-9, 0.0, 1.0, 1.0 + 1e-6, 7.0], dtype=np.float32)])
    expected = np.floor(np.clip(x.astype(np.float64), 0, 1) * 255.0 + 0.5).astype(np.uint8)
    in_float32 = np.floor(np.clip(x, 0, 1) * np.float32(255) + np.float32(0.5))
    assert (in_float32 != expected).sum() > 50  # the cases float64 is there for
    out = round_u8(torch.from_numpy(x))
    assert out.dtype == torch.uint8
    np.testing.assert_array_equal(out.numpy(), expected)
    assert out[-6:].tolist() == [0, 0, 0, 255, 255, 255]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_u8_leaves_the_callers_tensor_as_it_was(dtype: torch.dtype) -> None:
    img = torch.tensor([[-0.25, 0.5], [1.5, 0.2]], dtype=dtype)
    before = img.clone()
    assert round_u8(img).tolist() == [[0, 128], [255, 51]]
    assert torch.equal(img, before)


def test_to_u8_is_height_width_channels_of_the_first_image() -> None:
    batch = torch.rand(2, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    out = to_u8(batch)
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    np.testing.assert_array_equal(out, round_u8(batch[0]).permute(1, 2, 0).numpy())
    np.testing.assert_array_equal(to_u8(batch[1]), round_u8(batch[1]).permute(1, 2, 0).numpy())
    np.testing.assert_array_equal(to_u8(to_tensor(np.full((2, 2, 3), 77, np.uint8))), np.full((2, 2, 3), 77))
