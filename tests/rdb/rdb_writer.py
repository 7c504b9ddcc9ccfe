"""A small RDB writer for tests: builds files byte by byte from the format description.

Used for what no server on this machine can record: RDB 11/12 encodings (``STREAM_LISTPACKS_3``, the Redis
7.4 hash field-expiry forms, SLOT_INFO), module values, pre-release function records, old opcodes
(EXPIRETIME in seconds), 64-bit lengths, integer-encoded key names, and exact control over every byte for
the bad-file tests. The files these helpers build are *built*, not recorded: they follow Redis' rdb.c,
listpack.c and t_stream.c as documented in neuroconv_brand.sources.rdb, and the recorded fixtures (tests/data/rdb)
check that reading against real servers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import lzf

from neuroconv_brand.sources.rdb import format as fmt
from neuroconv_brand.sources.rdb.checksum import crc64_reference

StreamFields = Sequence[tuple[bytes, bytes]]


# -- primitives ----------------------------------------------------------------------------------------
def length(value: int, width: int | None = None) -> bytes:
    """RDB length encoding; ``width`` (6, 14, 32, 64) forces a wider form than needed."""
    if width is None:
        width = 6 if value < 64 else 14 if value < 16384 else 32 if value < 2**32 else 64
    if width == 6:
        return bytes([value])
    if width == 14:
        return bytes([0x40 | (value >> 8), value & 0xFF])
    if width == 32:
        return b"\x80" + value.to_bytes(4, "big")
    return b"\x81" + value.to_bytes(8, "big")


def string(data: bytes, encoding: str = "raw", width: int | None = None) -> bytes:
    """An RDB string: ``raw``, ``int`` (data must be a canonical integer) or ``lzf``."""
    if encoding == "int":
        value = int(data)
        if -(2**7) <= value < 2**7:
            return b"\xc0" + value.to_bytes(1, "little", signed=True)
        if -(2**15) <= value < 2**15:
            return b"\xc1" + value.to_bytes(2, "little", signed=True)
        return b"\xc2" + value.to_bytes(4, "little", signed=True)
    if encoding == "lzf":
        compressed = lzf.compress(data)
        assert compressed is not None, "data does not compress"
        return b"\xc3" + length(len(compressed)) + length(len(data)) + compressed
    return length(len(data), width) + data


def ms_time(value: int) -> bytes:
    return struct.pack("<q", value)


# -- listpacks -----------------------------------------------------------------------------------------
def redis_integer(data: bytes) -> int | None:
    """The integer a canonical decimal string stands for, as Redis decides (None: keep it a string)."""
    if not data or len(data) > 20:
        return None
    digits = data[1:] if data[:1] == b"-" else data
    if not digits.isdigit() or (digits[:1] == b"0" and data != b"0"):
        return None
    value = int(data)
    return value if -(2**63) <= value < 2**63 else None


def _backlen(size: int) -> bytes:
    """Redis' backlen: 1-5 bytes, most significant 7-bit group first, all but the first with bit 7 set."""
    width = 1 if size <= 127 else 2 if size < 16383 else 3 if size < 2097151 else 4 if size < 268435455 else 5
    groups = [(size >> (7 * (width - 1 - i))) & 127 for i in range(width)]
    return bytes([groups[0]] + [g | 128 for g in groups[1:]])


def lp_element(value: int | bytes, force_string: bool = False) -> bytes:
    """One listpack element: integers get the smallest integer encoding, strings their length form."""
    if isinstance(value, bytes) and not force_string:
        as_int = redis_integer(value)
        if as_int is not None:
            value = as_int
    if isinstance(value, int):
        if 0 <= value <= 127:
            body = bytes([value])
        elif -4096 <= value <= 4095:
            v = value & 0x1FFF
            body = bytes([0xC0 | (v >> 8), v & 0xFF])
        elif -(2**15) <= value < 2**15:
            body = b"\xf1" + value.to_bytes(2, "little", signed=True)
        elif -(2**23) <= value < 2**23:
            body = b"\xf2" + value.to_bytes(3, "little", signed=True)
        elif -(2**31) <= value < 2**31:
            body = b"\xf3" + value.to_bytes(4, "little", signed=True)
        else:
            body = b"\xf4" + value.to_bytes(8, "little", signed=True)
    else:
        n = len(value)
        if n < 64:
            body = bytes([0x80 | n]) + value
        elif n < 4096:
            body = bytes([0xE0 | (n >> 8), n & 0xFF]) + value
        else:
            body = b"\xf0" + n.to_bytes(4, "little") + value
    return body + _backlen(len(body))


