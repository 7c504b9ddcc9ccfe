""":class:`RdbStreamSource`: the streams of a ``dump.rdb`` read straight from the file, no redis-server."""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterator
from typing import NamedTuple

import numpy as np

from ..base import Entry, EntryColumns, FixedWidthColumn, StreamSource, StreamStats
from ..entry_ids import EntryId
from .errors import RdbCorruptError
from .index import KeyInfo, RdbIndex, StreamIndex, build_index, open_rdb
from .listpack import ListpackError
from .node_columns import ColumnChoice, decode_nodes, worth_decoding_together
from .primitives import RdbCursor, lzf_decompress
from .streams import NodeError, StreamMetadata, decode_node

#: Bytes read from disk at a time when reading a stream's nodes: the first read, and the largest.
READ_CHUNK_SIZE = 64 << 10
MAX_READ_CHUNK_SIZE = 4 << 20
_MAX64 = 2**64 - 1
#: Listpack bytes (and most nodes) decoded together by the columnar fast path.
COLUMN_CHUNK_BYTES = 8 << 20
COLUMN_CHUNK_NODES = 4096


class _RawNode(NamedTuple):
    number: int
    offset: int
    ms: int
    seq: int
    data: bytes  # the listpack, or its LZF-compressed form when size >= 0
    size: int  # uncompressed size, -1 when data is not compressed


