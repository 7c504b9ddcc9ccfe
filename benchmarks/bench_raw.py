"""Raw broadband benchmark: BrandRecordingInterface against its floors, per compression preset and worker count.

Sessions: 256 channels (2 x 128) at 30 kHz in the raw stream ``nsp_neural`` (cerebusAdapterGem layout:
channel-major int16, 30 samples per 1 kHz entry), realistic by default (``--signal broadband``: Gaussian noise
with a real NSP's spectrum and amplitudes, see ``neuroconv_brand.testing.neural``; ``--signal white`` is the
older uniform int8 noise), task and spike-band power off. Each session is written into Redis 7.0 with BRAND's
stream settings (``stream-node-max-bytes 4096``, ``rdbcompression yes``, so every raw listpack node is
LZF-compressed) and saved as ``REDIS0010`` into ``benchmarks/.cache/`` once. Redis 7.0 is Debian 12's
``redis-server`` (``--redis-server``, default: ``redis-server`` on ``PATH`` if it is 7.0, else
``benchmarks/.cache/redis-7.0/redis-server``, see benchmarks/README.md).

    python benchmarks/bench_raw.py --minutes 1 --compression none default fast --workers 1 2

Cases (each in a fresh subprocess, reading the ``.rdb`` directly, or with ``--source server`` through a
redis-server 7.0 on a unix socket that loaded it):

- ``floor``: every entry of ``nsp_neural`` read as XRANGE-shaped entries (``iter_batches``, 500 per batch), one
  ``np.frombuffer`` of the joined ``samples`` per batch, transposed into a buffer, written by h5py into a
  dataset of the converter's chunk shape, uncompressed, in one process (floor (a)). ``floor-gzip``: the same
  with gzip 4; its ``h5py s`` column is the time spent in h5py's writes alone, i.e. what one thread needs to
  gzip-write these samples (floor (b)).
- ``brand``: ``BrandRecordingInterface(...).create_nwbfile()`` + NeuroConv's default backend configuration +
  ``apply_compression_preset`` + ``write_nwbfile``, with ``NEUROCONV_BRAND_READ_WORKERS`` (and
  ``NEUROCONV_BRAND_WRITE_THREADS``, unless already set in the environment) equal to ``--workers``.
- ``cli`` (with ``--cli``): what a user types, ``neuroconv-brand convert SESSION --stream nsp_neural
  --compression PRESET -o OUT.nwb``, timed from the shell (interpreter start, imports and exit included), with the
  same worker settings. Its "RSS MB" and "workers MB" are the largest process of the command (itself or a worker).

MB/s counts raw samples (int16, 15.36 MB per second of recording). "compr" is samples / file bytes. "x floor"
is the wall time over floor (a)'s, "x gzip" (gzip preset only) over floor (b)'s. Peak RSS is the case process's
``VmHWM``; "workers MB" is the largest ``ru_maxrss`` of its finished child processes (forked workers share the
parent's pages, so the two do not add up). With ``--repeat N`` every case runs N times and the fastest run is
reported (the machine's load average is printed before and after). Every run starts ``--settle`` seconds (10)
after the previous one, so each finds memory in the same state: on a virtual machine that hands freed memory back
to its host, a run started right after another one deleted its ~1 GB output gets that memory at a fraction of the
cost (see ``measure.settle_memory``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from measure import peak_rss_mb, settle_memory

CACHE = Path(__file__).parent / ".cache"
LOCAL_REDIS_7 = CACHE / "redis-7.0" / "redis-server"
STREAM = "nsp_neural"
CHANNELS = 256
SAMPLES_PER_ENTRY = 30
BATCH_ENTRIES = 500
WORKER_VARIABLES = ("NEUROCONV_BRAND_READ_WORKERS", "NEUROCONV_BRAND_WRITE_THREADS")


def redis_7_server(path: str | None) -> str:
    """The Redis 7.0 redis-server that writes the sessions (BRAND's version; RDB 10)."""
    from neuroconv_brand.sources.redis_server import probe_redis_server

    candidates = [path] if path else [shutil.which("redis-server"), str(LOCAL_REDIS_7)]
    for candidate in filter(None, candidates):
        binary = probe_redis_server(candidate)
        if binary is not None and binary.version[:2] == (7, 0):
            return candidate
    raise SystemExit(
        f"No Redis 7.0 redis-server among {[c for c in candidates if c]}: `apt-get install redis-server` on "
        "Debian 12 gives 7.0, or extract it without installing (benchmarks/README.md), or pass --redis-server."
    )


def session_path(minutes: float, signal: str, redis_server: str) -> Path:
    """The cached raw session of ``minutes`` (generated on first use)."""
    path = CACHE / f"raw_{minutes:g}min_{CHANNELS}ch_{signal}_redis7.rdb"
    if not path.exists():
        from neuroconv_brand.testing import SessionConfig, save_session_rdb

        CACHE.mkdir(exist_ok=True)
        config = SessionConfig(
            duration_s=60.0 * minutes,
            raw=True,
            raw_signal=signal,
            n_arrays=2,
            channels_per_array=CHANNELS // 2,
            task=False,
            sbp=False,
            seed=0,
        )
        start = time.perf_counter()
        partial = path.with_suffix(".partial")
        save_session_rdb(config, partial, CACHE / path.stem, redis_server_path=redis_server)
        partial.rename(path)
        print(f"generated {path.name} in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def h5py_compression(preset: str) -> dict:
    """h5py dataset keywords equal to what the preset gives NeuroConv's configuration."""
    import hdf5plugin

    from neuroconv_brand.nwb.compression_presets import compression_settings, set_blosc_threads

    compressors, options = compression_settings(preset, "hdf5")
    if compressors is None:
        return {}
    if compressors == ["gzip"]:
        return dict(compression="gzip", compression_opts=options[0]["level"])
    set_blosc_threads()
    return dict(hdf5plugin.Blosc(**options[0]))


def run_floor(source: str, preset: str, output: Path, chunk_shape: tuple, buffer_rows: int) -> dict:
    """XRANGE-shaped read + frombuffer + transpose + h5py write of the same samples, in one process."""
    import h5py
    import numpy as np

    from neuroconv_brand.sources.session import BrandSession

    write_s = 0.0
    with BrandSession.open(source) as session, h5py.File(output, "w") as file:
        entries = session.source.stream_stats(STREAM).length
        rows = entries * SAMPLES_PER_ENTRY
        # Room for one more batch, so whole entries always fit; buffer_rows rows are written at a time.
        buffer = np.empty((buffer_rows + BATCH_ENTRIES * SAMPLES_PER_ENTRY, CHANNELS), dtype=np.int16)
        dataset = file.create_dataset(
            "samples", shape=(rows, CHANNELS), dtype=np.int16, chunks=chunk_shape, **h5py_compression(preset)
        )
        filled = written = 0
        for batch in session.source.iter_batches(STREAM, batch_size=BATCH_ENTRIES):
            flat = np.frombuffer(b"".join(fields[b"samples"] for _, fields in batch), dtype="<i2")
            block = flat.reshape(len(batch), CHANNELS, SAMPLES_PER_ENTRY)
            target = buffer[filled : filled + len(batch) * SAMPLES_PER_ENTRY]
            target.reshape(len(batch), SAMPLES_PER_ENTRY, CHANNELS)[...] = block.transpose(0, 2, 1)
            filled += len(batch) * SAMPLES_PER_ENTRY
            if filled >= buffer_rows:
                started = time.perf_counter()
                dataset[written : written + buffer_rows] = buffer[:buffer_rows]
                write_s += time.perf_counter() - started
                written += buffer_rows
                buffer[: filled - buffer_rows] = buffer[buffer_rows:filled]
                filled -= buffer_rows
        started = time.perf_counter()
        dataset[written : written + filled] = buffer[:filled]
        write_s += time.perf_counter() - started
    return dict(samples=rows, segments=1, write_s=write_s)


def run_brand(source: str, preset: str, output: Path) -> dict:
    """The whole interface pipeline with NeuroConv's backend configuration and a compression preset."""
    from neuroconv.tools.nwb_helpers import get_default_backend_configuration

    from neuroconv_brand.interfaces.recording import BrandRecordingInterface
    from neuroconv_brand.nwb.compression_presets import apply_compression_preset
    from neuroconv_brand.nwb.output_files import write_nwbfile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interface = BrandRecordingInterface(file_path=source, stream_name=STREAM)
        nwbfile = interface.create_nwbfile()
        configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
        apply_compression_preset(configuration, preset)
        write_nwbfile(nwbfile, output, backend_configuration=configuration, overwrite=True)
    recording = interface.brand_recording
    return dict(
        samples=sum(recording.get_num_samples(i) for i in range(recording.get_num_segments())),
        segments=recording.get_num_segments(),
    )


def converter_shapes(source: str) -> tuple[tuple, int]:
    """Chunk shape and buffer rows the converter uses for the raw series (the floor copies them)."""
    from neuroconv.tools.nwb_helpers import get_default_backend_configuration

    from neuroconv_brand.interfaces.recording import BrandRecordingInterface

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interface = BrandRecordingInterface(file_path=source, stream_name=STREAM)
        nwbfile = interface.create_nwbfile()
        configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    dataset = next(
        d for location, d in configuration.dataset_configurations.items() if location.endswith("samples/data")
    )
    return tuple(int(n) for n in dataset.chunk_shape), int(dataset.buffer_shape[0])


def run_case(case: str, preset: str, source: str, shapes: str) -> dict:
    """Run one case in this process and return its measurements."""
    chunk_rows, chunk_channels, buffer_rows = map(int, shapes.split(","))
    with tempfile.TemporaryDirectory(dir=CACHE) as folder:
        output = Path(folder) / "out.nwb"
        start = time.perf_counter()
        if case == "floor":
            result = run_floor(source, preset, output, (chunk_rows, chunk_channels), buffer_rows)
        elif case == "cli":
            run_cli(source, preset, output)
        else:
            result = run_brand(source, preset, output)
        result = result if case != "cli" else {}
        result["wall_s"] = time.perf_counter() - start
        result["file_bytes"] = output.stat().st_size
        if case == "cli":
            result.update(written_series(output))
    result["children_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result["peak_rss_mb"] = result["children_rss_mb"] if case == "cli" else peak_rss_mb()
    return result


def run_cli(source: str, preset: str, output: Path) -> None:
    """``neuroconv-brand convert`` on the raw stream alone, as a user runs it."""
    command = Path(sys.executable).with_name("neuroconv-brand")
    arguments = ["convert", source, "--stream", STREAM, "--compression", preset, "-o", str(output)]
    done = subprocess.run([str(command), *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"neuroconv-brand {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")


def written_series(output: Path) -> dict:
    """Samples and segments (ElectricalSeries) of the raw stream in a written file."""
    import h5py

    with h5py.File(output, "r") as file:
        series = [name for name in file["acquisition"] if name.startswith(f"{STREAM}_samples")]
        samples = sum(file["acquisition"][name]["data"].shape[0] for name in series)
    return dict(samples=samples, segments=len(series))


def run_subprocess(case: str, preset: str, source: str, shapes: str, workers: int | None) -> dict:
    """One case in a fresh interpreter; ``workers`` sets the read workers and write threads."""
    environment = dict(os.environ)
    if workers is not None:
        environment["NEUROCONV_BRAND_READ_WORKERS"] = str(workers)
        environment.setdefault("NEUROCONV_BRAND_WRITE_THREADS", str(workers))
    command = [sys.executable, __file__, "--run-case", case, preset, source, shapes]
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    if done.returncode != 0:
        raise SystemExit(f"case {case} {preset} workers={workers} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_session(source: str, minutes: float, args: argparse.Namespace) -> list[dict]:
    """Every case of one session, printed as it finishes."""
    chunk_shape, buffer_rows = converter_shapes(source)
    shapes = f"{chunk_shape[0]},{chunk_shape[1]},{buffer_rows}"
    plan = [("floor", "none", None)]
    if "default" in args.compression:
        plan.append(("floor", "default", None))
    plan += [("brand", preset, workers) for preset in args.compression for workers in args.workers]
    if args.cli:
        plan += [("cli", preset, workers) for preset in args.compression for workers in args.workers]
    rows: list[dict] = []
    for case, preset, workers in plan:
        runs = []
        for _ in range(args.repeat):
            settle_memory(args.settle)
            runs.append(run_subprocess(case, preset, source, shapes, workers))
        row = min(runs, key=lambda run: run["wall_s"])
        row.update(case=case, preset=preset, workers=workers, minutes=minutes, source=args.source)
        row["chunks"] = chunk_shape
        rows.append(row)
        print_row(row, rows)
    return rows


def main() -> None:
    """Parse arguments, run every case in a subprocess, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5])
    parser.add_argument(
        "--compression",
        "--presets",
        choices=["default", "fast", "none"],
        nargs="+",
        default=["none", "default", "fast"],
        help="compression presets of the converter cases",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="read workers / write threads")
    parser.add_argument(
        "--source", choices=["rdb", "server"], default="rdb", help="read the .rdb or a server"
    )
    parser.add_argument("--signal", choices=["broadband", "white"], default="broadband")
    parser.add_argument("--redis-server", help="Redis 7.0 redis-server that writes the sessions")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the fastest is reported")
    parser.add_argument(
        "--cli", action="store_true", help="also time `neuroconv-brand convert` from the shell"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds to wait before each run, so memory freed by the previous one is cold again (see "
        "measure.settle_memory); 0 measures back to back",
    )
    parser.add_argument("--json", type=Path, help="also write every row to this JSON file")
    parser.add_argument("--run-case", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_case:
        print(json.dumps(run_case(*args.run_case)))
        return

    from neuroconv_brand.sources.redis_server import EmbeddedRedisServer

    redis_server = redis_7_server(args.redis_server)
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)", flush=True)
    rows: list[dict] = []
    for minutes in args.minutes:
        rdb_path = session_path(minutes, args.signal, redis_server)
        print(f"{rdb_path.name}: {rdb_path.stat().st_size / 1e6:.0f} MB", flush=True)
        if args.source == "rdb":
            rows += measure_session(str(rdb_path), minutes, args)
            continue
        with EmbeddedRedisServer(rdb_path=rdb_path, redis_server_path=redis_server) as server:
            rows += measure_session(server.socket_path, minutes, args)
    print(f"load average at end: {os.getloadavg()[0]:.2f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def print_row(row: dict, rows: list[dict]) -> None:
    """One line of the result table, with the ratios to the floors of the same session."""
    if len(rows) == 1:
        print(
            f"{'case':10} {'min':>4} {'preset':>8} {'workers':>7} {'segments':>8} {'wall s':>7} {'MB/s':>7} "
            f"{'h5py s':>7} {'RSS MB':>7} {'workers MB':>10} {'file MB':>8} {'compr':>6} {'x floor':>8} "
            f"{'x gzip':>7}"
        )
    floors = {r["preset"]: r for r in rows if r["case"] == "floor" and r["minutes"] == row["minutes"]}
    is_brand = row["case"] in ("brand", "cli")
    ratio = f"{row['wall_s'] / floors['none']['wall_s']:.2f}" if is_brand and "none" in floors else ""
    gzip_floor = floors.get("default") if is_brand and row["preset"] == "default" else None
    gzip_ratio = f"{row['wall_s'] / gzip_floor['write_s']:.2f}" if gzip_floor else ""
    name = row["case"] if is_brand or row["preset"] == "none" else "floor-gzip"
    raw_bytes = row["samples"] * CHANNELS * 2
    write_s = f"{row['write_s']:.1f}" if "write_s" in row else ""
    print(
        f"{name:10} {row['minutes']:>4g} {row['preset']:>8} {row['workers'] or '':>7} {row['segments']:>8} "
        f"{row['wall_s']:>7.1f} {raw_bytes / 1e6 / row['wall_s']:>7.1f} {write_s:>7} {row['peak_rss_mb']:>7.0f} "
        f"{row['children_rss_mb']:>10.0f} {row['file_bytes'] / 1e6:>8.1f} {raw_bytes / row['file_bytes']:>6.2f} "
        f"{ratio:>8} {gzip_ratio:>7}",
        flush=True,
    )


if __name__ == "__main__":
    main()
