"""``neuroconv-brand validate``: check BRAND input files (and optionally an NWB file) before converting."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..apps.command_line import EXIT_OK, EXIT_USAGE, UsageError


def add_validate_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``validate [--graph G] [--node-yaml N ...] [--participant P] [--devices D] [--spec S] [--nwb F]``."""
    parser = subparsers.add_parser(
        "validate",
        parents=[common],
        help="check graph, node YAML, participant, devices and specification files (and NWB files)",
        description=(
            "Check BRAND input files against their JSON Schemas and report every problem, one line each with "
            "its file, JSON path and a fix: the graph's exportNWB derivative parameters, node YAML stream "
            "definitions, the participant and devices files (each implant's device must be in the devices "
            "file, its array map readable), a YAML specification; --nwb runs nwbinspector (DANDI configuration). Prints 'ok: <file>' "
            "for each valid file. Exit code 0 when everything is valid, 2 when anything is not."
        ),
    )
    parser.add_argument(
        "--graph", type=Path, nargs="+", action="extend", default=[], metavar="G", help="graph YAML(s)"
    )
    parser.add_argument(
        "--derivative",
        metavar="NICK",
        help="the exportNWB derivative's nickname or name (default: exportNWB / exportNWB.py)",
    )
    parser.add_argument(
        "--node-yaml",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="N",
        help="node YAML(s) with stream definitions",
    )
    parser.add_argument("--participant", type=Path, metavar="P", help="participant YAML")
    parser.add_argument(
        "--devices", type=Path, metavar="D", help="devices YAML (cross-checked with --participant)"
    )
    parser.add_argument(
        "--spec", type=Path, metavar="S", help="NeuroConv-style YAML specification (run-yaml)"
    )
    parser.add_argument(
        "--nwb", type=Path, nargs="+", action="extend", default=[], metavar="F", help="NWB file(s) to inspect"
    )
    parser.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    """Check every file named on the command line; print problems, warnings and ``ok:`` lines."""
    from ..apps.validation import (
        FileReport,
        check_graph,
        check_node_yaml,
        check_participant_files,
        check_specification,
        inspect_nwb,
    )

    named = [
        *(("--graph", path) for path in args.graph),
        *(("--node-yaml", path) for path in args.node_yaml),
        ("--participant", args.participant),
        ("--devices", args.devices),
        ("--spec", args.spec),
        *(("--nwb", path) for path in args.nwb),
    ]
    given = [(option, path) for option, path in named if path is not None]
    if not given:
        raise UsageError(
            "nothing to validate; give --graph, --node-yaml, --participant, --devices, --spec or --nwb."
        )
    for option, path in given:
        if not path.exists():
            raise UsageError(f"{option} {path}: no such file.")
    if args.derivative is not None and not args.graph:
        raise UsageError("--derivative only applies with --graph.")

    reports: list[FileReport] = [check_graph(path, args.derivative) for path in args.graph]
    reports += [check_node_yaml(path) for path in args.node_yaml]
    if args.participant is not None or args.devices is not None:
        reports += check_participant_files(args.participant, args.devices)
    if args.spec is not None:
        reports.append(check_specification(args.spec))
    reports += [inspect_nwb(path) for path in args.nwb]

    for report in reports:
        for line in report.errors:
            print(line)
        for line in report.warnings:
            print(f"warning: {line}")
        if report.ok:
            print(f"ok: {report.path}")
    return EXIT_OK if all(report.ok for report in reports) else EXIT_USAGE
