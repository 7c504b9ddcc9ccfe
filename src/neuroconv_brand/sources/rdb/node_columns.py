"""Decoding many stream nodes at once with numpy: the fast path of the direct ``.rdb`` reader.

A BRAND stream is a long run of nodes with one layout: every entry is live and carries the node's master
fields (flag SAMEFIELDS), so a node is ``count 0 n-fields field... 0`` followed by ``count`` runs of
``flags ms-diff seq-diff value... lp-count``. Nodes with the same number of elements are parsed side by side,
one element position at a time for all of them (vectorised over nodes), which replaces a Python loop over
every element. The result is columnar: the entry ids as an array and each field's values as a list of
``bytes``, without an XRANGE-shaped dict per entry.

Anything else (deleted entries, entries with their own fields, an unknown element count, field names stored
as integers, a malformed listpack, a backlen that does not match its element) makes :func:`decode_nodes` return None; the caller then decodes those
nodes one by one (:func:`neuroconv_brand.sources.rdb.streams.decode_node`), which also names any corruption.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..base import Column, EntryColumns, FixedWidthColumn
from .format import LISTPACK_EOF, LISTPACK_HEADER_SIZE, LISTPACK_UNKNOWN_COUNT, STREAM_FLAG_SAMEFIELDS

_PAD = 16  # zero bytes after the last listpack, so reading 8 bytes past any element stays in the buffer


def _encoding_tables() -> tuple[np.ndarray, ...]:
    """Lookup tables indexed by the first byte of a listpack element.

    ``head``: bytes before the string data (or of the whole integer); ``length_kind``: 0 integer, 1 six-bit,
    2 twelve-bit, 3 32-bit string length; ``mask`` and ``sign``: the 16-64 bit integers' value mask and sign
    bit; ``valid``: False for 0xF5-0xFF.
    """
    codes = np.arange(256)
    head = np.zeros(256, np.int64)
    length_kind = np.zeros(256, np.int64)
    mask = np.zeros(256, np.uint64)
    sign = np.zeros(256, np.uint64)
    head[codes < 0x80] = 1
    head[(codes >= 0x80) & (codes < 0xC0)] = 1
    length_kind[(codes >= 0x80) & (codes < 0xC0)] = 1
    head[(codes >= 0xC0) & (codes < 0xE0)] = 2
    head[(codes >= 0xE0) & (codes < 0xF0)] = 2
    length_kind[(codes >= 0xE0) & (codes < 0xF0)] = 2
    head[0xF0], length_kind[0xF0] = 5, 3
    for code, width in ((0xF1, 16), (0xF2, 24), (0xF3, 32), (0xF4, 64)):
        head[code] = 1 + width // 8
        mask[code] = np.uint64((1 << width) - 1)
        sign[code] = np.uint64(1 << (width - 1))
    valid = codes <= 0xF4
    return head, length_kind, mask, sign, valid


_HEAD, _LENGTH_KIND, _MASK, _SIGN, _VALID = _encoding_tables()
_NEXT_BYTES = np.arange(1, 9)


class _Elements(NamedTuple):
    """Elements at positions ``0..E-1`` of ``G`` listpacks, as ``(E, G)`` arrays."""

    is_string: np.ndarray
    value: np.ndarray  # integers (undefined for strings)
    start: np.ndarray  # strings: offset of the data in the buffer
    length: np.ndarray  # strings: byte length (0 for integers)


class _Layout(NamedTuple):
    """Where the entries are in the elements of a group of SAMEFIELDS nodes."""

    nfields: int
    base: int  # position of the first entry's flags
    step: int  # elements per entry
    entries: int  # entries per node


def _backlens_match(buf: np.ndarray, at: np.ndarray, size: np.ndarray, width: np.ndarray) -> bool:
    """Whether the backlens at ``at`` (``width`` bytes each) hold the element sizes ``size``."""
    if (width == 1).all():  # the usual case: elements under 128 bytes
        return bool((buf[at] == size).all())
    shift = 7 * (width - 1)
    match = buf[at] == size >> shift  # most significant 7 bits first, bit 7 clear
    for byte in range(1, int(width.max())):
        shift = shift - 7
        expected = (size >> np.maximum(shift, 0)) & 127 | 128
        match &= (width <= byte) | (buf[at + byte] == expected)
    return bool(match.all())


def _parse_elements(
    buf: np.ndarray, first: np.ndarray, terminator: np.ndarray, count: int
) -> _Elements | None:
    """Parse ``count`` elements of each listpack (first element at ``first``, 0xFF at ``terminator``)."""
    groups = len(first)
    is_string = np.empty((count, groups), bool)
    value = np.empty((count, groups), np.int64)
    start = np.empty((count, groups), np.int64)
    length = np.empty((count, groups), np.int64)
    pos = first
    for k in range(count):
        code = buf[pos].astype(np.intp)
        if not _VALID[code].all():
            return None
        after = np.ascontiguousarray(buf[pos[:, None] + _NEXT_BYTES]).view("<u8").ravel()
        kind = _LENGTH_KIND[code]
        byte1 = (after & np.uint64(0xFF)).astype(np.int64)
        strings = kind > 0
        size = _HEAD[code]
        if strings.any():
            string_length = np.select(
                [kind == 1, kind == 2],
                [code & 0x3F, ((code & 0x0F) << 8) | byte1],
                (after & np.uint64(0xFFFFFFFF)).astype(np.int64),
            )
            string_length[~strings] = 0
            size += string_length
        else:
            string_length = np.zeros(groups, np.int64)
        wide = ((after & _MASK[code]) ^ _SIGN[code]) - _SIGN[code]
        thirteen = (((code & 0x1F) << 8) | byte1) ^ 4096
        value[k] = np.where(code < 0x80, code, np.where(code < 0xE0, thirteen - 4096, wide.view(np.int64)))
        is_string[k] = strings
        start[k] = pos + _HEAD[code]
        length[k] = string_length
        backlen = 1 + (size > 127) + (size >= 16383) + (size >= 2097151) + (size >= 268435455)
        pos = pos + size + backlen
        if (pos > terminator).any() or not _backlens_match(buf, pos - backlen, size, backlen):
            return None
    if (pos != terminator).any():
        return None
    return _Elements(is_string, value, start, length)


def _samefields_layout(el: _Elements, count: int) -> _Layout | None:
    """The layout of a group of nodes whose entries are all live with the master fields, else None."""
    if count < 4 or el.is_string[:3].any():
        return None
    live, deleted, nfields = el.value[0], el.value[1], el.value[2]
    if (deleted != 0).any() or (nfields != nfields[0]).any() or nfields[0] < 0:
        return None
    n = int(nfields[0])
    base, step = 4 + n, n + 4
    if base > count or (count - base) % step:
        return None
    entries = (count - base) // step
    if entries < 1 or (live != entries).any():
        return None
    if not el.is_string[3 : 3 + n].all() or el.is_string[base - 1].any() or (el.value[base - 1] != 0).any():
        return None
    for row in (base, base + 1, base + 2, base + 3 + n):  # flags, ms-diff, seq-diff, lp-count
        if el.is_string[row::step].any():
            return None
    if (el.value[base::step] != STREAM_FLAG_SAMEFIELDS).any() or (
        el.value[base + 3 + n :: step] != n + 3
    ).any():
        return None
    return _Layout(n, base, step, entries)


def _field_names(buf: np.ndarray, data: bytes, elements: _Elements, nfields: int) -> list[bytes] | None:
    """The master field names, if every node of the group has the same ones."""
    names = []
    for row in range(3, 3 + nfields):
        starts, lengths = elements.start[row], elements.length[row]
        if (lengths != lengths[0]).any():
            return None
        first = int(starts[0])
        name = data[first : first + int(lengths[0])]
        if len(starts) > 1 and lengths[0]:
            window = buf[starts[:, None] + np.arange(int(lengths[0]))]
            if (window != np.frombuffer(name, np.uint8)).any():
                return None
        names.append(name)
    return names


#: Fewest nodes per distinct element count for which parsing side by side beats parsing node by node: the
#: vectorised parse costs about the same per element position whatever the number of nodes.
MIN_NODES_PER_COUNT = 32


def worth_decoding_together(listpacks: list[bytes]) -> bool:
    """Whether :func:`decode_nodes` would be faster than decoding ``listpacks`` one by one."""
    counts = {int.from_bytes(listpack[4:6], "little") for listpack in listpacks}
    return len(listpacks) >= MIN_NODES_PER_COUNT * len(counts)


def _rows(table: np.ndarray, row: int, step: int, entries: int) -> np.ndarray:
    """Element ``row`` of every entry of every node: node-major, entries in order."""
    return table[row : row + step * entries : step].T.ravel()


class ColumnChoice(NamedTuple):
    """Which fields :func:`decode_nodes` returns, and which of them may come as a :class:`FixedWidthColumn`."""

    fields: frozenset[bytes] | None = None  # None: every field
    binary: frozenset[bytes] = frozenset()


#: Every field, none as fixed-width rows.
ALL_FIELDS = ColumnChoice()


def decode_nodes(
    listpacks: list[bytes], master_ms: list[int], master_seq: list[int], wanted: ColumnChoice = ALL_FIELDS
) -> EntryColumns | None:
    """Every entry of the nodes ``listpacks`` (with their master ids) as columns, or None.

    None means that some node is not a plain SAMEFIELDS node with the same fields as the others (or is
    malformed); decode those nodes one by one instead. Only the ``wanted`` fields get a column (the others are
    named in ``other_fields``); a binary field whose values are all strings of one length, evenly spaced in
    the decoded nodes, comes as a view of them (:class:`FixedWidthColumn`).
    """
    if not listpacks:
        return None
    data = b"".join([*listpacks, bytes(_PAD)])  # one copy; the padding is never part of a value
    buf = np.frombuffer(data, np.uint8)
    sizes = np.fromiter(map(len, listpacks), np.int64, len(listpacks))
    offsets = np.zeros(len(listpacks), np.int64)
    np.cumsum(sizes[:-1], out=offsets[1:])
    if (sizes < LISTPACK_HEADER_SIZE + 1).any():
        return None
    header = buf[offsets[:, None] + np.arange(LISTPACK_HEADER_SIZE)].astype(np.int64)
    totals = header[:, 0] | header[:, 1] << 8 | header[:, 2] << 16 | header[:, 3] << 24
    element_counts = header[:, 4] | header[:, 5] << 8
    terminators = offsets + sizes - 1
    if (totals != sizes).any() or (buf[terminators] != LISTPACK_EOF).any():
        return None
    if (element_counts == LISTPACK_UNKNOWN_COUNT).any():
        return None

    entry_counts = np.zeros(len(listpacks), np.int64)
    group_of = {}
    fields = None
    for count in np.unique(element_counts):
        nodes = np.flatnonzero(element_counts == count)
        elements = _parse_elements(buf, offsets[nodes] + LISTPACK_HEADER_SIZE, terminators[nodes], int(count))
        if elements is None:
            return None
        layout = _samefields_layout(elements, int(count))
        if layout is None:
            return None
        names = _field_names(buf, data, elements, layout.nfields)
        if names is None or (fields is not None and names != fields):
            return None
        fields = names
        entry_counts[nodes] = layout.entries
        group_of[int(count)] = (nodes, elements, layout)

    total = int(entry_counts.sum())
    node_first_entry = np.zeros(len(listpacks), np.int64)
    np.cumsum(entry_counts[:-1], out=node_first_entry[1:])
    ms = np.empty(total, np.uint64)
    seq = np.empty(total, np.uint64)
    nfields = len(fields)
    is_string = np.empty((nfields, total), bool)
    value = np.empty((nfields, total), np.int64)
    start = np.empty((nfields, total), np.int64)
    length = np.empty((nfields, total), np.int64)
    masters_ms = np.array(master_ms, np.uint64)
    masters_seq = np.array(master_seq, np.uint64)
    for nodes, elements, layout in group_of.values():
        base, step, entries = layout.base, layout.step, layout.entries
        where = (node_first_entry[nodes][:, None] + np.arange(entries)).ravel()

        ms[where] = masters_ms[nodes].repeat(entries) + _rows(elements.value, base + 1, step, entries).view(
            np.uint64
        )
        seq[where] = masters_seq[nodes].repeat(entries) + _rows(elements.value, base + 2, step, entries).view(
            np.uint64
        )
        for j in range(nfields):
            row = base + 3 + j
            is_string[j, where] = _rows(elements.is_string, row, step, entries)
            value[j, where] = _rows(elements.value, row, step, entries)
            start[j, where] = _rows(elements.start, row, step, entries)
            length[j, where] = _rows(elements.length, row, step, entries)

    columns: dict[bytes, Column] = {}
    for j, name in enumerate(fields):
        if wanted.fields is not None and name not in wanted.fields:
            continue
        rows = _even_rows(buf, is_string[j], start[j], length[j]) if name in wanted.binary else None
        if rows is not None:
            columns[name] = FixedWidthColumn(rows)
            continue
        starts, stops = start[j].tolist(), (start[j] + length[j]).tolist()
        if is_string[j].all():
            columns[name] = [data[a:b] for a, b in zip(starts, stops)]
        else:  # Redis stored decimal-integer strings as integers: back to their text
            numbers = value[j].tolist()
            columns[name] = [
                data[a:b] if text else b"%d" % number
                for a, b, text, number in zip(starts, stops, is_string[j].tolist(), numbers)
            ]
    return EntryColumns(np.column_stack([ms, seq]), columns, frozenset(fields) - set(columns))


def _even_rows(
    buf: np.ndarray, is_string: np.ndarray, start: np.ndarray, length: np.ndarray
) -> np.ndarray | None:
    """Strings of one length at evenly spaced offsets, as a ``(n, length)`` view of ``buf``; else None.

    A raw stream stores one entry per node (its entries exceed ``stream-node-max-bytes``) and its nodes all have
    the same size, so its samples lie one node apart: the view costs no copy.
    """
    if not is_string.all() or (length != length[0]).any():
        return None
    if len(start) > 1:
        steps = np.diff(start)
        if (steps != steps[0]).any() or steps[0] <= 0:
            return None
        step = int(steps[0])
    else:
        step = int(length[0])
    return np.lib.stride_tricks.as_strided(
        buf[int(start[0]) :], shape=(len(start), int(length[0])), strides=(step, 1), writeable=False
    )
