"""A raw stream's time series written chunk by chunk straight from its spool.

A raw stream's samples are spooled 64 channels per file (:mod:`~neuroconv_brand.reading.column_groups`), the
width of NeuroConv's ElectricalSeries chunks, so the rows of one chunk are one byte range of one spool file (two
where the chunk spans the entry ranges of two reading workers). A processed stream's key is spooled whole rows,
and its chunks span every channel: there too a chunk is one byte range. Once pynwb has created the series'
dataset empty (:mod:`.direct_chunks`), each chunk is written from those ranges:

* Without filters, the dataset's chunks were allocated when pynwb created it (:func:`allocate_when_created`),
  so each chunk has its place in the file, and its rows are copied there with ``copy_file_range``: inside the
  kernel, from the spool's pages to the file's, with no copy through Python and no page faults of ours.
* With deflate or Blosc, each chunk is read from its spool file straight into its buffer on the thread pool and
  encoded there; h5py's direct chunk write stores it. No block of every channel is read and cut into chunks.

A raw chunk row's rows leave the spool once its chunks are written (:meth:`ReadOnceRows.release_rows`); a
processed stream's stay (:class:`~neuroconv_brand.reading.spool_files.KeptRows`). Where the
spool cannot serve a chunk (its rows were read already, its channels are not one spooled group, a recording
that is not the stream's own samples), :func:`write_spooled_chunks` returns False and the dataset is written
from its iterator, as any other.
"""

from __future__ import annotations

import errno
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..interruption import check_interrupted
from ..reading.read_once_rows import ReadOnceRows
from ..reading.spool_files import KeptRows
from .chunk_encoders import ChunkEncoder, chunk_encoder, prepare_chunk
from .chunks_in_order import ChunksInOrder

#: ``copy_file_range`` errors that mean "not between these files": the rows are copied through memory instead.
_NO_KERNEL_COPY = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.EPERM}
)


@dataclass(frozen=True)
class SpooledSeries:
    """The spooled rows a time series' data are: rows ``[first_row, first_row + shape[0])`` of ``rows``."""

    rows: ReadOnceRows | KeptRows
    first_row: int
    shape: tuple[int, int]


def spooled_series(source) -> SpooledSeries | None:
    """The spooled rows a data chunk iterator writes unchanged, or None.

    That is: a processed stream's key read from its spool
    (:meth:`~neuroconv_brand.interfaces.iterators.StreamKeyIterator.spooled_rows`), or a NeuroConv recording
    iterator whose recording is a :class:`~neuroconv_brand.extractors.recording_extractor.BrandRecordingExtractor`
    (its segments know their spooled rows), every channel in order, the samples' own dtype (not scaled).
    """
    spooled_rows = getattr(source, "spooled_rows", None)
    if callable(spooled_rows):
        found = spooled_rows()
        found = None if found is None else (*found, None)
    else:
        found = _recording_rows(source)
    if found is None:
        return None
    rows, first_row, length = found
    shape = tuple(int(size) for size in getattr(source, "maxshape", None) or ())
    if (
        len(shape) != 2
        or shape[1] != rows.spool.row_shape[0]
        or (length is not None and shape[0] != length)
        or first_row + shape[0] > rows.spool.rows
        or np.dtype(source.dtype) != rows.spool.dtype
    ):
        return None
    return SpooledSeries(rows, first_row, shape)


def _recording_rows(source) -> tuple[ReadOnceRows, int, int] | None:
    """A NeuroConv recording iterator's spooled samples: rows, first row, samples of its segment; or None."""
    recording = getattr(source, "recording", None)
    segments = getattr(recording, "_recording_segments", None)
    index = getattr(source, "segment_index", None)
    if not segments or not isinstance(index, int) or not 0 <= index < len(segments):
        return None
    spooled_rows = getattr(segments[index], "spooled_rows", None)
    if spooled_rows is None:
        return None
    if not np.array_equal(np.asarray(source.channel_ids), np.asarray(recording.get_channel_ids())):
        return None
    rows, first_row = spooled_rows()
    return rows, first_row, segments[index].get_num_samples()


def allocate_when_created(data_io) -> None:
    """Have pynwb create the dataset of ``data_io`` (an ``H5DataIO``) with its chunks allocated, left unfilled.

    Every chunk is then written in its place (:func:`write_spooled_chunks`); HDF5 writes no fill values first.
    """
    from h5py import h5d, h5p

    properties = h5p.create(h5p.DATASET_CREATE)
    properties.set_alloc_time(h5d.ALLOC_TIME_EARLY)
    data_io.io_settings["dcpl"] = properties
    data_io.io_settings["fill_time"] = "never"


def write_spooled_chunks(dataset, series: SpooledSeries, pool: ThreadPoolExecutor, threads: int) -> bool:
    """Write every chunk of ``dataset`` (an h5py dataset, created empty) from ``series``'s spool files.

    Returns
    -------
    bool
        False, before writing anything, if the spool does not hold every chunk's rows as one byte range per
        worker's part (the dataset is then written from its iterator). Chunks written before a chunk the spool
        turns out not to hold are written again from the iterator, so a False always leaves a dataset to fill.
    """
    encoder = chunk_encoder(dataset)
    if encoder is None or dataset.ndim != 2 or tuple(dataset.shape) != series.shape:
        return False
    if dataset.dtype != series.rows.spool.dtype or not _every_group_spooled(dataset, series):
        return False
    if encoder.name == "none" and _allocated(dataset):
        return _copy_chunks(dataset, series)
    return _encode_chunks(dataset, series, encoder, pool, threads)


def _chunk_rows(dataset, series: SpooledSeries):
    """``(first row in the dataset, rows, first row in the spool)`` of each chunk row, in order."""
    height = dataset.chunks[0]
    for start in range(0, dataset.shape[0], height):
        count = min(height, dataset.shape[0] - start)
        yield start, count, series.first_row + start


