"""Write an NWB file (HDF5) or folder (Zarr) so that the target path only ever holds a complete file.

Writing goes to a hidden temporary path beside the target, which replaces the target only on success. A target
that is one of the conversion's own inputs (the same file by path, through links, or by inode; or a folder
holding one) is refused before anything is written, whatever ``overwrite`` says.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from .errors import BrandError, ConfigurationError
from .interruption import check_interrupted, deferred_interrupts

#: What names an input: a description (e.g. ``"the .rdb source"``) -> its path.
InputFiles = Mapping[str, "str | os.PathLike"]


#: Write errors that mean the output's (or spool's) file system has no room: full, a quota, a file-size limit.
NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
#: What each of them means for the user.
_NO_SPACE_REASONS = {
    errno.ENOSPC: "the file system is full",
    errno.EDQUOT: "your disk quota there is used up",
    errno.EFBIG: "the file reached the largest file allowed (the shell's file-size limit, `ulimit -f`, or the file system's)",
}


class OutputIsInputError(ConfigurationError):
    """The output path is (or, for a Zarr folder, holds) one of the conversion's inputs."""


class OutputSpaceError(BrandError):
    """The output's file system ran out of space (or a quota or file-size limit) while the file was written."""


def no_space_errno(error: BaseException) -> int | None:
    """The out-of-space errno behind ``error`` (an OSError, or h5py's RuntimeError quoting ``errno = 28``), else None."""
    for cause in (error, error.__cause__, error.__context__):
        if isinstance(cause, OSError) and cause.errno in NO_SPACE_ERRNOS:
            return cause.errno
    quoted = re.search(r"errno = (\d+)", str(error))
    if quoted and int(quoted.group(1)) in NO_SPACE_ERRNOS:
        return int(quoted.group(1))
    return None


def _mount_point(path: Path) -> Path:
    path = Path(os.path.realpath(path))
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _allocated(path: Path) -> int:
    """Bytes ``path`` (a file, or a folder's files) takes on disk."""
    files = [item for item in path.rglob("*") if item.is_file()] if path.is_dir() else [path]
    return sum(item.stat().st_blocks * 512 for item in files if item.exists())


@contextlib.contextmanager
def _quiet_out_of_space_reports() -> Iterator[None]:
    """Within the block, drop h5py's reports of its objects that cannot be freed on a full disk.

    After the first failed write, every h5py object freed tries to flush its file again and fails; h5py prints each
    failure twice (``Exception ignored in ... ObjectID.__dealloc__``). The one error that matters is raised and
    reported as :class:`OutputSpaceError`.
    """
    previous_excepthook, previous_unraisablehook = sys.excepthook, sys.unraisablehook

    def excepthook(kind, value, traceback) -> None:
        if no_space_errno(value) is None:
            previous_excepthook(kind, value, traceback)

    def unraisablehook(unraisable) -> None:
        if no_space_errno(unraisable.exc_value) is None:
            previous_unraisablehook(unraisable)

    sys.excepthook, sys.unraisablehook = excepthook, unraisablehook
    try:
        yield
    finally:
        sys.excepthook, sys.unraisablehook = previous_excepthook, previous_unraisablehook


@contextlib.contextmanager
def _space_released_on_failure(target: Path, partial: Path) -> Iterator[None]:
    """Report a write of ``target`` that ran out of space, and empty its partial file before the writer closes it.

    After a failed write the HDF5 library cannot close the file's objects, so it keeps the file open, and its space
    taken, until the process exits, even once the file is removed; emptied, it gives the space back at once.
    """
    try:
        yield
    except (OSError, RuntimeError) as error:
        number = no_space_errno(error)
        if number is None:
            raise
        space_error = output_space_error(target, partial, number)
        if partial.is_file():
            os.truncate(partial, 0)
        raise space_error from error


def output_space_error(target: Path, partial: Path, number: int) -> OutputSpaceError:
    """The error for a write of ``target`` (through ``partial``) that failed with ``number`` (an errno)."""
    mount = _mount_point(target.parent)
    usage = shutil.disk_usage(target.parent)
    return OutputSpaceError(
        f"no room to write {target}: {_NO_SPACE_REASONS[number]} ({os.strerror(number)}; file system {mount}, "
        f"{usage.free / 1e6:.1f} MB free of {usage.total / 1e6:.1f} MB) when the file had grown to "
        f"{_allocated(partial) / 1e6:.1f} MB. Free space there or write the output elsewhere (-o); the partial file "
        "was removed."
    )


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
        try:
            yield partial
        except (OSError, RuntimeError) as error:
            number = no_space_errno(error)
            if number is None:
                raise
            raise output_space_error(target, partial, number) from error
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
    from neuroconv.tools.nwb_helpers import (
        BACKEND_NWB_IO,
        configure_backend,
        get_default_backend_configuration,
    )

    # NeuroConv's configure_and_write_nwbfile, with a full disk handled inside the writer's block.
    if backend_configuration is None:
        backend_configuration = get_default_backend_configuration(nwbfile, backend=backend or "hdf5")
    configure_backend(nwbfile=nwbfile, backend_configuration=backend_configuration)
    with (
        atomic_output(nwbfile_path, overwrite=overwrite, inputs=inputs) as partial,
        _quiet_out_of_space_reports(),
    ):
        with BACKEND_NWB_IO[backend_configuration.backend](partial, mode="w") as io:
            with _space_released_on_failure(Path(nwbfile_path), partial):
                if nwbfile.read_io is not None:  # exporting a file read from disk
                    nwbfile.set_modified()
                    io.export(nwbfile=nwbfile, src_io=nwbfile.read_io, write_args=dict(link_data=False))
                else:
                    io.write(nwbfile)
    return Path(nwbfile_path)
