"""Raw broadband benchmark: BrandRecordingInterface against the floor, per compression preset.

Synthetic sessions with a 256-channel (2 x 128) 30 kHz raw stream (``nsp_neural``, cerebusAdapterGem layout:
channel-major int16, 30 samples per 1 kHz entry) are generated once into ``benchmarks/.cache/``. For each session
length one redis-server loads the cached ``.rdb``; every case then runs in a fresh subprocess that reads it
through a unix socket, so the peak RSS is the converter's alone (the server holds the data, as on a rig).

    python benchmarks/bench_raw.py --minutes 1 5 --presets default fast none --repeat 2

Cases per session length and preset:
- ``floor``: XRANGE every entry of ``nsp_neural`` (redis-py, 500 entries per call), one ``np.frombuffer`` of the
  joined ``samples`` payloads per batch, transpose into a buffer of the same shape as the converter's, h5py
  write into a dataset with the same chunk shape and compression.
- ``brand``: ``BrandRecordingInterface(...).create_nwbfile()`` + NeuroConv's default backend configuration +
  ``apply_compression_preset`` + ``write_nwbfile`` (graph, index pass over the stream clock, SpikeInterface,
  NeuroConv's iterator, pynwb).

MB/s counts raw samples (int16, 15.36 MB per second of recording). With ``--repeat N`` the floor and the converter
alternate N times and the fastest run of each is reported (the machine is shared; its load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from measure import peak_rss_mb

CACHE = Path(__file__).parent / ".cache"
STREAM = "nsp_neural"
CHANNELS = 256
SAMPLES_PER_ENTRY = 30
BATCH_ENTRIES = 500


def session_path(minutes: float) -> Path:
    """The cached raw session of ``minutes`` (generated on first use)."""
    path = CACHE / f"raw_{minutes:g}min_{CHANNELS}ch.rdb"
    if not path.exists():
        from neuroconv_brand.testing import SessionConfig, save_session_rdb

        CACHE.mkdir(exist_ok=True)
        config = SessionConfig(
            duration_s=60.0 * minutes,
            raw=True,
            n_arrays=2,
            channels_per_array=CHANNELS // 2,
            task=False,
            sbp=False,
            seed=0,
        )
        start = time.perf_counter()
        save_session_rdb(config, path, CACHE / f"raw_{minutes:g}min")
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


def run_floor(socket: str, preset: str, output: Path, chunk_shape: tuple, buffer_rows: int) -> dict:
    """XRANGE + frombuffer + transpose + h5py write of the same samples."""
    import h5py
    import numpy as np
    import redis

    client = redis.Redis(unix_socket_path=socket, socket_timeout=None)
    entries = client.xlen(STREAM)
    rows = entries * SAMPLES_PER_ENTRY
    # Room for one more batch, so whole entries always fit; buffer_rows rows are written at a time (chunk-aligned).
    buffer = np.empty((buffer_rows + BATCH_ENTRIES * SAMPLES_PER_ENTRY, CHANNELS), dtype=np.int16)
    filled = written = 0
    with h5py.File(output, "w") as file:
        dataset = file.create_dataset(
            "samples", shape=(rows, CHANNELS), dtype=np.int16, chunks=chunk_shape, **h5py_compression(preset)
        )
        cursor = "-"
        while True:
            batch = client.xrange(STREAM, min=cursor, max="+", count=BATCH_ENTRIES)
            if not batch:
                break
            flat = np.frombuffer(b"".join(fields[b"samples"] for _, fields in batch), dtype="<i2")
            block = flat.reshape(len(batch), CHANNELS, SAMPLES_PER_ENTRY)
            target = buffer[filled : filled + len(batch) * SAMPLES_PER_ENTRY]
            target.reshape(len(batch), SAMPLES_PER_ENTRY, CHANNELS)[...] = block.transpose(0, 2, 1)
            filled += len(batch) * SAMPLES_PER_ENTRY
            if filled >= buffer_rows:
                dataset[written : written + buffer_rows] = buffer[:buffer_rows]
                written += buffer_rows
                buffer[: filled - buffer_rows] = buffer[buffer_rows:filled]
                filled -= buffer_rows
            ms, seq = batch[-1][0].decode().split("-")
            cursor = f"{ms}-{int(seq) + 1}"
            if len(batch) < BATCH_ENTRIES:
                break
        dataset[written : written + filled] = buffer[:filled]
    return dict(samples=rows, segments=1)


def run_brand(socket: str, preset: str, output: Path) -> dict:
    """The whole interface pipeline with NeuroConv's backend configuration and a compression preset."""
    from neuroconv.tools.nwb_helpers import get_default_backend_configuration

    from neuroconv_brand.interfaces.recording import BrandRecordingInterface
    from neuroconv_brand.nwb.compression_presets import apply_compression_preset
    from neuroconv_brand.nwb.output_files import write_nwbfile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interface = BrandRecordingInterface(file_path=socket, stream_name=STREAM)
        nwbfile = interface.create_nwbfile()
        configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
        apply_compression_preset(configuration, preset)
        write_nwbfile(nwbfile, output, backend_configuration=configuration, overwrite=True)
    recording = interface.brand_recording
    return dict(
        samples=sum(recording.get_num_samples(i) for i in range(recording.get_num_segments())),
        segments=recording.get_num_segments(),
    )


