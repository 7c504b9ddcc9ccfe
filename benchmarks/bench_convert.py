"""Conversion benchmark: BrandConverter against the floor (raw XRANGE read + raw h5py write of the same bytes).

Synthetic no-raw sessions (256 channels: 2 arrays x 128; about 130k stream entries per minute) are generated
once into ``benchmarks/.cache/``. Each case runs in a fresh subprocess so peak RSS is per case.

    python benchmarks/bench_convert.py --minutes 1 5 10 --compression none gzip

Cases per session length and compression:
- ``floor``: XRANGE every entry of the converted streams in batches of 2000 (redis-py), ``np.frombuffer`` of each
  exported numeric key per batch, h5py write into chunked datasets with the same compression.
- ``brand``: ``BrandConverter(...).create_nwbfile()`` + NeuroConv's default backend configuration with the
  same compression + ``write_nwbfile`` (the whole pipeline: graph, clocks, timestamps, iterators, pynwb).

Every case starts ``--settle`` seconds (10) after the previous one, dirty pages flushed first, so each finds
memory in the same state (see ``measure.settle_memory``; ``--settle 0`` runs the cases back to back).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from measure import peak_rss_mb, settle_memory

CACHE = Path(__file__).parent / ".cache"
CHANNELS_PER_ARRAY = 128


def session_path(minutes: float) -> Path:
    """The cached session of ``minutes`` (generated on first use)."""
    path = CACHE / f"session_{minutes:g}min.rdb"
    if not path.exists():
        from neuroconv_brand.testing import SessionConfig, save_session_rdb

        CACHE.mkdir(exist_ok=True)
        config = SessionConfig(
            duration_s=60.0 * minutes, n_arrays=2, channels_per_array=CHANNELS_PER_ARRAY, seed=0
        )
        save_session_rdb(config, path, CACHE / f"session_{minutes:g}min")
    return path


def stream_interfaces(converter) -> dict:
    """The converter's data-stream interfaces (not the participant, not the clock tables)."""
    from neuroconv_brand.interfaces.stream_timestamps import BrandStreamTimestampsInterface

    return {
        name: interface
        for name, interface in converter.data_interface_objects.items()
        if hasattr(interface, "spec") and not isinstance(interface, BrandStreamTimestampsInterface)
    }


def numeric_keys(interface) -> list[str]:
    """The exported numeric keys of a stream interface."""
    return [k for k, spec in interface.spec.exported_keys.items() if not spec.is_text]


def converted_streams(rdb_path: Path) -> dict[str, list[str]]:
    """Stream -> exported numeric keys, for every stream the converter converts."""
    from neuroconv_brand import BrandConverter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converter = BrandConverter(file_path=rdb_path)
    return {name: numeric_keys(interface) for name, interface in stream_interfaces(converter).items()}


class ChunkAlignedWriter:
    """Buffer rows and write whole chunks, so compressed chunks are written once (no read-modify-write)."""

    def __init__(self, dataset):
        self.dataset, self.rows, self.pending, self.position = dataset, dataset.chunks[0], [], 0

    def append(self, block) -> None:
        self.pending.append(block)
        if sum(len(b) for b in self.pending) >= self.rows:
            self.flush(whole_chunks_only=True)

    def flush(self, whole_chunks_only: bool = False) -> None:
        import numpy as np

        if not self.pending:
            return
        data = np.concatenate(self.pending)
        count = len(data) - len(data) % self.rows if whole_chunks_only else len(data)
        self.dataset[self.position : self.position + count] = data[:count]
        self.position += count
        self.pending = [data[count:]] if count < len(data) else []


