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
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from .errors import BrandError, SourceError
from .session import BrandSession, locate_source

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PROG = "neuroconv-brand"
#: Environment variable that gives the default ``--brand-base-dir`` (as BRAND itself uses it).
BRAND_BASE_DIR_ENV = "BRAND_BASE_DIR"


class UsageError(Exception):
    """The command line is wrong: a handler found an argument it cannot use (exit code 2)."""


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
    _add_source_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for scripts)")
    parser.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    """Print the stream catalogue of ``args.source`` as a table or as JSON."""
    from .catalogue import describe_session, format_catalogue

    source, base_dir, server = _checked_source_arguments(args)
    with BrandSession.open(source, redis_server_path=server) as session:
        catalogue = describe_session(session, brand_base_dir=base_dir)
    if args.json:
        print(json.dumps(catalogue.to_dict(), indent=2))
    else:
        print(format_catalogue(catalogue))
    return EXIT_OK


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
    from .demo import run_demo as generate_and_convert

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
        return args.handler(args)
    except UsageError as error:
        _report(f"{error}\nRun '{PROG} {args.command} --help' for the options.", debug)
        return EXIT_USAGE
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


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="redis://host:port/db (rediss:// for TLS, unix:///path), a unix socket path, or a .rdb file",
    )
    parser.add_argument(
        "--brand-base-dir",
        metavar="DIR",
        default=os.environ.get(BRAND_BASE_DIR_ENV) or None,
        help=(
            "the BRAND checkout the session ran from: finds node YAMLs (graphs before 2025) and resolves "
            f"relative participant/devices paths (default: ${BRAND_BASE_DIR_ENV} if set)"
        ),
    )
    parser.add_argument(
        "--redis-server",
        metavar="PATH",
        help="for .rdb sources: the redis-server binary to load the file with (default: discovered)",
    )


def _checked_source_arguments(args: argparse.Namespace) -> tuple[str, Path | None, Path | None]:
    """Validate SOURCE, --brand-base-dir and --redis-server; raise :class:`UsageError` naming the bad one."""
    try:
        location = locate_source(args.source)
    except SourceError as error:
        raise UsageError(f"SOURCE: {error}") from None
    base_dir = None
    if args.brand_base_dir is not None:
        base_dir = Path(args.brand_base_dir).expanduser()
        if not base_dir.is_dir():
            given_by = (
                "--brand-base-dir"
                if os.environ.get(BRAND_BASE_DIR_ENV) != args.brand_base_dir
                else f"${BRAND_BASE_DIR_ENV}"
            )
            raise UsageError(
                f"{given_by} {base_dir} is not a directory; give the BRAND checkout the session ran from."
            )
    server = None
    if args.redis_server is not None:
        if location.kind != "rdb":
            raise UsageError("--redis-server only applies to .rdb sources; drop it for a live Redis.")
        server = Path(args.redis_server).expanduser()
        if not server.is_file():
            raise UsageError(
                f"--redis-server {server}: no such file; give the path of a redis-server binary."
            )
    return args.source, base_dir, server
