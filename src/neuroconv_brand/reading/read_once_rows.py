"""Rows served from a spool until they have been read once, then decoded again from the source.

A raw stream's samples are decoded once by the index pass and spooled (see
:mod:`~neuroconv_brand.extractors.recording_index`). Writing the NWB file reads every row once, in order. Keeping
the rows after that read would leave a second copy of the samples in the page cache, which the kernel writes
back to disk together with the NWB file, so a conversion would write every sample twice. A full read (every
column of a row range) therefore releases those rows from the spool (:meth:`SpooledParts.release`); a later
read of released rows gets them from ``reread``, which decodes the entries holding them from the source again.
Reads stay correct in any order; only a repeated read of the same rows costs a second decode.

After a full read, the next rows of the same count are read from the spool in a thread (``preadv`` releases the
GIL) while the caller writes what it got; the next call takes them if it asks for exactly those rows.

The arrays of full reads are filled again once their reader has let go of them: a fresh array of 40 MB is
memory the kernel must map and zero page by page (0.4-0.5 s of CPU per GB written, measured with ``perf``),
while one that was just written to the file is already there. An array is refilled only if nothing but this
object references it (CPython's reference count says so), so rows a caller kept never change.
"""

from __future__ import annotations

import bisect
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .spool_files import SpooledParts

#: Arrays of full reads kept for refilling (the write loop holds two while a third is read ahead) ...
RECYCLED_ARRAYS = 3
#: ... if they are no larger than this: a caller's one big read is never kept alive.
RECYCLED_BYTES = 64 * 2**20
#: References to a kept array when nothing else holds it: the list of kept arrays and ``sys.getrefcount``'s
#: argument (a view of the array, a memoryview or a caller's variable each add one).
_UNHELD = 2


@dataclass
class _ReadAhead:
    """Rows ``[start, stop)`` being read from the spool in ``thread`` (``rows`` holds them once it succeeded)."""

    start: int
    stop: int
    thread: threading.Thread
    rows: list[np.ndarray]


