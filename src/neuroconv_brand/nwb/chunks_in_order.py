"""Chunks prepared on a thread pool and stored in order with h5py's direct chunk write.

The calling thread only stores finished chunks; gathering or reading a chunk into its buffer and encoding it
(numpy copies, ``preadv``, zlib and Blosc release the GIL) runs on the pool. At most
:data:`~neuroconv_brand.nwb.write_threads.CHUNKS_IN_FLIGHT_PER_THREAD` chunks per thread are in flight, and
their chunk-sized buffers are reused. Used for blocks of a chunk iterator (:mod:`.direct_chunks`) and for chunks
read from a spool (:mod:`.spooled_chunks`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .write_threads import CHUNKS_IN_FLIGHT_PER_THREAD

#: What a preparation returns: the chunk's buffer (reused afterwards), the bytes to store, their filter mask.
Prepared = tuple[np.ndarray, "bytes | np.ndarray", int]


class ChunksInOrder:
    """Store chunks of ``dataset`` (an h5py dataset) in the order they were submitted.

    Parameters
    ----------
    dataset : h5py.Dataset
        The chunked dataset written.
    pool : ThreadPoolExecutor
        Where chunks are prepared.
    threads : int
        The pool's threads (the bound on chunks in flight is a multiple of it).
    """

    def __init__(self, dataset, pool: ThreadPoolExecutor, threads: int):
        self.dataset = dataset
        self.pool = pool
        self.limit = CHUNKS_IN_FLIGHT_PER_THREAD * threads
        self._in_flight: deque[tuple[tuple[int, ...], Future, Callable[[], None] | None]] = deque()
        self._free: list[np.ndarray] = []

    def buffer(self) -> np.ndarray:
        """A chunk-sized buffer: one a stored chunk gave back, or a new one."""
        return self._free.pop() if self._free else np.empty(self.dataset.chunks, dtype=self.dataset.dtype)

    def submit(
        self,
        offset: tuple[int, ...],
        prepare: Callable[..., Prepared],
        *args,
        once_stored: Callable[[], None] | None = None,
    ) -> None:
        """Prepare the chunk at ``offset`` with ``prepare(*args)`` on the pool; ``once_stored()`` runs after it is stored."""
        self._in_flight.append((offset, self.pool.submit(prepare, *args), once_stored))
        while len(self._in_flight) >= self.limit:
            self._store_oldest()

    def finish(self) -> None:
        """Store every chunk in flight (before writing the dataset any other way, and at the end)."""
        while self._in_flight:
            self._store_oldest()

    def _store_oldest(self) -> None:
        offset, prepared, once_stored = self._in_flight.popleft()
        buffer, stored, filter_mask = prepared.result()
        self.dataset.id.write_direct_chunk(offset, stored, filter_mask=filter_mask)
        self._free.append(buffer)
        if once_stored is not None:
            once_stored()
