"""The direct reader against files written and answered by real redis-servers (6.2: RDB 9, 7.0: RDB 10, 8.2: 12)."""

from __future__ import annotations

import lzf
import pytest

from neuroconv_brand.sources.base import StreamSource
from neuroconv_brand.sources.entry_ids import EntryId
from neuroconv_brand.sources.rdb import RdbStreamSource, build_index
from neuroconv_brand.sources.rdb.checksum import crc64

from .recorded import RECORDED_SESSIONS, Recorded, load_recorded
from .samples import as_entries


@pytest.fixture(scope="module", params=[1, 3, 16])
def stride(request) -> int:
    return request.param


def test_file_versions(recorded: Recorded):
    index = build_index(recorded.path)
    assert (
        index.version
        == recorded.rdb_version
        == {"brand_v9": 9, "brand_v10": 10, "brand_v12": 12}[recorded.name]
    )
    assert index.aux[b"redis-ver"].decode() == recorded.answers["redis_version"]
    assert index.aux[b"redis-bits"] == b"64"  # stored int-encoded
    assert index.checksum_verified
    data = recorded.path.read_bytes()
    assert index.stored_checksum == int.from_bytes(data[-8:], "little") == crc64(data[:-8])
    assert index.eof_offset == len(data) - 9
    assert index.functions == (1 if index.version >= 10 else 0)


@pytest.mark.parametrize("db", [0, 1])
def test_every_stream_equals_recorded_xrange(recorded: Recorded, db: int, stride: int):
    with RdbStreamSource(recorded.path, db=db, node_stride=stride) as source:
        assert source.stream_names() == sorted(recorded.streams(db))
        for name in recorded.streams(db):
            assert source.read_range(name) == recorded.entries(name, db), name


@pytest.mark.parametrize("db", [0, 1])
def test_stats_and_metadata_equal_xinfo(recorded: Recorded, db: int):
    source = RdbStreamSource(recorded.path, db=db)
    for name, info in recorded.streams(db).items():
        stats = source.stream_stats(name)
        assert stats.length == info["length"]
        assert stats.first_id == (EntryId.parse(info["first_id"]) if info["first_id"] else None)
        assert stats.last_id == (EntryId.parse(info["last_id"]) if info["last_id"] else None)
        metadata = source.stream_metadata(name)
        assert str(metadata.last_generated_id) == info["last_generated_id"]
        assert metadata.groups == info["groups"]
        assert metadata.pending == info["pending"]
        if recorded.rdb_version >= 10:
            assert metadata.generation == (3 if recorded.rdb_version >= 11 else 2)
            assert str(metadata.max_deleted_id) == info["max_deleted_entry_id"]
            assert metadata.entries_added == info["entries_added"]
            assert str(metadata.first_id) == info["recorded_first_entry_id"]
        else:
            assert metadata.generation == 1
            assert metadata.first_id is metadata.max_deleted_id is metadata.entries_added is None
    source.close()


def test_the_interesting_streams_are_what_the_fixture_claims(recorded: Recorded):
    """Guard the fixture itself: deletions, trims, empties, groups and many nodes are really there."""
    index = build_index(recorded.path, node_stride=1)
    nodes = {name.decode(): s.node_count for (db, name), s in index.streams.items() if db == 0}
    assert nodes["neural"] >= 10 and nodes["cursor"] == 5  # 4096-byte and 100-entry node limits
    assert nodes["raw"] == 8  # every entry larger than a node
    assert nodes["empty"] == nodes["empty_with_group"] == 0
    streams = recorded.streams()
    assert streams["deleted"]["length"] == 350 - 114
    assert streams["trim_maxlen"]["length"] == 123 and streams["trim_minid"]["length"] == 143
    assert streams["grouped"]["groups"] == 2 and streams["grouped"]["pending"] == 13
    assert streams["deleted"]["last_id"] != streams["deleted"]["last_generated_id"]


@pytest.mark.parametrize("batch_size", [1, 7, 100, 2000])
def test_iter_batches_covers_the_stream_in_order(recorded: Recorded, batch_size: int, stride: int):
    source = RdbStreamSource(recorded.path, node_stride=stride)
    for name in ("neural", "deleted", "cursor", "mixed", "raw", "empty"):
        batches = list(source.iter_batches(name, batch_size=batch_size))
        assert all(0 < len(batch) <= batch_size for batch in batches)
        assert all(len(batch) == batch_size for batch in batches[:-1])
        assert [entry for batch in batches for entry in batch] == recorded.entries(name)
    source.close()


def _window(entries, start, end, count):
    out = [e for e in entries if (start is None or EntryId.parse(e[0]) >= start)]
    out = [e for e in out if end is None or EntryId.parse(e[0]) <= end]
    return out if count is None else out[:count]


