"""Time-series datasets written with direct chunk writes, each chunk prepared on a thread pool.

h5py writes a block of a chunked dataset in the calling thread: HDF5 gathers every chunk out of the block (a
strided copy when a chunk spans some of the block's columns) and runs the filter pipeline on it, one chunk at a
time. Here, the datasets whose data come from a chunk iterator (the ``data`` and ``timestamps`` of time series:
raw broadband and feature streams) and whose pipeline is deflate alone, Blosc alone or no filter
(:data:`DIRECT_PIPELINES`) are created by pynwb empty (same chunk shape, same filters), then filled after
pynwb's write. A thread pool gathers each chunk of a block into a chunk-sized buffer (zero-padded at the edges,
as HDF5 stores edge chunks) and encodes it (numpy copies, zlib and Blosc release the GIL); the calling
thread only stores finished chunks in order with h5py's direct chunk write, a bounded number in flight. The
file holds the same filters (deflate is filter 1, which any HDF5 reader opens without plugins) and its data
read back as the bytes h5py's own write gives. A series whose data are spooled rows (a raw stream's samples, a
processed stream's key) is written chunk by chunk from its spool files instead, without blocks
(:mod:`.spooled_chunks`); its uncompressed chunks are then copied into place by the kernel.

Typical use (what :func:`~neuroconv_brand.nwb.output_files.write_nwbfile` does)::

    remaining, deferred = defer_chunked_datasets(nwbfile, backend_configuration)  # before configure_backend
    ...  # configure_backend(nwbfile, remaining), pynwb writes the file
    with h5py.File(path, "r+") as file:
        fill_deferred_datasets(file, deferred, threads=write_threads())
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from hdmf.data_utils import AbstractDataChunkIterator, DataChunk

from ..interruption import check_interrupted
from .chunk_encoders import chunk_encoder, prepare_chunk
from .chunks_in_order import ChunksInOrder
from .spooled_chunks import allocate_when_created, spooled_series, write_spooled_chunks
from .write_threads import write_threads

#: The NeuroConv filter pipelines (``compressors``) whose datasets are written here: gzip alone, Blosc alone, and
#: no filter (``None``, chunks stored as they are). Without filters, from blocks, only the gathering of each chunk
#: moves to the pool: on a 1-minute raw session on 2 cores that took 0.1 s off writing the file in 12 of 12
#: alternating pairs (1.21 against 1.28 s, median), for 32 MB more memory (chunks in flight). From spooled rows
#: the chunks are copied into place (:mod:`.spooled_chunks`): 0.47 s.
DIRECT_PIPELINES = (("gzip",), ("Blosc",), None)


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


def is_written_directly(compressors: Sequence | None) -> bool:
    """Whether a NeuroConv dataset configuration's pipeline is one written here (:data:`DIRECT_PIPELINES`).

    ``compressors`` as NeuroConv holds them: None or an empty list (no filter), ``["gzip"]`` (deflate alone, no
    shuffle or checksum), ``["Blosc"]`` or an ``hdf5plugin.Blosc`` instance (Blosc alone).
    """
    names = tuple(item if isinstance(item, str) else type(item).__name__ for item in compressors or ())
    return (names or None) in DIRECT_PIPELINES


def defer_chunked_datasets(nwbfile, backend_configuration) -> tuple[object, list[DeferredDataset]]:
    """Wrap the chunk-iterator datasets of the time series of ``nwbfile`` written here so pynwb creates them empty.

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
            is_written_directly(configuration.compressors)
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
        if not configuration.compressors and spooled_series(field) is not None:
            allocate_when_created(owner.fields[name])  # its chunks are copied into place from the spool
        deferred.append(DeferredDataset(configuration.location_in_file, field))
    return backend_configuration.model_copy(update={"dataset_configurations": remaining}), deferred


def fill_deferred_datasets(file, deferred: Sequence[DeferredDataset], threads: int | None = None) -> None:
    """Write the data of every deferred dataset into ``file`` (an h5py file open for writing).

    Parameters
    ----------
    file : h5py.File
        The written NWB file.
    deferred : sequence of DeferredDataset
        From :func:`defer_chunked_datasets`.
    threads : int, optional
        Threads preparing chunks; default :func:`~neuroconv_brand.nwb.write_threads.write_threads`.
    """
    if not deferred:
        return
    threads = write_threads() if threads is None else threads
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="chunk-writes") as pool:
        try:
            for item in deferred:
                write_chunked(file[item.location_in_file], item.source, pool, threads)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def write_chunked(dataset, source: AbstractDataChunkIterator, pool: ThreadPoolExecutor, threads: int) -> None:
    """Write every block of ``source`` into ``dataset``, preparing whole chunks in ``pool``.

    A series whose rows are spooled is written from its spool files (:mod:`.spooled_chunks`). Otherwise a block
    that covers whole chunks (edge chunks included) is cut into chunks; each is gathered into a chunk-sized buffer
    and encoded in ``pool`` (:func:`~neuroconv_brand.nwb.chunk_encoders.prepare_chunk`), then stored as it is, in
    order (:class:`~neuroconv_brand.nwb.chunks_in_order.ChunksInOrder`). Any other block, or a dataset whose
    pipeline has no encoder (:func:`~neuroconv_brand.nwb.chunk_encoders.chunk_encoder`), is written through h5py
    (after the chunks in flight). At most ``2 * threads`` chunks are in flight and their
    buffers are reused, so memory holds at most two blocks of ``source`` (the chunks of one may wait for their
    copy while the next is read) plus those buffers and their encoded bytes.
    """
    series = spooled_series(source)
    if series is not None and write_spooled_chunks(dataset, series, pool, threads):
        return
    encoder = chunk_encoder(dataset)
    chunks = ChunksInOrder(dataset, pool, threads)
    for block in _blocks(source):
        check_interrupted()
        selection = _as_slices(block.selection, dataset.shape)
        if encoder is None or selection is None or not _covers_whole_chunks(selection, dataset):
            chunks.finish()
            dataset[block.selection] = block.data
            continue
        data = np.asarray(block.data, dtype=dataset.dtype)
        for offset, piece in _chunks_of(data, selection, dataset.chunks):
            chunks.submit(offset, prepare_chunk, piece, chunks.buffer(), encoder)
    chunks.finish()


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
