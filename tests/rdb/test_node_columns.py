"""The columnar fast path (``decode_nodes``) against the node-by-node decoder, on nodes built byte by byte.

Every listpack encoding a stream node can use appears in a value, an id difference or a field; the fast path
must give exactly the entries ``decode_node`` gives, or None where it does not apply.
"""

from __future__ import annotations

import numpy as np
import pytest

from neuroconv_brand.sources.rdb import RdbStreamSource
from neuroconv_brand.sources.rdb.node_columns import decode_nodes
from neuroconv_brand.sources.rdb.streams import decode_node

from . import rdb_writer as w
from .rdb_writer import RdbWriter, StreamEntry

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


def as_entries(columns) -> list:
    names = list(columns.id_names())
    return [(name, {f: values[i] for f, values in columns.columns.items()}) for i, name in enumerate(names)]


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
