"""Files built byte by byte (tests/rdb/rdb_writer.py) for what no server here can record.

RDB 11/12 encodings (STREAM_LISTPACKS_3, the Redis 7.4 hash field-expiry forms, SLOT_INFO), module values,
function records, old opcodes, forced length widths and encoded key names. These files are built from the
format description, not recorded; the recorded fixtures check the same code against real servers.
"""

from __future__ import annotations

import time

import pytest

from neuroconv_brand.sources.entry_ids import EntryId
from neuroconv_brand.sources.rdb import (
    RdbCorruptError,
    RdbModuleError,
    RdbStreamSource,
    RdbVersionError,
    build_index,
)
from neuroconv_brand.sources.rdb import format as fmt

from . import rdb_writer as w
from .rdb_writer import Consumer, Group, RdbWriter, StreamEntry

T0 = 1_700_000_000_000
MODULE = w.module_id("fixtureMd", 3)


def _brand_nodes() -> list[list[StreamEntry]]:
    """Three nodes: SAMEFIELDS runs, a deleted master entry, other field sets, negative seq diffs, wide
    id diffs, integer-looking values and names, a 32-bit-length value."""
    fields = [(b"ts", b"1234567890123"), (b"i", b"7"), (b"data", bytes(range(256)) * 3)]
    node1 = [
        StreamEntry(T0 + i, 0, [(f, v if f != b"i" else b"%d" % i) for f, v in fields]) for i in range(6)
    ]
    node1[0].deleted = True
    node1[3].deleted = True
    node2 = [
        StreamEntry(T0 + 100, 5, [(b"a", b"-7")]),
        StreamEntry(T0 + 100, 6, [(b"a", b"42")]),
        StreamEntry(T0 + 101, 0, [(b"b", b"x"), (b"1", b"-4097")]),  # seq diff -5
        StreamEntry(T0 + 101 + 2**20, 1, [(b"a", b"9223372036854775807")]),
        StreamEntry(T0 + 101 + 2**40, 2, [(b"a", b"")]),
    ]
    node3 = [StreamEntry(T0 + 2**41, 0, [(b"big", b"\x00\x01" * 5000)])]
    return [node1, node2, node3]


def _expected(nodes) -> list:
    return [e.xrange for node in nodes for e in node if not e.deleted]


