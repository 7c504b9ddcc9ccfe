"""The columnar fast path (``decode_nodes``) against the node-by-node decoder, on nodes built byte by byte.

Every listpack encoding a stream node can use appears in a value, an id difference or a field; the fast path
must give exactly the entries ``decode_node`` gives, or None where it does not apply.
"""

from __future__ import annotations

import numpy as np
import pytest

from neuroconv_brand.sources.base import FixedWidthColumn
from neuroconv_brand.sources.rdb import RdbCorruptError, RdbStreamSource
from neuroconv_brand.sources.rdb import source as source_module
from neuroconv_brand.sources.rdb.listpack import ListpackError
from neuroconv_brand.sources.rdb.node_columns import ColumnChoice, decode_nodes
from neuroconv_brand.sources.rdb.streams import decode_node

from . import rdb_writer as w
from .rdb_writer import Encoded, RdbWriter, StreamEntry
from .samples import BOUNDARY_ELEMENTS, as_entries, refresh_checksum

T0 = 1_700_000_000_000

#: Values covering every listpack element encoding: integers of 7, 13, 16, 24, 32 and 64 bits (Redis stores
#: decimal-integer strings as integers), strings with 6-, 12- and 32-bit lengths and 1-, 2- and 3-byte backlens.
VALUES = [
    b"0", b"127", b"128", b"-1", b"-4096", b"4095", b"32767", b"-32768", b"8388607", b"-8388608",
    b"2147483647", b"-2147483648", b"9223372036854775807", b"-9223372036854775808", b"007", b"",
    b"x" * 63, b"y" * 64, b"z" * 125, b"w" * 126, b"v" * 4095, b"u" * 4096, b"t" * 16400,
]  # fmt: skip


def node_listpacks(nodes: list[list[StreamEntry]]) -> tuple[list[bytes], list[int], list[int]]:
    listpacks, ms, seq = [], [], []
    for entries in nodes:
        master, listpack = w.stream_node(entries)
        listpacks.append(listpack)
        ms.append(int.from_bytes(master[:8], "big"))
        seq.append(int.from_bytes(master[8:], "big"))
    return listpacks, ms, seq


def node_by_node(listpacks, ms, seq) -> list:
    return [entry for lp, m, s in zip(listpacks, ms, seq) for entry in decode_node(lp, m, s)]


def brand_nodes(
    rng: np.random.Generator, sizes: list[int], fields=(b"ts", b"sync", b"samples"), first_ms: int = T0
) -> list:
    """Nodes of SAMEFIELDS entries with random values from VALUES and id steps from 0 to 2**40."""
    nodes, ms, seq = [], first_ms, 0
    for size in sizes:
        node = []
        for _ in range(size):
            step = int(rng.choice([0, 1, 3, 200, 5000, 70000, 2**25, 2**40]))
            ms, seq = ms + step, (seq + 1 if step == 0 else int(rng.integers(0, 300)))
            node.append(StreamEntry(ms, seq, [(f, VALUES[int(rng.integers(len(VALUES)))]) for f in fields]))
        nodes.append(node)
    return nodes


@pytest.mark.parametrize("seed", range(6))
def test_every_encoding_matches_the_node_by_node_decoder(seed):
    rng = np.random.default_rng(seed)
    sizes = [int(n) for n in rng.integers(1, 9, size=40)]  # several element counts: several groups
    listpacks, ms, seq = node_listpacks(brand_nodes(rng, sizes))
    columns = decode_nodes(listpacks, ms, seq)
    assert columns is not None
    expected = node_by_node(listpacks, ms, seq)
    assert len(columns) == sum(sizes) == len(expected)
    assert as_entries(columns) == expected
    assert columns.ids.dtype == np.uint64
    assert columns.ids.tolist() == [[int(part) for part in entry_id.split(b"-")] for entry_id, _ in expected]


def test_ids_near_the_top_of_the_range_and_negative_seq_steps():
    entries = [
        StreamEntry(2**64 - 3, 2**62, [(b"a", b"-5")]),
        StreamEntry(2**64 - 2, 7, [(b"a", b"12")]),  # seq diff 7 - 2**62: a 64-bit integer element
        StreamEntry(2**64 - 1, 0, [(b"a", b"x")]),
    ]
    listpacks, ms, seq = node_listpacks([entries])
    columns = decode_nodes(listpacks, ms, seq)
    assert columns.ids.tolist() == [[2**64 - 3, 2**62], [2**64 - 2, 7], [2**64 - 1, 0]]
    assert columns.columns == {b"a": [b"-5", b"12", b"x"]}
    assert as_entries(columns) == node_by_node(listpacks, ms, seq)


def text(element: Encoded) -> bytes:
    """What XRANGE replies for a value stored as ``element``."""
    return element.value if isinstance(element.value, bytes) else b"%d" % element.value


