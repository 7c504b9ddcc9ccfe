"""Reading RDB primitives from a file: lengths, strings (plain, integer-encoded, LZF), times.

RDB length encoding (first byte's two top bits): ``00`` 6-bit length, ``01`` 14-bit (big-endian with the next
byte), ``10000000`` a 32-bit and ``10000001`` a 64-bit big-endian length, ``11`` a special string encoding in
the low six bits: 0/1/2 an 8/16/32-bit little-endian signed integer (the string is its decimal text), 3 an
LZF-compressed string (compressed length, uncompressed length, data).

:class:`RdbCursor` reads forward through a file in large chunks, so the number of system calls and Python
operations per byte stays small; every read is bounds-checked and a short file raises
:class:`~neuroconv_brand.sources.rdb.errors.RdbTruncatedError` naming the offset and the key being read.
"""

from __future__ import annotations

import os
from typing import BinaryIO, NamedTuple, NoReturn

import lzf

from .checksum import crc64
from .errors import RdbCorruptError, RdbParseError, RdbTruncatedError, RdbUnknownTypeError
from .format import ENC_INT8, ENC_INT16, ENC_INT32, ENC_LZF, LEN_32BIT, LEN_64BIT, LZF_MAX_RATIO

_LZF_LIMIT = (1 << 31) - 1  # the lzf module (python-neo-lzf) takes an unsigned int output size
#: Integer-encoded strings: encoding -> bytes.
_INT_WIDTH = {ENC_INT8: 1, ENC_INT16: 2, ENC_INT32: 4}


class BufferedNode(NamedTuple):
    """A stream node read by :meth:`RdbCursor.stream_nodes`."""

    offset: int  # file offset of its master id
    ms: int
    seq: int
    data: bytes  # the listpack, LZF-compressed when size >= 0 (empty when not asked for)
    size: int  # uncompressed size, -1 when not compressed


def read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    """Read up to ``size`` bytes at ``offset`` (fewer only at the end of the file)."""
    if hasattr(os, "pread"):
        fd = handle.fileno()
        parts, got = [], 0
        while got < size:
            part = os.pread(fd, size - got, offset + got)
            if not part:
                break
            parts.append(part)
            got += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)
    handle.seek(offset)
    return handle.read(size)


def lzf_decompress(data: bytes, size: int) -> bytes | None:
    """Decompress an LZF string that should expand to exactly ``size`` bytes; None if it does not."""
    if size == 0:
        return b"" if not data else None
    if size > _LZF_LIMIT or size > len(data) * LZF_MAX_RATIO + 64:
        return None
    try:
        out = lzf.decompress(data, size)
    except ValueError:
        return None
    return out if out is not None and len(out) == size else None


def _buffered_length(buf: bytes, i: int) -> tuple[int, int]:
    """A 6/14/32/64-bit RDB length at ``buf[i]`` and the index after it; ``(-1, i)`` for anything else.

    The caller guarantees at least 9 bytes from ``i``.
    """
    first = buf[i]
    kind = first >> 6
    if kind == 0:
        return first, i + 1
    if kind == 1:
        return ((first & 0x3F) << 8) | buf[i + 1], i + 2
    if first == LEN_32BIT:
        return int.from_bytes(buf[i + 1 : i + 5], "big"), i + 5
    if first == LEN_64BIT:
        return int.from_bytes(buf[i + 1 : i + 9], "big"), i + 9
    return -1, i


