"""Decoding stream values: listpack nodes into entries, and the metadata that follows the nodes.

A stream value is: the number of nodes, then per node its master id (a 16-byte string, big-endian ms and
seq) and a listpack (an RDB string, possibly LZF-compressed). After the nodes: length, last generated id,
and from ``STREAM_LISTPACKS_2`` on the first id, max deleted id and entries added; then the consumer groups
(name, last delivered id, entries read (v2+), the group PEL of 16-byte ids with delivery time and count,
and the consumers with seen time, active time (v3) and their own PEL of ids).

Inside a node's listpack, the master entry comes first: ``count deleted n-fields field... 0`` (live and
deleted entry counts, and the fields of the entry that created the node). Each entry is then
``flags ms-diff seq-diff`` followed either by its values alone (flag SAMEFIELDS: the master fields) or by
``n-fields field value ...``, and ends with ``lp-count`` (the number of elements before it). Deleted
entries keep their place with flag DELETED. Ids are the master id plus the diffs, modulo 2**64.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ..base import Entry
from ..entry_ids import EntryId
from .format import STREAM_FLAG_DELETED, STREAM_FLAG_SAMEFIELDS
from .listpack import listpack_elements
from .primitives import RdbCursor

_MASK64 = (1 << 64) - 1
_INT = int
_BYTES = bytes


class NodeError(ValueError):
    """A stream node whose listpack is valid but whose stream structure is not."""


@dataclass(frozen=True)
class StreamMetadata:
    """What a stream value stores after its nodes.

    Attributes
    ----------
    length : int
        Number of live entries.
    last_generated_id : EntryId
        The highest id ever added (may belong to a deleted entry).
    first_id : EntryId or None
        The first live entry's id as recorded (``STREAM_LISTPACKS_2`` and later; None before).
    max_deleted_id : EntryId or None
        The highest id deleted so far (v2+).
    entries_added : int or None
        Entries ever added (v2+).
    groups : int
        Number of consumer groups.
    pending : int
        Entries pending across all groups' PELs.
    generation : int
        1, 2 or 3 for ``STREAM_LISTPACKS``, ``_2`` and ``_3``.
    """

    length: int
    last_generated_id: EntryId
    first_id: EntryId | None
    max_deleted_id: EntryId | None
    entries_added: int | None
    groups: int
    pending: int
    generation: int


def read_stream_tail(cursor: RdbCursor, generation: int) -> StreamMetadata:
    """Read the metadata and consumer groups after a stream's nodes (groups are skipped, only counted)."""
    length = cursor.length("the stream length")
    last_id = EntryId(cursor.length("the stream's last id"), cursor.length("the stream's last id"))
    first_id = max_deleted = entries_added = None
    if generation >= 2:
        first_id = EntryId(cursor.length("the stream's first id"), cursor.length("the stream's first id"))
        max_deleted = EntryId(cursor.length("the max deleted id"), cursor.length("the max deleted id"))
        entries_added = cursor.length("the entries-added counter")
    groups = cursor.length("the consumer group count")
    pending = 0
    for _ in range(groups):
        cursor.skip_string("a consumer group name")
        cursor.length("a consumer group's last id")
        cursor.length("a consumer group's last id")
        if generation >= 2:
            cursor.length("a consumer group's entries-read")
        group_pel = cursor.length("a consumer group PEL size")
        pending += group_pel
        for _ in range(group_pel):
            cursor.skip(16 + 8, "a PEL entry (id and delivery time)")
            cursor.length("a PEL delivery count")
        consumers = cursor.length("a consumer count")
        for _ in range(consumers):
            cursor.skip_string("a consumer name")
            cursor.skip(8 if generation < 3 else 16, "a consumer's seen/active time")
            cursor.skip(16 * cursor.length("a consumer PEL size"), "a consumer PEL")
    return StreamMetadata(
        length=length,
        last_generated_id=last_id,
        first_id=first_id,
        max_deleted_id=max_deleted,
        entries_added=entries_added,
        groups=groups,
        pending=pending,
        generation=generation,
    )


def _as_bytes(values: list) -> list[bytes]:
    """Integer elements back to the decimal text Redis replies with."""
    if _INT not in set(map(type, values)):
        return values
    return [b"%d" % value if type(value) is _INT else value for value in values]