def listpack(elements: Iterable[int | bytes], count: int | None = None) -> bytes:
    """A listpack of ``elements``; ``count`` overrides the header's element count (65535: unknown)."""
    items = list(elements)
    body = b"".join(lp_element(e) for e in items)
    n = min(len(items), 65535) if count is None else count
    total = 6 + len(body) + 1
    return total.to_bytes(4, "little") + n.to_bytes(2, "little") + body + b"\xff"


# -- streams -------------------------------------------------------------------------------------------
@dataclass
class StreamEntry:
    ms: int
    seq: int
    fields: StreamFields
    deleted: bool = False

    @property
    def xrange(self) -> tuple[bytes, dict[bytes, bytes]]:
        return b"%d-%d" % (self.ms, self.seq), dict(self.fields)


def stream_node(entries: Sequence[StreamEntry]) -> tuple[bytes, bytes]:
    """``(master id, listpack)`` of a node holding ``entries`` (the first one sets the master fields)."""
    master = entries[0]
    master_fields = [f for f, _ in master.fields]
    live = sum(not e.deleted for e in entries)
    elements: list[int | bytes] = [live, len(entries) - live, len(master_fields), *master_fields, 0]
    for entry in entries:
        names = [f for f, _ in entry.fields]
        same = names == master_fields
        flags = (fmt.STREAM_FLAG_SAMEFIELDS if same else 0) | (
            fmt.STREAM_FLAG_DELETED if entry.deleted else 0
        )
        elements += [flags, entry.ms - master.ms, entry.seq - master.seq]
        if same:
            elements += [v for _, v in entry.fields]
            elements.append(len(names) + 3)
        else:
            elements.append(len(names))
            for name, value in entry.fields:
                elements += [name, value]
            elements.append(2 * len(names) + 4)
    return struct.pack(">QQ", master.ms, master.seq), listpack(elements)


@dataclass
class Consumer:
    name: bytes
    seen_time: int = 1_700_000_000_000
    active_time: int = 1_700_000_000_001
    pel: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Group:
    name: bytes
    last_id: tuple[int, int] = (0, 0)
    entries_read: int = 0
    pel: list[tuple[int, int]] = field(default_factory=list)
    consumers: list[Consumer] = field(default_factory=list)


def stream_value(
    nodes: Sequence[Sequence[StreamEntry]],
    generation: int = 3,
    groups: Sequence[Group] = (),
    last_id: tuple[int, int] | None = None,
    compress_nodes: bool = False,
    length_override: int | None = None,
) -> bytes:
    """A whole stream value (STREAM_LISTPACKS generation 1, 2 or 3)."""
    out = [length(len(nodes))]
    for entries in nodes:
        master, lp = stream_node(entries)
        out.append(string(master))
        out.append(string(lp, "lzf" if compress_nodes else "raw"))
    every = [e for node in nodes for e in node]
    live = [e for e in every if not e.deleted]
    if last_id is None:
        last_id = (every[-1].ms, every[-1].seq) if every else (0, 0)
    out += [length(length_override if length_override is not None else len(live))]
    out += [length(last_id[0]), length(last_id[1])]
    if generation >= 2:
        first = (live[0].ms, live[0].seq) if live else (0, 0)
        deleted = [e for e in every if e.deleted]
        max_deleted = (deleted[-1].ms, deleted[-1].seq) if deleted else (0, 0)
        out += [length(first[0]), length(first[1]), length(max_deleted[0]), length(max_deleted[1])]
        out.append(length(len(every)))
    out.append(length(len(groups)))
    for group in groups:
        out += [string(group.name), length(group.last_id[0]), length(group.last_id[1])]
        if generation >= 2:
            out.append(length(group.entries_read))
        out.append(length(len(group.pel)))
        for ms, seq in group.pel:
            out += [struct.pack(">QQ", ms, seq), ms_time(1_700_000_000_500), length(1)]
        out.append(length(len(group.consumers)))
        for consumer in group.consumers:
            out += [string(consumer.name), ms_time(consumer.seen_time)]
            if generation >= 3:
                out.append(ms_time(consumer.active_time))
            out.append(length(len(consumer.pel)))
            out += [struct.pack(">QQ", ms, seq) for ms, seq in consumer.pel]
    return b"".join(out)


