"""Decoding listpacks, the compact encoding of stream nodes (and of small hashes, sets, ... in Redis 7).

Layout: a 4-byte little-endian total size, a 2-byte element count (65535: unknown), the elements, and a
0xFF terminator. Each element is an encoding byte (plus length or integer bytes), its data, and a
"backlen" of 1-5 bytes holding the size of encoding + data (read backwards, 7 bits a byte):

==============  =========================================
first byte      element
==============  =========================================
``0xxxxxxx``    7-bit unsigned integer
``10xxxxxx``    string of up to 63 bytes (6-bit length)
``110xxxxx``    13-bit signed integer (with the next byte)
``1110xxxx``    string of up to 4095 bytes (12-bit length)
``0xF0``        string with a 32-bit little-endian length
``0xF1..0xF4``  16/24/32/64-bit little-endian signed integer
==============  =========================================

Redis stores any string that is a canonical decimal integer as an integer element; callers turn such
elements back into the exact decimal text Redis would reply with.
"""

from __future__ import annotations

import struct

from .format import LISTPACK_EOF, LISTPACK_HEADER_SIZE, LISTPACK_UNKNOWN_COUNT

#: Bytes used by each fixed-size integer encoding (encoding byte included) plus its 1-byte backlen.
_INT_STEP = {0xF1: 4, 0xF2: 5, 0xF3: 6, 0xF4: 10}
_INT_UNPACK = {
    0xF1: struct.Struct("<h").unpack_from,
    0xF3: struct.Struct("<i").unpack_from,
    0xF4: struct.Struct("<q").unpack_from,
}
_UINT32 = struct.Struct("<I").unpack_from
_INT64 = _INT_UNPACK[0xF4]


class ListpackError(ValueError):
    """A malformed listpack; ``position`` is the byte offset inside the listpack."""

    def __init__(self, what: str, position: int):
        super().__init__(f"{what} (listpack byte {position})")
        self.what = what
        self.position = position


def backlen_size(element_size: int) -> int:
    """Bytes of the backlen that follows an element whose encoding + data take ``element_size`` bytes."""
    if element_size <= 127:
        return 1
    if element_size < 16383:
        return 2
    if element_size < 2097151:
        return 3
    if element_size < 268435455:
        return 4
    return 5


def decode_backlen(lp: bytes, last: int) -> int:
    """Decode the backlen whose final byte is at ``lp[last]`` (read right to left)."""
    value, shift, position = 0, 0, last
    while True:
        byte = lp[position]
        value |= (byte & 127) << shift
        if not byte & 128:
            return value
        shift += 7
        position -= 1
        if shift > 28 or position < LISTPACK_HEADER_SIZE:
            raise ListpackError("backlen longer than 5 bytes", last)


def listpack_elements(lp: bytes) -> list[bytes | int]:
    """Every element of listpack ``lp`` in order: strings as ``bytes``, integers as ``int``.

    Checks the header's total size and element count, the terminator, and that no element runs past the
    end; raises :class:`ListpackError` otherwise.
    """
    size = len(lp)
    if size < LISTPACK_HEADER_SIZE + 1:
        raise ListpackError(f"a listpack needs at least 7 bytes, this one has {size}", 0)
    total = int.from_bytes(lp[0:4], "little")
    if total != size:
        raise ListpackError(f"the listpack header says {total} bytes but the string holds {size}", 0)
    last = size - 1
    if lp[last] != LISTPACK_EOF:
        raise ListpackError(f"the listpack does not end with 0xFF (found 0x{lp[last]:02x})", last)
    out: list[bytes | int] = []
    append = out.append
    pos = LISTPACK_HEADER_SIZE
    # Branches ordered by how often stream nodes use them; every read is bounds-checked against `last`.
    while pos < last:
        b = lp[pos]
        if b < 0x80:  # 7-bit unsigned integer
            append(b)
            pos += 2
        elif b < 0xC0:  # 6-bit length string (its backlen is 1 byte)
            end = pos + 1 + (b & 0x3F)
            append(lp[pos + 1 : end])
            pos = end + 1
        elif b >= 0xE0:
            if b < 0xF0:  # 12-bit length string
                start = pos + 2
                length = ((b & 0x0F) << 8) | lp[pos + 1]
                end = start + length
                append(lp[start:end])
                pos = end + 1 if length <= 125 else end + 2
            elif b == 0xF4:  # 64-bit signed integer (timestamps: the common wide case)
                if pos + 10 > last:
                    raise ListpackError("integer runs past the end", pos)
                append(_INT64(lp, pos + 1)[0])
                pos += 10
            elif b in _INT_STEP:  # 16/24/32-bit signed integer
                step = _INT_STEP[b]
                if pos + step > last:
                    raise ListpackError("integer runs past the end", pos)
                if b == 0xF2:
                    append(int.from_bytes(lp[pos + 1 : pos + 4], "little", signed=True))
                else:
                    append(_INT_UNPACK[b](lp, pos + 1)[0])
                pos += step
            elif b == 0xF0:  # 32-bit length string
                if pos + 5 > last:
                    raise ListpackError("32-bit string length runs past the end", pos)
                length = _UINT32(lp, pos + 1)[0]
                start = pos + 5
                end = start + length
                append(lp[start:end])
                size = length + 5
                pos = end + (2 if size < 16383 else 3 if size < 2097151 else backlen_size(size))
            elif b == LISTPACK_EOF:
                raise ListpackError("0xFF terminator before the end of the listpack", pos)
            else:
                raise ListpackError(f"unknown listpack element encoding 0x{b:02x}", pos)
        else:  # 13-bit signed integer
            value = ((b & 0x1F) << 8) | lp[pos + 1]
            append(value - 8192 if value >= 4096 else value)
            pos += 3
    if pos != last:
        raise ListpackError("the last element runs past the end of the listpack", last)
    count = int.from_bytes(lp[4:6], "little")
    if count != LISTPACK_UNKNOWN_COUNT and count != len(out):
        raise ListpackError(f"the listpack header says {count} elements but it holds {len(out)}", 4)
    return out


def check_backlens(lp: bytes) -> None:
    """Verify every element's backlen (the redundant sizes a forward reader does not need)."""
    last = len(lp) - 1
    pos = LISTPACK_HEADER_SIZE
    while pos < last:
        b = lp[pos]
        if b < 0x80:
            size = 1
        elif b < 0xC0:
            size = 1 + (b & 0x3F)
        elif b < 0xE0:
            size = 2
        elif b < 0xF0:
            size = 2 + (((b & 0x0F) << 8) | lp[pos + 1])
        elif b == 0xF0:
            size = 5 + int.from_bytes(lp[pos + 1 : pos + 5], "little")
        else:
            size = _INT_STEP[b] - 1
        width = backlen_size(size)
        end = pos + size + width
        if end > last or decode_backlen(lp, end - 1) != size:
            raise ListpackError("element backlen does not match its size", pos + size)
        pos = end
