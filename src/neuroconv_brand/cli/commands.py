"""The ``neuroconv-brand`` command.

One ``add_<command>_parser`` function per subcommand registers its arguments and its ``run_<command>``
handler; :data:`SUBCOMMANDS` lists them in help order. To add a subcommand, write both functions and
append the first to :data:`SUBCOMMANDS`. Handlers take the parsed arguments and return an exit code; they
raise :class:`UsageError` for a wrong command line and let :class:`~neuroconv_brand.errors.BrandError`
propagate for a source or conversion failure. :func:`main` turns both into one ``error: ...`` line.

Exit codes: 0 success, 1 a source could not be read or converted (any ``BrandError``), 2 the command line
is wrong (unknown option, missing argument, a path that does not exist), 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from ..apps.command_line import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    UsageError,
    refuse_output_onto_input,
)
from ..errors import BrandError, ConfigurationError
from ..interruption import stop_on_signals
from ..nwb.output_files import OutputSpaceError
from ..reading.stream_spool import READ_WORKERS_VARIABLE, SPOOL_DIR_VARIABLE
from ..sources.session import BrandSession
from .common import add_source_arguments, checked_source_arguments
from .exportnwb_command import add_exportnwb_parser
from .validate_command import add_validate_parser


def add_inspect_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``inspect SOURCE [--brand-base-dir DIR] [--redis-server PATH] [--json]``."""
    parser = subparsers.add_parser(
        "inspect",
        parents=[common],
        help="list the streams of a BRAND session and what the graph says about each",
        description=(
            "List every stream of a BRAND session (entries, entry rate, approximate size, time span, fields) "
            "with what its graph says: NWB mechanism, whether it is exported and why, and the declared keys. "
            "Then the participant/devices files the graph names and the graph's problems. Reads only; never "
            "writes to the Redis or the file."
        ),
    )
    add_source_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for scripts)")
    parser.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    """Print the stream catalogue of ``args.source`` as a table or as JSON."""
    from ..apps.inspection import describe_session, format_catalogue

    source, base_dir, server = checked_source_arguments(args)
    with BrandSession.open(source, redis_server_path=server) as session:
        catalogue = describe_session(session, brand_base_dir=base_dir)
    if args.json:
        print(json.dumps(catalogue.to_dict(), indent=2))
    else:
        print(format_catalogue(catalogue))
    return EXIT_OK


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
        help="threads compressing gzip chunks of HDF5 outputs (default: $NEUROCONV_BRAND_WRITE_THREADS or the CPUs)",
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

    from neuroconv.utils import dict_deep_update, load_dict_from_file

    from ..apps.dandi_subject import dandi_subject_note
    from ..converter import BrandConverter
    from ..nwb.gzip_chunks import WRITE_THREADS_VARIABLE

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
            accepted = interface.get_conversion_options_schema().get("properties", {})
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