_STREAM_TYPE = {1: fmt.TYPE_STREAM_LISTPACKS, 2: fmt.TYPE_STREAM_LISTPACKS_2, 3: fmt.TYPE_STREAM_LISTPACKS_3}


# -- files ---------------------------------------------------------------------------------------------
class RdbWriter:
    """Append opcodes and keys, then :meth:`finish` with EOF and the CRC-64.

    Every key method takes the key name as bytes; ``name_encoding`` writes it integer- or LZF-encoded.
    """

    def __init__(self, version: int = 12, aux: bool = True):
        self.version = version
        self.parts: list[bytes] = [b"REDIS%04d" % version]
        if aux:
            self.aux(b"redis-ver", b"7.4.0")
            self.aux(b"redis-bits", b"64", encoding="int")

    def raw(self, data: bytes) -> RdbWriter:
        self.parts.append(data)
        return self

    @property
    def offset(self) -> int:
        """Offset of the next byte written."""
        return sum(len(p) for p in self.parts)

    # opcodes
    def aux(self, name: bytes, value: bytes, encoding: str = "raw") -> RdbWriter:
        return self.raw(bytes([fmt.OP_AUX]) + string(name) + string(value, encoding))

    def select_db(self, db: int) -> RdbWriter:
        return self.raw(bytes([fmt.OP_SELECTDB]) + length(db))

    def resize_db(self, keys: int, expires: int) -> RdbWriter:
        return self.raw(bytes([fmt.OP_RESIZEDB]) + length(keys) + length(expires))

    def slot_info(self, slot: int, size: int, expires: int) -> RdbWriter:
        return self.raw(bytes([fmt.OP_SLOT_INFO]) + length(slot) + length(size) + length(expires))

    def expire_ms(self, when: int) -> RdbWriter:
        return self.raw(bytes([fmt.OP_EXPIRETIME_MS]) + ms_time(when))

    def expire_s(self, when: int) -> RdbWriter:
        return self.raw(bytes([fmt.OP_EXPIRETIME]) + struct.pack("<i", when))

    def idle(self, seconds: int) -> RdbWriter:
        return self.raw(bytes([fmt.OP_IDLE]) + length(seconds))

    def freq(self, value: int) -> RdbWriter:
        return self.raw(bytes([fmt.OP_FREQ, value]))

    def function2(self, code: bytes) -> RdbWriter:
        return self.raw(bytes([fmt.OP_FUNCTION2]) + string(code))

    def function_pre_ga(
        self, name: bytes, engine: bytes, description: bytes | None, code: bytes
    ) -> RdbWriter:
        body = string(name) + string(engine)
        body += length(1) + string(description) if description is not None else length(0)
        return self.raw(bytes([fmt.OP_FUNCTION_PRE_GA]) + body + string(code))

    def module_aux(self, module_id: int, when: int, payload: bytes) -> RdbWriter:
        header = length(module_id) + length(fmt.MODULE_OPCODE_UINT) + length(when)
        return self.raw(bytes([fmt.OP_MODULE_AUX]) + header + payload)

    # keys
    def key(self, rdb_type: int, name: bytes, payload: bytes, name_encoding: str = "raw") -> RdbWriter:
        return self.raw(bytes([rdb_type]) + string(name, name_encoding) + payload)

    def string_key(self, name: bytes, value: bytes, encoding: str = "raw") -> RdbWriter:
        return self.key(fmt.TYPE_STRING, name, string(value, encoding))

    def stream_key(
        self, name: bytes, nodes: Sequence[Sequence[StreamEntry]], generation: int = 3, **kw
    ) -> RdbWriter:
        return self.key(_STREAM_TYPE[generation], name, stream_value(nodes, generation, **kw))

    def finish(self, checksum: bool | int = True) -> bytes:
        """The file: everything written, EOF, and (RDB >= 5) the CRC-64 (0 when ``checksum`` is False)."""
        body = b"".join(self.parts) + bytes([fmt.OP_EOF])
        if self.version < fmt.CHECKSUM_SINCE_VERSION:
            return body
        if checksum is True:
            value = crc64_reference(body)
        elif checksum is False:
            value = 0
        else:
            value = checksum
        return body + value.to_bytes(8, "little")


