"""``neuroconv-brand convert``: convert a BRAND session to one NWB file.

NeuroConv, pynwb and SpikeInterface are imported when the command runs, not when its parser is built, so
``neuroconv-brand --help`` starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..apps.command_line import EXIT_FAILURE, EXIT_OK, UsageError, refuse_output_onto_input
from ..errors import ConfigurationError
from ..reading.gc_pause import paused_gc
from .common import add_source_arguments, checked_source_arguments

if TYPE_CHECKING:  # the session module is imported when a command runs, not when arguments are parsed
    from ..sources.session import BrandSession


def add_convert_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``convert SOURCE -o OUT.nwb [options]``."""
    parser = subparsers.add_parser(
        "convert",
        parents=[common],
        help="convert a BRAND session to NWB",
        description=(
            "Convert every stream the graph exports (or the ones named) plus participant metadata to one NWB file. "
            "The file is written beside the target under a temporary name and renamed on success."
        ),
    )
    add_source_arguments(parser)
    parser.add_argument(
        "-o", "--output", required=True, type=Path, metavar="OUT.nwb", help="the NWB file to write"
    )
    parser.add_argument(
        "--participant", type=Path, metavar="FILE", help="participant YAML (default: the graph's)"
    )
    parser.add_argument("--devices", type=Path, metavar="FILE", help="devices YAML (default: the graph's)")
    streams = parser.add_mutually_exclusive_group()
    streams.add_argument("--stream", action="append", metavar="NAME", help="convert this stream (repeatable)")
    streams.add_argument(
        "--all-streams",
        action="store_true",
        help="convert every stream with an NWB mechanism, enabled or not",
    )
    parser.add_argument("--include-raw", action="store_true", help="also convert raw broadband streams")
    parser.add_argument(
        "--clock", choices=["sync", "monotonic", "redis"], default="sync", help="what stamps the data"
    )
    parser.add_argument("--backend", choices=["hdf5", "zarr"], default="hdf5")
    parser.add_argument(
        "--compression",
        type=_compression_argument,
        default="default",
        help="default (NeuroConv's gzip 4), fast (multi-threaded Blosc LZ4; readers need hdf5plugin), none, or gzip/lz4/zstd[:level]",
    )
    parser.add_argument(
        "--metadata", type=Path, metavar="FILE", help="YAML/JSON metadata merged over the extracted one"
    )
    parser.add_argument(
        "--backend-config",
        type=Path,
        metavar="FILE",
        help="YAML/JSON of per-dataset edits: {location: {chunk_shape, buffer_shape, compressors, ...}}",
    )
    parser.add_argument(
        "--stub", action="store_true", help="write only the first entries of each stream (a quick check)"
    )
    parser.add_argument("--progress", action="store_true", help="show a progress bar per large dataset")
    parser.add_argument(
        "--inspect", action="store_true", help="run nwbinspector (DANDI configuration) on the result"
    )
    parser.add_argument(
        "--spool-dir",
        type=Path,
        metavar="DIR",
        help="folder for the streams' decoded data while converting (default: $NEUROCONV_BRAND_SPOOL_DIR or the "
        "system's temporary folder); needs about the uncompressed size of the converted streams",
    )
    parser.add_argument(
        "--read-workers",
        type=_positive_integer,
        metavar="N",
        help="processes reading streams side by side (default: $NEUROCONV_BRAND_READ_WORKERS or the CPUs, at "
        "most 4; 1 reads in this process)",
    )
    parser.add_argument(
        "--write-threads",
        type=_positive_integer,
        metavar="N",
        help="threads compressing the gzip and Blosc chunks of HDF5 outputs (default: $NEUROCONV_BRAND_WRITE_THREADS or the CPUs)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.set_defaults(handler=run_convert)


def _positive_integer(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _compression_argument(text: str) -> str:
    from ..nwb.compression_presets import parse_compression

    try:
        parse_compression(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def run_convert(args: argparse.Namespace) -> int:
    """Convert ``args.source`` to ``args.output`` and print a summary."""
    import time
    import warnings

    from ..nwb.write_threads import WRITE_THREADS_VARIABLE
    from ..reading.stream_spool import READ_WORKERS_VARIABLE, SPOOL_DIR_VARIABLE
    from ..sources.session import BrandSession

    source, base_dir, server = checked_source_arguments(args)
    for option, path in (
        ("--participant", args.participant),
        ("--devices", args.devices),
        ("--metadata", args.metadata),
    ):
        if path is not None and not path.is_file():
            raise UsageError(f"{option} {path}: no such file.")
    refuse_output_onto_input(
        args.output,
        {
            "the source": source,
            "the --participant file": args.participant,
            "the --devices file": args.devices,
            "the --metadata file": args.metadata,
            "the --backend-config file": args.backend_config,
        },
    )
    if args.output.exists() and not args.overwrite:
        raise UsageError(f"{args.output} already exists; pass --overwrite to replace it.")
    if args.spool_dir is not None:
        if args.spool_dir.exists() and not args.spool_dir.is_dir():
            raise UsageError(f"--spool-dir {args.spool_dir}: not a folder.")
        os.environ[SPOOL_DIR_VARIABLE] = str(args.spool_dir)
    if args.read_workers is not None:
        os.environ[READ_WORKERS_VARIABLE] = str(args.read_workers)
    if args.write_threads is not None:
        os.environ[WRITE_THREADS_VARIABLE] = str(args.write_threads)
    started = time.perf_counter()
    streams = args.stream
    # Held open for the whole command, so the converter's interfaces share this session (one index pass).
    session = BrandSession.open(source, redis_server_path=server)
    if args.all_streams:
        present = set(session.source.stream_names())
        graph = session.graph(brand_base_dir=base_dir)
        streams = [name for name, spec in graph.streams.items() if spec.type_nwb and name in present]
    with session, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # NeuroConv's once-per-process metadata-format notice
        warnings.filterwarnings("ignore", message=".*compression may not be available")  # the user chose it
        raw_passes = _start_raw_passes(session, args, streams, base_dir)
        from neuroconv.utils import dict_deep_update, load_dict_from_file

        from ..apps.dandi_subject import dandi_subject_note
        from ..converter import BrandConverter
        from ..interfaces.flat_options import accepted_options

        converter = BrandConverter(
            file_path=source,
            participant_file=args.participant,
            devices_file=args.devices,
            brand_base_dir=base_dir,
            streams=streams,
            clock=args.clock,
            redis_server_path=server,
            include_raw=args.include_raw,
        )
        metadata = converter.get_metadata()
        if args.metadata is not None:
            metadata = dict_deep_update(metadata, load_dict_from_file(args.metadata))
        subject_note = dandi_subject_note(metadata)
        options = {}
        for name, interface in converter.data_interface_objects.items():
            accepted = accepted_options(interface)
            chosen = {"stub_test": args.stub, "display_progress": args.progress}
            options[name] = {key: True for key, wanted in chosen.items() if wanted and key in accepted}
        dataset_settings = load_dict_from_file(args.backend_config) if args.backend_config else None
        try:
            converter.write(
                args.output,
                metadata=metadata,
                conversion_options=options,
                backend=args.backend,
                compression=args.compression,
                dataset_settings=dataset_settings,
                overwrite=args.overwrite,
            )
        except ConfigurationError as error:
            given = (
                f"--backend-config {args.backend_config}: " if "backend configuration" in str(error) else ""
            )
            raise UsageError(f"{given}{error}") from None
    del raw_passes
    written = [name for name in converter.data_interface_objects if not name.endswith("_ts")]
    size_mb = _path_size(args.output) / 1e6
    print(f"wrote {args.output} ({size_mb:.1f} MB, {args.backend}) in {time.perf_counter() - started:.1f} s")
    print(f"converted: {', '.join(written)}")
    if subject_note is not None:
        print(subject_note, file=sys.stderr)
    if converter.snapshot_note:
        print(converter.snapshot_note)
    if args.inspect:
        return _inspect_output(args.output)
    return EXIT_OK


def _start_raw_passes(
    session: BrandSession,
    args: argparse.Namespace,
    streams: list[str] | None,
    base_dir: Path | None,
) -> list:
    """Read the raw streams the conversion will write before SpikeInterface and NeuroConv are imported.

    The pass over a raw stream (:mod:`~neuroconv_brand.extractors.recording_index`) runs in forked workers; this
    process imports SpikeInterface, NeuroConv and pynwb (over a second) while they decode, instead of before. The
    converter's recording interfaces, planned with the same settings, find the pass's index in the session.
    Returns the indexes, which the caller keeps until the conversion is written.
    """
    from ..graph.acquisition import chosen_recording_streams

    graph = session.graph(brand_base_dir=base_dir)
    present = set(session.source.stream_names())
    raw_streams = chosen_recording_streams(graph, present, streams, args.include_raw)
    if not raw_streams:
        return []
    from ..extractors.raw_stream_plan import plan_raw_stream, start_raw_pass
    from ..reading.stream_spool import read_workers

    plans = [plan_raw_stream(session, graph, name, clock=args.clock) for name in raw_streams]
    queued = session.context.while_reading
    queued.append(_import_conversion_modules)
    try:
        return [start_raw_pass(session, graph, plan, read_workers()) for plan in plans]
    finally:  # read in this process (one worker, no fork): nothing ran meanwhile, and nothing is left queued
        if _import_conversion_modules in queued:
            queued.remove(_import_conversion_modules)


def _import_conversion_modules() -> None:
    """NeuroConv, pynwb and hdmf (the converter); SpikeInterface and NeuroConv's interfaces (the raw stream's).

    The imports create some hundred thousand objects, which set off the cyclic garbage collector's full
    collections over and over (0.3 s of CPU, measured, taken from the workers decoding beside it). It is paused
    for them, and what they built is frozen: later collections skip it. Import-time garbage stays until exit.
    """
    with paused_gc():
        import neuroconv_brand.converter
        import neuroconv_brand.interfaces.recording  # noqa: F401
    gc.freeze()


def _inspect_output(path: Path) -> int:
    from nwbinspector import Importance, format_messages, inspect_nwbfile, load_config

    messages = list(
        inspect_nwbfile(
            path, config=load_config("dandi"), importance_threshold=Importance.BEST_PRACTICE_VIOLATION
        )
    )
    if not messages:
        print("nwbinspector (DANDI configuration): no problems at BEST_PRACTICE_VIOLATION or above")
        return EXIT_OK
    print("\n".join(format_messages(messages, levels=["importance", "file_path"])))
    return EXIT_FAILURE


def _path_size(path: Path) -> int:
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return path.stat().st_size
