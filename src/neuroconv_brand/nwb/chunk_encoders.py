"""A chunk as an HDF5 dataset's filter pipeline stores it, computed in Python (for h5py's direct chunk write).

Three pipelines are encoded here, read from the dataset's own creation properties (so the bytes follow what the
file declares, whatever configured it):

- no filter: the chunk's C-order bytes;
- deflate alone (HDF5 filter 1, ``compression="gzip"``): :func:`zlib.compress` at the dataset's level, the
  stream HDF5's deflate filter writes;
- Blosc alone (filter 32001, ``hdf5plugin.Blosc``): numcodecs' Blosc (c-blosc 1, a NeuroConv dependency) with
  the filter's compressor, level, shuffle and the dtype's size, one Blosc thread per call. Its chunks are the
  bytes the HDF5 filter writes with one Blosc thread (with more threads the filter stores the same blocks in
  another order) and the filter decompresses them like its own.

Any other pipeline (shuffle before gzip, Zstd, a checksum, ...) has no encoder: h5py writes those datasets. Every
encoder releases the GIL while it works, so chunks are encoded on several threads.

As the HDF5 Blosc filter does, a chunk Blosc cannot shrink is stored as it is, with the filter's bit set in the
chunk's filter mask (the filter is optional, as h5py creates it). The filter compresses into a buffer of the
chunk's size and numcodecs into one 16 bytes larger, so a tiny chunk (a few hundred bytes) that Blosc shrinks by
only a few bytes may be stored compressed here and as it is by the filter: both read back as the same data.
HDF5's deflate filter stores zlib's output whatever its size.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: HDF5's identifier of the deflate (gzip) filter.
DEFLATE_FILTER_ID = 1
#: The registered identifier of the HDF5 Blosc filter (hdf5plugin's ``Blosc``).
BLOSC_FILTER_ID = 32001
#: HDF5's flag of a filter that may be skipped for a chunk it cannot shrink (h5py sets it on compression filters).
OPTIONAL_FILTER_FLAG = 1
#: c-blosc 1's compressor codes (the HDF5 Blosc filter's 7th parameter) and numcodecs' names for them.
BLOSC_COMPRESSORS = {0: "blosclz", 1: "lz4", 2: "lz4hc", 3: "snappy", 4: "zlib", 5: "zstd"}
#: dtype kinds whose chunks are encoded here (strings and objects go through h5py).
_NUMBER_KINDS = frozenset("biufc")


@dataclass(frozen=True)
class ChunkEncoder:
    """How one dataset stores a full chunk.

    Attributes
    ----------
    name : str
        ``"none"``, ``"gzip"`` or ``"blosc"`` (for messages and tests).
    encode : callable
        ``encode(chunk)`` gives the bytes stored for a full, C-contiguous chunk of the dataset's dtype; for
        ``"none"`` the chunk itself (no copy).
    skipped_when_larger : bool
        Whether a chunk whose encoded bytes would be larger than the chunk is stored as it is, the pipeline's one
        filter skipped (filter mask 1).
    """

    name: str
    encode: Callable[[np.ndarray], bytes | np.ndarray]
    skipped_when_larger: bool = False

    def stored(self, chunk: np.ndarray) -> tuple[bytes | np.ndarray, int]:
        """The bytes to store for ``chunk`` (a full chunk) and their filter mask (1: the filter was skipped)."""
        encoded = self.encode(chunk)
        if self.skipped_when_larger and len(encoded) > chunk.nbytes:
            return chunk, 1
        return encoded, 0


def chunk_encoder(dataset) -> ChunkEncoder | None:
    """The encoder of an h5py dataset's filter pipeline, or None if h5py must write it.

    None for a contiguous (unchunked) dataset, a dtype that is not a number, or a pipeline other than no filter,
    deflate alone or Blosc alone with settings numcodecs has.
    """
    if dataset.chunks is None or dataset.dtype.kind not in _NUMBER_KINDS:
        return None
    properties = dataset.id.get_create_plist()
    if properties.get_nfilters() == 0:
        return ChunkEncoder("none", _as_is)
    if properties.get_nfilters() != 1:
        return None
    filter_id, flags, values, _ = properties.get_filter(0)
    if filter_id == DEFLATE_FILTER_ID:
        level = int(values[0]) if values else 0
        return ChunkEncoder("gzip", lambda chunk: compress_deflate(chunk, level))
    if filter_id == BLOSC_FILTER_ID:
        codec = blosc_codec(values, dataset.dtype.itemsize)
        # A mandatory filter that cannot shrink a chunk fails HDF5's own write: left to h5py to report.
        if codec is None or not flags & OPTIONAL_FILTER_FLAG:
            return None
        return ChunkEncoder("blosc", codec.encode, skipped_when_larger=True)
    return None


def compress_deflate(chunk: np.ndarray, level: int) -> bytes:
    """One full chunk as HDF5's deflate filter stores it: zlib (RFC 1950) at ``level``; releases the GIL."""
    return zlib.compress(np.ascontiguousarray(chunk), level)


def blosc_codec(values: tuple[int, ...], itemsize: int):
    """The numcodecs Blosc codec equal to an HDF5 Blosc filter's parameters, or None if numcodecs has none.

    ``values`` are the filter's parameters as the file holds them: (filter revision, Blosc format, type size,
    chunk bytes, level, shuffle, compressor), the last three optional (defaults 5, byte shuffle, BloscLZ, as in
    the filter). A type size other than the dtype's (``itemsize``) is not encoded here.
    """
    from numcodecs import blosc

    if len(values) < 3 or values[2] != itemsize:
        return None
    level = values[4] if len(values) > 4 else 5
    shuffle = values[5] if len(values) > 5 else blosc.SHUFFLE
    compressor = BLOSC_COMPRESSORS.get(values[6] if len(values) > 6 else 0)
    if compressor not in blosc.list_compressors() or shuffle not in (0, 1, 2) or not 0 <= level <= 9:
        return None
    return blosc.Blosc(cname=compressor, clevel=level, shuffle=shuffle, blocksize=blosc.AUTOBLOCKS)


def _as_is(chunk: np.ndarray) -> np.ndarray:
    return chunk


def prepare_chunk(
    piece: np.ndarray, buffer: np.ndarray, encoder: ChunkEncoder
) -> tuple[np.ndarray, bytes | np.ndarray, int]:
    """Gather ``piece`` into ``buffer`` (a full chunk, zero-padded past the piece) and encode it.

    Returns ``(buffer, stored bytes, filter mask)``; for the pipeline without filters the stored bytes are the
    buffer itself. Once copied, a chunk waiting to be stored no longer holds its block in memory.
    """
    if piece.shape != buffer.shape:
        buffer.fill(0)  # HDF5 stores edge chunks whole
    buffer[tuple(slice(0, size) for size in piece.shape)] = piece
    stored, filter_mask = encoder.stored(buffer)
    return buffer, stored, filter_mask