def _everything(version: int = 12, generation: int = 3) -> tuple[bytes, list]:
    """A file with every opcode and every value type, and three streams."""
    nodes = _brand_nodes()
    group = Group(
        b"workers",
        last_id=(T0 + 100, 6),
        entries_read=6,
        pel=[(T0 + 1, 0), (T0 + 2, 0)],
        consumers=[Consumer(b"alice", pel=[(T0 + 1, 0)]), Consumer(b"bob", pel=[(T0 + 2, 0)])],
    )
    writer = RdbWriter(version)
    writer.aux(b"ctime", b"1700000000", encoding="int").aux(b"used-mem", b"x" * 100, encoding="lzf")
    writer.function2(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    writer.function_pre_ga(b"f2", b"LUA", b"a description", b"return 2")
    writer.function_pre_ga(b"f3", b"LUA", None, b"return 3")
    writer.module_aux(
        MODULE, 2, w.module_fields((fmt.MODULE_OPCODE_UINT, 5), (fmt.MODULE_OPCODE_STRING, b"s"))
    )
    writer.select_db(0).resize_db(40, 2).slot_info(1234, 40, 2)
    writer.idle(12).stream_key(b"brand", nodes, generation, groups=[group])
    writer.freq(3).string_key(b"s_raw", b"hello")
    writer.expire_ms(4_102_444_800_000).string_key(b"s_int8", b"-12", "int")
    writer.expire_s(2_000_000_000).string_key(b"s_int16", b"3000", "int")
    writer.string_key(b"s_int32", b"-2000000000", "int").string_key(b"s_lzf", b"ab" * 500, "lzf")
    writer.key(fmt.TYPE_STRING, b"12345", w.string(b"int-encoded key name"), name_encoding="int")
    writer.key(fmt.TYPE_STRING, b"k" * 60, w.string(b"lzf key name"), name_encoding="lzf")
    writer.key(fmt.TYPE_STRING, b"wide", w.string(b"v" * 10, width=64))
    writer.key(fmt.TYPE_LIST, b"list", w.strings(b"a", b"b", b"c"))
    writer.key(fmt.TYPE_SET, b"set", w.strings(b"x", b"y"))
    writer.key(fmt.TYPE_ZSET, b"zset", w.zset_text_scores([(b"a", 1.5), (b"b", float("inf")), (b"c", float("-inf")),
                                                           (b"d", float("nan"))]))  # fmt: skip
    writer.key(fmt.TYPE_HASH, b"hash", w.hash_pairs([(b"f", b"v"), (b"g", b"w")]))
    writer.key(fmt.TYPE_ZSET_2, b"zset2", w.zset_binary_scores([(b"a", 0.5), (b"b", -1.0)]))
    writer.key(fmt.TYPE_MODULE_2, b"module", w.length(MODULE) + w.module_fields(
        (fmt.MODULE_OPCODE_SINT, 3), (fmt.MODULE_OPCODE_FLOAT, 1.5), (fmt.MODULE_OPCODE_DOUBLE, 2.5),
        (fmt.MODULE_OPCODE_STRING, b"payload")))  # fmt: skip
    for rdb_type in (9, 10, 11, 12, 13, 16, 17, 20, 23):  # single-blob encodings, skipped unparsed
        writer.key(rdb_type, b"blob%d" % rdb_type, w.string(bytes(range(40)) * 4, "lzf"))
    writer.key(fmt.TYPE_LIST_QUICKLIST, b"quicklist", w.strings(b"ziplist-1", b"ziplist-2"))
    writer.key(fmt.TYPE_LIST_QUICKLIST_2, b"quicklist2", w.quicklist2([(1, b"plain node"), (2, b"packed")]))
    writer.key(
        fmt.TYPE_HASH_METADATA_PRE_GA, b"hfe_pre", w.hash_metadata([(b"f", b"v", 1_800_000_000_000)], None)
    )
    writer.key(fmt.TYPE_HASH_METADATA, b"hfe", w.hash_metadata([(b"f", b"v", 5), (b"g", b"w", 0)], T0))
    writer.key(fmt.TYPE_HASH_LISTPACK_EX_PRE_GA, b"hfe_lp_pre", w.string(w.listpack([b"f", b"v", 0])))
    writer.key(fmt.TYPE_HASH_LISTPACK_EX, b"hfe_lp", w.ms_time(T0) + w.string(w.listpack([b"f", b"v", T0])))
    writer.stream_key(b"compressed", nodes, generation, compress_nodes=True)
    writer.select_db(3).stream_key(b"other_db", nodes[:1], generation)
    writer.select_db(0).stream_key(b"old_generation", nodes, 1)
    return writer.finish(), _expected(nodes)


@pytest.mark.parametrize(("version", "generation"), [(12, 3), (11, 3), (10, 2), (9, 1)])
def test_every_opcode_and_type(write, version, generation):
    data, expected = _everything(version, generation)
    source = RdbStreamSource(write(data), node_stride=1)
    assert source.version == version
    assert source.index.checksum_verified
    assert source.index.functions == 3 and source.index.module_aux == 1
    assert source.index.aux[b"ctime"] == b"1700000000" and source.index.aux[b"used-mem"] == b"x" * 100
    assert source.stream_names() == ["brand", "compressed", "old_generation"]
    for name in source.stream_names():
        assert source.read_range(name) == expected, name
        assert source.read_latest(name, 100) == expected[::-1]
        stats = source.stream_stats(name)
        assert stats.length == len(expected)
        assert (stats.first_id, stats.last_id) == (EntryId(T0 + 1, 0), EntryId(T0 + 2**41, 0))
    metadata = source.stream_metadata("brand")
    assert metadata.groups == 1 and metadata.pending == 2 and metadata.generation == generation
    assert metadata.last_generated_id == EntryId(T0 + 2**41, 0)
    if generation >= 2:
        assert metadata.first_id == EntryId(T0 + 1, 0)
        assert metadata.max_deleted_id == EntryId(T0 + 3, 0)
        assert metadata.entries_added == 12
    names = {k.name: k for k in source.keys()}
    assert names[b"12345"].type_name == "string" and names[b"k" * 60].type_name == "string"
    assert names[b"hfe"].encoding == "hash_metadata" and names[b"hfe_lp"].encoding == "listpack_ex"
    assert names[b"module"].type_name == "module"
    assert names[b"s_int8"].expire_ms == 4_102_444_800_000
    assert names[b"s_int16"].expire_ms == 2_000_000_000_000
    assert len(source.keys()) == len(names) == 33
    assert RdbStreamSource(write(data), db=3).read_range("other_db") == _expected(_brand_nodes()[:1])


def test_entries_with_integer_values_come_back_as_decimal_text(write):
    """Every listpack integer width (7/13/16/24/32/64 bits) is returned exactly as Redis replies."""
    values = [0, 1, 127, 128, -1, 4095, -4096, 4096, -4097, 32767, -32768, 32768, 2**23 - 1, -(2**23),
              2**23, 2**31 - 1, -(2**31), 2**31, 2**63 - 1, -(2**63)]  # fmt: skip
    texts = [b"%d" % v for v in values] + [b"007", b"-0", b"+1", b"1e3", b"18446744073709551616"]
    entries = [StreamEntry(T0, i, [(b"v", text), (text or b"e", b"name")]) for i, text in enumerate(texts)]
    data = RdbWriter().stream_key(b"ints", [entries[:13], entries[13:]]).finish()
    assert RdbStreamSource(write(data)).read_range("ints") == [e.xrange for e in entries]


def test_listpack_with_unknown_element_count(write):
    """Listpacks with more than 65534 elements store 65535 ("unknown") as their count."""
    entry = StreamEntry(T0, 0, [(b"a", b"1")])
    master, _ = w.stream_node([entry])
    elements = [1, 0, 1, b"a", 0, w.fmt.STREAM_FLAG_SAMEFIELDS, 0, 0, b"1", 4]
    value = w.length(1) + w.string(master) + w.string(w.listpack(elements, count=65535))
    value += w.length(1) + w.length(T0) + w.length(0) + w.length(0)
    data = RdbWriter(9).key(fmt.TYPE_STREAM_LISTPACKS, b"s", value).finish()
    assert RdbStreamSource(write(data)).read_range("s") == [entry.xrange]


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5, 6, 7, 8])
def test_old_versions_without_streams(write, version):
    writer = RdbWriter(version, aux=version >= 7).select_db(0).string_key(b"k", b"v")
    data = writer.finish()
    source = RdbStreamSource(write(data))
    assert source.stream_names() == [] and [k.name for k in source.keys()] == [b"k"]
    assert source.index.checksum_verified == (version >= 5)


