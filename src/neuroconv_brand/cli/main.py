"""The ``neuroconv-brand`` command: :func:`main`, the console script, dispatches to one module per subcommand.

Each subcommand module (``inspect_command``, ``convert_command``, ``run_yaml_command``, ``exportnwb_command``,
``validate_command``, ``demo_command``) has an ``add_<command>_parser`` function that registers its arguments
and its ``run_<command>`` handler; :data:`SUBCOMMANDS` lists them in help order. To add a subcommand, write a
module with both functions and append the first to :data:`SUBCOMMANDS`. Handlers take the parsed arguments and
return an exit code; they raise :class:`UsageError` for a wrong command line and let
:class:`~neuroconv_brand.errors.BrandError` propagate for a source or conversion failure. :func:`main` turns
both into one ``error: ...`` line. A handler imports what it needs (NeuroConv, pynwb, SpikeInterface) when it
runs, so building the parser, and ``--help``, stays fast.

Exit codes: 0 success, 1 a source could not be read or converted (any ``BrandError``), 2 the command line
is wrong (unknown option, missing argument, a path that does not exist), 130 interrupted.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from ..apps.command_line import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    UsageError,
    installed_version,
)
from ..errors import BrandError
from ..interruption import stop_on_signals
from ..nwb.output_files import OutputSpaceError
from .common import add_debug_argument
from .convert_command import add_convert_parser
from .demo_command import add_demo_parser
from .exportnwb_command import add_exportnwb_parser
from .inspect_command import add_inspect_parser
from .run_yaml_command import add_run_yaml_parser
from .validate_command import add_validate_parser

#: Subcommand registrars, in the order ``--help`` lists them.
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    add_debug_argument(parser)
    # The same flag after the subcommand, shared by every subcommand's parser.
    common = argparse.ArgumentParser(add_help=False)
    add_debug_argument(common, after_subcommand=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (the ``neuroconv-brand`` console script).

    SIGINT and SIGTERM stop a running command with exit code 130 (:mod:`neuroconv_brand.interruption`). After a
    full output disk the process exits at once with code 1 (see ``_exit_after_full_disk``): the HDF5 library would
    crash while shutting down. At exit, the command's garbage is collected and the rest frozen
    (``_collect_then_freeze``), so the shutdown does not walk every object of the libraries it imported.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.
    """
    atexit.unregister(_collect_then_freeze)  # registered once, however often main runs in one process
    atexit.register(_collect_then_freeze)
    # From the first moment: a Ctrl-C while the command is still starting is an interrupt like any other.
    try:
        with stop_on_signals():
            return _run(argv)
    except KeyboardInterrupt:
        _report("interrupted", debug=False)
        return EXIT_INTERRUPTED


def _run(argv: Sequence[str] | None) -> int:
    """:func:`main` once SIGINT and SIGTERM are handled: parse, run the handler, turn its errors into lines."""
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


def _collect_then_freeze() -> None:
    """At exit: collect the garbage the command left (its finalizers run as before), then freeze what remains.

    What remains is mostly the modules of NeuroConv, pynwb, hdmf, h5py, pandas, ...; the interpreter's shutdown
    would otherwise walk all of it in repeated cycle collections (about 0.2 s after a conversion, measured with a
    timestamp written after ``main`` returned against the process's end). Frozen objects are freed by reference
    counting as the modules are torn down; only cycles among them are left to the operating system.
    """
    gc.collect()
    gc.freeze()


def _exit_after_full_disk() -> int:
    """Exit now, after the output's disk filled up, once the spool files are gone.

    HDF5 cannot close objects of a file whose writes failed; the library then crashes when it shuts down at exit
    (a segmentation fault after the error line), so the process leaves without shutting it down.
    """
    gc.collect()  # the interfaces, and with them the session and its spool folder, are released
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_FAILURE)


def _report(message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
    print(f"error: {message}", file=sys.stderr)