# -- payloads of the other value types -----------------------------------------------------------------
def strings(*items: bytes) -> bytes:
    return length(len(items)) + b"".join(string(i) for i in items)


def hash_pairs(pairs: Sequence[tuple[bytes, bytes]]) -> bytes:
    return length(len(pairs)) + b"".join(string(f) + string(v) for f, v in pairs)


def zset_text_scores(pairs: Sequence[tuple[bytes, bytes | float]]) -> bytes:
    """ZSET (type 3): member, then a 1-byte length and the score as text (253 NaN, 254 +inf, 255 -inf)."""
    out = [length(len(pairs))]
    for member, score in pairs:
        out.append(string(member))
        if score == float("inf"):
            out.append(b"\xfe")
        elif score == float("-inf"):
            out.append(b"\xff")
        elif isinstance(score, float) and score != score:
            out.append(b"\xfd")
        else:
            text = score if isinstance(score, bytes) else repr(score).encode()
            out.append(bytes([len(text)]) + text)
    return b"".join(out)


def zset_binary_scores(pairs: Sequence[tuple[bytes, float]]) -> bytes:
    return length(len(pairs)) + b"".join(string(m) + struct.pack("<d", s) for m, s in pairs)


def quicklist2(nodes: Sequence[tuple[int, bytes]]) -> bytes:
    return length(len(nodes)) + b"".join(length(container) + string(data) for container, data in nodes)


def hash_metadata(pairs: Sequence[tuple[bytes, bytes, int]], min_expire: int | None) -> bytes:
    """HASH_METADATA (min_expire given, TTLs relative + 1) or its pre-GA form (absolute TTLs)."""
    out = [ms_time(min_expire)] if min_expire is not None else []
    out.append(length(len(pairs)))
    for name, value, ttl in pairs:
        out += [length(ttl), string(name), string(value)]
    return b"".join(out)


def module_fields(*fields: tuple[int, object]) -> bytes:
    """Annotated module value fields ``(opcode, value)`` followed by the module EOF opcode."""
    out = []
    for opcode, value in fields:
        out.append(length(opcode))
        if opcode in (fmt.MODULE_OPCODE_SINT, fmt.MODULE_OPCODE_UINT):
            out.append(length(value))
        elif opcode == fmt.MODULE_OPCODE_FLOAT:
            out.append(struct.pack("<f", value))
        elif opcode == fmt.MODULE_OPCODE_DOUBLE:
            out.append(struct.pack("<d", value))
        else:
            out.append(string(value))
    return b"".join(out) + length(fmt.MODULE_OPCODE_EOF)


def module_id(name: str, version: int) -> int:
    """Pack a 9-character module type name and a 10-bit encoding version like Redis does."""
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = 0
    for char in name:
        value = (value << 6) | charset.index(char)
    return (value << 10) | version