def test_every_encoding_at_its_boundaries_in_both_decoders():
    # one node per value (same element count: parsed side by side), then all of them in one node
    nodes = [
        [StreamEntry(T0 + i, 0, [(Encoded(b"f", 0xF0), element), (b"g", Encoded(b"c", 0xF0))])]
        for i, element in enumerate(BOUNDARY_ELEMENTS)
    ]
    nodes.append([StreamEntry(T0 + 1000 + i, 0, [(b"v", e)]) for i, e in enumerate(BOUNDARY_ELEMENTS)])
    listpacks, ms, seq = node_listpacks(nodes)
    expected = [
        (b"%d-0" % (T0 + i), {b"f": text(element), b"g": b"c"}) for i, element in enumerate(BOUNDARY_ELEMENTS)
    ]
    assert node_by_node(listpacks[:-1], ms[:-1], seq[:-1]) == expected
    assert as_entries(decode_nodes(listpacks[:-1], ms[:-1], seq[:-1])) == expected
    one_node = [(b"%d-0" % (T0 + 1000 + i), {b"v": text(e)}) for i, e in enumerate(BOUNDARY_ELEMENTS)]
    assert node_by_node(listpacks[-1:], ms[-1:], seq[-1:]) == one_node
    assert as_entries(decode_nodes(listpacks[-1:], ms[-1:], seq[-1:])) == one_node


def deleted_entry():
    node = [StreamEntry(T0, 0, [(b"a", b"1")]), StreamEntry(T0 + 1, 0, [(b"a", b"2")])]
    node[0].deleted = True
    return [node]


def own_fields(first_ms: int = T0):
    return [[StreamEntry(first_ms, 0, [(b"a", b"1")]), StreamEntry(first_ms + 1, 0, [(b"b", b"2")])]]


def other_master_fields():
    return [[StreamEntry(T0, 0, [(b"a", b"1")])], [StreamEntry(T0 + 1, 0, [(b"b", b"1")])]]


def integer_field_name():
    return [[StreamEntry(T0, 0, [(b"1", b"x")])]]


@pytest.mark.parametrize("nodes", [deleted_entry, own_fields, other_master_fields, integer_field_name])
def test_other_layouts_are_left_to_the_node_by_node_decoder(nodes):
    listpacks, ms, seq = node_listpacks(nodes())
    assert decode_nodes(listpacks, ms, seq) is None


def corrupt(listpack: bytes) -> list[bytes]:
    """The same listpack with a wrong size, an unknown encoding, a missing terminator, an unknown count."""
    body = bytearray(listpack)
    wrong_size = bytes(body[:-1])
    unknown = bytearray(body)
    unknown[6] = 0xF7
    no_terminator = bytearray(body)
    no_terminator[-1] = 0x00
    unknown_count = bytearray(body)
    unknown_count[4:6] = (65535).to_bytes(2, "little")
    too_many = bytearray(body)
    too_many[4:6] = (int.from_bytes(body[4:6], "little") + 1).to_bytes(2, "little")
    return [wrong_size, bytes(unknown), bytes(no_terminator), bytes(unknown_count), bytes(too_many)]


def test_malformed_listpacks_are_left_to_the_node_by_node_decoder():
    listpacks, ms, seq = node_listpacks(brand_nodes(np.random.default_rng(1), [3, 3]))
    for damaged in corrupt(listpacks[1]):
        assert decode_nodes([listpacks[0], damaged], ms, seq) is None


def test_a_string_running_past_the_end_is_left_to_the_node_by_node_decoder():
    listpack = w.listpack([1, 0, 1, b"a", 0, 2, 0, 0, b"x" * 100, 4])
    # the 12-bit string header of the value claims 4000 bytes
    position = listpack.index(b"x" * 100) - 2
    damaged = bytearray(listpack)
    damaged[position : position + 2] = bytes([0xE0 | (4000 >> 8), 4000 & 0xFF])
    assert decode_nodes([bytes(damaged)], [T0], [0]) is None


def backlen_bytes(elements: list) -> list[tuple[int, int]]:
    """``(element index, listpack offset)`` of every backlen byte of ``w.listpack(elements)``."""
    found, offset = [], 6
    for index, element in enumerate(elements):
        size = len(w.lp_element(element))
        width = 1 if size <= 128 else 2 if size < 16383 + 2 else 3
        found += [(index, offset + size - width + k) for k in range(width)]
        offset += size
    return found


