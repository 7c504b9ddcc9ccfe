"""Argument parsing every ``neuroconv-brand`` subcommand shares: SOURCE and its options, ``--debug``.

Exit codes and the usage error are in :mod:`neuroconv_brand.apps.command_line`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..apps.command_line import BRAND_BASE_DIR_ENV, UsageError
from ..errors import SourceError


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``SOURCE``, ``--brand-base-dir`` and ``--redis-server`` to a subcommand's parser."""
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


def checked_source_arguments(args: argparse.Namespace) -> tuple[str, Path | None, Path | None]:
    """Validate SOURCE, --brand-base-dir and --redis-server; raise :class:`UsageError` naming the bad one."""
    from ..sources.session import locate_source

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


def add_debug_argument(parser: argparse.ArgumentParser, after_subcommand: bool = False) -> None:
    """Add ``--debug`` (show the full traceback on failure) to the main parser or, hidden, to a subcommand's.

    After the subcommand the flag defaults to ``argparse.SUPPRESS``, so it does not reset a ``--debug`` given
    before the subcommand.
    """
    if after_subcommand:
        parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    else:
        parser.add_argument(
            "--debug", action="store_true", help="show the full traceback when something goes wrong"
        )
