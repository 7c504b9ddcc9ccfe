"""Write an NWB file (HDF5) or folder (Zarr) so that the target path only ever holds a complete file.

Writing goes to a hidden temporary path beside the target, which replaces the target only on success. A target
that is one of the conversion's own inputs is refused before anything is written (:mod:`.input_protection`), and
a disk that fills up is one clear error (:class:`OutputSpaceError`), with nothing left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from ..errors import BrandError
from ..interruption import check_interrupted, deferred_interrupts
from ..reading.disk_space import NO_SPACE_REASONS, allocated_bytes, mount_point, no_space_errno
from .input_protection import InputFiles, check_output_is_not_input


class OutputSpaceError(BrandError):
    """The output's file system ran out of space (or a quota or file-size limit) while the file was written."""


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
    mount = mount_point(target.parent)
    usage = shutil.disk_usage(target.parent)
    return OutputSpaceError(
        f"no room to write {target}: {NO_SPACE_REASONS[number]} ({os.strerror(number)}; file system {mount}, "
        f"{usage.free / 1e6:.1f} MB free of {usage.total / 1e6:.1f} MB) when the file had grown to "
        f"{allocated_bytes(partial) / 1e6:.1f} MB. Free space there or write the output elsewhere (-o); the partial file "
        "was removed."
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def refuse_existing_output(target: str | os.PathLike, overwrite: bool) -> None:
    """Raise ``FileExistsError`` if ``target`` exists and ``overwrite`` is False."""
    if Path(target).exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True (--overwrite) to replace it.")


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
    refuse_existing_output(target, overwrite)
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
    write_threads: int | None = None,
) -> Path:
    """NeuroConv's ``configure_and_write_nwbfile``, through a temporary file that replaces the target on success.

    Zarr files get JSON object references, which any reader decodes
    (:func:`~neuroconv_brand.nwb.zarr_references.json_object_references`). In HDF5 files, the chunk-iterator
    datasets of time series compressed with gzip or Blosc alone are written with direct chunk writes, their chunks
    gathered and compressed on ``write_threads`` threads (:mod:`~neuroconv_brand.nwb.direct_chunks`).

    This is the second half of NeuroConv's customisation workflow: ``nwbfile = converter.create_nwbfile(...)``,
    ``config = get_default_backend_configuration(nwbfile, backend="hdf5")``, edit ``config``, then
    ``write_nwbfile(nwbfile, path, backend_configuration=config)``. A configuration made with
    :func:`~neuroconv_brand.nwb.dataset_io.default_backend_configuration` instead (the same defaults) is applied
    without building the file twice more (:mod:`~neuroconv_brand.nwb.dataset_io`).

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
    write_threads : int, optional
        Threads preparing (gathering, compressing) the chunks of those datasets (HDF5); default
        :func:`~neuroconv_brand.nwb.write_threads.write_threads` (``$NEUROCONV_BRAND_WRITE_THREADS``, else the CPUs).
    """
    from .dataset_io import configure_datasets, default_backend_configuration, made_from
    from .direct_chunks import defer_chunked_datasets, fill_deferred_datasets
    from .zarr_references import nwb_io_class

    # NeuroConv's configure_and_write_nwbfile, with a full disk handled inside the writer's block, and the
    # time series' chunk-iterator datasets written with direct chunk writes once pynwb has written the file.
    if backend_configuration is None:
        backend_configuration = default_backend_configuration(nwbfile, backend=backend or "hdf5")
    made_from_this_file = made_from(nwbfile, backend_configuration)
    remaining, deferred = defer_chunked_datasets(nwbfile, backend_configuration)
    configure_datasets(nwbfile, remaining, made_from_this_file)
    with (
        atomic_output(nwbfile_path, overwrite=overwrite, inputs=inputs) as partial,
        _quiet_out_of_space_reports(),
    ):
        with nwb_io_class(backend_configuration.backend)(partial, mode="w") as io:
            with _space_released_on_failure(Path(nwbfile_path), partial):
                if nwbfile.read_io is not None:  # exporting a file read from disk
                    nwbfile.set_modified()
                    io.export(nwbfile=nwbfile, src_io=nwbfile.read_io, write_args=dict(link_data=False))
                else:
                    io.write(nwbfile)
        if deferred:
            import h5py

            # Outside the file's block: closing a file whose write failed fails again (its flush).
            with _space_released_on_failure(Path(nwbfile_path), partial), h5py.File(partial, "r+") as file:
                fill_deferred_datasets(file, deferred, threads=write_threads)
    return Path(nwbfile_path)
