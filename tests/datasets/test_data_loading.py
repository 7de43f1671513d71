"""Tests for srgan.datasets.prepared.load_train_set, the parallel decode-once loader behind the patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from srgan.core.errors import SrganError
from srgan.core.images import read_image
from srgan.datasets.prepared import load_train_set, write_prepared_set


def _small_set(set_dir: Path, count: int) -> list[str]:
    """A prepared set of `count` small images of different sizes, some grayscale."""
    rng = np.random.default_rng(0)
    images = []
    for i in range(count):
        hr_u8 = rng.integers(0, 256, (16 + 4 * (i % 5), 24 + 4 * (i % 3), 3), dtype=np.uint8)
        gray = i % 4 == 1
        if gray:
            hr_u8[:, :, 1] = hr_u8[:, :, 2] = hr_u8[:, :, 0]
        images.append((f"img{count - i:03d}", hr_u8, gray, None))  # names not sorted, to catch re-ordering
    write_prepared_set(set_dir, images, scale=4, source="test")
    return [name for name, *_ in images]


@pytest.mark.parametrize("count", [3, 24])  # 24 also runs with the progress bar on
def test_load_train_set_matches_sequential_read(tmp_path: Path, count: int) -> None:
    names = _small_set(tmp_path / "train", count)
    loaded = load_train_set(tmp_path / "train", 4)
    assert [image.name for image in loaded] == names
    for image in loaded:
        for folder, img_u8 in (("HR", image.hr_u8), ("LR", image.lr_u8)):
            expected, _ = read_image(tmp_path / "train" / folder / f"{image.name}.png")
            assert img_u8.dtype == np.uint8 and img_u8.shape == expected.shape
            np.testing.assert_array_equal(img_u8, expected)


def test_load_train_set_corrupt_file_names_it(tmp_path: Path) -> None:
    names = _small_set(tmp_path / "train", 5)
    for name in (names[1], names[3]):
        path = tmp_path / "train" / "HR" / f"{name}.png"
        path.write_bytes(path.read_bytes()[:40])  # truncated
    # The first bad file in manifest order is reported, whichever thread failed first.
    with pytest.raises(SrganError, match=f"{names[1]}.png") as info:
        load_train_set(tmp_path / "train", 4)
    assert names[3] not in str(info.value)
