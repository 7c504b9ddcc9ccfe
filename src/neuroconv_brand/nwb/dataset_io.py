"""The DataIO of every configured dataset, set without building the file twice more when that is not needed.

NeuroConv's ``configure_backend`` builds the whole file twice with hdmf before it sets a single DataIO (about
0.1 s each on a 4-minute session): once to remap a configuration that was made from another file of the same
structure (``find_locations_requiring_remapping``, which also refuses a file that gained or lost datasets), and
once to find compound dtypes, which matter only for a file read from disk.

A configuration made here (:func:`default_backend_configuration`) remembers the file it was made from and the
objects that file held. If it is applied to that same in-memory file, which still holds exactly those objects,
neither build can change anything: every object id is the file's own and no dataset came or went. Its DataIO are
then set directly (:func:`configure_datasets`), as ``configure_backend`` sets them. Any other configuration, or a
file that changed, goes through NeuroConv's ``configure_backend`` with all its checks.
"""

from __future__ import annotations

import weakref

#: For each in-memory file, the configuration made from it and the object ids the file held then.
_MADE_FROM: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def default_backend_configuration(nwbfile, backend: str = "hdf5"):
    """NeuroConv's ``get_default_backend_configuration(nwbfile, backend)``, remembered as made from ``nwbfile``.

    Parameters
    ----------
    nwbfile : pynwb.NWBFile
        The file to configure.
    backend : {"hdf5", "zarr"}
        The backend.

    Returns
    -------
    HDF5BackendConfiguration or ZarrBackendConfiguration
        The default configuration; edit it in place (compression, chunks) before writing.
    """
    from neuroconv.tools.nwb_helpers import get_default_backend_configuration

    configuration = get_default_backend_configuration(nwbfile, backend=backend)
    if nwbfile.read_io is None:
        _MADE_FROM[nwbfile] = (weakref.ref(configuration), _object_ids(nwbfile))
    return configuration


def made_from(nwbfile, configuration) -> bool:
    """Whether ``configuration`` was made from ``nwbfile`` here, and the file holds the same objects as then."""
    made = _MADE_FROM.get(nwbfile)
    return made is not None and made[0]() is configuration and made[1] == _object_ids(nwbfile)


def configure_datasets(nwbfile, configuration, made_from_this_file: bool = False) -> None:
    """Wrap each configured dataset of ``nwbfile`` in the backend's DataIO, as NeuroConv's ``configure_backend``.

    Parameters
    ----------
    nwbfile : pynwb.NWBFile
        The file to write.
    configuration : HDF5BackendConfiguration or ZarrBackendConfiguration
        The datasets to configure (all of the file's, or those left of them).
    made_from_this_file : bool
        The configuration (or the one it was taken from) was made from ``nwbfile`` by
        :func:`default_backend_configuration` and the file has not changed since (:func:`made_from`). Its DataIO
        are then set without NeuroConv's two builds of the file.
    """
    from neuroconv.tools.nwb_helpers import configure_backend

    if not (made_from_this_file and nwbfile.read_io is None and _set_data_io(nwbfile, configuration)):
        configure_backend(nwbfile=nwbfile, backend_configuration=configuration)


def _set_data_io(nwbfile, configuration) -> bool:
    """Set every dataset's DataIO as ``configure_backend`` does for an in-memory file.

    False, having set none, where a dataset belongs to anything but a time series or a table column.
    """
    from hdmf.container import Data
    from pynwb import TimeSeries
    from pynwb.core import NWBData

    objects = {child.object_id: child for child in nwbfile.all_children()}
    settings = []
    for dataset in configuration.dataset_configurations.values():
        owner = objects.get(dataset.object_id)
        if owner is None or not isinstance(owner, (Data, TimeSeries)):
            return False
        settings.append((owner, dataset))
    data_io_class = configuration.data_io_class
    for owner, dataset in settings:
        kwargs = dict(data_io_class=data_io_class, data_io_kwargs=dataset.get_data_io_kwargs())
        if isinstance(owner, Data):
            owner.set_data_io(**kwargs)
            if isinstance(owner, NWBData) and hasattr(owner, "_NWBData__data"):
                # pynwb 3's NWBData reads its data from a private attribute of its own, which Data.set_data_io
                # leaves unwrapped; NeuroConv's configure_backend copies the wrapped data over the same way.
                owner._NWBData__data = owner._Data__data
        elif not isinstance(owner.fields.get(dataset.dataset_name), TimeSeries):  # a linked series is skipped
            owner.set_data_io(dataset_name=dataset.dataset_name, **kwargs)
    return True


def _object_ids(nwbfile) -> frozenset[str]:
    return frozenset(child.object_id for child in nwbfile.all_children())
