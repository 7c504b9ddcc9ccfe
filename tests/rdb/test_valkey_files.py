"""Files in Valkey's own format (``VALKEY080``, Valkey 9+): same streams as Redis' STREAM_LISTPACKS_3.

No valkey-server is available here (Debian 12 has no package, PyPI no wheel), so the files are the recorded
Redis 8.2 session with a Valkey header, and files built byte by byte from Valkey's ``rdb.h``/``rdb.c``.
"""

from __future__ import annotations

import pytest

from neuroconv_brand.errors import RedisServerNotFoundError
from neuroconv_brand.sources.rdb import RdbHeaderError, RdbStreamSource, RdbUnknownTypeError, RdbVersionError
from neuroconv_brand.sources.rdb import format as fmt
from neuroconv_brand.sources.redis_server import EmbeddedRedisServer, read_rdb_header
from neuroconv_brand.sources.session import BrandSession

from . import rdb_writer as w
from .rdb_writer import RdbWriter, StreamEntry
from .recorded import load_recorded
from .samples import T0, refresh_checksum

ADVICE = (
    "The file may be truncated or corrupt: copy it again from the rig, or check it with `redis-check-rdb`."
)
VALKEY_ADVICE = (
    "Load the file with the valkey-server that wrote it and read it over a socket (redis://...) instead."
)


def as_valkey(data: bytes, version: int = 80) -> bytes:
    """A Redis file's contents behind a Valkey header (what Valkey 9 writes for the same streams)."""
    return refresh_checksum(b"VALKEY%03d" % version + data[fmt.HEADER_SIZE :])


def test_a_session_in_valkey_format_reads_like_the_redis_file(write):
    session = load_recorded("brand_session_v12")
    path = write(as_valkey(session.path.read_bytes()))
    assert read_rdb_header(path) == (b"VALKEY", 80)
    with RdbStreamSource(path) as source:
        assert source.version == 80 and source.index.magic == b"VALKEY"
        assert source.stream_names() == sorted(session.streams())
        for stream in session.streams():
            assert source.read_range(stream) == session.entries(stream), stream
    with BrandSession.open(path) as brand:  # the default direct reader
        assert brand.supergraph()["graph_name"] == "sim_radial8"


def valkey_file(*keys: tuple[int, bytes, bytes], version: int = 80) -> bytes:
    writer = RdbWriter(version, magic=b"VALKEY").select_db(0)
    nodes = [[StreamEntry(T0, 0, [(b"ts", b"1"), (b"samples", b"\x00\x01" * 40)])]]
    writer.stream_key(b"neural", nodes, generation=3)
    for rdb_type, name, payload in keys:
        writer.key(rdb_type, name, payload)
    return writer.finish()


def hash_2(fields: list[tuple[bytes, bytes, int]]) -> bytes:
    """Valkey's RDB_TYPE_HASH_2 value: count, then field, value and an 8-byte expiry (ms, -1: none)."""
    body = w.length(len(fields))
    for field, value, expiry in fields:
        body += w.string(field) + w.string(value) + w.ms_time(expiry)
    return body


def test_valkey_hashes_with_field_expiries_are_skipped(write):
    fields = [(b"f1", b"v1", -1), (b"f2", b"22", 4_102_444_800_000)]
    plain = w.length(1) + w.string(b"a") + w.string(b"b")
    path = write(valkey_file((fmt.VALKEY_TYPE_HASH_2, b"h2", hash_2(fields)), (fmt.TYPE_HASH, b"h", plain)))
    with RdbStreamSource(path) as source:
        assert source.read_range("neural") == [(b"%d-0" % T0, {b"ts": b"1", b"samples": b"\x00\x01" * 40})]
        kinds = {key.name: (key.type_name, key.encoding) for key in source.keys()}
    assert kinds == {
        b"neural": ("stream", "listpacks3"),
        b"h2": ("hash", "hashtable (field expiries)"),
        b"h": ("hash", "hashtable"),
    }


@pytest.mark.parametrize(
    ("rdb_type", "version", "what"),
    [
        (23, 81, "Valkey's PATH_HASH value type (23) in a Valkey format-81 file"),
        (fmt.TYPE_HASH_METADATA, 80, "unknown opcode or value type 24 in a Valkey format-80 file"),
    ],
)
def test_valkey_value_types_the_reader_cannot_skip_name_valkey(write, rdb_type, version, what):
    path = write(valkey_file((rdb_type, b"k", b"\x00"), version=version))
    with pytest.raises(RdbUnknownTypeError) as caught:
        RdbStreamSource(path)
    offset = caught.value.offset
    assert str(caught.value) == (
        f"{path}: {what} is not supported by this reader (or the file is corrupt) (at byte offset {offset}). "
        + VALKEY_ADVICE
    )


def test_unknown_valkey_versions_and_headers(write):
    for version in (79, 99):
        path = write(valkey_file(version=version))
        with pytest.raises(RdbVersionError) as caught:
            RdbStreamSource(path)
        assert str(caught.value) == (
            f"{path}: Valkey RDB format version {version} is not supported (this reader understands Valkey's "
            "versions 80 (Valkey 9.0), 81 (Valkey 9.2), and Redis' 1 to 12). Load the file with the "
            "valkey-server that wrote it and read it over a socket instead."
        )
    path = write(b"VALKEYx80" + valkey_file()[9:])
    with pytest.raises(RdbHeaderError) as caught:
        RdbStreamSource(path)
    assert str(caught.value) == (
        f"{path}: not a Redis RDB file (it starts with b'VALKEYx80'; an RDB file starts with b'REDIS' and a "
        "4-digit version such as b'REDIS0010', or with b'VALKEY' and a 3-digit version such as b'VALKEY080')."
    )


def test_redis_server_is_not_asked_to_load_a_valkey_file(write):
    path = write(valkey_file())
    message = (
        f"{path} is in Valkey's own RDB format (VALKEY080), which redis-server cannot load. Read it with the "
        "direct reader (rdb_reader='direct', the default) or load it into the valkey-server that wrote it "
        "and convert from its socket."
    )
    with pytest.raises(RedisServerNotFoundError) as caught:
        EmbeddedRedisServer(path)
    assert str(caught.value) == message
    with pytest.raises(RedisServerNotFoundError) as caught:
        BrandSession.open(path, rdb_reader="server")
    assert str(caught.value) == message