def _cut(ms: list[int], seq: list[int], start: EntryId | None, end: EntryId | None) -> tuple[int, int]:
    """Index range of the (ascending) ids inside ``[start, end]``."""
    lo, hi = 0, len(ms)
    if hi == 0:
        return 0, 0
    if start is not None and (ms[0], seq[0]) < start:
        lo = bisect_left(list(zip(ms, seq, strict=True)), tuple(start))
    if end is not None and (ms[-1], seq[-1]) > end:
        hi = bisect_right(list(zip(ms, seq, strict=True)), tuple(end))
    return lo, max(lo, hi)


def decode_node(
    lp: bytes,
    master_ms: int,
    master_seq: int,
    start: EntryId | None = None,
    end: EntryId | None = None,
) -> list[Entry]:
    """Decode the live entries of one stream node with ``start <= id <= end``, as XRANGE returns them.

    Raises
    ------
    ListpackError
        The listpack itself is malformed.
    NodeError
        The listpack does not hold a valid stream node.
    """
    elements = listpack_elements(lp)
    try:
        return _decode_elements(elements, master_ms, master_seq, start, end)
    except (TypeError, IndexError) as error:  # a string element where the layout needs a number
        raise NodeError(f"an element of the wrong kind in the stream node ({error})") from None


def _decode_elements(
    el: list, master_ms: int, master_seq: int, start: EntryId | None, end: EntryId | None
) -> list[Entry]:
    n_el = len(el)
    if n_el < 4:
        raise NodeError(f"stream node listpack has only {n_el} elements")
    count, deleted, nfields = el[0], el[1], el[2]
    if type(count) is not _INT or type(deleted) is not _INT or type(nfields) is not _INT or nfields < 0:
        raise NodeError("stream node master entry does not start with three integers")
    base = 4 + nfields
    if base > n_el or el[base - 1] != 0:
        raise NodeError("stream node master entry is not terminated by 0")
    fields = _as_bytes(el[3 : 3 + nfields])
    step = nfields + 4
    if (  # one live entry with the master fields: every entry larger than a node (raw streams)
        n_el == base + step
        and count == 1
        and deleted == 0
        and el[base] == STREAM_FLAG_SAMEFIELDS
        and el[-1] == nfields + 3
    ):
        entry_id = EntryId((master_ms + el[base + 1]) & _MASK64, (master_seq + el[base + 2]) & _MASK64)
        if (start is not None and entry_id < start) or (end is not None and entry_id > end):
            return []
        values = _as_bytes(el[base + 3 : base + 3 + nfields])
        return [(b"%d-%d" % entry_id, dict(zip(fields, values, strict=True)))]
    if (
        deleted == 0
        and count > 0
        and n_el - base == count * step
        and el[base::step].count(STREAM_FLAG_SAMEFIELDS) == count
        and el[base + 3 + nfields :: step].count(nfields + 3) == count
    ):
        return _decode_samefields(el, base, step, count, fields, master_ms, master_seq, start, end)
    return _decode_general(el, base, count, deleted, fields, master_ms, master_seq, start, end)


def _decode_samefields(
    el: list,
    base: int,
    step: int,
    count: int,
    fields: list[bytes],
    master_ms: int,
    master_seq: int,
    start: EntryId | None,
    end: EntryId | None,
) -> list[Entry]:
    """Fast path: every entry live and with the master fields, so each field is a strided column."""
    ms_diffs = el[base + 1 :: step]
    seq_diffs = el[base + 2 :: step]
    ms = [master_ms + d for d in ms_diffs]
    seq = [master_seq + d for d in seq_diffs]
    if min(ms) < 0 or max(ms) > _MASK64 or min(seq) < 0 or max(seq) > _MASK64:
        ms = [value & _MASK64 for value in ms]
        seq = [value & _MASK64 for value in seq]
    lo, hi = 0, count
    if start is not None or end is not None:
        lo, hi = _cut(ms, seq, start, end)
        if lo == hi:
            return []
    first = base + 3 + lo * step
    stop = base + 3 + hi * step
    columns = [_as_bytes(el[first + j : stop : step]) for j in range(len(fields))]
    if lo or hi != count:
        ms, seq = ms[lo:hi], seq[lo:hi]
    if len(fields) <= _MAX_BUILT_FIELDS:
        return _entry_builder(len(fields))(ms, seq, columns, *fields)
    return [
        (b"%d-%d" % (m, s), dict(zip(fields, values, strict=True)))
        for m, s, values in zip(ms, seq, zip(*columns, strict=True), strict=True)
    ]


