"""Rows read from a spool once, then decoded again: any read order gives the right rows."""

from __future__ import annotations

import os
import threading
import weakref

import numpy as np
import pytest

from neuroconv_brand.reading import read_once_rows
from neuroconv_brand.reading.hole_punch import punch_hole
from neuroconv_brand.reading.read_once_rows import ReadOnceRows
from neuroconv_brand.reading.spool_files import SpooledArray, SpooledParts

CHANNELS = 3


@pytest.fixture
def truth():
    return np.arange(1000 * CHANNELS, dtype=np.int16).reshape(1000, CHANNELS)


@pytest.fixture
def rows(tmp_path, truth):
    """Two spool files (rows 0-399 and 400-999) and a reread that counts the rows it decodes."""
    parts = []
    for number, (start, stop) in enumerate(((0, 400), (400, 1000))):
        part = SpooledArray(tmp_path / f"part{number}.bin", np.int16, (CHANNELS,))
        part.append(truth[start:stop])
        parts.append(part)
    reread_calls = []

    def reread(start: int, stop: int) -> np.ndarray:
        reread_calls.append((start, stop))
        return truth[start:stop].copy()

    once = ReadOnceRows(SpooledParts(parts), reread)
    once.reread_calls = reread_calls
    yield once
    once.spool.close()


def test_punch_hole_zeroes_the_range_and_keeps_the_size(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"\x01" * 20000)
    with open(path, "r+b") as file:
        assert punch_hole(file.fileno(), 4096, 8192)
        assert punch_hole(file.fileno(), 0, 0)
    data = path.read_bytes()
    assert len(data) == 20000
    assert (
        data[:4096] == b"\x01" * 4096 and data[4096:12288] == bytes(8192) and data[12288:] == b"\x01" * 7712
    )
    assert os.stat(path).st_blocks * 512 < 20000  # the pages are gone, not just zeroed


def test_a_full_read_releases_the_rows_and_a_second_read_decodes_them(rows, truth):
    np.testing.assert_array_equal(rows.read_rows(100, 700, release=True), truth[100:700])
    assert rows.released_rows == 600 and rows.reread_calls == []
    # The spool no longer holds them (the file's bytes there are zeros) ...
    assert not rows.spool.read_rows(100, 700).any()
    # ... but reads give the right rows: spooled ones from the files, released ones decoded again.
    np.testing.assert_array_equal(rows.read_rows(0, 1000), truth)
    assert rows.reread_calls == [(100, 700)]


def test_reads_without_release_keep_the_rows(rows, truth):
    for _ in range(2):
        np.testing.assert_array_equal(rows.read_rows(350, 450), truth[350:450])
    assert rows.released_rows == 0 and rows.reread_calls == []


def test_released_ranges_merge_and_tile_any_read(rows, truth):
    for start, stop in ((500, 600), (100, 200), (200, 300), (590, 650), (0, 50)):
        np.testing.assert_array_equal(rows.read_rows(start, stop, release=True), truth[start:stop])
    assert rows._released == [(0, 50), (100, 300), (500, 650)]
    rows.reread_calls.clear()
    np.testing.assert_array_equal(rows.read_rows(20, 620, release=True), truth[20:620])
    assert rows.reread_calls == [(20, 50), (100, 300), (500, 620)]
    assert rows._released == [(0, 650)]
    np.testing.assert_array_equal(rows.read_rows(-5, 5000), truth)  # clipped to the rows there are
    assert rows.read_rows(700, 700).shape == (0, CHANNELS)


def test_after_a_full_read_the_next_rows_are_read_ahead(rows, truth, monkeypatch):
    reads = []
    spool_read = rows.spool.read_rows

    def counting(start, stop, out=None):
        reads.append((start, stop, threading.current_thread().name))
        return spool_read(start, stop, out)

    monkeypatch.setattr(rows.spool, "read_rows", counting)
    for start in range(0, 1000, 300):  # what writing a file does: consecutive full reads
        np.testing.assert_array_equal(
            rows.read_rows(start, start + 300, release=True), truth[start : start + 300]
        )
    assert [(start, stop) for start, stop, _ in reads] == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert [name for *_, name in reads] == ["MainThread"] + ["spool-read-ahead"] * 3
    assert rows.released_rows == 1000 and rows._ahead is None  # nothing read ahead beyond the last row


def test_rows_read_ahead_but_not_asked_for_are_dropped(rows, truth):
    np.testing.assert_array_equal(rows.read_rows(0, 100, release=True), truth[:100])
    assert (rows._ahead.start, rows._ahead.stop) == (100, 200)
    np.testing.assert_array_equal(rows.read_rows(150, 180), truth[150:180])  # another range: read as usual
    assert rows._ahead is None and rows.released_rows == 100
    rows.read_rows(100, 200, release=True)
    np.testing.assert_array_equal(rows.read_rows(250, 350, release=True), truth[250:350])
    assert (rows._ahead.start, rows._ahead.stop) == (350, 450)
    rows.read_rows(300, 600, release=False)  # rows 300-349 were released: decoded again
    assert rows.reread_calls == [(300, 350)]
    assert "spool-read-ahead" not in [thread.name for thread in threading.enumerate()]  # each was waited for


def test_arrays_the_caller_let_go_of_are_filled_again(rows, truth):
    # What writing a file does: consecutive full reads, each array dropped once written.
    returned, refilled = [], 0
    for start in range(0, 900, 100):
        got = rows.read_rows(start, start + 100, release=True)
        np.testing.assert_array_equal(got, truth[start : start + 100])
        refilled += any(earlier() is got for earlier in returned)
        returned.append(weakref.ref(got))
        del got
    # Only the first read and the first read-ahead take new memory; every later array is one returned before.
    assert refilled == 7


def test_arrays_the_caller_still_holds_never_change(rows, truth):
    kept = [rows.read_rows(0, 100, release=True)]
    view = rows.read_rows(100, 200, release=True)[10:20]  # only a view of the second array is kept
    memory = memoryview(rows.read_rows(200, 300, release=True))  # and a buffer of the third
    for start in range(300, 1000, 100):
        np.testing.assert_array_equal(
            rows.read_rows(start, start + 100, release=True), truth[start : start + 100]
        )
    np.testing.assert_array_equal(kept[0], truth[:100])
    np.testing.assert_array_equal(view, truth[110:120])
    np.testing.assert_array_equal(np.asarray(memory), truth[200:300])


def test_no_array_is_kept_once_the_spool_is_read(rows, truth):
    arrays = []
    for start in range(0, 1000, 100):
        got = rows.read_rows(start, start + 100, release=True)
        arrays.append(weakref.ref(got))
        del got
    assert all(array() is None for array in arrays)  # nothing left alive by the reader after the last rows


def test_large_reads_are_not_kept(rows, truth, monkeypatch):
    monkeypatch.setattr(read_once_rows, "RECYCLED_BYTES", 100 * CHANNELS * 2 - 1)  # below one 100-row array
    first = rows.read_rows(0, 100, release=True)
    first_alive = weakref.ref(first)
    del first
    assert first_alive() is None  # a caller's big read is freed as soon as the caller drops it
    np.testing.assert_array_equal(rows.read_rows(100, 200, release=True), truth[100:200])
