"""The reading interface every BRAND source implements.

Everything above this layer (graph, readers, interfaces) talks to a :class:`StreamSource` only, so a live
Redis and a direct ``.rdb`` file reader are interchangeable. The interface is deliberately small: the
stream catalogue, and ranges of entries in id order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from ..entry_ids import EntryId

#: One stream entry as Redis returns it: the raw id and the field -> value mapping (all bytes).
Entry = tuple[bytes, dict[bytes, bytes]]


@dataclass(frozen=True)
class StreamStats:
    """What a source knows about one stream without reading its entries.

    Attributes
    ----------
    length : int
        Number of entries currently in the stream.
    first_id, last_id : EntryId or None
        Ids of the first and last entries (None for an empty stream).
    """

    length: int
    first_id: EntryId | None
    last_id: EntryId | None


class StreamSource(ABC):
    """A read-only source of Redis streams.

    Implementations never send a write command and never modify a file.
    """

    #: Human-readable description used in error messages, e.g. ``"redis://localhost:6379/0"``.
    description: str = "<source>"

    @abstractmethod
    def stream_names(self) -> list[str]:
        """Names of every key of type stream, sorted."""

    @abstractmethod
    def stream_stats(self, stream: str) -> StreamStats:
        """Length and first/last ids of ``stream``; raises :class:`KeyError` if it does not exist."""

    @abstractmethod
    def read_range(
        self, stream: str, start: EntryId | None = None, end: EntryId | None = None, count: int | None = None
    ) -> list[Entry]:
        """Entries with ``start <= id <= end`` in id order, at most ``count`` of them (None: no limit)."""

    @abstractmethod
    def read_latest(self, stream: str, count: int = 1) -> list[Entry]:
        """The newest ``count`` entries, newest first (like ``XREVRANGE stream + - COUNT count``)."""

    def iter_batches(
        self, stream: str, start: EntryId | None = None, end: EntryId | None = None, batch_size: int = 2000
    ) -> Iterator[list[Entry]]:
        """Yield consecutive batches of at most ``batch_size`` entries covering ``[start, end]``.

        The default pages with :meth:`read_range` and an exclusive continuation; sources with a cheaper
        sequential path (a file reader) override it.
        """
        cursor = start
        while True:
            batch = self.read_range(stream, cursor, end, batch_size)
            if not batch:
                return
            yield batch
            if len(batch) < batch_size:
                return
            cursor = EntryId.parse(batch[-1][0]).successor()

    def close(self) -> None:  # noqa: B027 - optional hook, most sources have nothing to release
        """Release connections, servers or file handles."""