class RdbCursor:
    """A forward-only reader over ``handle`` from byte ``start``, buffered ``chunk_size`` bytes at a time.

    Parameters
    ----------
    handle : binary file
        Open file (unbuffered is best); only ``fileno``/``seek``/``read`` are used.
    path : str
        Shown in errors.
    file_size : int
        Size of the file; no read goes past it.
    start : int
        Offset of the first byte to read.
    chunk_size : int
        Bytes read from disk at a time (the first read; later reads double up to ``max_chunk_size``).
    max_chunk_size : int, optional
        Upper bound of the read size (default: ``chunk_size``).
    crc_until : int, optional
        When given, every byte before this offset is fed to a running CRC-64 (:attr:`crc`) and skips read
        through instead of seeking. Only valid with ``start == 0``.
    """

    def __init__(
        self,
        handle: BinaryIO,
        path: str,
        file_size: int,
        start: int = 0,
        chunk_size: int = 1 << 20,
        crc_until: int | None = None,
        max_chunk_size: int | None = None,
    ):
        self._handle = handle
        self.path = path
        self.size = file_size
        self._chunk = chunk_size
        self._max_chunk = max(chunk_size, max_chunk_size or chunk_size)
        self._buf = b""
        self._i = 0
        self._base = start  # file offset of self._buf[0]
        self._next = start  # end of the bytes fetched so far (the CRC has seen everything before it)
        self._crc_until = crc_until
        self.crc = 0
        #: The key whose value is being read (named in errors), set by the caller.
        self.key: bytes | None = None

    @property
    def pos(self) -> int:
        """File offset of the next byte."""
        return self._base + self._i

    # -- errors -------------------------------------------------------------------------------------
    def fail(
        self, error: type[RdbParseError], what: str, offset: int | None = None, advice: str | None = None
    ) -> NoReturn:
        """Raise ``error`` for ``what`` at ``offset`` (default: the current position) and the current key."""
        raise error(self.path, self.pos if offset is None else offset, what, key=self.key, advice=advice)

    def _truncated(self, needed: int, what: str) -> NoReturn:
        self.fail(
            RdbTruncatedError,
            f"the file ends at byte {self.size} but {what} needs {needed} more byte(s) from here",
        )

    # -- raw bytes ----------------------------------------------------------------------------------
    def _fetch(self, offset: int, size: int) -> bytes:
        """Read ``size`` bytes at ``offset`` (never beyond the bytes fetched so far plus this read)."""
        data = read_at(self._handle, offset, size)
        if len(data) != size:
            self.fail(
                RdbTruncatedError, f"the file shrank while it was being read ({self.size} bytes before)"
            )
        end = offset + size
        if self._crc_until is not None and self._next < min(end, self._crc_until):
            # feed only bytes the CRC has not seen (a re-read tail was fed before)
            view = memoryview(data)[self._next - offset : min(end, self._crc_until) - offset]
            self.crc = crc64(view, self.crc)
        self._next = max(self._next, end)
        return data

    def _fill(self, needed: int, what: str) -> None:
        """Make at least ``needed`` bytes available from the current position.

        The unread tail of the buffer is read again with the new chunk (one system call, no concatenation).
        """
        position = self.pos
        if position + needed > self.size:
            self._truncated(needed, what)
        size = min(max(needed, self._chunk), self.size - position)
        self._chunk = min(2 * self._chunk, self._max_chunk)  # point reads stay small, scans grow
        self._buf = self._fetch(position, size)
        self._base = position
        self._i = 0

    def read(self, size: int, what: str = "a value") -> bytes:
        """Read the next ``size`` bytes."""
        i = self._i
        if i + size > len(self._buf):
            self._fill(size, what)
            i = 0
        self._i = i + size
        return self._buf[i : i + size]

    def byte(self, what: str = "a type byte") -> int:
        """Read the next byte as an integer."""
        i = self._i
        if i >= len(self._buf):
            self._fill(1, what)
            i = 0
        self._i = i + 1
        return self._buf[i]

    def skip(self, size: int, what: str = "a value") -> None:
        """Move ``size`` bytes forward (reading them through when a CRC is being computed)."""
        available = len(self._buf) - self._i
        if size <= available:
            self._i += size
            return
        target = self.pos + size
        if target > self.size:
            self._truncated(size, what)
        self._buf, self._i = b"", 0
        if self._crc_until is not None:
            while self._next < target:
                self._fetch(self._next, min(self._chunk, target - self._next))
        self._base = target
        self._next = max(self._next, target)

    # -- RDB encodings ------------------------------------------------------------------------------
    def length_or_encoding(self, what: str = "a length") -> tuple[int, bool]:
        """Read an RDB length, or ``(encoding, True)`` for a special string encoding (``11xxxxxx``)."""
        first = self.byte(what)
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(what), False
        if kind == 3:
            return first & 0x3F, True
        if first == LEN_32BIT:
            return int.from_bytes(self.read(4, what), "big"), False
        if first == LEN_64BIT:
            return int.from_bytes(self.read(8, what), "big"), False
        self.fail(RdbUnknownTypeError, f"unknown length encoding byte 0x{first:02x} in {what}", self.pos - 1)

    def length(self, what: str = "a length") -> int:
        """Read an RDB length (a special string encoding here is corruption)."""
        start = self.pos
        value, special = self.length_or_encoding(what)
        if special:
            self.fail(RdbCorruptError, f"expected {what} but found a string encoding marker", start)
        return value

    def string(self, what: str = "a string") -> bytes:
        """Read an RDB string: raw, integer-encoded (returned as its decimal text) or LZF-compressed."""
        start = self.pos
        data, size = self.string_deferred(what)
        if size < 0:
            return data
        out = lzf_decompress(data, size)
        if out is None:
            self.fail(
                RdbCorruptError,
                f"LZF-compressed {what} ({len(data)} bytes) does not decompress to its stated {size} bytes",
                start,
            )
        return out

    def string_deferred(self, what: str = "a string") -> tuple[bytes, int]:
        """Read an RDB string but leave LZF data compressed.

        Returns ``(data, -1)`` for a plain string, ``(compressed, size)`` for an LZF one that should expand
        to ``size`` bytes (see :func:`lzf_decompress`).
        """
        fast = self._buffered_string()
        if fast is not None:
            return fast
        start = self.pos
        value, special = self.length_or_encoding(what)
        if not special:
            return self.read(value, what), -1
        if value in _INT_WIDTH:
            width = _INT_WIDTH[value]
            return b"%d" % int.from_bytes(self.read(width, what), "little", signed=True), -1
        if value == ENC_LZF:
            compressed = self.length(what)
            size = self.length(what)
            return self.read(compressed, what), size
        self.fail(RdbUnknownTypeError, f"unknown string encoding {value} in {what}", start)

    def _buffered_string(self) -> tuple[bytes, int] | None:
        """:meth:`string_deferred` for a plain or LZF string lying wholly in the buffer (else None).

        The common case of the stream readers (every node is two strings), done without method calls.
        """
        buf, i = self._buf, self._i
        end = len(buf)
        if i + 18 > end:  # room for the longest headers: LZF marker and two 9-byte lengths
            return None
        first = buf[i]
        size = -1
        if first == 0xC3:  # LZF: compressed length, then uncompressed length
            length, i = _buffered_length(buf, i + 1)
            if length < 0:
                return None
            size, i = _buffered_length(buf, i)
            if size < 0:
                return None
        else:
            length, i = _buffered_length(buf, i)
            if length < 0:
                return None
        stop = i + length
        if stop > end:
            return None
        self._i = stop
        return buf[i:stop], size

    def stream_nodes(self, count: int, with_data: bool) -> list[BufferedNode]:
        """The next stream nodes: up to ``count`` parsed in one tight loop, at least one.

        A node is a 16-byte master id string followed by its listpack string (plain or LZF). The nodes lying
        wholly in the buffer are parsed together (streams have tens of thousands of nodes: per-node method
        calls dominated reading them); a node that is not wholly buffered, or not in that form, is read field by
        field, which refills the buffer and names any corruption.

        Parameters
        ----------
        count : int
            Nodes wanted at most (at least 1).
        with_data : bool
            Return each listpack's bytes (else ``data`` is empty: the index needs only where nodes are).
        """
        return self._buffered_stream_nodes(count, with_data) or [self._stream_node(with_data)]

    def _stream_node(self, with_data: bool) -> BufferedNode:
        offset = self.pos
        master = self.string("a stream node's master id")
        if len(master) != 16:
            self.fail(RdbCorruptError, f"stream node master id has {len(master)} bytes, not 16", offset)
        ms, seq = int.from_bytes(master[:8], "big"), int.from_bytes(master[8:], "big")
        if not with_data:
            self.skip_string("a stream node listpack")
            return BufferedNode(offset, ms, seq, b"", -1)
        data, size = self.string_deferred("a stream node listpack")
        return BufferedNode(offset, ms, seq, data, size)

    def _buffered_stream_nodes(self, count: int, with_data: bool) -> list[BufferedNode]:
        """The nodes of :meth:`stream_nodes` that lie wholly in the buffer (none if the next one does not)."""
        buf, i, base = self._buf, self._i, self._base
        end = len(buf) - 36  # the longest master id and listpack headers fit before the data
        from_bytes = int.from_bytes
        nodes: list[BufferedNode] = []
        while len(nodes) < count and i <= end and buf[i] == 16:  # a 6-bit length of 16: the master id
            j = i + 17
            if buf[j] == 0xC3:  # LZF: compressed length, then uncompressed length
                length, j = _buffered_length(buf, j + 1)
                size, j = _buffered_length(buf, j) if length >= 0 else (-1, j)
                if size < 0:
                    break
            else:
                length, j = _buffered_length(buf, j)
                size = -1
                if length < 0:
                    break
            stop = j + length
            if stop > len(buf):
                break
            nodes.append(
                BufferedNode(
                    base + i,
                    from_bytes(buf[i + 1 : i + 9], "big"),
                    from_bytes(buf[i + 9 : i + 17], "big"),
                    buf[j:stop] if with_data else b"",
                    size,
                )
            )
            i = stop
        self._i = i
        return nodes

    def skip_string(self, what: str = "a string") -> None:
        """Move past an RDB string without decoding it."""
        start = self.pos
        value, special = self.length_or_encoding(what)
        if not special:
            self.skip(value, what)
        elif value in _INT_WIDTH:
            self.skip(_INT_WIDTH[value], what)
        elif value == ENC_LZF:
            compressed = self.length(what)
            self.length(what)
            self.skip(compressed, what)
        else:
            self.fail(RdbUnknownTypeError, f"unknown string encoding {value} in {what}", start)

    def uint_le(self, size: int, what: str) -> int:
        """Read a little-endian unsigned integer of ``size`` bytes (times, binary scores, ...)."""
        return int.from_bytes(self.read(size, what), "little")
