"""Benchmark: the direct .rdb reader against XRANGE through a redis-server loaded with the same file.

For each size, a BRAND-shaped dump is generated with a scratch redis-server (``stream-node-max-bytes
4096``, ``stream-node-max-entries 100``, LZF on): ``--small-streams`` 1 kHz streams of 0.5-1 kB entries
(int16 threshold crossings or float32 band power, ns timestamps, a sync label) and one 1 kHz raw stream of
~16.6 kB entries (30 x 256 int16 samples and per-sample clocks, like ``nsp_neural``). Then, each in a fresh
process so peak RSS (``resource.getrusage``) belongs to that reader alone:

* ``direct``: ``RdbStreamSource(path)`` (index pass + CRC-64 check) and ``iter_batches`` over every stream.
* ``xrange``: an ``EmbeddedRedisServer`` loads the file; redis-py (hiredis) pages every stream with
  ``XRANGE ... COUNT 2000``. The server's own RSS is reported too: it holds the whole file in memory.

Each reader runs ``--repeat`` times; the fastest time per stream group counts (shared machines are noisy).

Usage::

    python benchmarks/bench_rdb_reader.py                      # 10 s and 40 s of recording
    python benchmarks/bench_rdb_reader.py --seconds 5 --keep /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from measure import peak_rss_mb
from neuroconv_brand.sources.redis_server import EmbeddedRedisServer, find_redis_servers

BRAND_CONFIG = {"stream-node-max-bytes": "4096", "stream-node-max-entries": "100", "rdbcompression": "yes"}
T0 = 1_700_000_000_000


def _server_path() -> str:
    """The newest redis-server available (Debian's 7.0 writes the RDB 10 that real BRAND rigs write)."""
    return max(find_redis_servers(), key=lambda server: server.version).path


def generate(path: Path, seconds: int, small_streams: int) -> dict:
    """Write a BRAND-shaped dump of ``seconds`` of 1 kHz recording to ``path``."""
    rng = np.random.default_rng(0)
    with EmbeddedRedisServer(redis_server_path=_server_path(), extra_config=BRAND_CONFIG) as server:
        client = server.client()
        pipe = client.pipeline(transaction=False)
        for ms in range(seconds * 1000):
            entry_id = f"{T0 + ms}-0"
            sync = b'{"nsp_idx": %d}' % (30 * ms)
            ts = b"%d" % (12_590_134_766_400 + ms * 1_000_000)
            samples = rng.normal(0, 60, (30, 256)).astype(np.int16)
            pipe.xadd(
                "nsp_neural",
                {
                    b"samples": samples.tobytes(),
                    b"timestamps": np.arange(30 * ms, 30 * ms + 30, dtype=np.uint64).tobytes(),
                    b"BRANDS_time": rng.bytes(480),
                    b"udp_recv_time": rng.bytes(480),
                    b"tracking_id": np.int64(ms).tobytes(),
                    b"sync": sync,
                },
                id=entry_id,
            )
            for k in range(small_streams):
                if k % 2:
                    payload = rng.random(256, dtype=np.float32).tobytes()  # sbp: 1 kB
                else:
                    payload = (rng.random(256) < 0.05).astype(np.int16).tobytes()  # thresh_cross: 512 B
                pipe.xadd(
                    f"feature_{k}",
                    {b"ts": ts, b"sync": sync, b"i": b"%d" % ms, b"data": payload},
                    id=entry_id,
                )
            if ms % 200 == 199:
                pipe.execute()
        pipe.execute()
        server.save_rdb(path)
        client.close()
    return {
        "file_bytes": path.stat().st_size,
        "streams": small_streams + 1,
        "entries_per_stream": seconds * 1000,
    }


def _count(batch) -> tuple[int, int]:
    return len(batch), sum(len(k) + len(v) for _, fields in batch for k, v in fields.items())


def _group(stream: str) -> str:
    return "raw" if stream == "nsp_neural" else "features"


class _Tally:
    """Entries, payload bytes and read seconds, in total and per stream group."""

    def __init__(self):
        self.groups = {"raw": [0, 0, 0.0], "features": [0, 0, 0.0]}

    def add(self, stream: str, entries: int, size: int, seconds: float) -> None:
        group = self.groups[_group(stream)]
        group[0] += entries
        group[1] += size
        group[2] += seconds

    def result(self) -> dict:
        return {
            "entries": sum(g[0] for g in self.groups.values()),
            "payload_bytes": sum(g[1] for g in self.groups.values()),
            "read_s": sum(g[2] for g in self.groups.values()),
            "groups": self.groups,
        }


def measure_direct(path: Path) -> dict:
    from neuroconv_brand.sources.rdb import RdbStreamSource
    from neuroconv_brand.sources.rdb.checksum import BACKEND

    start = time.perf_counter()
    source = RdbStreamSource(path)
    opened = time.perf_counter()
    tally = _Tally()
    for name in source.stream_names():
        began, entries, payload = time.perf_counter(), 0, 0
        for batch in source.iter_batches(name, batch_size=2000):
            n, size = _count(batch)
            entries, payload = entries + n, payload + size
        tally.add(name, entries, payload, time.perf_counter() - began)
    source.close()
    return {**tally.result(), "open_s": opened - start, "peak_rss_mb": peak_rss_mb(), "crc_backend": BACKEND}


def measure_xrange(path: Path) -> dict:
    start = time.perf_counter()
    with EmbeddedRedisServer(rdb_path=path, redis_server_path=_server_path()) as server:
        client = server.client()
        opened = time.perf_counter()
        tally = _Tally()
        for name in sorted(key.decode() for key in client.keys("*")):
            began, entries, payload, cursor = time.perf_counter(), 0, 0, "-"
            while True:
                batch = client.xrange(name, cursor, "+", count=2000)
                n, size = _count(batch)
                entries, payload = entries + n, payload + size
                if n < 2000:
                    break
                ms, seq = batch[-1][0].split(b"-")
                cursor = f"{int(ms)}-{int(seq) + 1}"
            tally.add(name, entries, payload, time.perf_counter() - began)
        server_rss = client.info("memory")["used_memory_rss"] / (1 << 20)
        client.close()
    return {
        **tally.result(),
        "open_s": opened - start,
        "peak_rss_mb": peak_rss_mb(),
        "server_rss_mb": server_rss,
    }


def _in_subprocess(kind: str, path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--measure", kind, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _best_of(kind: str, path: Path, repeat: int) -> dict:
    """Fastest time per stream group over ``repeat`` fresh processes (shared machines are noisy)."""
    runs = [_in_subprocess(kind, path) for _ in range(repeat)]
    best = dict(runs[0])
    best["groups"] = {
        group: min((run["groups"][group] for run in runs), key=lambda g: g[2]) for group in best["groups"]
    }
    best["read_s"] = sum(g[2] for g in best["groups"].values())
    best["open_s"] = min(run["open_s"] for run in runs)
    best["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    return best


def _line(name: str, result: dict) -> str:
    rate = result["entries"] / result["read_s"]
    mbps = result["payload_bytes"] / result["read_s"] / 1e6
    extra = f", server RSS {result['server_rss_mb']:.0f} MB" if "server_rss_mb" in result else ""
    extra += f", CRC-64 via {result['crc_backend']}" if "crc_backend" in result else ""
    return (
        f"  {name:7s} open {result['open_s']:6.2f} s | read {result['read_s']:6.2f} s: {rate:9.0f} entries/s "
        f"{mbps:7.1f} MB/s | peak RSS {result['peak_rss_mb']:6.0f} MB{extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, nargs="+", default=[10, 40], help="recording lengths to test")
    parser.add_argument("--small-streams", type=int, default=8, help="number of 1 kHz feature streams")
    parser.add_argument("--keep", type=Path, help="folder to keep the generated files in")
    parser.add_argument("--repeat", type=int, default=3, help="runs per reader; the fastest counts")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, path = args.measure
        print(json.dumps((measure_direct if kind == "direct" else measure_xrange)(Path(path))))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-rdb-"))
    folder.mkdir(parents=True, exist_ok=True)
    for seconds in args.seconds:
        path = folder / f"brand_{seconds}s.rdb"
        if not path.exists():
            start = time.perf_counter()
            generate(path, seconds, args.small_streams)
            print(f"generated {path} in {time.perf_counter() - start:.0f} s")
        direct = _best_of("direct", path, args.repeat)
        xrange = _best_of("xrange", path, args.repeat)
        assert direct["entries"] == xrange["entries"] and direct["payload_bytes"] == xrange["payload_bytes"]
        print(f"{seconds} s of recording: {path.stat().st_size / 1e6:.0f} MB, {direct['entries']} entries")
        print(_line("direct", direct))
        print(_line("xrange", xrange))
        ratio = (direct["entries"] / direct["read_s"]) / (xrange["entries"] / xrange["read_s"])
        end_to_end = (xrange["open_s"] + xrange["read_s"]) / (direct["open_s"] + direct["read_s"])
        print(f"  direct/xrange throughput ratio {ratio:.2f} (including open/load: {end_to_end:.2f})")
        for group in ("features", "raw"):
            d, x = direct["groups"][group], xrange["groups"][group]
            print(
                f"    {group:8s}: direct {d[0] / d[2]:9.0f} entries/s {d[1] / d[2] / 1e6:6.1f} MB/s, "
                f"xrange {x[0] / x[2]:9.0f} entries/s {x[1] / x[2] / 1e6:6.1f} MB/s, ratio {x[2] / d[2]:.2f}"
            )
    if not args.keep:
        for file in folder.glob("*.rdb"):
            file.unlink()
        folder.rmdir()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
