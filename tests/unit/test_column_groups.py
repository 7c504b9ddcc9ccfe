"""Samples spooled in groups of channels: rows read back whole, and each group's rows one byte range per part."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from neuroconv_brand.graph.stream_specs import KeySpec
from neuroconv_brand.reading.column_groups import SpooledColumnGroups
from neuroconv_brand.reading.read_once_rows import ReadOnceRows
from neuroconv_brand.reading.spool_files import KeptRows, SpooledArray, SpooledParts

CHANNELS = 10
WIDTH = 4  # groups: channels 0-3, 4-7, 8-9


def key(channels: int = CHANNELS) -> KeySpec:
    return KeySpec(name="samples", dtype="int16", chan=channels, samp=5)


@pytest.fixture
def truth():
    return (np.arange(300 * CHANNELS, dtype=np.int64) * 7 % 30011).astype(np.int16).reshape(300, CHANNELS)


@pytest.fixture
def parts(tmp_path, truth):
    """Rows 0-119 and 120-299 in two parts, appended as ``(entries, samp, chan)`` views of channel-major blocks."""
    made = []
    for number, (start, stop) in enumerate(((0, 120), (120, 300))):
        part = SpooledColumnGroups(tmp_path / f"part{number}", "samples", key(), WIDTH)
        for first in range(start, stop, 30):
            block = truth[first : first + 30].reshape(6, 5, CHANNELS)
            part.append(np.ascontiguousarray(block.transpose(0, 2, 1)).transpose(0, 2, 1))  # a strided view
        made.append(part)
    spool = SpooledParts(made)
    yield spool
    spool.close()


@pytest.fixture(autouse=True)
def folders(tmp_path):
    for number in range(2):
        (tmp_path / f"part{number}").mkdir()


def test_each_group_is_a_file_of_its_channels_row_after_row(parts, truth):
    first = parts.parts[0]
    assert first.bounds == [(0, 4), (4, 8), (8, 10)]
    assert [path.name for path in first.paths] == ["samples.c0.bin", "samples.c4.bin", "samples.c8.bin"]
    for (begin, end), path in zip(first.bounds, first.paths):
        stored = np.frombuffer(path.read_bytes(), np.int16).reshape(-1, end - begin)
        np.testing.assert_array_equal(stored, truth[:120, begin:end])


def test_rows_read_back_whole_across_parts(parts, truth):
    assert parts.rows == 300 and parts.row_shape == (CHANNELS,)
    np.testing.assert_array_equal(parts.read_rows(0, 300), truth)
    np.testing.assert_array_equal(parts.read_rows(100, 250), truth[100:250])
    out = np.empty((60, CHANNELS), np.int16)
    assert parts.read_rows(110, 170, out) is out
    np.testing.assert_array_equal(out, truth[110:170])


def test_a_group_s_rows_are_one_byte_range_per_part(parts, truth):
    ranges = parts.column_byte_ranges(100, 200, 4, 8)
    assert [(offset, size) for _, offset, size in ranges] == [(100 * 8, 20 * 8), (0, 80 * 8)]
    data = b"".join(os.pread(descriptor, size, offset) for descriptor, offset, size in ranges)
    np.testing.assert_array_equal(np.frombuffer(data, np.int16).reshape(100, 4), truth[100:200, 4:8])
    out = np.empty((100, 2), np.int16)
    assert parts.read_columns(100, 200, 8, 10, out)
    np.testing.assert_array_equal(out, truth[100:200, 8:10])


def test_channels_that_are_not_one_group_have_no_byte_ranges(parts):
    assert parts.column_byte_ranges(0, 10, 0, 8) is None  # two groups
    assert parts.column_byte_ranges(0, 10, 2, 6) is None  # parts of two groups
    assert not parts.read_columns(0, 10, 0, 8, np.empty((10, 8), np.int16))


def test_rows_kept_whole_are_one_group_of_every_channel(tmp_path, truth):
    whole = SpooledArray(tmp_path / "whole.bin", np.int16, (CHANNELS,))
    whole.append(truth)
    kept = KeptRows(SpooledParts([whole]))
    assert kept.column_byte_ranges(10, 30, 0, 4) is None
    ((descriptor, offset, size),) = kept.column_byte_ranges(10, 30, 0, CHANNELS)
    assert (offset, size) == (10 * CHANNELS * 2, 20 * CHANNELS * 2)
    np.testing.assert_array_equal(
        np.frombuffer(os.pread(descriptor, size, offset), np.int16).reshape(20, CHANNELS), truth[10:30]
    )
    out = np.empty((20, CHANNELS), np.int16)
    assert kept.read_columns(10, 30, 0, CHANNELS, out) and not kept.read_columns(10, 30, 0, 4, out[:, :4])
    np.testing.assert_array_equal(out, truth[10:30])
    kept.release_rows(0, 300)  # kept: a processed stream's rows stay for its other readers
    np.testing.assert_array_equal(whole.read_all(), truth)
    whole.close()


def test_released_rows_have_no_byte_ranges_and_read_back_decoded(parts, truth):
    once = ReadOnceRows(parts, lambda start, stop: truth[start:stop].copy())
    assert once.column_byte_ranges(0, 300, 0, 4) is not None
    once.release_rows(100, 160)
    assert once.released_rows == 60
    assert once.column_byte_ranges(90, 110, 0, 4) is None
    assert once.column_byte_ranges(160, 300, 0, 4) is not None
    assert not once.read_columns(150, 170, 0, 4, np.empty((20, 4), np.int16))
    out = np.empty((40, 4), np.int16)
    assert once.read_columns(160, 200, 0, 4, out)
    np.testing.assert_array_equal(out, truth[160:200, 0:4])
    np.testing.assert_array_equal(once.read_rows(80, 180), truth[80:180])
    for group in parts.parts[0].groups:  # the released rows are gone from the files
        assert not os.pread(group.fileno(), 20 * group.row_bytes, 100 * group.row_bytes).strip(b"\0")


def test_releasing_rows_waits_for_a_read_ahead_of_them_and_drops_it(parts, truth):
    once = ReadOnceRows(parts, lambda start, stop: truth[start:stop].copy())
    once.read_rows(0, 100, release=True)  # reads 100-199 ahead
    assert once._ahead is not None and (once._ahead.start, once._ahead.stop) == (100, 200)
    once.release_rows(150, 200)
    assert once._ahead is None
    np.testing.assert_array_equal(once.read_rows(100, 200, release=True), truth[100:200])


def test_parts_travel_to_a_worker_s_parent_as_their_paths(parts, truth):
    copy = pickle.loads(pickle.dumps(parts.parts[1]))
    try:
        np.testing.assert_array_equal(copy.read_rows(0, 180), truth[120:300])
        assert copy.paths == parts.parts[1].paths
    finally:
        copy.close()


def test_a_key_narrower_than_a_group_is_one_file_of_whole_rows(tmp_path, truth):
    spooled = SpooledColumnGroups(tmp_path, "narrow", key(3), WIDTH)
    spooled.append(truth[:50, :3])
    assert spooled.bounds == [(0, 3)] and spooled.group_of(0, 3) is spooled.groups[0]
    np.testing.assert_array_equal(spooled.read_rows(10, 20), truth[10:20, :3])
    spooled.unlink()
    assert not any(tmp_path.glob("narrow*"))


def test_a_group_width_below_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="width must be at least 1"):
        SpooledColumnGroups(tmp_path, "samples", key(), 0)
