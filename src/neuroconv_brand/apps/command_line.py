"""What the command-line programs share: exit codes, the usage error, the BRAND base directory, output checks.

Used by the ``neuroconv-brand`` subcommands (``cli/``) and by the exportNWB derivative (:mod:`.exportnwb`).
"""

from __future__ import annotations

from pathlib import Path

from ..nwb.input_protection import OutputIsInputError, check_output_is_not_input

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PROG = "neuroconv-brand"
#: Environment variable that gives the default ``--brand-base-dir`` (as BRAND itself uses it).
BRAND_BASE_DIR_ENV = "BRAND_BASE_DIR"


def installed_version() -> str:
    """The installed distribution's version (``"0+unknown"`` when running from a source tree not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("neuroconv-brand")
    except PackageNotFoundError:
        return "0+unknown"


class UsageError(Exception):
    """The command line is wrong: a handler found an argument it cannot use (exit code 2)."""


def refuse_output_onto_input(output: Path, inputs: dict[str, str | Path | None]) -> None:
    """Raise :class:`UsageError` when ``output`` is one of the command's input files (whatever ``--overwrite``)."""
    try:
        check_output_is_not_input(output, inputs)
    except OutputIsInputError as error:
        raise UsageError(str(error)) from None
