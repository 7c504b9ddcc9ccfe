"""Chunks gathered and encoded in a thread pool, stored with h5py's direct chunk write: pipelines, edges, fallbacks."""

from __future__ import annotations

import itertools
import zlib

import h5py
import hdf5plugin
import numpy as np
import pytest
from hdmf.data_utils import DataChunk, DataChunkIterator
from neuroconv.tools.hdmf import GenericDataChunkIterator
from numcodecs import Blosc

from neuroconv_brand.nwb.chunk_encoders import BLOSC_FILTER_ID, DEFLATE_FILTER_ID, chunk_encoder
from neuroconv_brand.nwb.compression_presets import BLOSC_THREADS_VARIABLE
from neuroconv_brand.nwb.direct_chunks import DeferredDataset, fill_deferred_datasets, is_written_directly
from neuroconv_brand.nwb.write_threads import WRITE_THREADS_VARIABLE, write_threads


class ArrayIterator(GenericDataChunkIterator):
    """NeuroConv's chunk iterator over an in-memory array (buffers are whole numbers of chunks)."""

    def __init__(self, array: np.ndarray, chunk_shape: tuple[int, ...], buffer_shape: tuple[int, ...]):
        self.array = array
        super().__init__(chunk_shape=chunk_shape, buffer_shape=buffer_shape, display_progress=False)

    def _get_data(self, selection):
        return self.array[selection]

    def _get_dtype(self):
        return self.array.dtype

    def _get_maxshape(self):
        return self.array.shape


class Blocks(DataChunkIterator):
    """Given blocks at given selections (any alignment), as a chunk iterator yields them."""

    def __init__(self, array: np.ndarray, selections: list[tuple[slice, ...]]):
        self._blocks = iter([DataChunk(array[selection], selection) for selection in selections])
        super().__init__(dtype=array.dtype, maxshape=array.shape, buffer_size=1)

    def __next__(self) -> DataChunk:
        return next(self._blocks)


def noise(shape: tuple[int, ...], dtype=np.int16, seed: int = 0) -> np.ndarray:
    """Compressible noise: small values, as neural samples are."""
    return np.random.default_rng(seed).normal(0, 30, size=shape).astype(dtype)


def filled(tmp_path, array, chunks, source, threads=2, **filters) -> h5py.File:
    """A file with one dataset created as pynwb creates a deferred one (empty, full size), then filled."""
    path = tmp_path / "chunks.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("group/data", shape=array.shape, dtype=array.dtype, chunks=chunks, **filters)
    with h5py.File(path, "r+") as file:
        fill_deferred_datasets(file, [DeferredDataset("group/data", source)], threads=threads)
    return h5py.File(path, "r")


def stored_chunk(dataset, offset: tuple[int, ...]) -> bytes:
    filter_mask, data = dataset.id.read_direct_chunk(offset)
    assert filter_mask == 0
    return data


def chunk_offsets(shape: tuple[int, ...], chunks: tuple[int, ...]) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(0, size, chunk) for size, chunk in zip(shape, chunks))))


def padded_chunk(array: np.ndarray, offset: tuple[int, ...], chunks: tuple[int, ...]) -> np.ndarray:
    """The chunk at ``offset`` as HDF5 stores it: full shape, zeros past the array's edges."""
    piece = array[tuple(slice(start, start + chunk) for start, chunk in zip(offset, chunks))]
    full = np.zeros(chunks, dtype=array.dtype)
    full[tuple(slice(0, size) for size in piece.shape)] = piece
    return full


def h5py_written(tmp_path, array, chunks, **filters) -> h5py.File:
    """The same array written by h5py itself (HDF5's filters in the writing thread)."""
    path = tmp_path / "h5py.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("group/data", data=array, chunks=chunks, **filters)
    return h5py.File(path, "r")


#: Each pipeline written here: h5py's keywords, and how a stored chunk decodes.
PIPELINES = {
    "none": ({}, lambda stored: stored),
    "gzip": (dict(compression="gzip", compression_opts=6), zlib.decompress),
    "blosc-lz4-bit": (dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=2)), Blosc().decode),
    "blosc-zstd-byte": (dict(hdf5plugin.Blosc(cname="zstd", clevel=1, shuffle=1)), Blosc().decode),
}