def run_floor(rdb_path: Path, compression: str, output: Path) -> dict:
    """Raw XRANGE + frombuffer + h5py write of the same keys."""
    import h5py
    import numpy as np

    from neuroconv_brand.sources.session import BrandSession

    streams = converted_streams(rdb_path)
    entries = payload = 0
    with BrandSession.open(rdb_path) as session, h5py.File(output, "w") as file:
        graph = session.graph()
        for stream, keys in streams.items():
            spec = graph.streams[stream]
            length = session.source.stream_stats(stream).length
            writers = {}
            for name in keys:
                key = spec.keys[name]
                rows = max(1, int(10e6 // (key.chan * key.numpy_dtype.itemsize)))
                dataset = file.create_dataset(
                    f"{stream}_{name}",
                    shape=(length * key.samp, key.chan),
                    dtype=key.numpy_dtype,
                    chunks=(min(rows, length * key.samp), key.chan),
                    compression="gzip" if compression == "gzip" else None,
                    compression_opts=4 if compression == "gzip" else None,
                )
                writers[name] = ChunkAlignedWriter(dataset)
            for batch in session.source.iter_batches(stream, batch_size=2000):
                entries += len(batch)
                for name, writer in writers.items():
                    key = spec.keys[name]
                    block = np.frombuffer(b"".join(e[1][name.encode()] for e in batch), key.numpy_dtype)
                    writer.append(block.reshape(-1, key.chan))
                    payload += block.nbytes
            for writer in writers.values():
                writer.flush()
    return dict(entries=entries, payload_bytes=payload)


def run_brand(rdb_path: Path, compression: str, output: Path) -> dict:
    """The whole BrandConverter pipeline with NeuroConv's backend configuration."""
    from neuroconv.tools.nwb_helpers import get_default_backend_configuration

    from neuroconv_brand import BrandConverter
    from neuroconv_brand.nwb.output_files import write_nwbfile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converter = BrandConverter(file_path=rdb_path)
        nwbfile = converter.create_nwbfile()
        configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
        for dataset in configuration.dataset_configurations.values():
            if compression == "none":
                dataset.compressors, dataset.compressor_options = None, None
            else:
                dataset.compressors, dataset.compressor_options = ["gzip"], [{"level": 4}]
        write_nwbfile(nwbfile, output, backend_configuration=configuration, overwrite=True)
    interfaces = stream_interfaces(converter).values()
    entries = sum(len(i.timeline) for i in interfaces)
    payload = sum(
        len(i.timeline) * sum(i.spec.keys[k].entry_nbytes for k in numeric_keys(i)) for i in interfaces
    )
    return dict(entries=entries, payload_bytes=payload)


def run_case(case: str, minutes: float, compression: str) -> dict:
    """Run one case in this process and return its measurements."""
    rdb_path = session_path(minutes)
    with tempfile.TemporaryDirectory(dir=CACHE) as folder:
        output = Path(folder) / "out.nwb"
        start = time.perf_counter()
        result = (run_floor if case == "floor" else run_brand)(rdb_path, compression, output)
        wall = time.perf_counter() - start
        result["file_bytes"] = output.stat().st_size
    result.update(case=case, minutes=minutes, compression=compression, wall_s=wall)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main() -> None:
    """Parse arguments, run every case in a subprocess, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10])
    parser.add_argument("--compression", choices=["none", "gzip"], nargs="+", default=["none", "gzip"])
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds to wait before each case, so memory freed by the previous one is cold again (see "
        "measure.settle_memory); 0 measures back to back",
    )
    parser.add_argument(
        "--run-case", nargs=3, metavar=("CASE", "MINUTES", "COMPRESSION"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.run_case:
        case, minutes, compression = args.run_case
        print(json.dumps(run_case(case, float(minutes), compression)))
        return

    rows = []
    for minutes in args.minutes:
        session_path(minutes)  # generate outside the timed subprocesses
        for compression in args.compression:
            for case in ("floor", "brand"):
                settle_memory(args.settle)
                command = [sys.executable, __file__, "--run-case", case, str(minutes), compression]
                output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                rows.append(json.loads(output.strip().splitlines()[-1]))
                print_row(rows[-1], rows)


def print_row(row: dict, rows: list[dict]) -> None:
    """One line of the result table, with the ratio to its floor."""
    if len(rows) == 1:
        print(
            f"{'case':6} {'min':>4} {'compr':>5} {'entries':>9} {'wall s':>7} {'entries/s':>10} {'MB/s':>7} "
            f"{'RSS MB':>7} {'file MB':>8} {'x floor':>8}"
        )
    floor = next(
        (
            r
            for r in rows
            if r["case"] == "floor"
            and (r["minutes"], r["compression"]) == (row["minutes"], row["compression"])
        ),
        None,
    )
    ratio = f"{row['wall_s'] / floor['wall_s']:.2f}" if floor and row["case"] == "brand" else ""
    print(
        f"{row['case']:6} {row['minutes']:>4g} {row['compression']:>5} {row['entries']:>9} {row['wall_s']:>7.1f} "
        f"{row['entries'] / row['wall_s']:>10.0f} {row['payload_bytes'] / 1e6 / row['wall_s']:>7.1f} "
        f"{row['peak_rss_mb']:>7.0f} {row['file_bytes'] / 1e6:>8.1f} {ratio:>8}",
        flush=True,
    )


if __name__ == "__main__":
    main()
