"""Finding crossings: the word-at-a-time scan gives exactly ``np.nonzero``'s positions, in the same order."""

from __future__ import annotations

import numpy as np
import pytest

from neuroconv_brand.mechanisms.crossings import find_crossings, nonzero_positions


@pytest.mark.parametrize(
    "dtype", [np.int16, np.int8, np.uint8, np.bool_, np.int32, np.float32, np.float64, np.int64]
)
@pytest.mark.parametrize("size", [0, 1, 3, 7, 8, 9, 1000, 1003])
def test_positions_equal_flatnonzero(dtype, size):
    rng = np.random.default_rng(size)
    values = ((rng.random(size) < 0.05) * rng.integers(1, 5, size)).astype(dtype)
    assert np.array_equal(nonzero_positions(values), np.flatnonzero(values))


def test_negative_zero_is_zero_and_nan_is_not():
    # -0.0 has a sign bit set, so its word is looked into; np.nonzero counts it as zero.
    values = np.array([0.0, -0.0, 1.5, 0.0, -0.0, 0.0, 0.0, 0.0, np.nan, -0.0], dtype=np.float32)
    assert nonzero_positions(values).tolist() == [2, 8]


def test_values_not_in_words_fall_back():
    values = np.array([0, 1j, 0, 2], dtype=np.complex128)  # 16-byte items do not fit a word
    assert nonzero_positions(values).tolist() == [1, 3]


def test_dense_and_empty_blocks():
    assert nonzero_positions(np.ones(17, np.int16)).tolist() == list(range(17))
    assert nonzero_positions(np.zeros(17, np.int16)).tolist() == []


def test_non_contiguous_input():
    values = np.zeros((6, 10), np.int16)
    values[2, 4] = values[5, 1] = 3
    view = values[:, ::2]  # columns 0, 2, 4, 6, 8
    assert np.array_equal(nonzero_positions(view), np.flatnonzero(view))


@pytest.mark.parametrize("shape", [(2400, 30, 96), (5000, 1, 256), (3, 2, 5)])
def test_crossings_equal_nonzero_of_the_block(shape):
    rng = np.random.default_rng(shape[0])
    block = (rng.random(shape) < 0.02).astype(np.int16) * rng.integers(1, 3, shape, dtype=np.int16)
    entries, samples, channels = find_crossings(block)
    expected = np.nonzero(block)
    assert len(entries) > 0
    for found, want in zip((entries, samples, channels), expected):
        assert found.dtype == np.int64
        assert np.array_equal(found, want)


def test_known_crossings():
    block = np.zeros((4, 3, 5), np.int16)
    block[1, 2, 4] = 1
    block[3, 0, 0] = -1
    block[3, 0, 1] = 7
    entries, samples, channels = find_crossings(block)
    assert entries.tolist() == [1, 3, 3]
    assert samples.tolist() == [2, 0, 0]
    assert channels.tolist() == [4, 0, 1]