@pytest.mark.parametrize(
    ("shape", "chunks", "buffer"),
    [
        ((1000, 7), (64, 7), (192, 7)),  # a partial last chunk in time
        ((1000, 70), (64, 32), (128, 64)),  # edge chunks in both dimensions
        ((999,), (100,), (300,)),  # 1-D
        ((5, 3), (5, 3), (5, 3)),  # one chunk
        ((40, 6, 5), (16, 4, 2), (32, 4, 4)),  # 3-D, edges everywhere
    ],
    ids=["time-edge", "both-edges", "1-D", "one-chunk", "3-D"],
)
@pytest.mark.parametrize("threads", [1, 3])
def test_chunks_are_standard_deflate_and_decompress_to_the_data(tmp_path, shape, chunks, buffer, threads):
    array = noise(shape)
    with filled(
        tmp_path,
        array,
        chunks,
        ArrayIterator(array, chunks, buffer),
        threads,
        compression="gzip",
        compression_opts=6,
    ) as file:
        dataset = file["group/data"]
        np.testing.assert_array_equal(dataset[()], array)
        assert (dataset.compression, dataset.compression_opts, dataset.chunks) == ("gzip", 6, chunks)
        assert dataset.id.get_num_chunks() == np.prod(
            [-(-size // chunk) for size, chunk in zip(shape, chunks)]
        )
        # The last chunk was stored as this module compresses it: zero-padded to a full chunk, zlib level 6.
        last = tuple((size - 1) // chunk * chunk for size, chunk in zip(shape, chunks))
        padded = np.zeros(chunks, dtype=array.dtype)
        edge = array[tuple(slice(start, start + chunk) for start, chunk in zip(last, chunks))]
        padded[tuple(slice(0, size) for size in edge.shape)] = edge
        assert stored_chunk(dataset, last) == zlib.compress(padded.tobytes(), 6)


def test_a_dataset_smaller_than_its_chunk_gets_one_padded_chunk(tmp_path):
    array = noise((5, 3), seed=3)
    source = Blocks(array, [(slice(0, 5), slice(0, 3))])
    with filled(tmp_path, array, (64, 3), source, maxshape=(None, 3), compression="gzip") as file:
        dataset = file["group/data"]
        np.testing.assert_array_equal(dataset[()], array)
        padded = np.zeros((64, 3), dtype=array.dtype)
        padded[:5] = array
        assert stored_chunk(dataset, (0, 0)) == zlib.compress(padded.tobytes(), 4)


def test_blocks_off_the_chunk_grid_are_written_through_h5py(tmp_path):
    array = noise((300, 4), seed=1)
    selections = [
        (slice(0, 100), slice(0, 4)),  # whole chunks: compressed here
        (slice(100, 150), slice(0, 4)),  # half a chunk: through h5py
        (slice(150, 200), slice(0, 4)),  # the other half
        (slice(200, 300), slice(0, 4)),
    ]
    with filled(tmp_path, array, (100, 4), Blocks(array, selections), compression="gzip") as file:
        np.testing.assert_array_equal(file["group/data"][()], array)
        assert stored_chunk(file["group/data"], (0, 0)) == zlib.compress(array[:100].tobytes(), 4)


def test_a_pipeline_with_shuffle_is_written_through_h5py(tmp_path):
    array = noise((500, 3), np.float64, seed=2)
    source = ArrayIterator(array, (128, 3), (256, 3))
    with filled(tmp_path, array, (128, 3), source, shuffle=True, compression="gzip") as file:
        dataset = file["group/data"]
        np.testing.assert_array_equal(dataset[()], array)
        assert dataset.shuffle and dataset.compression == "gzip"
        # Shuffled before deflate, so not the bytes of a plain zlib stream of the chunk.
        assert stored_chunk(dataset, (0, 0)) != zlib.compress(array[:128].tobytes(), 4)


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize(
    ("shape", "chunks", "buffer"),
    [
        ((1000, 70), (64, 32), (192, 70)),  # edge chunks in rows and columns; 3 chunks of rows per block
        ((1000, 256), (300, 64), (300, 256)),  # blocks of every channel, chunks of a quarter (the raw series)
        ((9999,), (1000,), (3000,)),  # 1-D (timestamps)
    ],
    ids=["both-edges", "raw-like", "1-D"],
)
def test_every_pipeline_stores_what_h5py_stores(tmp_path, monkeypatch, pipeline, shape, chunks, buffer):
    # One Blosc thread in HDF5's filter: with more, it stores the same blocks in the order its threads finish.
    monkeypatch.setenv(BLOSC_THREADS_VARIABLE, "1")
    filters, decode = PIPELINES[pipeline]
    array = noise(shape)
    source = ArrayIterator(array, chunks, buffer)
    with (
        filled(tmp_path, array, chunks, source, 2, **filters) as file,
        h5py_written(tmp_path, array, chunks, **filters) as reference,
    ):
        dataset, expected = file["group/data"], reference["group/data"]
        assert dataset[()].tobytes() == array.tobytes()
        assert dataset.chunks == expected.chunks == chunks
        assert dataset._filters == expected._filters
        assert dataset.compression == expected.compression
        offsets = chunk_offsets(shape, chunks)
        assert dataset.id.get_num_chunks() == len(offsets)
        for offset in offsets:
            mask, stored = dataset.id.read_direct_chunk(offset)
            # Whole chunks, zero-padded at the edges (Blosc would leave a chunk it cannot shrink as it is: mask 1).
            raw = stored if mask else decode(stored)
            assert bytes(raw) == padded_chunk(array, offset, chunks).tobytes(), offset
            # The very bytes and filter mask h5py's own write stores.
            assert (mask, stored) == expected.id.read_direct_chunk(offset), offset


def test_the_pipelines_filters_are_those_configured(tmp_path):
    array = noise((500, 20))
    source = ArrayIterator(array, (100, 8), (200, 20))
    blosc = hdf5plugin.Blosc(cname="zstd", clevel=3, shuffle=2)
    with filled(tmp_path, array, (100, 8), source, **blosc) as file:
        dataset = file["group/data"]
        filter_id, _, values, _ = dataset.id.get_create_plist().get_filter(0)
        assert dataset.id.get_create_plist().get_nfilters() == 1
        # (revision, Blosc format, type size, chunk bytes, level, shuffle, compressor code of zstd)
        assert (filter_id, values[2:]) == (BLOSC_FILTER_ID, (2, 1600, 3, 2, 5))
        assert chunk_encoder(dataset).name == "blosc"
    source = ArrayIterator(array, (100, 8), (200, 20))
    with filled(tmp_path, array, (100, 8), source, compression="gzip", compression_opts=2) as file:
        dataset = file["group/data"]
        assert dataset.id.get_create_plist().get_filter(0)[0] == DEFLATE_FILTER_ID
        assert (dataset.compression, dataset.compression_opts) == ("gzip", 2)
        assert chunk_encoder(dataset).name == "gzip"
    source = ArrayIterator(array, (100, 8), (200, 20))
    with filled(tmp_path, array, (100, 8), source) as file:
        dataset = file["group/data"]
        assert dataset.compression is None and dataset._filters == {}
        assert chunk_encoder(dataset).name == "none"
        assert stored_chunk(dataset, (400, 16)) == padded_chunk(array, (400, 16), (100, 8)).tobytes()


def test_a_chunk_blosc_cannot_shrink_is_stored_as_it_is_as_hdf5_does(tmp_path, monkeypatch):
    monkeypatch.setenv(BLOSC_THREADS_VARIABLE, "1")
    array = np.zeros((400, 6), dtype=np.int16)
    array[:200] = np.arange(200, dtype=np.int16)[:, None]  # compressible
    array[200:] = np.random.default_rng(5).integers(-(2**15), 2**15, size=(200, 6), dtype=np.int16)  # not
    filters = dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=0))
    source = ArrayIterator(array, (100, 6), (200, 6))
    with (
        filled(tmp_path, array, (100, 6), source, **filters) as file,
        h5py_written(tmp_path, array, (100, 6), **filters) as reference,
    ):
        dataset, expected = file["group/data"], reference["group/data"]
        np.testing.assert_array_equal(dataset[()], array)
        masks = [dataset.id.read_direct_chunk((row, 0))[0] for row in range(0, 400, 100)]
        assert masks == [0, 0, 1, 1]
        assert masks == [expected.id.read_direct_chunk((row, 0))[0] for row in range(0, 400, 100)]
        assert dataset.id.read_direct_chunk((300, 0))[1] == array[300:].tobytes()


@pytest.mark.parametrize(
    "filters",
    [
        dict(compression="gzip", shuffle=True),
        dict(compression="gzip", fletcher32=True),
        dict(hdf5plugin.Zstd(clevel=3)),
        dict(compression="lzf"),
    ],
    ids=["shuffle-gzip", "gzip-checksum", "zstd", "lzf"],
)
def test_other_pipelines_have_no_encoder_and_are_written_by_h5py(tmp_path, filters):
    array = noise((500, 3), np.float64, seed=4)
    source = ArrayIterator(array, (128, 3), (256, 3))
    with (
        filled(tmp_path, array, (128, 3), source, **filters) as file,
        h5py_written(tmp_path, array, (128, 3), **filters) as reference,
    ):
        dataset = file["group/data"]
        assert chunk_encoder(dataset) is None
        np.testing.assert_array_equal(dataset[()], array)
        assert dataset.id.read_direct_chunk((0, 0)) == reference["group/data"].id.read_direct_chunk((0, 0))


def test_contiguous_and_text_datasets_have_no_encoder(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as file:
        assert chunk_encoder(file.create_dataset("contiguous", shape=(10, 3), dtype=np.int16)) is None
        text = file.create_dataset("text", shape=(10,), dtype=h5py.string_dtype(), chunks=(5,))
        assert chunk_encoder(text) is None


def test_which_configured_pipelines_are_written_directly():
    # Without filters h5py's write was as fast (measured): only the compressing pipelines.
    assert is_written_directly(None) and is_written_directly([])  # no filter: chunks stored as they are
    assert is_written_directly(["gzip"])
    assert is_written_directly(["Blosc"]) and is_written_directly([hdf5plugin.Blosc(cname="zstd")])
    assert not is_written_directly(["shuffle", "gzip"])
    assert not is_written_directly(["gzip", "fletcher32"])
    assert not is_written_directly(["Zstd"])


def test_write_threads_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(WRITE_THREADS_VARIABLE, "3")
    assert write_threads() == 3
    monkeypatch.setenv(WRITE_THREADS_VARIABLE, "many")
    with pytest.raises(
        ValueError, match=r"^NEUROCONV_BRAND_WRITE_THREADS must be a whole number, not 'many'$"
    ):
        write_threads()
    monkeypatch.delenv(WRITE_THREADS_VARIABLE)
    assert write_threads() >= 1
