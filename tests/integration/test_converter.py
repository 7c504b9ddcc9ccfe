"""BrandConverter: stream selection, atomic output, and NeuroConv's backend configuration workflow."""

import h5py
import numpy as np
import pytest
import zarr
from neuroconv.tools.nwb_helpers import get_default_backend_configuration
from pynwb import read_nwb

from neuroconv_brand import BrandConverter
from neuroconv_brand.errors import GraphError
from neuroconv_brand.nwb.output_files import write_nwbfile


def test_enabled_timeseries_streams_are_converted(clean_session, tmp_path):
    converter = BrandConverter(file_path=clean_session.rdb_path)
    assert {"sbp", "binned_spikes"} <= set(converter.data_interface_objects)
    path = tmp_path / "session.nwb"
    converter.run_conversion(nwbfile_path=path)
    nwbfile = read_nwb(path)
    clock_table = nwbfile.processing["brand_timestamps"]["binned_spikes_ts"]
    ids = clean_session.truth.streams["binned_spikes"].ids
    np.testing.assert_array_equal(clock_table["redis_seq"][:], ids[:, 1])
    truth = clean_session.truth.streams["binned_spikes"].fields["samples"]
    np.testing.assert_array_equal(
        nwbfile.acquisition["binned_spikes_samples"].data[:], truth.reshape(len(truth), -1)
    )


def test_streams_option_selects_exactly_those(clean_session):
    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp"])
    assert list(converter.data_interface_objects) == [
        "Participant",
        "sbp",
        "sbp_ts",
    ]  # files named by the graph
    without_tables = BrandConverter(
        file_path=clean_session.rdb_path, streams=["sbp"], stream_timestamps=False
    )
    assert list(without_tables.data_interface_objects) == ["Participant", "sbp"]


def test_unknown_stream_in_selection(clean_session):
    with pytest.raises(GraphError, match=r"stream\(s\) \['nope'\] are not in the graph"):
        BrandConverter(file_path=clean_session.rdb_path, streams=["nope"])


def test_existing_output_is_kept_without_overwrite(clean_session, tmp_path):
    path = tmp_path / "session.nwb"
    path.write_bytes(b"precious")
    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp"])
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        converter.run_conversion(nwbfile_path=path)
    assert path.read_bytes() == b"precious"


def test_failed_conversion_leaves_no_partial_file(clean_session, tmp_path):
    path = tmp_path / "session.nwb"
    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp"])
    metadata = converter.get_metadata()
    metadata["TimeSeries"]["sbp_samples"]["name"] = 42  # invalid: fails schema validation mid-conversion
    with pytest.raises(Exception, match="42"):
        converter.run_conversion(nwbfile_path=path, metadata=metadata)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("backend", ["hdf5", "zarr"])
def test_edited_backend_configuration_is_what_lands_on_disk(clean_session, tmp_path, backend):
    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp"])
    nwbfile = converter.create_nwbfile()
    configuration = get_default_backend_configuration(nwbfile, backend=backend)
    dataset = configuration.dataset_configurations["acquisition/sbp_samples/data"]
    assert dataset.chunk_shape[1] == dataset.full_shape[1] == 128  # chunks span every channel by default
    dataset.buffer_shape = dataset.full_shape
    dataset.chunk_shape = (500, 64)
    if backend == "hdf5":
        dataset.compressors, dataset.compressor_options = ["gzip"], [{"level": 9}]
    else:
        dataset.compressors, dataset.compressor_options = ["zstd"], [{"level": 5}]
    path = tmp_path / f"session.nwb{'.zarr' if backend == 'zarr' else ''}"
    write_nwbfile(nwbfile, path, backend_configuration=configuration)

    truth = clean_session.truth.streams["sbp"].fields["samples"]
    if backend == "hdf5":
        with h5py.File(path, "r") as file:
            on_disk = file["acquisition/sbp_samples/data"]
            assert on_disk.chunks == (500, 64)
            assert (on_disk.compression, on_disk.compression_opts) == ("gzip", 9)
            np.testing.assert_array_equal(on_disk[:], truth.reshape(len(truth), -1))
    else:
        on_disk = zarr.open(str(path), mode="r")["acquisition/sbp_samples/data"]
        assert on_disk.chunks == (500, 64)
        assert type(on_disk.compressor).__name__ == "Zstd" and on_disk.compressor.level == 5
        np.testing.assert_array_equal(on_disk[:], truth.reshape(len(truth), -1))


@pytest.fixture(scope="module")
def raw_session(tmp_path_factory):
    from neuroconv_brand.testing import SessionConfig, save_session_rdb

    folder = tmp_path_factory.mktemp("raw_session")
    truth = save_session_rdb(SessionConfig(duration_s=1.0, raw=True, seed=4), folder / "raw.rdb", folder)
    return folder / "raw.rdb", truth


