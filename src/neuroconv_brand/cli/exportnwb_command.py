"""``neuroconv-brand exportnwb``: the drop-in replacement of BRAND's exportNWB derivative.

Listed in :data:`neuroconv_brand.cli.main.SUBCOMMANDS`. The logic lives in
:mod:`neuroconv_brand.apps.exportnwb` (also runnable as ``python -m neuroconv_brand.apps.exportnwb``).
"""

from __future__ import annotations

import argparse
import sys

from ..apps.command_line import EXIT_FAILURE
from ..apps.exportnwb import TolerantArgumentParser, add_arguments, run


def add_exportnwb_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``exportnwb -n NICKNAME -i HOST -p PORT [-s SOCKET] [options]``."""
    parser = subparsers.add_parser(
        "exportnwb",
        parents=[common],
        help="run as BRAND's exportNWB derivative (same arguments, same output location)",
        description=(
            "Convert the BRAND session on a live Redis as the graph's derivatives[NICKNAME] parameters say, "
            "and write it where exportNWB.py does: <dirname(CONFIG dir)>/NWB/<dbfilename stem>.nwb (or "
            "--output). Reads only, unless --log-to-redis. Unknown arguments are ignored with a warning. "
            "Exit codes: 0 success; 1 failure or interrupted; 2 wrong command line."
        ),
    )
    # Keep the runner's unknown arguments instead of failing the whole command line.
    parser.__class__ = TolerantArgumentParser
    add_arguments(parser)
    parser.set_defaults(handler=run_exportnwb)


def run_exportnwb(args: argparse.Namespace) -> int:
    """Run the derivative; SIGINT gives exit code 1 (what BRAND's runner expects), not 130."""
    try:
        return run(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_FAILURE
