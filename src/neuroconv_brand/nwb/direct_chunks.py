"""gzip-compressed HDF5 datasets written on every core, readable by any HDF5 reader.

HDF5's deflate filter compresses one chunk at a time in the writing thread. Here, the datasets whose filter
pipeline is exactly deflate (NeuroConv's ``compressors=["gzip"]``) and whose data come from a chunk iterator
(the ``data`` and ``timestamps`` of time series: raw broadband and feature streams) are created by pynwb empty (same chunk shape, same filter, same level), then filled after pynwb's write: the
chunks are compressed with :mod:`zlib` in a thread pool (zlib releases the GIL) and stored as they are with
h5py's direct chunk write. The file holds the standard deflate filter (id 1): h5py, pynwb, MATLAB and DANDI's
tools read it without plugins, and its decompressed data are the same bytes h5py's own write gives.

Typical use (what :func:`~neuroconv_brand.nwb.output_files.write_nwbfile` does)::

    deferred = defer_gzip_datasets(nwbfile, backend_configuration)  # before configure_backend
    ...  # configure_backend(nwbfile, remaining configuration), pynwb writes the file
    with h5py.File(path, "r+") as file:
        fill_deferred_datasets(file, deferred, threads=write_threads())
"""

from __future__ import annotations

import itertools
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from hdmf.data_utils import AbstractDataChunkIterator, DataChunk

from ..interruption import check_interrupted
from .write_threads import write_threads

#: Compressed chunks in flight per thread (bounds memory: each holds at most one chunk and its compressed bytes).
CHUNKS_IN_FLIGHT_PER_THREAD = 2
#: HDF5's identifier of the deflate (gzip) filter.
DEFLATE_FILTER_ID = 1
#: dtype kinds whose chunks are compressed here (strings and objects go through h5py).
_NUMBER_KINDS = frozenset("biufc")


class DeferredChunks(AbstractDataChunkIterator):
    """Stands in for a chunk iterator while pynwb writes: the dataset is created at full size, left empty.

    Parameters
    ----------
    data : AbstractDataChunkIterator
        The iterator whose shape, dtype and chunks the dataset gets; its data are written later
        (:func:`fill_deferred_datasets`).
    """

    def __init__(self, data: AbstractDataChunkIterator):
        self.source = data

    def __iter__(self) -> DeferredChunks:
        return self

    def __next__(self) -> DataChunk:
        raise StopIteration

    def recommended_chunk_shape(self) -> tuple[int, ...] | None:
        """The source's chunk shape."""
        return self.source.recommended_chunk_shape()

    def recommended_data_shape(self) -> tuple[int, ...]:
        """The full shape: the dataset is created at its final size."""
        return tuple(self.source.maxshape)

    @property
    def dtype(self) -> np.dtype:
        """The source's dtype."""
        return self.source.dtype

    @property
    def maxshape(self) -> tuple[int, ...]:
        """The source's full shape."""
        return tuple(self.source.maxshape)


@dataclass(frozen=True)
class DeferredDataset:
    """A dataset pynwb creates empty and :func:`fill_deferred_datasets` fills: where it is, what fills it."""

    location_in_file: str
    source: AbstractDataChunkIterator


def is_gzip_only(compressors: Sequence | None) -> bool:
    """Whether a NeuroConv dataset configuration's filter pipeline is exactly deflate (no shuffle, no checksum)."""
    return compressors is not None and list(compressors) == ["gzip"]


def defer_gzip_datasets(nwbfile, backend_configuration) -> tuple[object, list[DeferredDataset]]:
    """Wrap the gzip-only chunk-iterator datasets of the time series of ``nwbfile`` so pynwb creates them empty.

    Call before NeuroConv's ``configure_backend``, and configure the rest with the returned configuration.

    Parameters
    ----------
    nwbfile : pynwb.NWBFile
        An in-memory file (not one read from disk).
    backend_configuration : HDF5BackendConfiguration
        Its configuration; left unchanged.

    Returns
    -------
    remaining : HDF5BackendConfiguration
        The configuration of every other dataset (a copy), for ``configure_backend``.
    deferred : list of DeferredDataset
        The datasets to fill once the file is written.
    """
    if backend_configuration.backend != "hdf5" or nwbfile.read_io is not None:
        return backend_configuration, []
    from pynwb.base import TimeSeries

    objects = {child.object_id: child for child in nwbfile.all_children()}
    deferred, remaining = [], {}
    for location, configuration in backend_configuration.dataset_configurations.items():
        owner = objects.get(configuration.object_id)
        name = configuration.dataset_name
        # Table columns keep their data outside ``fields`` (and under another path): left to the normal write.
        field = owner.fields.get(name) if isinstance(owner, TimeSeries) else None
        if not (
            is_gzip_only(configuration.compressors)
            and isinstance(field, AbstractDataChunkIterator)
            and field.maxshape is not None
            and all(isinstance(size, (int, np.integer)) for size in field.maxshape)
        ):
            remaining[location] = configuration
            continue
        owner.set_data_io(
            dataset_name=name,
            data_io_class=backend_configuration.data_io_class,
            data_io_kwargs=configuration.get_data_io_kwargs(),
            data_chunk_iterator_class=DeferredChunks,
        )
        deferred.append(DeferredDataset(configuration.location_in_file, field))
    return backend_configuration.model_copy(update={"dataset_configurations": remaining}), deferred


