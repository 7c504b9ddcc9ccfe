"""StreamReader throughput and memory against raw XRANGE, on synthetic sessions of growing length.

Usage::

    python benchmarks/bench_reader.py [--minutes 1 5] [--channels 256] [--profile] [--record]

For each session length, a synthetic no-raw session (``neuroconv_brand.testing``, 2025 era) is written into
an embedded redis-server with BRAND's stream settings. Each case then runs in a fresh subprocess, so its
peak RSS (``ru_maxrss``) is its own, over the same streams (every stream the graph enables):

* ``raw``: ``RedisStreamSource.iter_batches`` (redis-py XRANGE in COUNT batches, the reader's batch sizes),
  results discarded;
* ``reader``: ``StreamReader.iter_batches``, decoding every exported key, the sync labels and ``ts``.

Only the read loops are timed (not imports, connecting or parsing the graph); each case runs ``--repeat``
times, interleaved, and the fastest run is reported (the others are in ``--record``). Payload MB is the exact
sum of field-value bytes over those streams. The ratio is reader wall time over raw wall time. Peak RSS is the
child's own high-water mark (``VmHWM``; see :func:`peak_rss_mb`).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import peak_rss_mb

CASES = ("raw", "reader")
RESULTS = Path(__file__).parent / "results" / "bench_reader.jsonl"


def enabled_streams(graph) -> list[str]:
    return sorted(graph.enabled_streams)


def run_case(case: str, socket_path: str, profile_path: str | None) -> dict:
    """One measurement, in this (fresh) process."""
    from neuroconv_brand.reading.stream_reader import StreamReader
    from neuroconv_brand.sources.session import BrandSession

    with BrandSession.open(socket_path) as session:
        graph = session.graph()
        source = session.source
        readers = {name: StreamReader(source, graph.streams[name]) for name in enabled_streams(graph)}
        profiler = cProfile.Profile() if profile_path else None
        entries = 0
        start, start_cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        if case == "raw":
            for name, reader in readers.items():
                for batch in source.iter_batches(name, batch_size=reader.batch_size):
                    entries += len(batch)
        else:
            for reader in readers.values():
                for batch in reader.iter_batches():
                    entries += len(batch)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    if profiler:
        profiler.dump_stats(profile_path)
    return {"case": case, "entries": entries, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak_rss_mb()}


def payload_bytes(socket_path: str) -> tuple[int, int, list[str]]:
    """Exact entries and field-value bytes of the enabled streams (one untimed pass)."""
    from neuroconv_brand.sources.session import BrandSession

    total = entries = 0
    with BrandSession.open(socket_path) as session:
        names = enabled_streams(session.graph())
        for name in names:
            for batch in session.source.iter_batches(name, batch_size=5000):
                entries += len(batch)
                total += sum(len(value) for _, fields in batch for value in fields.values())
    return entries, total, names


def measure_in_subprocess(case: str, socket_path: str, profile_path: str | None) -> dict:
    command = [sys.executable, __file__, "--child", case, "--socket", socket_path]
    if profile_path:
        command += ["--profile-to", profile_path]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"case '{case}' failed:\n{result.stderr}")
    return json.loads(result.stdout.splitlines()[-1])


def benchmark_session(minutes: float, channels: int, arrays: int, repeat: int, profile: bool) -> list[dict]:
    from neuroconv_brand.sources.redis_server import EmbeddedRedisServer
    from neuroconv_brand.testing import BRAND_REDIS_CONFIG, SessionConfig, generate_session

    config = SessionConfig(
        duration_s=60.0 * minutes, n_arrays=arrays, channels_per_array=channels // arrays, era="2025", seed=0
    )
    rows = []
    with (
        tempfile.TemporaryDirectory() as folder,
        EmbeddedRedisServer(extra_config=BRAND_REDIS_CONFIG) as server,
    ):
        client = server.client()
        start = time.perf_counter()
        generate_session(client, config, folder)
        generated_s = time.perf_counter() - start
        client.close()
        entries, nbytes, names = payload_bytes(server.socket_path)
        print(
            f"# {minutes:g} min, {channels} channels: {entries} entries in {len(names)} streams "
            f"({', '.join(names)}), generated in {generated_s:.1f} s",
            file=sys.stderr,
        )
        runs = {case: [] for case in CASES}
        for _ in range(repeat):  # interleaved, so a busy spell on the machine hits both cases
            for case in CASES:
                run = measure_in_subprocess(case, server.socket_path, None)
                if run["entries"] != entries:
                    raise SystemExit(f"case '{case}' read {run['entries']} entries, expected {entries}")
                runs[case].append(run)
        for case in CASES:
            walls = sorted(run["wall_s"] for run in runs[case])
            cpus = sorted(run["cpu_s"] for run in runs[case])
            rows.append(
                {
                    "case": case,
                    "minutes": minutes,
                    "channels": channels,
                    "entries": entries,
                    "payload_mb": nbytes / 1e6,
                    "wall_s": walls[0],
                    "wall_s_runs": walls,
                    "cpu_s": cpus[0],
                    "peak_rss_mb": max(run["peak_rss_mb"] for run in runs[case]),
                }
            )
        for case in CASES if profile else ():
            profile_path = str(Path(folder) / f"{case}.prof")
            measure_in_subprocess(case, server.socket_path, profile_path)
            print(f"\n# cProfile of '{case}' ({minutes:g} min), top 25 by internal time", file=sys.stderr)
            pstats.Stats(profile_path, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    return rows


def format_table(rows: list[dict]) -> str:
    header = (
        "minutes",
        "case",
        "entries",
        "payload MB",
        "wall s",
        "entries/s",
        "MB/s",
        "client CPU s",
        "peak RSS MB",
        "reader/raw wall",
        "reader/raw CPU",
    )
    raw = {row["minutes"]: row for row in rows if row["case"] == "raw"}
    lines = []
    for row in rows:
        baseline = raw[row["minutes"]] if row["case"] == "reader" else None
        lines.append(
            (
                f"{row['minutes']:g}",
                row["case"],
                f"{row['entries']:,}",
                f"{row['payload_mb']:.1f}",
                f"{row['wall_s']:.2f}",
                f"{row['entries'] / row['wall_s']:,.0f}",
                f"{row['payload_mb'] / row['wall_s']:.1f}",
                f"{row['cpu_s']:.2f}",
                f"{row['peak_rss_mb']:.0f}",
                "-" if baseline is None else f"{row['wall_s'] / baseline['wall_s']:.2f}x",
                "-" if baseline is None else f"{row['cpu_s'] / baseline['cpu_s']:.2f}x",
            )
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    render = [" | ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in [header, *lines]]
    render.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(render)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0], help="session lengths")
    parser.add_argument("--channels", type=int, default=256, help="total channels (split over --arrays)")
    parser.add_argument("--arrays", type=int, default=2, help="number of arrays")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the fastest is reported")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary of each case")
    parser.add_argument("--record", action="store_true", help=f"append the results to {RESULTS}")
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(args.child, args.socket, args.profile_to)))
        return 0
    if args.channels % args.arrays:
        parser.error("--channels must be a multiple of --arrays")
    rows = [
        row
        for minutes in args.minutes
        for row in benchmark_session(minutes, args.channels, args.arrays, args.repeat, args.profile)
    ]
    print(format_table(rows))
    if args.record:
        RESULTS.parent.mkdir(exist_ok=True)
        record = {
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.platform(),
            "python": platform.python_version(),
            "rows": rows,
        }
        with RESULTS.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