class RdbStreamSource(StreamSource):
    """Read Redis streams directly from an RDB file (any version 1-12), without a redis-server.

    Opening the source walks the file once (:func:`~neuroconv_brand.sources.rdb.index.build_index`) to find every
    key and each stream's nodes and to verify the CRC-64; entries are decoded only when read, node by node,
    so memory stays bounded however large a stream is.

    Parameters
    ----------
    path : path
        The ``dump.rdb`` file (never modified).
    db : int
        The database whose streams are served (BRAND uses 0).
    verify_checksum : bool
        Check the file's CRC-64 while indexing (skip only to salvage a damaged file).
    include_expired : bool
        Serve streams whose expiry time has passed. By default they are hidden, as a redis-server loading
        the file would drop them.
    node_stride : int
        Keep the offset and master id of every ``node_stride``-th stream node for binary search (1: all).

    Examples
    --------
    >>> source = RdbStreamSource("dump.rdb")  # doctest: +SKIP
    >>> source.read_range("supergraph_stream", count=1)  # doctest: +SKIP
    [(b'1700000000000-0', {b'data': b'{...}'})]
    """

    def __init__(
        self,
        path: str | os.PathLike,
        db: int = 0,
        verify_checksum: bool = True,
        include_expired: bool = False,
        node_stride: int = 16,
    ):
        self.path = os.fspath(path)
        self.description = f"rdb file {self.path} (db {db})"
        self.db = db
        self.index: RdbIndex = build_index(
            self.path, verify_checksum=verify_checksum, node_stride=node_stride
        )
        now_ms = int(time.time() * 1000)
        self._streams: dict[str, StreamIndex] = {}
        for (key_db, name), stream in self.index.streams.items():
            expire = stream.key.expire_ms
            if key_db == db and (include_expired or expire is None or expire >= now_ms):
                self._streams[name.decode("utf-8", "surrogateescape")] = stream
        self._handle = open_rdb(self.path)
        self._size = os.fstat(self._handle.fileno()).st_size
        self._stats: dict[str, StreamStats] = {}

    # -- catalogue ----------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The file's RDB format version."""
        return self.index.version

    def keys(self) -> list[KeyInfo]:
        """Every key of every database in file order (type, encoding, offset, expiry)."""
        return list(self.index.keys)

    def stream_names(self) -> list[str]:
        """Names of every stream in the selected database, sorted."""
        return sorted(self._streams)

    def stream_metadata(self, stream: str) -> StreamMetadata:
        """What the file stores after ``stream``'s nodes (length, last generated id, groups, ...)."""
        return self._stream(stream).metadata

    def stream_stats(self, stream: str) -> StreamStats:
        """Length (from the metadata) and the ids of the first and last live entries."""
        stats = self._stats.get(stream)
        if stats is None:
            index = self._stream(stream)
            first = self.read_range(stream, count=1)
            last = self.read_latest(stream, 1)
            stats = StreamStats(
                length=index.metadata.length,
                first_id=EntryId.parse(first[0][0]) if first else None,
                last_id=EntryId.parse(last[0][0]) if last else None,
            )
            self._stats[stream] = stats
        return stats

    # -- reading ------------------------------------------------------------------------------------
    def read_range(
        self, stream: str, start: EntryId | None = None, end: EntryId | None = None, count: int | None = None
    ) -> list[Entry]:
        """Entries with ``start <= id <= end`` in id order, at most ``count`` of them (None: no limit)."""
        if count is not None and count <= 0:
            self._stream(stream)
            return []
        out: list[Entry] = []
        for entries in self._iter_node_entries(stream, _parse(start), _parse(end)):
            out.extend(entries)
            if count is not None and len(out) >= count:
                del out[count:]
                break
        return out

    def iter_batches(
        self, stream: str, start: EntryId | None = None, end: EntryId | None = None, batch_size: int = 2000
    ) -> Iterator[list[Entry]]:
        """Consecutive batches of at most ``batch_size`` entries covering ``[start, end]``, read sequentially.

        Only the current node and batch are held in memory.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        batch: list[Entry] = []
        for entries in self._iter_node_entries(stream, _parse(start), _parse(end)):
            batch.extend(entries)
            while len(batch) >= batch_size:
                yield batch[:batch_size]
                batch = batch[batch_size:]
        if batch:
            yield batch

    def iter_entry_batches(
        self,
        stream: str,
        start: EntryId | None = None,
        end: EntryId | None = None,
        batch_size: int = 2000,
        fields: Collection[bytes] | None = None,
        binary_fields: Collection[bytes] = (),
    ) -> Iterator[list[Entry] | EntryColumns]:
        """Batches of at most ``batch_size`` entries covering ``[start, end]``, as columns where possible.

        Runs of nodes in BRAND's usual layout are decoded together (:func:`~.node_columns.decode_nodes`) and
        come as :class:`~neuroconv_brand.sources.base.EntryColumns` (with only ``fields``, and ``binary_fields``
        as :class:`~neuroconv_brand.sources.base.FixedWidthColumn` where they are evenly spaced); other nodes
        come as lists of entries.
        """
        wanted = ColumnChoice(None if fields is None else frozenset(fields), frozenset(binary_fields))
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        index = self._stream(stream)
        start, end = _parse(start), _parse(end)
        pending: list[Entry] | EntryColumns | None = None
        for nodes in self._node_chunks(self._range_nodes(index, start, end)):
            listpacks = [self._listpack(index, node) for node in nodes]
            for part in self._decode_run(index, nodes, listpacks, start, end, wanted):
                if pending is not None and not _joinable(pending, part):
                    if len(pending):
                        yield pending
                    pending = None
                pending = part if pending is None else _join(pending, part)
                while len(pending) >= batch_size:
                    if isinstance(pending, list):
                        yield pending[:batch_size]
                        pending = pending[batch_size:]
                    else:
                        yield pending.take(0, batch_size)
                        pending = pending.take(batch_size, len(pending))
        if pending is not None and len(pending):
            yield pending

    def _decode_run(
        self,
        index: StreamIndex,
        nodes: list[_RawNode],
        listpacks: list[bytes],
        start: EntryId | None,
        end: EntryId | None,
        wanted: ColumnChoice,
    ) -> Iterator[list[Entry] | EntryColumns]:
        """Consecutive nodes as columns where the fast path applies and pays (many nodes of few layouts).

        A run the fast path refuses is halved until the nodes it cannot take (a trimmed stream's first node,
        a node with deleted entries or its own fields) are alone, and those are decoded one by one.
        """
        together = worth_decoding_together(listpacks)
        columns = None
        if together:
            columns = decode_nodes(
                listpacks, [node.ms for node in nodes], [node.seq for node in nodes], wanted
            )
        if columns is not None:
            yield _within(columns, start, end)
        elif together:  # halves are smaller, so this ends with runs too small to be worth it
            half = len(nodes) // 2
            yield from self._decode_run(index, nodes[:half], listpacks[:half], start, end, wanted)
            yield from self._decode_run(index, nodes[half:], listpacks[half:], start, end, wanted)
        else:
            yield [
                entry
                for node, listpack in zip(nodes, listpacks, strict=True)
                for entry in self._decode_listpack(index, node, listpack, start, end)
            ]

    def split_points(self, stream: str, parts: int) -> list[EntryId]:
        """Master ids of nodes that cut ``stream`` into about ``parts`` runs of nodes of similar count.

        Cuts fall on node boundaries (the indexed checkpoints), so each node is decoded by one range only.
        """
        index = self._stream(stream)
        checkpoints = len(index.checkpoint_nodes)
        chosen = sorted({round(k * checkpoints / parts) for k in range(1, max(parts, 1))} - {0, checkpoints})
        return [EntryId(int(index.checkpoint_ms[i]), int(index.checkpoint_seq[i])) for i in chosen]

    def read_latest(self, stream: str, count: int = 1) -> list[Entry]:
        """The newest ``count`` entries, newest first (like ``XREVRANGE stream + - COUNT count``)."""
        index = self._stream(stream)
        out: list[Entry] = []
        if count <= 0:
            return out
        for block in range(len(index.checkpoint_nodes) - 1, -1, -1):
            stop = (
                int(index.checkpoint_nodes[block + 1])
                if block + 1 < len(index.checkpoint_nodes)
                else index.node_count
            )
            entries: list[Entry] = []
            for node in self._raw_nodes(index, block, stop):
                entries.extend(self._decode(index, node))
            out.extend(reversed(entries[-(count - len(out)) :]))
            if len(out) >= count:
                break
        return out

    def close(self) -> None:
        """Close the file. Safe to call twice."""
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()
            self._handle = None

    def __enter__(self) -> RdbStreamSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self):
        self.close()

    # -- internals ----------------------------------------------------------------------------------
    def _stream(self, stream: str) -> StreamIndex:
        try:
            return self._streams[stream]
        except KeyError:
            raise KeyError(f"{self.description} has no stream {stream!r}") from None

    def _start_block(self, index: StreamIndex, start: EntryId | None) -> int:
        """The last checkpoint whose master id is <= ``start`` (binary search; 0 if none)."""
        if start is None or not len(index.checkpoint_ms):
            return 0
        ms, seq = (np.uint64(min(max(value, 0), _MAX64)) for value in start)
        lo = int(np.searchsorted(index.checkpoint_ms, ms, side="left"))
        hi = int(np.searchsorted(index.checkpoint_ms, ms, side="right"))
        within = int(np.searchsorted(index.checkpoint_seq[lo:hi], seq, side="right"))
        return max(lo + within - 1, 0)

    def _raw_nodes(self, index: StreamIndex, block: int, stop: int | None = None) -> Iterator[_RawNode]:
        """Nodes from checkpoint ``block`` up to node number ``stop`` (default: all), not yet decoded."""
        if self._handle is None:
            raise ValueError(f"{self.description} is closed")
        if not index.node_count:
            return
        stop = index.node_count if stop is None else stop
        cursor = RdbCursor(
            self._handle,
            self.path,
            self._size,
            int(index.checkpoint_offsets[block]),
            READ_CHUNK_SIZE,
            max_chunk_size=MAX_READ_CHUNK_SIZE,
        )
        cursor.key = index.key.name
        number = int(index.checkpoint_nodes[block])
        while number < stop:
            for node in cursor.stream_nodes(stop - number, with_data=True):
                yield _RawNode(number, *node)
                number += 1

    @staticmethod
    def _node_chunks(nodes: Iterator[_RawNode]) -> Iterator[list[_RawNode]]:
        """Consecutive nodes grouped by about :data:`COLUMN_CHUNK_BYTES` of listpack."""
        chunk: list[_RawNode] = []
        size = 0
        for node in nodes:
            chunk.append(node)
            size += node.size if node.size >= 0 else len(node.data)
            if size >= COLUMN_CHUNK_BYTES or len(chunk) >= COLUMN_CHUNK_NODES:
                yield chunk
                chunk, size = [], 0
        if chunk:
            yield chunk

    def _listpack(self, index: StreamIndex, node: _RawNode) -> bytes:
        """The node's listpack, decompressed if it is stored LZF-compressed."""
        if node.size < 0:
            return node.data
        data = lzf_decompress(node.data, node.size)
        if data is None:
            raise RdbCorruptError(
                self.path,
                node.offset,
                f"the LZF-compressed listpack of stream node {node.number} does not decompress to its "
                f"stated {node.size} bytes",
                key=index.key.name,
            )
        return data

    def _decode(
        self, index: StreamIndex, node: _RawNode, start: EntryId | None = None, end: EntryId | None = None
    ) -> list[Entry]:
        return self._decode_listpack(index, node, self._listpack(index, node), start, end)

    def _decode_listpack(
        self, index: StreamIndex, node: _RawNode, data: bytes, start: EntryId | None, end: EntryId | None
    ) -> list[Entry]:
        try:
            return decode_node(data, node.ms, node.seq, start, end)
        except (ListpackError, NodeError) as error:
            raise RdbCorruptError(
                self.path,
                node.offset,
                f"stream node {node.number} (master id {node.ms}-{node.seq}) is malformed: {error}",
                key=index.key.name,
            ) from None

    def _range_nodes(
        self, index: StreamIndex, start: EntryId | None, end: EntryId | None
    ) -> Iterator[_RawNode]:
        """The nodes that may hold ids in ``[start, end]``, in order, not yet decoded."""
        if start is not None and end is not None and start > end:
            return
        pending: _RawNode | None = None
        for node in self._raw_nodes(index, self._start_block(index, start)):
            if end is not None and (node.ms, node.seq) > end:
                break
            if pending is not None and (start is None or (node.ms, node.seq) > start):
                yield pending
            pending = node
        if pending is not None:
            yield pending

    def _iter_node_entries(
        self, stream: str, start: EntryId | None, end: EntryId | None
    ) -> Iterator[list[Entry]]:
        """Decoded entries of each node that may hold ids in ``[start, end]``, in order."""
        index = self._stream(stream)
        for node in self._range_nodes(index, start, end):
            yield self._decode(index, node, start, end)


