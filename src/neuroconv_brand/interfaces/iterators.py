"""A lazy chunk iterator over one key of one stream, for pynwb/NeuroConv's backend configuration.

Chunks and buffers always span every channel: an entry holds all channels, so a buffer that split channels
would re-read every entry. A buffer is filled by reading only the entries it covers.
"""

from __future__ import annotations

import numpy as np
from neuroconv.tools.hdmf import GenericDataChunkIterator

from ..graph.stream_specs import StreamSpec
from ..interruption import check_interrupted
from ..reading.decoding import OnBadEntry
from ..reading.spool_files import KeptRows, SpooledArray, SpooledKey, SpooledParts
from ..reading.stream_reader import StreamReader
from ..sources.base import StreamSource
from ..sources.entry_ids import EntryId

DEFAULT_CHUNK_MB = 10.0
DEFAULT_BUFFER_GB = 0.02


def full_width_shapes(
    num_rows: int, num_channels: int, itemsize: int, chunk_mb: float, buffer_gb: float
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Chunk and buffer shapes that span all channels; the buffer is a whole number of chunks."""
    row_bytes = max(num_channels * itemsize, 1)
    chunk_rows = int(max(1, min(num_rows, chunk_mb * 1e6 // row_bytes)))
    chunks_per_buffer = int(max(1, buffer_gb * 1e9 // (chunk_rows * row_bytes)))
    buffer_rows = int(min(max(num_rows, 1), chunk_rows * chunks_per_buffer))
    return (max(chunk_rows, 1), num_channels), (max(buffer_rows, 1), num_channels)


class StreamKeyIterator(GenericDataChunkIterator):
    """The ``(time, channels)`` data of one stream key, read from the source buffer by buffer.

    Parameters
    ----------
    source : StreamSource
        Where the stream lives.
    spec : StreamSpec
        The stream's definition.
    key : str
        The field to read.
    entry_ids : np.ndarray or None
        ``(n, 2)`` ids of the entries to write, in order (from the stream's timeline pass); None when the rows
        come from ``spooled``.
    on_bad_entry : {"raise", "skip"}
        Must match what produced ``entry_ids``.
    spooled : SpooledKey, optional
        The key's rows from the stream's pass (read from there instead of the source); its rows must line up
        with ``entry_ids``.
    num_entries : int, optional
        Entries to write (the first ones); default ``len(entry_ids)``, else all of ``spooled``'s.
    chunk_mb, buffer_gb : float
        Target chunk and buffer sizes (both full channel width).
    display_progress : bool
        Show a progress bar while writing.
    """

    def __init__(
        self,
        source: StreamSource,
        spec: StreamSpec,
        key: str,
        entry_ids: np.ndarray | None,
        on_bad_entry: OnBadEntry = "raise",
        chunk_mb: float = DEFAULT_CHUNK_MB,
        buffer_gb: float = DEFAULT_BUFFER_GB,
        display_progress: bool = False,
        progress_bar_options: dict | None = None,
        spooled: SpooledKey | None = None,
        num_entries: int | None = None,
    ):
        if entry_ids is None and spooled is None:
            raise ValueError("StreamKeyIterator needs entry_ids or spooled rows")
        self._key = spec.keys[key]
        self._entry_ids = entry_ids
        self._spooled = spooled
        if num_entries is None:
            num_entries = len(entry_ids) if entry_ids is not None else spooled.rows // self._key.samp
        self._num_entries = num_entries
        self._reader = StreamReader(
            source, spec, keys=[key], on_bad_entry=on_bad_entry, with_sync=False, with_monotonic=False
        )
        samp, chan = self._key.samp, self._key.chan
        rows = num_entries * samp
        chunk_shape, buffer_shape = full_width_shapes(
            rows, chan, self._key.numpy_dtype.itemsize, chunk_mb, buffer_gb
        )
        super().__init__(
            chunk_shape=chunk_shape,
            buffer_shape=buffer_shape,
            display_progress=display_progress,
            progress_bar_options=progress_bar_options or {"desc": f"{spec.name}.{key}"},
        )

    def spooled_rows(self) -> tuple[KeptRows, int] | None:
        """The spooled rows this iterator's data are (from row 0), or None when it reads the source.

        What writing an HDF5 file reads chunk by chunk (:mod:`~neuroconv_brand.nwb.spooled_chunks`).
        """
        return None if self._spooled is None else (KeptRows(SpooledParts([self._spooled])), 0)

    def _get_dtype(self) -> np.dtype:
        return self._key.numpy_dtype.newbyteorder("=")

    def _get_maxshape(self) -> tuple[int, int]:
        return (self._num_entries * self._key.samp, self._key.chan)

    def _get_data(self, selection: tuple[slice, ...]) -> np.ndarray:
        rows, channels = selection
        if self._spooled is not None:
            return self._spooled.read_rows(rows.start or 0, rows.stop)[:, channels]
        samp = self._key.samp
        first_row, stop_row = rows.start or 0, rows.stop
        first_entry, stop_entry = first_row // samp, -(-stop_row // samp)
        start_id = EntryId(*map(int, self._entry_ids[first_entry]))
        end_id = EntryId(*map(int, self._entry_ids[stop_entry - 1]))
        out = np.empty(((stop_entry - first_entry) * samp, self._key.chan), dtype=self._get_dtype())
        filled = 0
        for batch in self._reader.iter_batches(start_id, end_id):
            block = batch.data[self._key.name].reshape(-1, self._key.chan)
            out[filled : filled + len(block)] = block
            filled += len(block)
        if filled != len(out):
            raise RuntimeError(
                f"stream '{self._reader.spec.name}' changed while reading: expected {len(out)} rows between "
                f"{start_id} and {end_id}, read {filled}. Convert from a stopped session or a .rdb file."
            )
        offset = first_entry * samp
        return out[first_row - offset : stop_row - offset, channels]


class ComputedColumnIterator(GenericDataChunkIterator):
    """A 1-D column (e.g. of a clock table) computed buffer by buffer instead of held in memory.

    Iterating it with ``iter()`` gives a fresh iterator over the same values, and leaves this one untouched:
    NeuroConv's dataset configuration iterates every table column to look for linked containers, which would
    otherwise exhaust the iterator before pynwb writes it (the file would get no data). hdmf writes by calling
    ``next()`` on the iterator itself.

    Parameters
    ----------
    length : int
        Number of values.
    dtype : numpy dtype
        Their type.
    compute : callable
        ``compute(start, stop)`` returns values ``[start, stop)`` as a 1-D array.
    chunk_mb : float
        Chunk size in MB (a buffer is two chunks).
    """

    def __init__(self, length: int, dtype, compute, chunk_mb: float = DEFAULT_CHUNK_MB):
        self._length, self._dtype, self._compute, self._chunk_mb = length, np.dtype(dtype), compute, chunk_mb
        chunk_rows = int(max(1, min(length, chunk_mb * 1e6 // self._dtype.itemsize)))
        buffer_rows = int(max(1, min(length, 2 * chunk_rows)))
        super().__init__(chunk_shape=(chunk_rows,), buffer_shape=(buffer_rows,), display_progress=False)

    def __iter__(self) -> ComputedColumnIterator:
        return ComputedColumnIterator(self._length, self._dtype, self._compute, self._chunk_mb)

    def _get_dtype(self) -> np.dtype:
        return self._dtype

    def _get_maxshape(self) -> tuple[int]:
        return (self._length,)

    def _get_data(self, selection: tuple[slice, ...]) -> np.ndarray:
        check_interrupted()
        (rows,) = selection
        return np.asarray(self._compute(rows.start or 0, rows.stop), dtype=self._dtype)


class IndexableColumnIterator(ComputedColumnIterator):
    """A computed column that can also be read like an array: ``len()``, an index, a slice.

    For table columns that must stay usable in memory before the file is written (``units["spike_times"][3]``,
    ``len(table)``), while pynwb and NeuroConv still get an iterator and never the whole column.
    """

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, item):
        if isinstance(item, slice) and item.step in (None, 1):
            start, stop, _ = item.indices(self._length)
            return self._get_data((slice(start, max(start, stop)),))
        if isinstance(item, (int, np.integer)):
            index = int(item) + self._length if item < 0 else int(item)
            if not 0 <= index < self._length:
                raise IndexError(f"index {item} is out of range for a column of {self._length} values")
            return self._get_data((slice(index, index + 1),))[0]
        return self._get_data((slice(0, self._length),))[item]


def row_ids(length: int) -> IndexableColumnIterator:
    """A table's ``id`` column ``0 .. length - 1``, computed as written instead of held in memory."""
    return IndexableColumnIterator(length, np.int64, _arange)


def _arange(start: int, stop: int) -> np.ndarray:
    return np.arange(start, stop, dtype=np.int64)


class SpooledColumnIterator(IndexableColumnIterator):
    """A large table column (e.g. the units' spike times) kept in a spool file until it is written.

    NeuroConv's dataset configuration checks every value of an in-memory array column in Python, twice per
    write; as an iterator the column is read buffer by buffer, and memory does not hold it.

    Parameters
    ----------
    spooled : SpooledArray
        The file holding the column's values (1-D).
    chunk_mb : float
        Chunk size in MB (a buffer is two chunks).
    """

    def __init__(self, spooled: SpooledArray, chunk_mb: float = DEFAULT_CHUNK_MB):
        self.spooled = spooled
        super().__init__(spooled.rows, spooled.dtype, spooled.read_rows, chunk_mb)