@pytest.mark.parametrize("version", [0, 13, 80, 9999])
def test_unsupported_versions(write, version):
    data = RdbWriter(12).finish().replace(b"REDIS0012", b"REDIS%04d" % version, 1)
    with pytest.raises(RdbVersionError, match=f"version {version} is not supported"):
        RdbStreamSource(write(data))


def test_checksum_zero_means_not_computed(write):
    data, expected = _everything()
    source = RdbStreamSource(write(data[:-8] + bytes(8)))
    assert source.index.stored_checksum == 0 and not source.index.checksum_verified
    assert source.read_range("brand") == expected


def test_bytes_after_the_checksum_are_ignored_like_redis_does(write):
    data, expected = _everything()
    source = RdbStreamSource(write(data + b"trailing garbage"))
    assert source.index.checksum_verified
    assert source.read_range("brand") == expected


def test_expired_streams_are_hidden_like_a_loading_server_drops_them(write):
    past = int(time.time() * 1000) - 60_000
    nodes = [[StreamEntry(T0, 0, [(b"a", b"1")])]]
    writer = RdbWriter().expire_ms(past).stream_key(b"gone", nodes).expire_s(1).stream_key(b"gone_s", nodes)
    data = writer.expire_ms(past + 10**9).stream_key(b"kept", nodes).finish()
    assert RdbStreamSource(write(data)).stream_names() == ["kept"]
    with_expired = RdbStreamSource(write(data), include_expired=True)
    assert with_expired.stream_names() == ["gone", "gone_s", "kept"]
    assert with_expired.read_range("gone") == [nodes[0][0].xrange]


def test_lengths_in_every_width(write):
    """6-, 14-, 32- and 64-bit lengths (the last two forced, as a writer may choose them)."""
    writer = RdbWriter()
    for width in (6, 14, 32, 64):
        writer.key(fmt.TYPE_STRING, b"w%d" % width, w.string(b"z" * 50, width=width if width > 6 else None))
    writer.key(fmt.TYPE_STRING, b"long", w.string(b"y" * 20_000))
    index = build_index(write(writer.finish()))
    assert [k.name for k in index.keys] == [b"w6", b"w14", b"w32", b"w64", b"long"]


def test_module_values_that_cannot_be_skipped(write):
    named = rf"module fixtureMd \(encoding version 3, module id 0x{MODULE:x}\)"
    pre_ga = RdbWriter().key(fmt.TYPE_MODULE_PRE_GA, b"mod_key", w.length(MODULE) + b"\x00" * 8).finish()
    with pytest.raises(RdbModuleError, match=named + r" in the pre-release module format.*key b'mod_key'"):
        build_index(write(pre_ga))
    bad_opcode = RdbWriter().key(fmt.TYPE_MODULE_2, b"mod2", w.length(MODULE) + w.length(9)).finish()
    with pytest.raises(RdbModuleError, match=named + r" has unknown annotation opcode 9.*key b'mod2'"):
        build_index(write(bad_opcode))
    aux = RdbWriter().raw(bytes([fmt.OP_MODULE_AUX]) + w.length(MODULE) + w.length(5) + w.length(2))
    with pytest.raises(RdbCorruptError, match="when-opcode 5"):
        build_index(write(aux.finish()))


@pytest.mark.parametrize("stride", [1, 2, 5])
def test_many_nodes_binary_search(write, stride):
    nodes = [[StreamEntry(T0 + 10 * n + i, i % 3, [(b"n", b"%d" % n), (b"i", b"%d" % i)]) for i in range(4)]
             for n in range(40)]  # fmt: skip
    source = RdbStreamSource(write(RdbWriter().stream_key(b"s", nodes).finish()), node_stride=stride)
    expected = _expected(nodes)
    for i, (entry_id, _) in enumerate(expected):
        start = EntryId.parse(entry_id)
        assert source.read_range("s", start, count=3) == expected[i : i + 3]
        assert source.read_range("s", None, start) == expected[: i + 1]
    assert source.read_latest("s", 9) == expected[::-1][:9]
