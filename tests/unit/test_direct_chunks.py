"""gzip chunks compressed in a thread pool and stored with h5py's direct chunk write: shapes, edges, fallbacks."""

from __future__ import annotations

import zlib

import h5py
import numpy as np
import pytest
from hdmf.data_utils import DataChunk, DataChunkIterator
from neuroconv.tools.hdmf import GenericDataChunkIterator

from neuroconv_brand.nwb.direct_chunks import DeferredDataset, fill_deferred_datasets
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