_MAX_BUILT_FIELDS = 64


@lru_cache(maxsize=_MAX_BUILT_FIELDS + 1)
def _entry_builder(nfields: int) -> Callable[..., list[Entry]]:
    """A function building XRANGE-shaped entries from id and value columns, for ``nfields`` fields.

    A dict display with one key per field builds each entry about twice as fast as ``dict(zip(...))``.
    The generated source holds only argument names (``k0``, ``v0``, ...), never data from the file.
    """
    keys = ", ".join(f"k{i}" for i in range(nfields))
    values = ", ".join(f"v{i}" for i in range(nfields))
    pairs = ", ".join(f"k{i}: v{i}" for i in range(nfields))
    source = (
        f"def build(ms, seq, columns{', ' if nfields else ''}{keys}):\n"
        f"    return [(b'%d-%d' % (m, s), {{{pairs}}}) for m, s{', ' if nfields else ''}{values}"
        " in zip(ms, seq, *columns)]\n"
    )
    namespace: dict = {}
    exec(compile(source, f"<stream entry builder {nfields}>", "exec"), namespace)
    return namespace["build"]


def _decode_general(
    el: list,
    base: int,
    count: int,
    deleted: int,
    fields: list[bytes],
    master_ms: int,
    master_seq: int,
    start: EntryId | None,
    end: EntryId | None,
) -> list[Entry]:
    """Any mix of deleted entries, SAMEFIELDS entries and entries with their own fields."""
    n_el = len(el)
    nfields = len(fields)
    ms_list: list[int] = []
    seq_list: list[int] = []
    maps: list[dict[bytes, bytes]] = []
    seen_deleted = 0
    pos = base
    while pos < n_el:
        if pos + 3 > n_el:
            raise NodeError("stream entry header runs past the end of the node")
        flags, ms_diff, seq_diff = el[pos], el[pos + 1], el[pos + 2]
        if type(flags) is not _INT or flags & ~(STREAM_FLAG_DELETED | STREAM_FLAG_SAMEFIELDS):
            raise NodeError(f"stream entry has invalid flags {flags!r}")
        if type(ms_diff) is not _INT or type(seq_diff) is not _INT:
            raise NodeError("stream entry id differences are not integers")
        if flags & STREAM_FLAG_SAMEFIELDS:
            names = fields
            values_at = pos + 3
            pos = values_at + nfields
            own = nfields
            expected = nfields + 3
        else:
            own = el[pos + 3] if pos + 3 < n_el else None
            if type(own) is not _INT or own < 0:
                raise NodeError("stream entry field count is not a non-negative integer")
            pairs = el[pos + 4 : pos + 4 + 2 * own]
            if len(pairs) != 2 * own:
                raise NodeError("stream entry fields run past the end of the node")
            names = pairs[0::2]
            values_at = None
            pos += 4 + 2 * own
            expected = 2 * own + 4
        if pos >= n_el:
            raise NodeError("stream entry runs past the end of the node")
        if el[pos] != expected:
            raise NodeError(f"stream entry lp-count is {el[pos]!r}, expected {expected}")
        pos += 1
        if flags & STREAM_FLAG_DELETED:
            seen_deleted += 1
            continue
        values = el[values_at : values_at + own] if values_at is not None else pairs[1::2]
        ms_list.append((master_ms + ms_diff) & _MASK64)
        seq_list.append((master_seq + seq_diff) & _MASK64)
        maps.append(dict(zip(_as_bytes(names), _as_bytes(values), strict=True)))
    if len(maps) != count or seen_deleted != deleted:
        raise NodeError(
            f"stream node master entry counts {count} live and {deleted} deleted entries, "
            f"but holds {len(maps)} and {seen_deleted}"
        )
    lo, hi = _cut(ms_list, seq_list, start, end)
    return [(b"%d-%d" % (ms_list[i], seq_list[i]), maps[i]) for i in range(lo, hi)]
