"""Refuse an output that would destroy one of the conversion's own inputs, whatever ``overwrite`` says.

An input is the same file as the output by path, through symbolic links, or by inode (hard links); an output
folder (Zarr, or a folder given by mistake) that holds an input would be deleted with it when replaced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigurationError

#: What names an input: a description (e.g. ``"the .rdb source"``) -> its path.
InputFiles = Mapping[str, "str | os.PathLike"]


class OutputIsInputError(ConfigurationError):
    """The output path is (or, for a Zarr folder, holds) one of the conversion's inputs."""


def same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Whether two paths name one file: the same inode when both exist, else the same resolved path."""
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet): compare where the links lead
        return os.path.realpath(first) == os.path.realpath(second)


def _inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    return Path(os.path.realpath(folder)) in Path(os.path.realpath(path)).parents


def check_output_is_not_input(output: str | os.PathLike, inputs: InputFiles) -> None:
    """Refuse an output that would replace one of ``inputs`` (or, as a folder, delete one).

    Parameters
    ----------
    output : path
        The NWB file (HDF5) or folder (Zarr) about to be written.
    inputs : mapping of str to path
        What the conversion reads, by description (``{"the .rdb source": "S.rdb", ...}``).

    Raises
    ------
    OutputIsInputError
        Naming the output and the input; nothing has been written.
    """
    for what, path in inputs.items():
        if path is None:
            continue
        if same_file(output, path):
            raise OutputIsInputError(
                f"the output {output} is {what} {path}: writing it would destroy an input of the conversion "
                "(even with --overwrite, this is refused). Choose another output path."
            )
        if os.path.isdir(output) and _inside(path, output):
            raise OutputIsInputError(
                f"the output {output} is a folder that holds {what} {path}: replacing it would delete an input "
                "of the conversion. Choose another output path."
            )
