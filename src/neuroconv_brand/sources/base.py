"""The reading interface every BRAND source implements.

Everything above this layer (graph, readers, interfaces) talks to a :class:`StreamSource` only, so a live
Redis and a direct ``.rdb`` file reader are interchangeable. The interface is deliberately small: the
stream catalogue, and ranges of entries in id order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .entry_ids import EntryId

#: One stream entry as Redis returns it: the raw id and the field -> value mapping (all bytes).
Entry = tuple[bytes, dict[bytes, bytes]]


class FixedWidthColumn(Sequence[bytes]):
    """One field's values when they all have the same byte length: the rows of a ``(n, width)`` uint8 array.

    The direct ``.rdb`` reader gives a raw stream's samples this way: the rows are a view into the decoded
    listpacks, so no ``bytes`` object is made per entry and the samples are copied once, where they are
    stored. It behaves as a sequence of ``bytes`` for any other use.

    Parameters
    ----------
    rows : numpy.ndarray
        ``(n, width)`` uint8 array (each row contiguous; rows may be any distance apart).
    """

    def __init__(self, rows: np.ndarray):
        self.rows = rows

    @property
    def width(self) -> int:
        """Bytes per value."""
        return self.rows.shape[1]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return FixedWidthColumn(self.rows[index])
        return self.rows[index].tobytes()

    def select(self, keep: np.ndarray) -> FixedWidthColumn:
        """The values where the boolean mask ``keep`` is True."""
        return FixedWidthColumn(self.rows[keep])


#: A field's values in a columnar batch: a list of ``bytes`` or a :class:`FixedWidthColumn`.
Column = list[bytes] | FixedWidthColumn


@dataclass(frozen=True)
class EntryColumns:
    """Consecutive entries of one stream that all have the same fields, held by column.

    What a source with a columnar fast path (the direct ``.rdb`` reader) yields instead of a list of
    :data:`Entry`: no id string and no dict per entry.

    Attributes
    ----------
    ids : numpy.ndarray
        ``(n, 2)`` uint64 array of entry ids (milliseconds, sequence).
    columns : dict of bytes to Column
        Each field's value in every entry (only the fields asked for, when the reader was told which).
    other_fields : frozenset of bytes
        Fields the entries also carry, whose values were not decoded.
    """

    ids: np.ndarray
    columns: dict[bytes, Column]
    other_fields: frozenset[bytes] = field(default_factory=frozenset)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def field_names(self) -> list[bytes]:
        """Every field of the entries, decoded or not."""
        return [*self.columns, *sorted(self.other_fields)]

    def take(self, start: int, stop: int) -> EntryColumns:
        """Entries ``start`` to ``stop`` (exclusive)."""
        return EntryColumns(
            self.ids[start:stop],
            {name: values[start:stop] for name, values in self.columns.items()},
            self.other_fields,
        )

    def select(self, keep: np.ndarray) -> EntryColumns:
        """The entries where the boolean mask ``keep`` is True."""
        flags = keep.tolist()
        return EntryColumns(
            self.ids[keep],
            {
                name: values.select(keep)
                if isinstance(values, FixedWidthColumn)
                else [v for v, k in zip(values, flags) if k]
                for name, values in self.columns.items()
            },
            self.other_fields,
        )

    def id_names(self) -> EntryIdNames:
        """The ids as Redis writes them (``b"ms-seq"``), made only when read (for error messages)."""
        return EntryIdNames(self.ids)


class EntryIdNames:
    """A read-only sequence of ``b"ms-seq"`` ids over an ``(n, 2)`` id array, formatted on access."""

    def __init__(self, ids: np.ndarray):
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> bytes:
        ms, seq = self.ids[index]
        return b"%d-%d" % (int(ms), int(seq))

    def __iter__(self) -> Iterator[bytes]:
        return (b"%d-%d" % tuple(pair) for pair in self.ids.tolist())


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

    def iter_entry_batches(
        self,
        stream: str,
        start: EntryId | None = None,
        end: EntryId | None = None,
        batch_size: int = 2000,
        fields: Collection[bytes] | None = None,
        binary_fields: Collection[bytes] = (),
    ) -> Iterator[list[Entry] | EntryColumns]:
        """Like :meth:`iter_batches`, but a batch may come as :class:`EntryColumns` where that is cheaper.

        The default yields :meth:`iter_batches`' lists; the direct ``.rdb`` reader yields columns for runs of
        nodes whose entries all carry the same fields.

        Parameters
        ----------
        fields : collection of bytes, optional
            The fields the caller reads: a columnar batch may leave the others out (named in ``other_fields``).
        binary_fields : collection of bytes
            Fields the caller decodes as fixed-size binary payloads: their column may come as a
            :class:`FixedWidthColumn`.
        """
        yield from self.iter_batches(stream, start, end, batch_size)

    def split_points(self, stream: str, parts: int) -> list[EntryId]:
        """Ids that cut ``stream`` into about ``parts`` ranges of similar size, for reading them side by side.

        Range ``k`` runs from point ``k - 1`` (the stream's start for the first) to just before point ``k`` (the
        stream's end for the last). The default cuts the time between the first and last entries evenly; a
        source with cheaper cut points (the ``.rdb`` reader: node boundaries) overrides it.
        """
        stats = self.stream_stats(stream)
        if parts < 2 or stats.first_id is None or stats.last_id is None:
            return []
        first, last = stats.first_id.ms, stats.last_id.ms
        points = {EntryId(first + (last - first) * k // parts, 0) for k in range(1, parts)}
        return sorted(point for point in points if point > stats.first_id)

    def newest_entry_id(self) -> EntryId | None:
        """The newest entry id over every stream (None when no stream has entries)."""
        newest = [self.stream_stats(name).last_id for name in self.stream_names()]
        return max((entry_id for entry_id in newest if entry_id is not None), default=None)

    def snapshot_end(self) -> EntryId | None:
        """The instant every stream is read up to: the newest entry id of a frozen source (a ``.rdb`` file).

        A live source overrides it with the cut it took when it was opened, so that every stream ends at one
        instant however long the conversion takes.
        """
        return self.newest_entry_id()

    def close(self) -> None:  # noqa: B027 - optional hook, most sources have nothing to release
        """Release connections, servers or file handles."""
