"""A drop-in replacement for BRAND's ``exportNWB`` derivative.

BRAND's derivative runner starts every derivative of a graph as ``python <filepath> -n <nickname> -i <host>
-p <port>`` once the graph stops, and records its exit code in ``derivatives_status``. This module accepts the
same arguments (plus an optional ``-s <unix socket>``), reads the ``parameters`` of
``derivatives[<nickname>]`` from the session's supergraph, converts the session with
:class:`~neuroconv_brand.converter.BrandConverter` and writes the file where ``exportNWB.py`` does:
``<dirname(CONFIG GET dir)>/NWB/<stem of CONFIG GET dbfilename>.nwb``.

Run it as ``neuroconv-brand exportnwb ...``, ``python -m neuroconv_brand.apps.exportnwb ...``, or from a two-line
``derivatives/exportNWB/exportNWB.py`` that calls :func:`main` (see docs/replace-exportnwb.md).

Exit codes (what the derivative runner reports): 0 success; 1 any failure (unreachable server, unknown
nickname, conversion error) and SIGINT; 2 a wrong command line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BrandError, ConfigurationError
from ..interruption import stop_on_signals
from .command_line import (
    BRAND_BASE_DIR_ENV,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    refuse_output_onto_input,
)

#: The derivative nickname exportNWB.py uses when ``-n`` is not given.
DEFAULT_NICKNAME = "exportNWB"
#: BRAND's log stream (read by the supervisor's console); written only with ``--log-to-redis``.
CONSOLE_LOGGING_STREAM = "console_logging"

if TYPE_CHECKING:  # imported where used, so that building the command's parser stays fast
    import redis


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add exportNWB.py's arguments and this derivative's options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The parser of ``neuroconv-brand exportnwb`` or of ``python -m neuroconv_brand.apps.exportnwb``.
    """
    parser.add_argument(
        "-n",
        "--nickname",
        default=DEFAULT_NICKNAME,
        help="the derivative's nickname in the graph: its parameters are read from derivatives[NICKNAME] "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "-i", "--redis-host", default="127.0.0.1", metavar="HOST", help="Redis host (default: %(default)s)"
    )
    parser.add_argument(
        "-p", "--redis-port", type=int, default=6379, metavar="PORT", help="Redis port (default: %(default)s)"
    )
    parser.add_argument(
        "-s", "--redis-socket", metavar="SOCKET", help="Redis unix socket; used instead of host and port"
    )
    parser.add_argument(
        "-l", "--loglevel", metavar="LEVEL", help="accepted for compatibility with BRAND's runner; ignored"
    )
    parser.add_argument(
        "--brand-base-dir",
        metavar="DIR",
        default=os.environ.get(BRAND_BASE_DIR_ENV) or None,
        help=(
            "the BRAND checkout: resolves relative participant_file/devices_file (and node YAMLs of graphs "
            f"before 2025); default: ${BRAND_BASE_DIR_ENV}, else the current directory (as exportNWB.py)"
        ),
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="PATH",
        help="write here instead of exportNWB's <dirname(CONFIG dir)>/NWB/<dbfilename stem>.nwb",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output (re-running the derivative)"
    )
    parser.add_argument(
        "--compression",
        choices=["default", "fast", "none"],
        default="default",
        help="default: NeuroConv's gzip; fast: Blosc LZ4 (readers need hdf5plugin); none",
    )
    parser.add_argument(
        "--log-to-redis",
        action="store_true",
        help=f"also XADD progress messages to the '{CONSOLE_LOGGING_STREAM}' stream (default: never write)",
    )


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_session` wrote."""

    output: Path
    derivative: str
    interfaces: list[str]
    seconds: float


def source_of(args: argparse.Namespace) -> str:
    """The session source from ``-s`` (a socket path) or ``-i``/``-p`` (a ``redis://`` URL)."""
    if args.redis_socket:
        return str(Path(args.redis_socket).expanduser())
    return f"redis://{args.redis_host}:{args.redis_port}/0"


def output_path_from_config(client: redis.Redis, model: dict, brand_base_dir: Path | None) -> Path:
    """Where exportNWB.py writes: ``<dirname(dir)>/NWB/<splitext(dbfilename)>.nwb``.

    ``dir``/``dbfilename`` come from ``CONFIG GET`` (what exportNWB.py uses). When the Redis user may not run
    CONFIG, the supergraph's ``rdb_dirpath``/``rdb_filename`` (BRAND 2024+; a relative ``rdb_dirpath`` is
    relative to ``brand_base_dir``) are used instead.

    Parameters
    ----------
    client : redis.Redis
        A client of the session's server.
    model : dict
        The supergraph.
    brand_base_dir : Path, optional
        The BRAND base directory (the supervisor's working directory).

    Raises
    ------
    ConfigurationError
        When neither CONFIG nor the supergraph gives the location; the message says to pass ``--output``.
    """
    import redis

    try:
        directory = _config_value(client, "dir")
        dbfilename = _config_value(client, "dbfilename")
        refusal = None
    except redis.exceptions.ResponseError as error:  # NOPERM (ACL) or a renamed/disabled CONFIG
        directory, dbfilename, refusal = None, None, str(error)
    if directory and dbfilename:
        return Path(directory).parent / "NWB" / f"{os.path.splitext(dbfilename)[0]}.nwb"
    dirpath, filename = model.get("rdb_dirpath"), model.get("rdb_filename")
    if isinstance(dirpath, str) and isinstance(filename, str) and dirpath and filename:
        rdb_dir = Path(dirpath)
        if not rdb_dir.is_absolute() and brand_base_dir is not None:
            rdb_dir = brand_base_dir / rdb_dir
        if rdb_dir.is_absolute():
            return Path(os.path.normpath(rdb_dir.parent / "NWB" / f"{os.path.splitext(filename)[0]}.nwb"))
    reason = (
        f"the server refused CONFIG GET ({refusal})" if refusal else "CONFIG GET returned no dir/dbfilename"
    )
    raise ConfigurationError(
        f"cannot tell where exportNWB would write: {reason} and the supergraph has no usable "
        "rdb_dirpath/rdb_filename. Pass --output PATH (e.g. <session>/RawData/NWB/<rdb stem>.nwb)."
    )


def server_rdb_path(client: redis.Redis) -> Path | None:
    """The file the server saves its dataset to (``CONFIG GET dir`` / ``dbfilename``), None if not allowed."""
    import redis

    try:
        directory, dbfilename = _config_value(client, "dir"), _config_value(client, "dbfilename")
    except redis.exceptions.ResponseError:  # NOPERM (ACL) or a renamed/disabled CONFIG
        return None
    return Path(directory) / dbfilename if directory and dbfilename else None


def _config_value(client: redis.Redis, name: str) -> str | None:
    reply = client.config_get(name)
    value = reply.get(name, reply.get(name.encode()))
    return value.decode() if isinstance(value, bytes) else value


class RedisLog:
    """Print progress to stderr and, only when enabled, XADD it to ``console_logging``."""

    def __init__(self, client: redis.Redis | None, nickname: str, enabled: bool):
        self.client, self.nickname, self.enabled = client, nickname, enabled

    def __call__(self, message: str) -> None:
        """Log one message."""
        import redis

        text = f"[{self.nickname}] {message}"
        print(text, file=sys.stderr)
        if self.enabled and self.client is not None:
            try:
                self.client.xadd(CONSOLE_LOGGING_STREAM, {"message": text})
            except redis.exceptions.RedisError:
                pass  # logging must not turn a success into a failure


def export_session(args: argparse.Namespace, log: RedisLog | None = None) -> ExportResult:
    """Convert the session on the server named by ``args`` as ``derivatives[args.nickname]`` configures.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by a parser built with :func:`add_arguments`.
    log : RedisLog, optional
        Where progress goes (stderr only by default).

    Returns
    -------
    ExportResult

    Raises
    ------
    UsageError
        A path on the command line is wrong, or the output exists without ``--overwrite``.
    BrandError
        The server cannot be read, the nickname names no derivative, or the conversion failed.
    """
    from ..converter import BrandConverter
    from ..graph.eras import normalize_derivatives
    from ..sources.redis_source import translated_redis_errors
    from ..sources.session import BrandSession

    started = time.perf_counter()
    base_dir = Path(args.brand_base_dir).expanduser() if args.brand_base_dir else Path.cwd()
    if not base_dir.is_dir():
        raise UsageError(f"--brand-base-dir {base_dir} is not a directory; give the BRAND checkout.")
    source = source_of(args)
    log = log or RedisLog(None, args.nickname, False)
    with BrandSession.open(source) as session:
        model = session.supergraph()
        derivatives = normalize_derivatives(model)
        if args.nickname not in derivatives:
            known = ", ".join(derivatives) or "none"
            raise ConfigurationError(
                f"the graph '{model.get('graph_name', '?')}' has no derivative with nickname '{args.nickname}' "
                f"(derivatives: {known}); pass -n with one of them."
            )
        # a graph that cannot be read fails before anything is written
        session.graph(brand_base_dir=base_dir, derivative=args.nickname)
        output = args.output
        if output is None:
            client = session.source.client
            with translated_redis_errors(session.location.description):
                output = output_path_from_config(client, model, base_dir)
        output = Path(output).expanduser()
        if output.exists() and not args.overwrite:
            raise UsageError(f"{output} already exists; pass --overwrite to replace it (a re-run).")
        log(f"converting {session.location.description} (derivatives[{args.nickname}]) to {output}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.filterwarnings("ignore", message=".*compression may not be available")
            converter = BrandConverter(file_path=source, brand_base_dir=base_dir, derivative=args.nickname)
            server_files = {"the Redis socket": args.redis_socket, "the Redis server's .rdb file": None}
            with translated_redis_errors(session.location.description):
                server_files["the Redis server's .rdb file"] = server_rdb_path(session.source.client)
            refuse_output_onto_input(output, {**server_files, **converter.input_files()})
            output.parent.mkdir(parents=True, exist_ok=True)
            converter.run_conversion(
                nwbfile_path=output, overwrite=args.overwrite, compression=args.compression
            )
    interfaces = [name for name in converter.data_interface_objects if not name.endswith("_ts")]
    return ExportResult(output, args.nickname, interfaces, time.perf_counter() - started)


def run(args: argparse.Namespace) -> int:
    """Run the derivative for parsed ``args`` and return its exit code; errors propagate.

    ``KeyboardInterrupt`` (SIGINT from the runner) becomes exit code 1, as exportNWB.py.
    """
    from ..sources.redis_source import make_client

    unknown = getattr(args, "unknown_arguments", None) or []
    if unknown:
        print(f"warning: ignoring unknown arguments {' '.join(unknown)}", file=sys.stderr)
    log_client = None
    if args.log_to_redis:
        log_client = (
            make_client(unix_socket_path=source_of(args))
            if args.redis_socket
            else make_client(url=source_of(args))
        )
    log = RedisLog(log_client, args.nickname, args.log_to_redis)
    try:
        result = export_session(args, log)
    except KeyboardInterrupt:
        log("interrupted")
        return EXIT_FAILURE
    except BaseException as error:
        log(f"failed: {error}")
        raise
    finally:
        if log_client is not None:
            log_client.close()
    log(f"wrote {result.output} in {result.seconds:.1f} s ({', '.join(result.interfaces)})")
    print(f"wrote {result.output}")
    return EXIT_OK


class TolerantArgumentParser(argparse.ArgumentParser):
    """A parser that keeps unknown arguments in ``unknown_arguments`` instead of failing.

    BRAND's runner may pass arguments this derivative does not know (other versions, wrappers); they are
    reported with a warning and ignored.
    """

    def parse_known_args(self, args=None, namespace=None):  # noqa: D102 (argparse's signature)
        parsed, extras = super().parse_known_args(args, namespace)
        parsed.unknown_arguments = [*getattr(parsed, "unknown_arguments", []), *extras]
        return parsed, []


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m neuroconv_brand.apps.exportnwb`` (and of a ``exportNWB.py`` wrapper)."""
    parser = TolerantArgumentParser(
        prog="exportNWB",
        description="Convert the BRAND session on a Redis server to NWB, as the exportNWB derivative does.",
        epilog="Exit codes: 0 success; 1 failure or interrupted; 2 wrong command line.",
    )
    add_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the derivative from the command line and return its exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USAGE
    try:
        with stop_on_signals():
            return run(args)
    except UsageError as error:
        _report(str(error), args.debug)
        return EXIT_USAGE
    except BrandError as error:
        _report(str(error), args.debug)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _report("interrupted", args.debug)
        return EXIT_FAILURE
    except Exception as error:  # anything else still fails the derivative, with a readable line
        _report(f"unexpected {type(error).__name__}: {error}", args.debug)
        return EXIT_FAILURE


def _report(message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
    print(f"error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