def _within(columns: EntryColumns, start: EntryId | None, end: EntryId | None) -> EntryColumns:
    """The entries of ``columns`` with ``start <= id <= end``."""
    ids = columns.ids
    keep = None
    for bound, outside in ((start, np.less), (end, np.greater)):
        if bound is None:
            continue
        ms, seq = (np.uint64(min(max(value, 0), _MAX64)) for value in bound)
        beyond = outside(ids[:, 0], ms) | ((ids[:, 0] == ms) & outside(ids[:, 1], seq))
        if beyond.any():
            keep = ~beyond if keep is None else keep & ~beyond
    return columns if keep is None else columns.select(keep)


def _joinable(first: list[Entry] | EntryColumns, second: list[Entry] | EntryColumns) -> bool:
    if isinstance(first, list) or isinstance(second, list):
        return isinstance(first, list) and isinstance(second, list)
    if _has_views(first) or _has_views(second):
        return False  # joining would copy what the views spare: yield the shorter batch instead
    return list(first.columns) == list(second.columns) and first.other_fields == second.other_fields


def _has_views(columns: EntryColumns) -> bool:
    return any(isinstance(values, FixedWidthColumn) for values in columns.columns.values())


def _join(
    first: list[Entry] | EntryColumns, second: list[Entry] | EntryColumns
) -> list[Entry] | EntryColumns:
    if isinstance(first, list):
        return first + second
    if not len(first):
        return second
    return EntryColumns(
        np.concatenate([first.ids, second.ids]),
        {name: values + second.columns[name] for name, values in first.columns.items()},
        first.other_fields,
    )


def _parse(value: EntryId | str | bytes | None) -> EntryId | None:
    return None if value is None else EntryId.parse(value)
