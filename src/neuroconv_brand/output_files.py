"""Write an NWB file (HDF5) or folder (Zarr) so that the target path only ever holds a complete file.

Writing goes to a hidden temporary path beside the target, which replaces the target only on success. A target
that is one of the conversion's own inputs (the same file by path, through links, or by inode; or a folder
holding one) is refused before anything is written, whatever ``overwrite`` says.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from .errors import ConfigurationError
from .interruption import check_interrupted, deferred_interrupts

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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_output(
    target: str | os.PathLike, overwrite: bool = False, inputs: InputFiles | None = None
) -> Iterator[Path]:
    """Yield a temporary path to write; move it onto ``target`` when the block succeeds.

    Parameters
    ----------
    target : path
        The final NWB file (HDF5) or folder (Zarr).
    overwrite : bool
        Replace an existing ``target``; without it an existing target is an error before anything is written.
    inputs : mapping of str to path, optional
        The conversion's inputs by description; a target that is one of them is refused
        (:func:`check_output_is_not_input`).

    Raises
    ------
    OutputIsInputError
        If ``target`` is one of ``inputs``, whatever ``overwrite`` says.
    FileExistsError
        If ``target`` exists and ``overwrite`` is False.
    """
    target = Path(target)
    check_output_is_not_input(target, inputs or {})
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True (--overwrite) to replace it.")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Hidden, beside the target (same file system, so the final rename is atomic), same suffix for pynwb.
    partial = target.with_name(f".{target.stem}.partial-{uuid.uuid4().hex[:8]}{target.suffix}")
    try:
        yield partial
        check_interrupted()  # one dropped while the file was written: the partial file is not committed
        if target.exists():
            _remove(target)
        os.replace(partial, target)
    finally:
        with deferred_interrupts():
            if partial.exists() or partial.is_symlink():
                _remove(partial)


def write_nwbfile(
    nwbfile,
    nwbfile_path: str | os.PathLike,
    *,
    backend: str | None = None,
    backend_configuration=None,
    overwrite: bool = False,
    inputs: InputFiles | None = None,
) -> Path:
    """NeuroConv's ``configure_and_write_nwbfile``, through a temporary file that replaces the target on success.

    This is the second half of NeuroConv's customisation workflow: ``nwbfile = converter.create_nwbfile(...)``,
    ``config = get_default_backend_configuration(nwbfile, backend="hdf5")``, edit ``config``, then
    ``write_nwbfile(nwbfile, path, backend_configuration=config)``.

    Parameters
    ----------
    nwbfile : pynwb.NWBFile
        The in-memory file, with lazy iterators over the BRAND streams.
    nwbfile_path : path
        Target ``.nwb`` file (HDF5) or folder (Zarr).
    backend : {"hdf5", "zarr"}, optional
        Used when no configuration is given (then NeuroConv's defaults apply).
    backend_configuration : HDF5BackendConfiguration or ZarrBackendConfiguration, optional
        The edited configuration.
    overwrite : bool
        Replace an existing target.
    inputs : mapping of str to path, optional
        The files the conversion read, by description: the target may not be one of them.
    """
    from neuroconv.tools.nwb_helpers import configure_and_write_nwbfile

    with atomic_output(nwbfile_path, overwrite=overwrite, inputs=inputs) as partial:
        configure_and_write_nwbfile(
            nwbfile=nwbfile,
            nwbfile_path=partial,
            backend=backend,
            backend_configuration=backend_configuration,
        )
    return Path(nwbfile_path)
