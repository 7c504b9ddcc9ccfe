"""``neuroconv-brand demo``: generate a small synthetic BRAND session and convert it to NWB."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..apps.command_line import EXIT_OK, UsageError


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
    return EXIT_OK
