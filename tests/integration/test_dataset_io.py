"""Configuring datasets without NeuroConv's two extra builds: the same DataIO, and NeuroConv's checks otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from hdmf.build import BuildManager
from hdmf.container import Data
from neuroconv.tools.nwb_helpers import configure_backend, get_default_backend_configuration
from pynwb import NWBFile, TimeSeries

from neuroconv_brand.converter import BrandConverter
from neuroconv_brand.nwb.compression_presets import apply_compression_preset
from neuroconv_brand.nwb.dataset_io import configure_datasets, default_backend_configuration, made_from


@pytest.fixture(scope="module")
def converter(clean_session):
    return BrandConverter(file_path=clean_session.rdb_path)


@pytest.fixture
def file_builds(monkeypatch) -> list[str]:
    """The files hdmf builds from now on (a spy around ``BuildManager.build``, which still builds them)."""
    built: list[str] = []
    build = BuildManager.build

    def counted(self, container, *args, **kwargs):
        if isinstance(container, NWBFile):
            built.append(container.identifier)
        return build(self, container, *args, **kwargs)

    monkeypatch.setattr(BuildManager, "build", counted)
    return built


def _configured_io(nwbfile: NWBFile, configuration) -> dict[str, tuple]:
    """Location -> (DataIO class, its settings, the data it wraps) of every configured dataset."""
    objects = {child.object_id: child for child in nwbfile.all_children()}
    found = {}
    for location, dataset in configuration.dataset_configurations.items():
        owner = objects[dataset.object_id]
        wrapped = owner.data if isinstance(owner, Data) else owner.fields[dataset.dataset_name]
        settings = dict(getattr(wrapped, "io_settings", {}))
        found[location] = (type(wrapped).__name__, settings, type(getattr(wrapped, "data", None)).__name__)
    return found


@pytest.mark.parametrize("backend", ["hdf5", "zarr"])
def test_same_data_io_as_configure_backend_without_building(converter, backend, file_builds):
    metadata = converter.get_metadata()
    ours, theirs = (converter.create_nwbfile(metadata=metadata) for _ in range(2))
    configuration = default_backend_configuration(ours, backend=backend)
    reference = get_default_backend_configuration(theirs, backend=backend)
    for each in (configuration, reference):
        apply_compression_preset(each, "default")
    assert made_from(ours, configuration)
    assert not made_from(theirs, reference)  # made by NeuroConv directly: not known here

    file_builds.clear()
    configure_datasets(ours, configuration, made_from_this_file=True)
    assert file_builds == []
    configure_backend(nwbfile=theirs, backend_configuration=reference)
    assert len(file_builds) == 2  # the two builds saved

    ours_io, theirs_io = _configured_io(ours, configuration), _configured_io(theirs, reference)
    assert ours_io.keys() == theirs_io.keys()
    assert len(ours_io) > 20  # time series, timestamps, electrode and units columns, trials
    assert ours_io == theirs_io
    data_io = "H5DataIO" if backend == "hdf5" else "ZarrDataIO"
    assert {kind for kind, _, _ in ours_io.values()} == {data_io}


def test_written_file_is_the_same_as_neuroconvs(converter, tmp_path):
    """The whole write, with our configuration, lands the same settings and values as NeuroConv's path."""
    import h5py

    from neuroconv_brand.nwb.output_files import write_nwbfile

    metadata = converter.get_metadata()
    paths = {}
    for made_here in (True, False):
        nwbfile = converter.create_nwbfile(metadata=metadata)
        make = default_backend_configuration if made_here else get_default_backend_configuration
        configuration = make(nwbfile, backend="hdf5")
        apply_compression_preset(configuration, "default")
        paths[made_here] = write_nwbfile(
            nwbfile, tmp_path / f"{made_here}.nwb", backend_configuration=configuration
        )
    with h5py.File(paths[True], "r") as ours, h5py.File(paths[False], "r") as theirs:
        names: list[str] = []
        ours.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        compared = 0
        for name in names:
            mine, other = ours[name], theirs[name]
            assert (mine.chunks, mine.compression, mine.compression_opts) == (
                other.chunks,
                other.compression,
                other.compression_opts,
            ), name
            if mine.dtype.kind in "biuf":
                assert np.array_equal(mine[()], other[()], equal_nan=True), name
                compared += 1
        assert compared > 50
        assert ours["acquisition/sbp_samples/data"].compression == "gzip"


def test_configuration_of_another_file_is_remapped_by_neuroconv(converter):
    metadata = converter.get_metadata()
    first, second = (converter.create_nwbfile(metadata=metadata) for _ in range(2))
    configuration = default_backend_configuration(first, backend="hdf5")
    apply_compression_preset(configuration, "default")
    assert not made_from(second, configuration)

    configure_datasets(second, configuration, made_from(second, configuration))
    series = second.acquisition["sbp_samples"]
    assert type(series.data).__name__ == "H5DataIO"
    assert series.data.io_settings["compression"] == "gzip"
    location = next(key for key in configuration.dataset_configurations if key.endswith("sbp_samples/data"))
    assert series.data.io_settings["chunks"] == configuration.dataset_configurations[location].chunk_shape


def test_file_that_gained_a_dataset_is_refused_as_neuroconv_refuses_it(converter):
    nwbfile = converter.create_nwbfile(metadata=converter.get_metadata())
    configuration = default_backend_configuration(nwbfile, backend="hdf5")
    nwbfile.add_acquisition(TimeSeries(name="added_later", data=np.arange(10.0), unit="a.u.", rate=1.0))
    assert not made_from(nwbfile, configuration)
    with pytest.raises(ValueError, match="number of default configurations"):
        configure_datasets(nwbfile, configuration, made_from(nwbfile, configuration))


def test_converter_write_builds_the_file_twice_not_four_times(clean_session, tmp_path, file_builds):
    """``BrandConverter.write``: one build for the default configuration, one for pynwb's write; none to configure."""
    import h5py

    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp"])
    path = converter.write(tmp_path / "written.nwb", compression="default")
    assert len(file_builds) == 2
    with h5py.File(path, "r") as file:
        written = file["acquisition/sbp_samples/data"]
        assert written.compression == "gzip"
        truth = clean_session.truth.streams["sbp"].fields["samples"]
        np.testing.assert_array_equal(written[:], truth.reshape(len(truth), -1))