def deflate_level(dataset) -> int | None:
    """The gzip level of an h5py dataset whose filter pipeline is exactly deflate, else None."""
    properties = dataset.id.get_create_plist()
    if properties.get_nfilters() != 1:
        return None
    filter_id, _, values, _ = properties.get_filter(0)
    if filter_id != DEFLATE_FILTER_ID:
        return None
    return int(values[0]) if values else 0


def fill_deferred_datasets(file, deferred: Sequence[DeferredDataset], threads: int | None = None) -> None:
    """Write the data of every deferred dataset into ``file`` (an h5py file open for writing).

    Parameters
    ----------
    file : h5py.File
        The written NWB file.
    deferred : sequence of DeferredDataset
        From :func:`defer_gzip_datasets`.
    threads : int, optional
        Compressing threads; default :func:`write_threads`.
    """
    if not deferred:
        return
    threads = write_threads() if threads is None else threads
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gzip-chunks") as pool:
        try:
            for item in deferred:
                write_chunked(file[item.location_in_file], item.source, pool, threads)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def write_chunked(dataset, source: AbstractDataChunkIterator, pool: ThreadPoolExecutor, threads: int) -> None:
    """Write every block of ``source`` into ``dataset``, compressing whole chunks in ``pool``.

    A block that covers whole chunks (edge chunks included) is cut into chunks, each compressed by zlib at the
    dataset's level and stored as is; any other block, or a dataset whose pipeline is not exactly deflate, is
    written through h5py (after the chunks in flight). At most ``2 * threads`` chunks (copies) are in flight, so
    memory holds one block of ``source`` plus those chunks and their compressed bytes.
    """
    level = deflate_level(dataset) if dataset.dtype.kind in _NUMBER_KINDS else None
    limit = CHUNKS_IN_FLIGHT_PER_THREAD * threads
    in_flight: deque[tuple[tuple[int, ...], Future]] = deque()

    def store_oldest() -> None:
        offset, compressed = in_flight.popleft()
        dataset.id.write_direct_chunk(offset, compressed.result(), filter_mask=0)

    for block in _blocks(source):
        check_interrupted()
        selection = _as_slices(block.selection, dataset.shape)
        if level is None or selection is None or not _covers_whole_chunks(selection, dataset):
            while in_flight:
                store_oldest()
            dataset[block.selection] = block.data
            continue
        data = np.asarray(block.data, dtype=dataset.dtype)
        for offset, piece in _chunks_of(data, selection, dataset.chunks):
            chunk = full_chunk(piece, dataset.chunks)
            in_flight.append((offset, pool.submit(compress_chunk, chunk, level)))
            while len(in_flight) >= limit:
                store_oldest()
    while in_flight:
        store_oldest()


def full_chunk(piece: np.ndarray, chunk_shape: tuple[int, ...]) -> np.ndarray:
    """A C-contiguous copy of ``piece`` at the full chunk shape (HDF5 stores edge chunks whole: zero-padded).

    Always a copy, so a chunk in flight does not keep the buffer it came from in memory.
    """
    full = np.zeros(chunk_shape, dtype=piece.dtype)
    full[tuple(slice(0, size) for size in piece.shape)] = piece
    return full


def compress_chunk(chunk: np.ndarray, level: int) -> bytes:
    """One full chunk as HDF5's deflate filter stores it: zlib (RFC 1950) at ``level``; releases the GIL."""
    return zlib.compress(np.ascontiguousarray(chunk), level)


def _blocks(source: AbstractDataChunkIterator) -> Iterator[DataChunk]:
    """The blocks of ``source``, read as hdmf reads them (``next`` on the iterator itself)."""
    while True:
        try:
            block = next(source)
        except StopIteration:
            return
        if block is not None and block.data is not None:
            yield block


def _as_slices(selection, shape: tuple[int, ...]) -> tuple[slice, ...] | None:
    """``selection`` as one step-1 slice per dimension with explicit bounds, or None if it is not that."""
    if isinstance(selection, slice):
        selection = (selection,)
    if not isinstance(selection, tuple) or len(selection) > len(shape):
        return None
    selection = selection + (slice(None),) * (len(shape) - len(selection))
    slices = []
    for item, size in zip(selection, shape):
        if not isinstance(item, slice):
            return None
        start, stop, step = item.indices(size)
        if step != 1 or stop <= start:
            return None
        slices.append(slice(start, stop))
    return tuple(slices)


def _covers_whole_chunks(selection: tuple[slice, ...], dataset) -> bool:
    """Whether ``selection`` starts on a chunk boundary and ends on one or at the dataset's edge, everywhere."""
    return all(
        part.start % chunk == 0 and (part.stop % chunk == 0 or part.stop == size)
        for part, chunk, size in zip(selection, dataset.chunks, dataset.shape)
    )


def _chunks_of(
    data: np.ndarray, selection: tuple[slice, ...], chunk_shape: tuple[int, ...]
) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
    """The chunk offsets (in the dataset) and views of ``data`` (the block at ``selection``), chunk by chunk."""
    starts = [range(part.start, part.stop, chunk) for part, chunk in zip(selection, chunk_shape)]
    for offset in itertools.product(*starts):
        view = tuple(
            slice(start - part.start, min(start + chunk, part.stop) - part.start)
            for start, part, chunk in zip(offset, selection, chunk_shape)
        )
        yield tuple(int(start) for start in offset), data[view]