def test_raw_streams_are_off_by_default_and_on_with_include_raw(raw_session, tmp_path):
    rdb_path, truth = raw_session
    files = dict(participant_file=truth.participant_file, devices_file=truth.devices_file)
    assert "nsp_neural" not in BrandConverter(file_path=rdb_path, **files).data_interface_objects
    converter = BrandConverter(file_path=rdb_path, include_raw=True, stream_timestamps=False, **files)
    assert list(converter.data_interface_objects)[:2] == ["Participant", "nsp_neural"]
    path = tmp_path / "raw.nwb"
    converter.run_conversion(nwbfile_path=path, compression="fast")
    import hdf5plugin  # noqa: F401  (the Blosc filter, to read the data back)

    nwbfile = read_nwb(path)
    series = next(s for name, s in nwbfile.acquisition.items() if name.startswith("nsp_neural"))
    samples = truth.streams["nsp_neural"].fields["samples"]
    np.testing.assert_array_equal(series.data[:], samples.reshape(-1, samples.shape[-1]))
    assert (
        len(series.electrodes) == len(nwbfile.electrodes) == samples.shape[-1]
    )  # reuses the participant rows
    with h5py.File(path, "r") as file:
        assert "32001" in file[f"acquisition/{series.name}/data"]._filters  # Blosc


def test_compression_preset_cannot_be_combined_with_a_configuration(clean_session, tmp_path):
    from neuroconv_brand.errors import ConfigurationError

    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp"])
    configuration = get_default_backend_configuration(converter.create_nwbfile(), backend="hdf5")
    with pytest.raises(ConfigurationError, match="compression= builds its own backend configuration"):
        converter.run_conversion(
            nwbfile_path=tmp_path / "x.nwb", compression="none", backend_configuration=configuration
        )
    assert not (tmp_path / "x.nwb").exists()


def test_nothing_to_convert_says_why(tmp_path):
    from neuroconv_brand.testing import SessionConfig, save_session_rdb

    folder = tmp_path / "files"
    save_session_rdb(SessionConfig(duration_s=1.0, era="2024", seed=6), tmp_path / "s.rdb", folder)
    with pytest.raises(
        GraphError, match=r"nothing to convert from .*node YAML of node .* not located.*--brand-base-dir"
    ):
        BrandConverter(file_path=tmp_path / "s.rdb")
    assert BrandConverter(
        file_path=tmp_path / "s.rdb", brand_base_dir=folder / "brand"
    ).data_interface_objects


def test_invalid_metadata_names_its_path_and_writes_nothing(clean_session, tmp_path):
    from neuroconv_brand.errors import ConfigurationError

    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp"])
    metadata = converter.get_metadata()
    metadata["NWBFile"]["session_start_time"] = 12
    for call in (converter.run_conversion, converter.write):
        with pytest.raises(
            ConfigurationError, match=r"metadata\.NWBFile\.session_start_time: 12 is not of type"
        ):
            call(tmp_path / "x.nwb", metadata=metadata)
    assert list(tmp_path.iterdir()) == []


def test_flat_stub_test_applies_to_every_stream_and_per_stream_options_win(clean_session, tmp_path):
    from neuroconv_brand.interfaces.base import STUB_ENTRIES

    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp", "binned_spikes"])
    assert converter.get_conversion_options_schema()["properties"]["stub_test"]["type"] == "boolean"
    path = tmp_path / "stub.nwb"
    converter.run_conversion(
        nwbfile_path=path, conversion_options={"stub_test": True, "binned_spikes": {"stub_test": False}}
    )
    nwbfile = read_nwb(path)
    sbp_entries = len(clean_session.truth.streams["sbp"].ids)
    spikes_entries = len(clean_session.truth.streams["binned_spikes"].ids)
    assert sbp_entries > STUB_ENTRIES
    assert len(nwbfile.processing["brand_timestamps"]["sbp_ts"]) == STUB_ENTRIES
    assert len(nwbfile.processing["brand_timestamps"]["binned_spikes_ts"]) == spikes_entries
    assert len(nwbfile.electrodes) == 128  # the participant accepts stub_test and writes every electrode


def test_accepted_options_are_the_schema_and_a_copy_and_per_instance_schemas_are_asked_each_time(
    clean_session,
):
    from neuroconv_brand.interfaces.flat_options import accepted_options

    interface = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp"]).data_interface_objects[
        "sbp"
    ]
    options = accepted_options(interface)
    assert options == interface.get_conversion_options_schema()["properties"]
    assert (options["stub_test"]["type"], options["stub_test"]["default"]) == ("boolean", False)
    options["stub_test"]["type"] = "changed"  # the caller's copy: the next caller sees the schema
    assert accepted_options(interface)["stub_test"]["type"] == "boolean"

    class PerInstance(type(interface)):  # a schema computed per instance is never shared between instances
        def get_conversion_options_schema(self) -> dict:
            return {"properties": {f"option_{id(self)}": {"type": "boolean"}}}

    first, second = object.__new__(PerInstance), object.__new__(PerInstance)
    assert list(accepted_options(first)) == [f"option_{id(first)}"]
    assert list(accepted_options(second)) == [f"option_{id(second)}"]


def test_flat_option_no_interface_takes_is_a_clear_error(clean_session, tmp_path):
    from neuroconv_brand.errors import ConfigurationError

    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp"])
    with pytest.raises(ConfigurationError) as error:
        converter.run_conversion(nwbfile_path=tmp_path / "x.nwb", conversion_options={"stub_tset": True})
    assert str(error.value) == (
        "conversion option 'stub_tset' is neither an interface name (Participant, sbp, sbp_ts) nor an option any "
        "interface takes; remove or rename it."
    )
    assert not (tmp_path / "x.nwb").exists()