def add_run_yaml_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``run-yaml SPEC.yaml [options]``."""
    parser = subparsers.add_parser(
        "run-yaml",
        parents=[common],
        help="convert the sessions of a NeuroConv-style YAML specification",
        description="Convert every session of a YAML specification (NeuroConv's layout, extended; docs/yaml-specification.md).",
    )
    parser.add_argument("specification", type=Path, metavar="SPEC.yaml")
    parser.add_argument(
        "--data-folder-path", type=Path, help="joined with relative file paths of the sessions"
    )
    parser.add_argument(
        "--output-folder-path", type=Path, help="where the NWB files go (default: the spec's folder)"
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    existing.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave sessions whose output exists alone (e.g. to finish a run after fixing failed sessions)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="convert N sessions in parallel processes"
    )
    parser.add_argument(
        "--dask-scheduler", metavar="ADDRESS", help="submit the sessions to this Dask scheduler"
    )
    parser.add_argument(
        "--allow-module",
        action="append",
        default=[],
        metavar="PKG",
        help="allow 'PKG.module:Class' interface names",
    )
    parser.set_defaults(handler=run_run_yaml)


def run_run_yaml(args: argparse.Namespace) -> int:
    """Run the specification and print its per-session summary (exit 1 if any session failed)."""
    from ..apps.yaml_runner import run_conversion_from_yaml

    if not args.specification.is_file():
        raise UsageError(f"{args.specification}: no such file.")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1.")
    summary = run_conversion_from_yaml(
        args.specification,
        data_folder_path=args.data_folder_path,
        output_folder_path=args.output_folder_path,
        overwrite=args.overwrite,
        jobs=args.jobs,
        dask_scheduler=args.dask_scheduler,
        allowed_modules=tuple(args.allow_module),
        skip_existing=args.skip_existing,
    )
    print(summary)
    return EXIT_OK if summary.ok else EXIT_FAILURE


#: Subcommand registrars, in the order ``--help`` lists them.
def add_demo_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``demo [--output-folder DIR] [--duration SECONDS]``."""
    parser = subparsers.add_parser(
        "demo",
        parents=[common],
        help="generate a small synthetic BRAND session and convert it to NWB",
        description=(
            "Generate a synthetic BRAND session (2 x 64 channels, cursor task, 2025-era graph), save it as a "
            ".rdb file with its participant and devices YAML, convert it, and print where the NWB file is."
        ),
    )
    parser.add_argument(
        "--output-folder",
        type=Path,
        default=Path("neuroconv-brand-demo"),
        help="where to write (default: %(default)s)",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="session length in seconds (default: %(default)s)"
    )
    parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo and print what it wrote."""
    from ..apps.demo import run_demo as generate_and_convert

    if args.duration < 3:
        raise UsageError("--duration must be at least 3 seconds (the demo's task needs a few trials)")
    result = generate_and_convert(args.output_folder, duration_s=args.duration)
    print(f"BRAND session:  {result.rdb_path}")
    print(f"participant:    {result.participant_file}")
    print(f"devices:        {result.devices_file}")
    print(f"streams:        {', '.join(result.streams)}")
    print(f"NWB file:       {result.nwbfile_path}")
    return 0


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None]] = [
    add_inspect_parser,
    add_convert_parser,
    add_run_yaml_parser,
    add_exportnwb_parser,
    add_validate_parser,
    add_demo_parser,
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Convert BRAND sessions (a live Redis or a dump.rdb) to NWB.",
        epilog=(
            "Exit codes: 0 success; 1 the source could not be read or converted; 2 wrong command line. "
            f"Run '{PROG} COMMAND --help' for a command's options."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when something goes wrong"
    )
    # The same flag after the subcommand; SUPPRESS keeps it from resetting a --debug given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (the ``neuroconv-brand`` console script).

    SIGINT and SIGTERM stop a running command with exit code 130 (:mod:`neuroconv_brand.interruption`). After a
    full output disk the process exits at once with code 1 (see ``_exit_after_full_disk``): the HDF5 library would
    crash while shutting down.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # argparse exits for --help, --version and usage errors
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    try:
        with stop_on_signals():
            return args.handler(args)
    except UsageError as error:
        _report(f"{error}\nRun '{PROG} {args.command} --help' for the options.", debug)
        return EXIT_USAGE
    except OutputSpaceError as error:
        _report(str(error), debug)
    except BrandError as error:
        _report(str(error), debug)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _report("interrupted", debug)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`): not an error
        sys.stdout = open(os.devnull, "w")  # keeps the final flush at exit quiet
        return EXIT_OK
    except Exception as error:  # a bug, not bad input: say so instead of a bare traceback
        _report(
            f"unexpected {type(error).__name__}: {error}. This is a bug in neuroconv-brand; please report it "
            f"with the output of '{PROG} --debug ...'.",
            debug,
        )
        return EXIT_FAILURE
    return _exit_after_full_disk()


def _exit_after_full_disk() -> int:
    """Exit now, after the output's disk filled up, once the spool files are gone.

    HDF5 cannot close objects of a file whose writes failed; the library then crashes when it shuts down at exit
    (a segmentation fault after the error line), so the process leaves without shutting it down.
    """
    gc.collect()  # the interfaces, and with them the session and its spool folder, are released
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_FAILURE)


def package_version() -> str:
    """The installed distribution's version (``"unknown"`` when running from an uninstalled tree)."""
    try:
        return metadata.version("neuroconv-brand")
    except metadata.PackageNotFoundError:
        return "unknown"


def _report(message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
    print(f"error: {message}", file=sys.stderr)
