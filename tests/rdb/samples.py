"""Built sample files shared by the bad-file and damaged-file tests."""

from __future__ import annotations

from neuroconv_brand.sources.rdb import format as fmt
from neuroconv_brand.sources.rdb.checksum import crc64_reference

from . import rdb_writer as w
from .rdb_writer import Consumer, Group, RdbWriter, StreamEntry

T0 = 1_700_000_000_000


def refresh_checksum(data: bytes) -> bytes:
    """Recompute the CRC-64 so a deliberate corruption is reached instead of the checksum error."""
    return data[:-8] + crc64_reference(data[:-8]).to_bytes(8, "little")


def small_file() -> tuple[bytes, list[tuple[bytes, int, int]]]:
    """A ~1.5 kB file with every opcode and a value of every type; returns the value span of each key."""
    spans = []
    writer = RdbWriter(12)

    def key(rdb_type: int, name: bytes, payload: bytes) -> None:
        start = writer.offset + 1 + len(w.string(name))
        writer.key(rdb_type, name, payload)
        spans.append((name, start, writer.offset))

    nodes = [
        [
            StreamEntry(T0, 0, [(b"a", b"1"), (b"b", b"x" * 70)]),
            StreamEntry(T0 + 1, 0, [(b"a", b"2"), (b"b", b"y")]),
        ],
        [StreamEntry(T0 + 9, 0, [(b"c", b"-5000")], deleted=True), StreamEntry(T0 + 9, 1, [(b"c", b"3")])],
    ]
    group = Group(b"g", (T0 + 1, 0), 2, [(T0, 0)], [Consumer(b"c1", pel=[(T0, 0)])])
    writer.aux(b"ctime", b"17", encoding="int").function2(b"code").function_pre_ga(b"f", b"LUA", b"d", b"c")
    writer.module_aux(w.module_id("fixtureMd", 1), 2, w.module_fields((fmt.MODULE_OPCODE_DOUBLE, 1.0)))
    writer.select_db(0).resize_db(9, 1).slot_info(1, 9, 1).idle(5).freq(2).expire_ms(4_102_444_800_000)
    key(fmt.TYPE_STREAM_LISTPACKS_3, b"stream", w.stream_value(nodes, 3, [group]))
    key(fmt.TYPE_STREAM_LISTPACKS_3, b"lzf_stream", w.stream_value(nodes, 3, compress_nodes=True))
    key(fmt.TYPE_STRING, b"str", w.string(b"ab" * 40, "lzf"))
    key(fmt.TYPE_LIST, b"list", w.strings(b"a", b"-3"))
    key(fmt.TYPE_ZSET, b"zset", w.zset_text_scores([(b"a", 1.5), (b"b", float("inf"))]))
    key(fmt.TYPE_ZSET_2, b"zset2", w.zset_binary_scores([(b"a", 1.5)]))
    key(fmt.TYPE_HASH, b"hash", w.hash_pairs([(b"f", b"v")]))
    key(fmt.TYPE_MODULE_2, b"mod", w.length(w.module_id("fixtureMd", 1)) + w.module_fields((1, 4), (3, 0.5)))
    key(fmt.TYPE_LIST_QUICKLIST_2, b"ql", w.quicklist2([(2, b"lp"), (1, b"plain")]))
    key(fmt.TYPE_HASH_METADATA, b"hfe", w.hash_metadata([(b"f", b"v", 3)], T0))
    key(fmt.TYPE_HASH_LISTPACK_EX, b"hfe_lp", w.ms_time(T0) + w.string(w.listpack([b"f", b"v", 0])))
    key(fmt.TYPE_SET_INTSET, b"intset", w.string(b"\x02\x00\x00\x00\x01\x00\x00\x00\x05\x00"))
    return writer.finish(), spans