def test_every_damaged_backlen_is_refused_by_both_decoders():
    # 1-, 2- and 3-byte backlens, integers and strings, master fields and values
    elements = [1, 0, 2, b"ts", b"f" * 130, 0, 2, 5, 0, -70000, b"x" * 20000, 5]
    good = w.listpack(elements)
    assert decode_nodes([good] * 2, [T0] * 2, [0] * 2) is not None
    for index, offset in backlen_bytes(elements):
        damaged = bytearray(good)
        damaged[offset] ^= 0x01
        assert decode_nodes([good, bytes(damaged)], [T0, T0 + 9], [0, 0]) is None
        with pytest.raises(ListpackError, match=f"^element {index} takes .* but its backlen says"):
            decode_node(bytes(damaged), T0, 0)


def test_a_damaged_backlen_in_a_columnar_chunk_names_its_node(write):
    nodes = brand_nodes(np.random.default_rng(4), [4] * 64)
    data = RdbWriter(10).stream_key(b"s", nodes, generation=2).finish()
    _, listpack = w.stream_node(nodes[40])
    position = data.index(listpack) + len(listpack) - 2  # the backlen of the node's last element (lp-count)
    damaged = bytearray(data)
    damaged[position] ^= 0x01
    source = RdbStreamSource(write(bytes(refresh_checksum(bytes(damaged)))))
    with pytest.raises(
        RdbCorruptError, match=r"stream node 40 \(master id .*\) is malformed: element 34 takes 1 "
    ):
        for _ in source.iter_entry_batches("s"):
            pass


def stream_file(write, nodes, compress: bool) -> RdbStreamSource:
    data = RdbWriter(10).stream_key(b"s", nodes, generation=2, compress_nodes=compress).finish()
    return RdbStreamSource(write(data))


@pytest.mark.parametrize("compress", [False, True])
def test_source_batches_mix_columns_and_entries_in_order(write, compress):
    rng = np.random.default_rng(7)
    nodes = brand_nodes(rng, [4] * 100)
    nodes += own_fields(nodes[-1][-1].ms + 1)
    nodes += brand_nodes(rng, [5] * 100, fields=(b"ts", b"x"), first_ms=nodes[-1][-1].ms + 1)
    source = stream_file(write, nodes, compress)
    every = [entry for batch in source.iter_batches("s", batch_size=7) for entry in batch]
    kinds, seen = set(), []
    for batch in source.iter_entry_batches("s", batch_size=7):
        assert 0 < len(batch) <= 7
        kinds.add(type(batch).__name__)
        seen += batch if isinstance(batch, list) else as_entries(batch)
    assert seen == every and len(every) == 100 * 4 + 2 + 100 * 5
    assert kinds == {"EntryColumns", "list"}


def test_source_batches_honour_start_and_end_inside_nodes(write):
    nodes = brand_nodes(np.random.default_rng(3), [6] * 60)
    source = stream_file(write, nodes, compress=False)
    every = source.read_range("s")
    start, end = every[9][0], every[300][0]
    batches = list(source.iter_entry_batches("s", start, end, batch_size=50))
    assert {type(batch).__name__ for batch in batches} == {"EntryColumns"}
    assert [entry for batch in batches for entry in as_entries(batch)] == every[9:301]


def test_one_odd_node_leaves_the_rest_of_its_chunk_on_the_fast_path(write):
    nodes = brand_nodes(np.random.default_rng(5), [4] * 64)
    nodes[0][1].deleted = True  # like the first node of a stream trimmed with XTRIM
    source = stream_file(write, nodes, compress=False)
    by_kind = {"list": 0, "EntryColumns": 0}
    seen = []
    for batch in source.iter_entry_batches("s", batch_size=1000):
        by_kind[type(batch).__name__] += len(batch)
        seen += batch if isinstance(batch, list) else as_entries(batch)
    assert seen == source.read_range("s")
    assert by_kind["list"] + by_kind["EntryColumns"] == 64 * 4 - 1
    assert by_kind["EntryColumns"] >= 32 * 4  # only the odd node's neighbourhood is decoded node by node


def test_few_nodes_with_many_entries_are_decoded_node_by_node(write):
    # three nodes of 70 small entries (a task-state stream): parsing them side by side would be slower
    nodes = brand_nodes(np.random.default_rng(2), [70, 71, 72], fields=(b"state", b"i"))
    source = stream_file(write, nodes, compress=False)
    batches = list(source.iter_entry_batches("s"))
    assert all(isinstance(batch, list) for batch in batches)
    assert [entry for batch in batches for entry in batch] == source.read_range("s")


# --------------------------------------------------------------------- fields asked for, fixed-width rows

RAW_FIELDS = ColumnChoice(frozenset({b"samples", b"timestamps"}), frozenset({b"samples", b"timestamps"}))


