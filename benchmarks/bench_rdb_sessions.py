"""The direct .rdb reader against XRANGE through a redis-server, on the synthetic BRAND sessions of the other
benchmarks: a no-raw session (``bench_convert.py``'s cache) and a raw session (``bench_raw.py``'s cache).

    python benchmarks/bench_convert.py --minutes 10 --compression none   # makes session_10min.rdb once
    python benchmarks/bench_raw.py --minutes 1 --compression none --workers 1  # makes the raw .rdb once
    python benchmarks/bench_rdb_sessions.py session_10min.rdb raw_1min_256ch_broadband_redis7.rdb

Every stream of the file is read in batches of 2000 entries (results discarded): ``xrange`` through a server,
``direct`` with the direct reader's ``iter_batches`` (XRANGE-shaped entries), ``columns`` with its
``iter_entry_batches`` (BRAND-layout nodes decoded side by side into columns, what ``StreamReader`` uses). Each
case runs in a fresh subprocess; "open" is the direct reader's index pass, or the server's start and load of
the file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from measure import peak_rss_mb

CACHE = Path(__file__).parent / ".cache"


def run_case(case: str, path: Path) -> dict:
    """Open ``path`` with ``case`` ("xrange", "direct" or "columns"), read every stream, return the measurements."""
    from neuroconv_brand.sources.session import BrandSession

    started = time.perf_counter()
    options = {"rdb_reader": "server" if case == "xrange" else "direct"}
    with BrandSession.open(path, **options) as session:
        opened = time.perf_counter()
        entries = payload = 0
        for stream in session.source.stream_names():
            if case == "columns":
                for batch in session.source.iter_entry_batches(stream, batch_size=2000):
                    entries += len(batch)
                    if isinstance(batch, list):
                        payload += sum(len(v) for _, fields in batch for v in fields.values())
                    else:
                        payload += sum(len(v) for values in batch.columns.values() for v in values)
                continue
            for batch in session.source.iter_batches(stream, batch_size=2000):
                entries += len(batch)
                payload += sum(len(v) for _, fields in batch for v in fields.values())
        read = time.perf_counter() - opened
    return dict(
        case=case,
        open_s=opened - started,
        read_s=read,
        entries=entries,
        payload_mb=payload / 1e6,
        rss_mb=peak_rss_mb(),
    )


def main() -> None:
    """Run both readers on every file and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", help="file names in benchmarks/.cache/ (or paths)")
    parser.add_argument("--run-case", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_case:
        print(json.dumps(run_case(args.run_case[0], Path(args.run_case[1]))))
        return
    print(
        f"{'file':24} {'reader':7} {'open s':>7} {'read s':>7} {'entries/s':>10} {'MB/s':>7} {'RSS MB':>7} {'ratio':>6}"
    )
    for name in args.files:
        path = Path(name) if Path(name).exists() else CACHE / name
        rows = {}
        for case in ("xrange", "direct", "columns"):
            command = [sys.executable, __file__, "--run-case", case, str(path)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            rows[case] = row = json.loads(out.strip().splitlines()[-1])
            ratio = f"{rows['xrange']['read_s'] / row['read_s']:.2f}" if case != "xrange" else ""
            print(
                f"{path.name:24} {case:7} {row['open_s']:>7.2f} {row['read_s']:>7.2f} "
                f"{row['entries'] / row['read_s']:>10.0f} {row['payload_mb'] / row['read_s']:>7.1f} "
                f"{row['rss_mb']:>7.0f} {ratio:>6}",
                flush=True,
            )


if __name__ == "__main__":
    main()
