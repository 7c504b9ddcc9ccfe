"""Arrays kept in temporary files while a conversion runs: written once in order, read back by row ranges.

Reads use ``preadv`` into a fresh array, so only the rows asked for are in memory (a memory map would leave
every page it touched counted in the process's resident memory). The objects pickle as their paths, so a
reading worker process can hand them to the parent. Once the parent holds them it unlinks the paths
(:meth:`SpooledArray.detach`): a file then lives exactly as long as something (a pynwb data iterator, a clock
table column) can still read it, and nothing is left behind even if the process is killed.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..graph.stream_specs import KeySpec
from ..interruption import check_interrupted
from .decoding import SyncLabels
from .hole_punch import punch_hole
from .stream_reader import EntryBatch


def rows_into(out: np.ndarray | None, count: int, row_shape: tuple[int, ...], dtype) -> np.ndarray:
    """Where a read of ``count`` rows goes: ``out`` cut to that many rows, or a new array of them."""
    count = max(count, 0)
    if out is None:
        return np.empty((count, *row_shape), dtype=dtype)
    return out if len(out) == count else out[:count]


class SpooledArray:
    """An array of rows of shape ``row_shape`` in a file, appended in order.

    Parameters
    ----------
    path : Path
        The file: created empty, or an existing one holding ``rows`` rows.
    dtype : numpy dtype
        The element type (stored in native byte order).
    row_shape : tuple of int
        The shape of one row (``()`` for a 1-D array).
    rows : int, optional
        The rows an existing file holds; None creates the file.
    """

    def __init__(self, path: Path, dtype, row_shape: tuple[int, ...] = (), rows: int | None = None):
        self.path = Path(path)
        self.dtype = np.dtype(dtype).newbyteorder("=")
        self.row_shape = tuple(row_shape)
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self.rows = rows or 0
        self._open("w+b" if rows is None else "r+b")

    def _open(self, mode: str) -> None:
        # The array owns its file: close() closes it, and so does the array's collection (pynwb iterators may
        # read a detached file after the spool is gone), never the garbage collector's unclosed-file warning.
        self._file = open(self.path, mode, buffering=0)
        self._closer = weakref.finalize(self, self._file.close)

    def append(self, block: np.ndarray) -> None:
        """Append rows (any array whose size is a whole number of rows)."""
        check_interrupted()
        rows = np.ascontiguousarray(block, dtype=self.dtype).reshape(-1, *self.row_shape)
        if not rows.size:
            return
        view = memoryview(rows).cast("B")
        written = 0
        while written < len(view):
            written += self._file.write(view[written:])
        self.rows += len(rows)

    def read_rows(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``[start, stop)`` as a new array of shape ``(stop - start, *row_shape)``, or into ``out``.

        ``out`` (C-contiguous, of this dtype and at least ``stop - start`` rows) is filled from its first row, and
        returned itself if it has exactly that many rows.
        """
        check_interrupted()
        stop = min(stop, self.rows)
        out = rows_into(out, stop - start, self.row_shape, self.dtype)
        if not len(out):
            return out
        view = memoryview(out).cast("B")
        done = 0
        while done < len(view):
            count = os.preadv(self._file.fileno(), [view[done:]], start * self.row_bytes + done)
            if count == 0:
                raise RuntimeError(f"spool file {self.path} is shorter than its {self.rows} rows")
            done += count
        return out

    def read_all(self) -> np.ndarray:
        """Every row."""
        return self.read_rows(0, self.rows)

    def fileno(self) -> int:
        """The open file's descriptor."""
        return self._file.fileno()

    def group_of(self, first: int, stop: int) -> SpooledArray | None:
        """Itself if its rows are exactly channels ``[first, stop)`` (all of them), else None.

        Rows of every channel are a single group (see :meth:`SpooledParts.column_byte_ranges`).
        """
        return self if first == 0 and self.row_shape == (stop - first,) else None

    def release(self, start: int, stop: int) -> bool:
        """Give rows ``[start, stop)`` back to the file system; they read back as zeros afterwards.

        Returns
        -------
        bool
            Whether they were released (False where the file system cannot punch holes: the rows are kept).
        """
        start, stop = max(start, 0), min(stop, self.rows)
        return punch_hole(self._file.fileno(), start * self.row_bytes, (stop - start) * self.row_bytes)

    def detach(self) -> None:
        """Unlink the file's path; the open file stays readable and its space is freed when it is closed."""
        try:
            os.unlink(self.path)
        except OSError:
            pass  # already gone, or a platform that cannot unlink open files: the folder cleanup does it
        self.detached = True

    def close(self) -> None:
        """Close the file (a detached file's space is freed now)."""
        self._closer()

    def __getstate__(self) -> dict:
        if getattr(self, "detached", False):
            raise TypeError(f"spool file {self.path} is detached; only a reading worker's files travel")
        state = self.__dict__.copy()
        del state["_file"], state["_closer"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open("r+b")


class SpooledKey(SpooledArray):
    """One key's decoded rows, ``(entries x samp, chan)``, in native byte order.

    Parameters
    ----------
    path : Path
        The file: created empty, or an existing one holding ``rows`` rows.
    key : KeySpec
        The key whose rows it holds.
    rows : int, optional
        The rows an existing file holds; None creates the file.
    """

    def __init__(self, path: Path, key: KeySpec, rows: int | None = None):
        super().__init__(path, key.numpy_dtype, (key.chan,), rows)
        self.key = key


class SpooledFiles:
    """Several spool files that live and die together (``members``): detached and closed as one."""

    members: list

    def detach(self) -> None:
        """Unlink every member's path (see :meth:`SpooledArray.detach`)."""
        for member in self.members:
            member.detach()

    def close(self) -> None:
        """Close every member's files."""
        for member in self.members:
            member.close()


class SpooledParts(SpooledFiles):
    """Arrays of the same row shape in several files, read as one: rows of the first part, then the next.

    What a stream read in id ranges by several processes leaves (one file per range, see
    :func:`~neuroconv_brand.reading.forked_workers.forked_map`).

    Parameters
    ----------
    parts : list of SpooledArray
        The parts, in order.
    """

    def __init__(self, parts: list[SpooledArray]):
        self.parts = self.members = list(parts)
        self.starts = np.cumsum([0, *(part.rows for part in self.parts)])
        self.rows = int(self.starts[-1])
        self.row_shape = self.parts[0].row_shape
        self.dtype = self.parts[0].dtype

    def read_rows(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``[start, stop)`` from whichever parts hold them, as a new array or into ``out``.

        ``out`` is as in :meth:`SpooledArray.read_rows`.
        """
        start, stop = max(start, 0), min(stop, self.rows)
        out = rows_into(out, stop - start, self.row_shape, self.dtype)
        if stop <= start:
            return out
        for number in range(self._part_of(start), self._part_of(stop - 1) + 1):  # each part's rows in place
            offset = int(self.starts[number])
            begin = max(start, offset)
            self.parts[number].read_rows(begin - offset, stop - offset, out[begin - start :])
        return out

    def _part_of(self, row: int) -> int:
        return int(np.searchsorted(self.starts, row, side="right")) - 1

    def _column_pieces(self, start: int, stop: int, first: int, last: int) -> list | None:
        """``(group file, rows from, rows to)`` holding rows ``[start, stop)`` of channels ``[first, last)``.

        None unless every part holding those rows keeps those channels as one group
        (:class:`~neuroconv_brand.reading.column_groups.SpooledColumnGroups`).
        """
        start, stop = max(start, 0), min(stop, self.rows)
        pieces = []
        for number in range(self._part_of(start), self._part_of(stop - 1) + 1) if stop > start else ():
            group_of = getattr(self.parts[number], "group_of", None)
            group = group_of(first, last) if group_of is not None else None
            if group is None:
                return None
            offset = int(self.starts[number])
            pieces.append(
                (group, max(start, offset) - offset, min(stop, int(self.starts[number + 1])) - offset)
            )
        return pieces

    def column_byte_ranges(
        self, start: int, stop: int, first: int, last: int
    ) -> list[tuple[int, int, int]] | None:
        """Where rows ``[start, stop)`` of channels ``[first, last)`` lie, as ``(fd, offset, bytes)`` in row order.

        None unless those channels are one spooled group in every part holding the rows.
        """
        pieces = self._column_pieces(start, stop, first, last)
        if pieces is None:
            return None
        return [
            (group.fileno(), begin * group.row_bytes, (end - begin) * group.row_bytes)
            for group, begin, end in pieces
        ]

    def read_columns(self, start: int, stop: int, first: int, last: int, out: np.ndarray) -> bool:
        """Read rows ``[start, stop)`` of channels ``[first, last)`` into the first rows of ``out`` (C-contiguous).

        Returns False, reading nothing, unless those channels are one spooled group in every part holding the rows.
        """
        pieces = self._column_pieces(start, stop, first, last)
        if pieces is None:
            return False
        row = 0
        for group, begin, end in pieces:
            group.read_rows(begin, end, out[row : row + end - begin])
            row += end - begin
        return True

    def release(self, start: int, stop: int) -> list[tuple[int, int]]:
        """Give rows ``[start, stop)`` back to the file system, part by part (see :meth:`SpooledArray.release`).

        Returns
        -------
        list of (int, int)
            The row ranges that were released (those of parts whose file system cannot punch holes are kept).
        """
        start, stop = max(start, 0), min(stop, self.rows)
        released = []
        for number in range(self._part_of(start), self._part_of(stop - 1) + 1) if stop > start else ():
            offset = int(self.starts[number])
            begin, end = max(start, offset), min(stop, int(self.starts[number + 1]))
            if end > begin and self.parts[number].release(begin - offset, end - offset):
                released.append((begin, end))
        return released


class KeptRows:
    """Spooled rows that stay in their files once written: a processed stream's, which other readers share.

    The counterpart of :class:`~neuroconv_brand.reading.read_once_rows.ReadOnceRows` for writing a series chunk
    by chunk from its spool (:mod:`~neuroconv_brand.nwb.spooled_chunks`).

    Parameters
    ----------
    spool : SpooledParts
        The rows.
    """

    def __init__(self, spool: SpooledParts):
        self.spool = spool

    def column_byte_ranges(
        self, start: int, stop: int, first: int, last: int
    ) -> list[tuple[int, int, int]] | None:
        """See :meth:`SpooledParts.column_byte_ranges`."""
        return self.spool.column_byte_ranges(start, stop, first, last)

    def read_columns(self, start: int, stop: int, first: int, last: int, out: np.ndarray) -> bool:
        """See :meth:`SpooledParts.read_columns`."""
        return self.spool.read_columns(start, stop, first, last, out)

    def release_rows(self, start: int, stop: int) -> None:
        """Nothing: the rows stay."""


class SpooledTimeline:
    """A stream's timeline (entry ids, ``ts`` stamps, sync labels) in files, appended batch by batch.

    Sync labels that first appear in a later batch are absent (0, not present) in the earlier entries, as
    :func:`~neuroconv_brand.reading.stream_reader.concatenate_batches` makes them.

    Parameters
    ----------
    stream : str
        The stream's name.
    folder : Path
        Where its files go.
    """

    def __init__(self, stream: str, folder: Path):
        self.stream = stream
        self.folder = Path(folder)
        self.length = 0
        self.ids = SpooledArray(self.folder / "ids.bin", np.uint64, (2,))
        self.monotonic: SpooledArray | None = None
        self.has_sync = False
        self.labels: dict[str, tuple[SpooledArray, SpooledArray]] = {}

    def append(self, batch: EntryBatch) -> None:
        """Append a decoded batch's ids, stamps and labels (its data are not kept here)."""
        count = len(batch)
        if self.length == 0:
            self.has_sync = batch.sync is not None
            if batch.monotonic_ns is not None:
                self.monotonic = SpooledArray(self.folder / "monotonic.bin", batch.monotonic_ns.dtype)
        self.ids.append(batch.ids)
        if self.monotonic is not None:
            stamps = (
                batch.monotonic_ns
                if batch.monotonic_ns is not None
                else np.zeros(count, self.monotonic.dtype)
            )
            self.monotonic.append(stamps)
        found = batch.sync.values if batch.sync is not None else {}
        for label in found:
            if label not in self.labels:
                number = len(self.labels)
                values = SpooledArray(self.folder / f"sync{number}.bin", np.int64)
                present = SpooledArray(self.folder / f"present{number}.bin", np.bool_)
                values.append(np.zeros(self.length, np.int64))
                present.append(np.zeros(self.length, bool))
                self.labels[label] = (values, present)
        for label, (values, present) in self.labels.items():
            if label in found:
                values.append(found[label])
                present.append(batch.sync.present[label])
            else:
                values.append(np.zeros(count, np.int64))
                present.append(np.zeros(count, bool))
        self.length += count

    def load(self) -> EntryBatch:
        """The whole timeline, read back into memory."""
        if self.length == 0:
            return EntryBatch(self.stream, np.zeros((0, 2), dtype=np.uint64))
        sync = None
        if self.has_sync:
            sync = SyncLabels(
                {label: values.read_all() for label, (values, _) in self.labels.items()},
                {label: present.read_all() for label, (_, present) in self.labels.items()},
            )
        monotonic = self.monotonic.read_all() if self.monotonic is not None else None
        return EntryBatch(self.stream, self.ids.read_all(), {}, sync, monotonic)

    def files(self) -> list[SpooledArray]:
        """Every file of the timeline."""
        arrays = [self.ids, *([self.monotonic] if self.monotonic is not None else [])]
        return arrays + [array for pair in self.labels.values() for array in pair]


#: ``read(start, stop)``: rows ``[start, stop)`` of a timeline column.
ColumnReader = Callable[[int, int], np.ndarray]


def timeline_readers(timeline: EntryBatch | SpooledTimeline) -> dict[str, ColumnReader]:
    """Slice readers of a timeline's columns: ``ids``, ``monotonic``, ``sync:<label>`` and ``present:<label>``.

    Works the same on a timeline in memory and on one in files (where only the rows asked for are read).
    """
    if isinstance(timeline, SpooledTimeline):
        readers = {"ids": timeline.ids.read_rows}
        if timeline.monotonic is not None:
            readers["monotonic"] = timeline.monotonic.read_rows
        for label, (values, present) in timeline.labels.items():
            readers[f"sync:{label}"], readers[f"present:{label}"] = values.read_rows, present.read_rows
        return readers
    readers = {"ids": _slicer(timeline.ids)}
    if timeline.monotonic_ns is not None:
        readers["monotonic"] = _slicer(timeline.monotonic_ns)
    if timeline.sync is not None:
        for label in timeline.sync.values:
            readers[f"sync:{label}"] = _slicer(timeline.sync.values[label])
            readers[f"present:{label}"] = _slicer(timeline.sync.present[label])
    return readers


def _slicer(array: np.ndarray) -> ColumnReader:
    return lambda start, stop: array[start:stop]
