"""Write an NWB file (HDF5) or folder (Zarr) so that the target path only ever holds a complete file.

Writing goes to a hidden temporary path beside the target, which replaces the target only on success.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; move it onto ``target`` when the block succeeds.

    Parameters
    ----------
    target : path
        The final NWB file (HDF5) or folder (Zarr).
    overwrite : bool
        Replace an existing ``target``; without it an existing target is an error before anything is written.

    Raises
    ------
    FileExistsError
        If ``target`` exists and ``overwrite`` is False.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True (--overwrite) to replace it.")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Hidden, beside the target (same file system, so the final rename is atomic), same suffix for pynwb.
    partial = target.with_name(f".{target.stem}.partial-{uuid.uuid4().hex[:8]}{target.suffix}")
    try:
        yield partial
        if target.exists():
            _remove(target)
        os.replace(partial, target)
    finally:
        if partial.exists():
            _remove(partial)


def write_nwbfile(
    nwbfile,
    nwbfile_path: str | os.PathLike,
    *,
    backend: str | None = None,
    backend_configuration=None,
    overwrite: bool = False,
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
    """
    from neuroconv.tools.nwb_helpers import configure_and_write_nwbfile

    with atomic_output(nwbfile_path, overwrite=overwrite) as partial:
        configure_and_write_nwbfile(
            nwbfile=nwbfile,
            nwbfile_path=partial,
            backend=backend,
            backend_configuration=backend_configuration,
        )
    return Path(nwbfile_path)