def raw_nodes(rng: np.random.Generator, count: int, sync_digits=None) -> list:
    """One entry per node, as a raw stream stores them (entries larger than stream-node-max-bytes)."""
    nodes = []
    for k in range(count):
        fields = [
            (b"samples", rng.integers(0, 4, 96, dtype=np.uint8).tobytes()),  # compressible: LZF nodes too
            (b"timestamps", np.arange(3, dtype=np.uint32).tobytes() + bytes([k % 200])),
        ]
        if sync_digits is not None:
            fields.append((b"sync", b'{"i": %d}' % (10 ** sync_digits(k))))
        nodes.append([StreamEntry(T0 + k, 0, fields)])
    return nodes


def test_binary_fields_of_even_nodes_are_views_and_other_fields_are_named():
    listpacks, ms, seq = node_listpacks(raw_nodes(np.random.default_rng(1), 40, sync_digits=lambda k: 2))
    columns = decode_nodes(listpacks, ms, seq, RAW_FIELDS)
    expected = node_by_node(listpacks, ms, seq)
    assert list(columns.columns) == [b"samples", b"timestamps"]
    assert columns.other_fields == {b"sync"}
    assert columns.field_names == [b"samples", b"timestamps", b"sync"]
    samples = columns.columns[b"samples"]
    assert isinstance(samples, FixedWidthColumn) and samples.width == 96
    assert not samples.rows.flags.owndata  # a view of the decoded listpacks: no copy per entry
    assert [samples[i] for i in range(len(samples))] == [fields[b"samples"] for _, fields in expected]
    assert samples[5:9].rows.tobytes() == b"".join(fields[b"samples"] for _, fields in expected[5:9])
    keep = np.arange(40) % 3 == 0
    assert columns.select(keep).columns[b"timestamps"].rows.tolist() == [
        list(fields[b"timestamps"]) for (_, fields), k in zip(expected, keep) if k
    ]


def test_unevenly_spaced_or_sized_values_stay_bytes():
    # a sync label gaining a digit moves the next nodes' samples by one byte: not one stride
    uneven = raw_nodes(np.random.default_rng(2), 40, sync_digits=lambda k: 1 if k < 20 else 2)
    listpacks, ms, seq = node_listpacks(uneven)
    columns = decode_nodes(listpacks, ms, seq, ColumnChoice(None, frozenset({b"samples", b"sync"})))
    expected = node_by_node(listpacks, ms, seq)
    assert columns.other_fields == frozenset()
    assert columns.columns[b"samples"] == [fields[b"samples"] for _, fields in expected]
    assert columns.columns[b"sync"] == [fields[b"sync"] for _, fields in expected]  # two lengths


def test_integer_encoded_binary_values_stay_bytes():
    nodes = [[StreamEntry(T0 + k, 0, [(b"samples", b"%d" % (100 + k))])] for k in range(40)]
    listpacks, ms, seq = node_listpacks(nodes)
    columns = decode_nodes(listpacks, ms, seq, ColumnChoice(None, frozenset({b"samples"})))
    assert columns.columns[b"samples"] == [b"%d" % (100 + k) for k in range(40)]


@pytest.mark.parametrize("compress", [False, True])
def test_source_batches_of_views_are_never_joined(write, compress):
    nodes = raw_nodes(np.random.default_rng(3), 300)
    source = stream_file(write, nodes, compress)
    every = source.read_range("s")
    seen, sizes = [], []
    for batch in source.iter_entry_batches(
        "s", batch_size=45, fields=RAW_FIELDS.fields, binary_fields=RAW_FIELDS.binary
    ):
        assert isinstance(batch.columns[b"samples"], FixedWidthColumn)
        sizes.append(len(batch))
        seen += as_entries(batch)
    assert seen == every and len(every) == 300
    assert max(sizes) == 45 and sum(sizes) == 300


def test_nodes_across_read_buffers_are_read_whole(write, monkeypatch):
    # 2000 nodes of about 1 kB: the reader's first 4 kB buffer ends inside nodes many times over
    monkeypatch.setattr(source_module, "READ_CHUNK_SIZE", 4096)
    monkeypatch.setattr(source_module, "MAX_READ_CHUNK_SIZE", 8192)
    nodes = [
        [StreamEntry(T0 + k, k % 5, [(b"samples", bytes([k % 251]) * (900 + k % 200))])] for k in range(2000)
    ]
    source = stream_file(write, nodes, compress=False)
    assert source.read_range("s") == [
        (b"%d-%d" % (T0 + k, k % 5), {b"samples": bytes([k % 251]) * (900 + k % 200)}) for k in range(2000)
    ]
    middle = source.read_range("s", b"%d-0" % (T0 + 1234), b"%d-1" % (T0 + 1236))
    assert [entry_id for entry_id, _ in middle] == [
        b"%d-4" % (T0 + 1234),
        b"%d-0" % (T0 + 1235),
        b"%d-1" % (T0 + 1236),
    ]