def converter_shapes(socket: str) -> tuple[tuple, int]:
    """Chunk shape and buffer rows the converter uses for the raw series (the floor copies them)."""
    from neuroconv.tools.nwb_helpers import get_default_backend_configuration

    from neuroconv_brand.interfaces.recording import BrandRecordingInterface

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interface = BrandRecordingInterface(file_path=socket, stream_name=STREAM)
        nwbfile = interface.create_nwbfile()
        configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    dataset = next(
        d for location, d in configuration.dataset_configurations.items() if location.endswith("samples/data")
    )
    return tuple(int(n) for n in dataset.chunk_shape), int(dataset.buffer_shape[0])


def run_case(case: str, minutes: float, preset: str, socket: str, shapes: str) -> dict:
    """Run one case in this process and return its measurements."""
    chunk_rows, chunk_channels, buffer_rows = map(int, shapes.split(","))
    with tempfile.TemporaryDirectory(dir=CACHE) as folder:
        output = Path(folder) / "out.nwb"
        start = time.perf_counter()
        if case == "floor":
            result = run_floor(socket, preset, output, (chunk_rows, chunk_channels), buffer_rows)
        else:
            result = run_brand(socket, preset, output)
        result["wall_s"] = time.perf_counter() - start
        result["file_bytes"] = output.stat().st_size
    result.update(case=case, minutes=minutes, preset=preset)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main() -> None:
    """Parse arguments, run every case in a subprocess, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5])
    parser.add_argument(
        "--presets", choices=["default", "fast", "none"], nargs="+", default=["default", "fast", "none"]
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the fastest is reported")
    parser.add_argument("--run-case", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_case:
        case, minutes, preset, socket, shapes = args.run_case
        print(json.dumps(run_case(case, float(minutes), preset, socket, shapes)))
        return

    from neuroconv_brand.sources.redis_server import EmbeddedRedisServer

    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)", flush=True)
    rows: list[dict] = []
    for minutes in args.minutes:
        rdb_path = session_path(minutes)
        with EmbeddedRedisServer(rdb_path=rdb_path) as server:
            chunk_shape, buffer_rows = converter_shapes(server.socket_path)
            shapes = f"{chunk_shape[0]},{chunk_shape[1]},{buffer_rows}"
            for preset in args.presets:
                best: dict[str, dict] = {}
                for _ in range(args.repeat):
                    for case in ("floor", "brand"):
                        command = [sys.executable, __file__, "--run-case", case, str(minutes), preset]
                        command += [server.socket_path, shapes]
                        done = subprocess.run(command, capture_output=True, text=True)
                        if done.returncode != 0:
                            raise SystemExit(
                                f"case {case} {minutes} min {preset} failed:\n{done.stderr[-3000:]}"
                            )
                        result = json.loads(done.stdout.strip().splitlines()[-1])
                        if case not in best or result["wall_s"] < best[case]["wall_s"]:
                            best[case] = result
                for case in ("floor", "brand"):
                    rows.append(best[case])
                    print_row(rows[-1], rows)
    print(f"load average at end: {os.getloadavg()[0]:.2f}", flush=True)


def print_row(row: dict, rows: list[dict]) -> None:
    """One line of the result table, with the ratio to its floor."""
    if len(rows) == 1:
        print(
            f"{'case':6} {'min':>4} {'preset':>8} {'segments':>8} {'wall s':>7} {'MB/s':>7} {'RSS MB':>7} "
            f"{'file MB':>8} {'compr':>6} {'x floor':>8}"
        )
    floor = next(
        (
            r
            for r in rows
            if r["case"] == "floor" and (r["minutes"], r["preset"]) == (row["minutes"], row["preset"])
        ),
        None,
    )
    ratio = f"{row['wall_s'] / floor['wall_s']:.2f}" if floor and row["case"] == "brand" else ""
    raw_bytes = row["samples"] * CHANNELS * 2
    print(
        f"{row['case']:6} {row['minutes']:>4g} {row['preset']:>8} {row['segments']:>8} {row['wall_s']:>7.1f} "
        f"{raw_bytes / 1e6 / row['wall_s']:>7.1f} {row['peak_rss_mb']:>7.0f} {row['file_bytes'] / 1e6:>8.1f} "
        f"{raw_bytes / row['file_bytes']:>6.2f} {ratio:>8}",
        flush=True,
    )


if __name__ == "__main__":
    main()
