"""``neuroconv-brand run-yaml``: convert the sessions of a NeuroConv-style YAML specification."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..apps.command_line import EXIT_FAILURE, EXIT_OK, UsageError


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