def _column_bounds(dataset) -> list[tuple[int, int]]:
    """The channels ``[first, stop)`` each chunk column holds (the last one may be narrower than a chunk)."""
    width, channels = dataset.chunks[1], dataset.shape[1]
    return [(first, min(first + width, channels)) for first in range(0, channels, width)]


def _every_group_spooled(dataset, series: SpooledSeries) -> bool:
    """Whether each chunk column's channels are one spooled group, over all the series' rows."""
    begin, end = series.first_row, series.first_row + series.shape[0]
    return all(
        series.rows.column_byte_ranges(begin, end, first, stop) is not None
        for first, stop in _column_bounds(dataset)
    )


def _allocated(dataset) -> bool:
    from h5py import h5d

    return dataset.id.get_space_status() == h5d.SPACE_STATUS_ALLOCATED


def _copy_chunks(dataset, series: SpooledSeries) -> bool:
    """Uncompressed chunks, allocated: copy each chunk's rows into its place in the file."""
    width = dataset.chunks[1]
    itemsize = dataset.dtype.itemsize
    chunk_bytes = int(np.prod(dataset.chunks)) * itemsize
    descriptor = os.open(dataset.file.filename, os.O_WRONLY)
    try:
        for start, count, spool_start in _chunk_rows(dataset, series):
            check_interrupted()
            for first, stop in _column_bounds(dataset):
                place = dataset.id.get_chunk_info_by_coord((start, first)).byte_offset
                ranges = series.rows.column_byte_ranges(spool_start, spool_start + count, first, stop)
                if place is None or ranges is None:
                    return False
                if stop - first == width:  # each row of the chunk is a row of the spool file
                    written = _copy_ranges(ranges, descriptor, place)
                else:  # a narrower last column: rows padded to the chunk's width
                    buffer = np.zeros(dataset.chunks, dtype=dataset.dtype)
                    rows = np.empty((count, stop - first), dtype=dataset.dtype)
                    series.rows.read_columns(spool_start, spool_start + count, first, stop, rows)
                    buffer[:count, : stop - first] = rows
                    written = _write_all(descriptor, memoryview(buffer).cast("B"), place)
                if (
                    written < chunk_bytes
                ):  # a last chunk row: HDF5 stores the chunk whole, zeros past the rows
                    _write_all(descriptor, memoryview(bytes(chunk_bytes - written)), place + written)
            series.rows.release_rows(spool_start, spool_start + count)
    finally:
        os.close(descriptor)
    return True


def _copy_ranges(ranges: list[tuple[int, int, int]], descriptor: int, place: int) -> int:
    """Copy the spool's byte ranges, one after the other, to ``place`` in the file; the bytes written."""
    written = 0
    for source, offset, size in ranges:
        done = 0
        while done < size:
            kernel_copy = getattr(os, "copy_file_range", None)  # Linux only
            try:
                count = 0
                if kernel_copy is not None:
                    count = kernel_copy(
                        source, descriptor, size - done, offset + done, place + written + done
                    )
            except OSError as error:
                if error.errno not in _NO_KERNEL_COPY:
                    raise
                count = 0
            if count == 0:  # no kernel copy between these files: through memory
                data = os.pread(source, size - done, offset + done)
                if not data:
                    raise RuntimeError(f"spool file descriptor {source} is shorter than its rows")
                count = _write_all(descriptor, memoryview(data), place + written + done)
            done += count
        written += size
    return written


def _write_all(descriptor: int, data: memoryview, place: int) -> int:
    done = 0
    while done < len(data):
        done += os.pwrite(descriptor, data[done:], place + done)
    return done


def _encode_chunks(
    dataset, series: SpooledSeries, encoder: ChunkEncoder, pool: ThreadPoolExecutor, threads: int
) -> bool:
    """Each chunk read from the spool into a buffer and encoded on ``pool``, stored in order by this thread."""
    chunks = ChunksInOrder(dataset, pool, threads)
    bounds = _column_bounds(dataset)
    for start, count, spool_start in _chunk_rows(dataset, series):
        check_interrupted()
        for first, stop in bounds:
            job = (series.rows, spool_start, count, first, stop, chunks.buffer(), encoder)
            # The chunk row's rows leave the spool once its last chunk is stored.
            release = partial(series.rows.release_rows, spool_start, spool_start + count)
            last = (first, stop) == bounds[-1]
            chunks.submit((start, first), _read_and_encode, *job, once_stored=release if last else None)
    chunks.finish()
    return True


def _read_and_encode(
    rows: ReadOnceRows | KeptRows,
    start: int,
    count: int,
    first: int,
    stop: int,
    buffer: np.ndarray,
    encoder: ChunkEncoder,
) -> tuple[np.ndarray, bytes | np.ndarray, int]:
    """Read a chunk's rows from the spool into ``buffer`` (zero-padded at the edges) and encode it."""
    width = stop - first
    # The full-width rows go straight into the buffer; a narrower last column is padded like any edge chunk.
    target = buffer if width == buffer.shape[1] else np.empty((count, width), dtype=buffer.dtype)
    # From the files themselves: the rows were checked to be spooled, and leave only once this chunk is stored.
    if not rows.spool.read_columns(start, start + count, first, stop, target):
        raise RuntimeError(
            f"spooled rows {start}-{start + count} are not one group of channels {first}-{stop}"
        )
    if target is not buffer:
        return prepare_chunk(target, buffer, encoder)
    buffer[count:] = 0  # HDF5 stores a last chunk row whole
    stored, filter_mask = encoder.stored(buffer)
    return buffer, stored, filter_mask
