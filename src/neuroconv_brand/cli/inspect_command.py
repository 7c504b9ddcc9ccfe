"""``neuroconv-brand inspect``: list the streams of a BRAND session and what its graph says about each."""

from __future__ import annotations

import argparse
import json

from ..apps.command_line import EXIT_OK
from .common import add_source_arguments, checked_source_arguments


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
    from ..sources.session import BrandSession

    source, base_dir, server = checked_source_arguments(args)
    with BrandSession.open(source, redis_server_path=server) as session:
        catalogue = describe_session(session, brand_base_dir=base_dir)
    if args.json:
        print(json.dumps(catalogue.to_dict(), indent=2))
    else:
        print(format_catalogue(catalogue))
    return EXIT_OK