@pytest.mark.parametrize("name", ["neural", "deleted", "cursor", "mixed", "trim_maxlen", "raw"])
def test_read_range_windows(recorded: Recorded, name: str, stride: int):
    """Starts and ends on, between and around every kind of id; binary search over the node index."""
    source = RdbStreamSource(recorded.path, node_stride=stride)
    entries = recorded.entries(name)
    ids = [EntryId.parse(e[0]) for e in entries]
    probes = {EntryId(0, 0), EntryId(2**64 - 1, 2**64 - 1), ids[0], ids[-1]}
    for i in range(0, len(ids), max(1, len(ids) // 25)):
        probes |= {
            ids[i],
            ids[i].successor(),
            EntryId(ids[i].ms, max(ids[i].seq - 1, 0)),
            EntryId(ids[i].ms, 0),
        }
    probes |= {EntryId(1_700_000_000_000 + 250, 0), EntryId(1_700_000_000_000 + 100, 0)}  # deleted ids
    for start in [*sorted(probes)[::2], None]:
        for end in (None, ids[len(ids) // 2], ids[-1]):
            for count in (None, 1, 5, 150):
                got = source.read_range(name, start, end, count)
                assert got == _window(entries, start, end, count), (start, end, count)
    assert source.read_range(name, ids[-1], ids[0]) == []  # start after end
    assert source.read_range(name, count=0) == []
    assert source.read_range(name, str(ids[1]), str(ids[3]).encode()) == entries[1:4]  # ids as text
    source.close()


def test_read_latest(recorded: Recorded, stride: int):
    source = RdbStreamSource(recorded.path, node_stride=stride)
    for name in recorded.streams():
        newest_first = recorded.entries(name)[::-1]
        for count in (0, 1, 3, 101, len(newest_first), len(newest_first) + 5):
            assert source.read_latest(name, count) == newest_first[:count], (name, count)
    source.close()


def test_base_class_paging_agrees_with_the_sequential_override(recorded: Recorded):
    source = RdbStreamSource(recorded.path, node_stride=2)
    assert isinstance(source, StreamSource)
    start, end = EntryId(1_700_000_000_000 + 33, 0), EntryId(1_700_000_000_000 + 260, 0)
    for name in ("neural", "deleted", "cursor"):
        paged = list(StreamSource.iter_batches(source, name, start, end, batch_size=13))
        assert paged == list(source.iter_batches(name, start, end, batch_size=13))
    source.close()


def test_other_value_types_are_skipped_and_listed(recorded: Recorded):
    source = RdbStreamSource(recorded.path)
    found = {(k.db, k.name.decode()): k for k in source.keys()}
    for db in (0, 1):
        for name, info in recorded.keys(db).items():
            assert found[(db, name)].type_name == info["type"], name
    assert len(found) == sum(len(recorded.keys(db)) for db in (0, 1))
    # spot-check the encodings each server chose (compact vs plain forms both present)
    encodings = {name: found[(0, name)].encoding for name in recorded.keys(0)}
    assert encodings["set_intset"] == "intset"
    assert encodings["hash_large"] == "hashtable" and encodings["set_large"] == "hashtable"
    assert encodings["zset_large"] == "skiplist (binary scores)"
    if recorded.rdb_version >= 10:
        assert encodings["hash_small"] == encodings["zset_small"] == "listpack"
        assert encodings["list_large"] == "quicklist2"
    else:
        assert encodings["hash_small"] == encodings["zset_small"] == "ziplist"
        assert encodings["list_large"] == "quicklist"
    for name in ("str_plain", "hash_small", "missing"):
        with pytest.raises(KeyError, match=name):
            source.stream_stats(name)
        with pytest.raises(KeyError):
            source.read_range(name)
    source.close()


def test_expiry_times_are_kept(recorded: Recorded):
    source = RdbStreamSource(recorded.path)
    expiring = {k.name: k.expire_ms for k in source.keys() if k.expire_ms is not None}
    assert expiring == {b"expiring_stream": 4_102_444_800_000, b"str_expiring": 4_102_444_800_000}
    assert "expiring_stream" in source.stream_names()
    source.close()


def test_close_is_idempotent_and_reads_after_close_fail(recorded: Recorded):
    source = RdbStreamSource(recorded.path)
    source.close()
    source.close()
    with pytest.raises(ValueError, match="closed"):
        source.read_range("neural")


@pytest.mark.parametrize("name", RECORDED_SESSIONS)
def test_generated_sessions_equal_recorded_xrange(name: str):
    """A session of the package's generator as a real Redis 8.2 saved it: every stream, both decoders."""
    session = load_recorded(name)
    with RdbStreamSource(session.path) as source:
        assert source.version == session.rdb_version == 12
        assert (
            source.stream_names() == sorted(session.streams())
            and "supergraph_stream" in source.stream_names()
        )
        for stream in session.streams():
            expected = session.entries(stream)
            assert source.read_range(stream) == expected, stream
            batches = list(source.iter_entry_batches(stream, batch_size=500))
            assert [entry for batch in batches for entry in as_entries(batch)] == expected, stream


def test_redis_wrote_lzf_compressed_stream_nodes_that_decode(recorded: Recorded):
    """The LZF path is exercised by files a real Redis compressed (``rdbcompression yes``), not only our writer's.

    ``lzf`` is the module of the ``python-neo-lzf`` wheel; every compressed node must expand to the size Redis
    stated, and the streams holding them equal their recorded XRANGE (``test_every_stream_equals_recorded_xrange``).
    """
    with RdbStreamSource(recorded.path) as source:
        compressed = {
            name: [node for node in source._raw_nodes(source._stream(name), 0) if node.size >= 0]
            for name in source.stream_names()
        }
        assert len(compressed["neural"]) >= 10 and len(compressed["cursor"]) == 5
        for name, nodes in compressed.items():
            for node in nodes:
                assert len(lzf.decompress(node.data, node.size)) == node.size, (name, node.number)
            assert source.read_range(name) == recorded.entries(name), name