class ReadOnceRows:
    """The rows of a spool, each read from the spool at most once in full.

    Parameters
    ----------
    spool : SpooledParts
        The rows, in files.
    reread : callable
        ``reread(start, stop)`` returns rows ``[start, stop)`` decoded from the source, shaped as the spool's.
    """

    def __init__(self, spool: SpooledParts, reread: Callable[[int, int], np.ndarray]):
        self.spool = spool
        self.reread = reread
        self.rows = spool.rows
        self._released: list[tuple[int, int]] = []  # sorted, disjoint, not touching
        self._ahead: _ReadAhead | None = None
        self._returned: list[np.ndarray] = []  # arrays of full reads, oldest first, refilled once unheld

    @property
    def released_rows(self) -> int:
        """Rows no longer in the spool (served by ``reread``)."""
        return sum(stop - start for start, stop in self._released)

    def read_rows(self, start: int, stop: int, release: bool = False) -> np.ndarray:
        """Rows ``[start, stop)`` as a new array; with ``release``, the rows read from the spool leave it.

        Parameters
        ----------
        start, stop : int
            The row range (clipped to the rows there are).
        release : bool
            Whether this is the rows' last read from the spool (a full read: every column).
        """
        start, stop = max(start, 0), min(stop, self.rows)
        out = self._take_read_ahead(start, stop)
        spooled = [(start, stop)] if out is not None else []
        if out is None:
            out = self._new_rows(max(stop - start, 0))
            for begin, end, was_released in self._pieces(start, stop):
                target = out[begin - start : end - start]
                if was_released:
                    target[...] = self.reread(begin, end)
                else:
                    self.spool.read_rows(begin, end, target)
                    spooled.append((begin, end))
        if release:
            for begin, end in spooled:
                for released in self.spool.release(begin, end):
                    self._mark_released(*released)
            self._start_read_ahead(stop, min(stop + (stop - start), self.rows))
            self._keep_for_refilling(out)
        return out

    def column_byte_ranges(
        self, start: int, stop: int, first: int, last: int
    ) -> list[tuple[int, int, int]] | None:
        """Where rows ``[start, stop)`` of channels ``[first, last)`` lie in the spool files, as ``(fd, offset, bytes)``.

        None if some of those rows already left the spool, or the channels are not one spooled group
        (:meth:`SpooledParts.column_byte_ranges`).
        """
        if not self._all_spooled(start, stop):
            return None
        return self.spool.column_byte_ranges(start, stop, first, last)

    def read_columns(self, start: int, stop: int, first: int, last: int, out: np.ndarray) -> bool:
        """Read rows ``[start, stop)`` of channels ``[first, last)`` into ``out`` from the spool, if they are there.

        Returns False, reading nothing, where :meth:`column_byte_ranges` gives None.
        """
        return self._all_spooled(start, stop) and self.spool.read_columns(start, stop, first, last, out)

    def release_rows(self, start: int, stop: int) -> None:
        """Let rows ``[start, stop)`` leave the spool (they were read for the last time); later reads decode them."""
        ahead = self._ahead
        if ahead is not None and ahead.start < stop and start < ahead.stop:  # it may be reading them: drop it
            ahead.thread.join()
            self._ahead = None
        for released in self.spool.release(max(start, 0), min(stop, self.rows)):
            self._mark_released(*released)

    def _all_spooled(self, start: int, stop: int) -> bool:
        return 0 <= start < stop <= self.rows and list(self._pieces(start, stop)) == [(start, stop, False)]

    def _new_rows(self, count: int) -> np.ndarray:
        """An array for ``count`` rows: a kept one that nothing else references any more, or a new one."""
        shape = (count, *self.spool.row_shape)
        for number in range(len(self._returned)):
            if self._returned[number].shape == shape and sys.getrefcount(self._returned[number]) <= _UNHELD:
                return self._returned.pop(number)
        return np.empty(shape, dtype=self.spool.dtype)

    def _keep_for_refilling(self, rows: np.ndarray) -> None:
        """Keep the array of a full read for a later read of the same size, while rows remain in the spool."""
        if self._ahead is None:  # nothing left to read ahead: the writing is over, free the arrays
            self._returned.clear()
        elif rows.nbytes <= RECYCLED_BYTES and rows.base is None:
            self._returned = [*self._returned, rows][-RECYCLED_ARRAYS:]

    def _start_read_ahead(self, start: int, stop: int) -> None:
        """Read rows ``[start, stop)`` from the spool in a thread, if they are all still there."""
        if stop <= start or list(self._pieces(start, stop)) != [(start, stop, False)]:
            return
        rows: list[np.ndarray] = []
        # Chosen here, not in the thread: only the calling thread touches the kept arrays.
        out = self._new_rows(stop - start)

        def read() -> None:
            try:
                rows.append(self.spool.read_rows(start, stop, out))
            except BaseException:  # an interrupt, or the spool closed: the caller reads the rows itself
                pass

        thread = threading.Thread(target=read, name="spool-read-ahead", daemon=True)
        self._ahead = _ReadAhead(start, stop, thread, rows)
        thread.start()

    def _take_read_ahead(self, start: int, stop: int) -> np.ndarray | None:
        """The rows read ahead if they are exactly ``[start, stop)`` (the thread is waited for either way)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        ahead.thread.join()
        return ahead.rows[0] if (ahead.start, ahead.stop) == (start, stop) and ahead.rows else None

    def _pieces(self, start: int, stop: int) -> Iterator[tuple[int, int, bool]]:
        """``(begin, end, released)`` pieces that tile ``[start, stop)`` in order."""
        position = start
        first = max(bisect.bisect_right(self._released, (start, start)) - 1, 0)
        for begin, end in self._released[first:]:
            if begin >= stop:
                break
            if end <= position:
                continue
            if begin > position:
                yield position, begin, False
            yield max(begin, position), min(end, stop), True
            position = min(end, stop)
        if position < stop:
            yield position, stop, False

    def _mark_released(self, start: int, stop: int) -> None:
        if stop <= start:
            return
        index = bisect.bisect_left(self._released, (start, stop))
        # Merge with the neighbours it touches or overlaps.
        while index > 0 and self._released[index - 1][1] >= start:
            index -= 1
            start, stop = min(start, self._released[index][0]), max(stop, self._released[index][1])
            del self._released[index]
        while index < len(self._released) and self._released[index][0] <= stop:
            stop = max(stop, self._released[index][1])
            del self._released[index]
        self._released.insert(index, (start, stop))
